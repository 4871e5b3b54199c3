"""`[tool.ganlint]` in the user's pyproject.toml: the check options a project fixes once for its CI.

    settings = load_settings()                        # nearest pyproject.toml upward from the cwd
    opts = merge(settings, {"samples": args.samples, "fail_on": args.fail_on})   # the command line wins
    thresholds = thresholds_from(opts)

For example:

    [tool.ganlint]
    generator = "mypkg.models:make_generator"   # "module:callable"; imported because it is the
    discriminator = "mypkg.models:make_critic"  # project's own configuration
    z_dim = 64
    fail_on = ["any", "error"]                  # every failure label and crashed checks; leaving
                                                # "inconclusive" out lets a run without evidence pass
    format = "junit"
    map = { loss_d = "D_loss", loss_g = "G_loss" }   # diagnose: ganlint column = your log's column

    [tool.ganlint.thresholds]                    # fields of ganlint.diagnostics.thresholds.Thresholds
    diversity_fail = 0.25

Values are used as written (a relative `data` path is relative to the working directory, as on the
command line). Every key is validated when the file is read: an unknown key or a wrong type is a
ConfigError naming the file, the key and what is valid, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ganlint.check.options import OPTION, OPTION_RANGES, OPTIONS, Option
from ganlint.diagnostics.thresholds import DEFAULT_THRESHOLDS, Thresholds
from ganlint.errors import ConfigError
from ganlint.gating.formats import FORMATS
from ganlint.gating.policy import parse_fail_on
from ganlint.schema import COLUMNS
from ganlint.tomlfile import read_toml
from ganlint.vocabulary import D_LOSS_REDUCTIONS, g_loss, g_loss_choices

TABLE = "[tool.ganlint]"
THRESHOLDS_TABLE = "[tool.ganlint.thresholds]"
# "package.module:factory" (a dotted attribute after the colon is allowed: "mod:Class.create").
ENTRY_POINT = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)  # TOML's true is not a number


def _fail_on(v: Any) -> str | None:
    if not (isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v))):
        return "a string or a list of strings"
    try:
        parse_fail_on(v)
    except ConfigError as e:
        return f"a valid --fail-on value ({e})"
    return None


def _choice(*valid: str) -> Callable[[Any], str | None]:
    return lambda v: None if v in valid else f"one of {', '.join(valid)}"


def _in_range(name: str) -> Callable[[Any], str | None]:
    """An integer in the option's range (ganlint.check.options.OPTION_RANGES: what `ganlint check` takes)."""
    low, high = OPTION_RANGES[name]
    return lambda v: None if _is_int(v) and low <= v <= high else f"an integer between {low:,} and {high:,}"


def _str(v: Any) -> str | None:
    return None if isinstance(v, str) and v else "a non-empty string"


def _entry_point(v: Any) -> str | None:
    return None if isinstance(v, str) and ENTRY_POINT.fullmatch(v) else 'a "module:callable" string'


def _g_loss(v: Any) -> str | None:
    return None if g_loss(v) is not None else f"one of {g_loss_choices()}"


def _table(v: Any) -> str | None:
    return None if isinstance(v, dict) else "a table"


def _column_map(v: Any) -> str | None:
    """{ganlint telemetry column: a column name in the user's logs}, like `ganlint diagnose --map`."""
    expected = 'a table of ganlint column = "log column" strings, e.g. map = {loss_d = "D_loss"}'
    if not isinstance(v, dict) or not all(isinstance(x, str) and x for x in v.values()):
        return expected
    unknown = [k for k in v if k not in COLUMNS]
    if unknown:
        return (f"{expected}, whose keys are ganlint telemetry columns ({unknown[0]!r} is not one"
                f"{_did_you_mean(unknown[0], COLUMNS)}; valid: {', '.join(COLUMNS)})")
    return None


_FORMS: dict[str, Callable[[Any], str | None]] = {"fail_on": _fail_on, "entry_point": _entry_point, "g_loss": _g_loss}


def _key_check(row: Option) -> Callable[[Any], str | None]:
    """How a [tool.ganlint] value of this `ganlint check` option is checked: by its form, range, choices or type."""
    if row.form is not None:
        return _FORMS[row.form]
    if row.range is not None:
        return _in_range(row.name)
    if row.choices is not None:
        return _choice(*row.choices)
    return _table if row.type is dict else _str


# Each key, with its check: the check returns None when the value is valid, else what was expected. The
# `ganlint check` options come from its table (ganlint.check.options), in its order; then the rest.
KEYS: dict[str, Callable[[Any], str | None]] = {
    **{row.name: _key_check(row) for row in OPTIONS if row.toml},
    "thresholds": _table,  # and then each of its keys, by threshold_overrides
    "map": _column_map,  # diagnose: {ganlint column: log column}
    "d_loss_reduction": _choice(*D_LOSS_REDUCTIONS),  # diagnose: how loss_d combines its two BCE terms
}
assert OPTION["format"].choices == FORMATS  # one list of formats (the table cannot import this module)
THRESHOLD_TYPES: dict[str, type] = {f.name: typing.get_type_hints(Thresholds)[f.name]
                                    for f in dataclasses.fields(Thresholds)}


def find_pyproject(start: Path | None = None) -> Path | None:
    """The nearest pyproject.toml in `start` (default: the working directory) or a folder above it.

    The search stops at the repository's root (the folder holding .git, searched last) or at the
    filesystem root: a pyproject.toml outside the user's repository belongs to someone else.
    """
    here = Path.cwd() if start is None else Path(start)
    here = here.resolve()
    if here.is_file():
        here = here.parent
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file():
            return folder / "pyproject.toml"
        if (folder / ".git").exists():  # a folder, or a file in worktrees and submodules
            return None
    return None


def load_settings(path: Path | None = None, *, start: Path | None = None) -> dict[str, Any]:
    """The validated [tool.ganlint] table of `path` (default: find_pyproject(start)); {} when there is
    no file or no table.

    Raises:
        ConfigError: the file cannot be read or is not valid TOML, or the table has an unknown key or a
            value of the wrong type; the message names the file.
    """
    if path is None:
        path = find_pyproject(start)
        if path is None:
            return {}
    path = Path(path)
    data = read_toml(path, str(path))
    tool = data.get("tool", {})
    table = tool.get("ganlint") if isinstance(tool, dict) else None
    if table is None:
        return {}
    return validate_settings(table, where=str(path))


def validate_settings(table: Any, *, where: str = "settings") -> dict[str, Any]:
    """A checked copy of a [tool.ganlint] table (thresholds as floats/ints); ConfigError naming `where`."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: {TABLE} must be a table, got {type(table).__name__}")
    for key, value in table.items():
        if key not in KEYS:
            raise ConfigError(f"{where}: unknown key {key!r} in {TABLE}{_did_you_mean(key, KEYS)}; "
                              f"valid keys: {', '.join(KEYS)}")
        expected = KEYS[key](value)
        if expected is not None:
            raise ConfigError(f"{where}: {TABLE} {key} must be {expected}, got {value!r}")
    out = dict(table)
    if "kwargs" in out:
        out["kwargs"] = dict(out["kwargs"])
    if "map" in out:
        out["map"] = dict(out["map"])
    if "thresholds" in out:
        out["thresholds"] = threshold_overrides(out["thresholds"], where=where)
    return out


def threshold_overrides(table: Any, *, where: str = "settings") -> dict[str, float | int]:
    """A checked copy of a [tool.ganlint.thresholds] table: keys are Thresholds fields, values numbers
    (ints for the integer fields, floats for the rest; NaN refused, inf allowed to switch a rule off)."""
    name = THRESHOLDS_TABLE
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: {name} must be a table, got {type(table).__name__}")
    out: dict[str, float | int] = {}
    for key, value in table.items():
        if key not in THRESHOLD_TYPES:
            raise ConfigError(f"{where}: unknown threshold {key!r} in {name}{_did_you_mean(key, THRESHOLD_TYPES)}; "
                              f"valid thresholds: {', '.join(THRESHOLD_TYPES)}")
        if THRESHOLD_TYPES[key] is int:
            if not _is_int(value):
                raise ConfigError(f"{where}: {name} {key} must be an integer, got {value!r}")
            out[key] = value
        else:
            if not (_is_int(value) or isinstance(value, float)) or math.isnan(value):
                raise ConfigError(f"{where}: {name} {key} must be a number, got {value!r}")
            out[key] = float(value)
    return out


def thresholds_from(settings: dict[str, Any], base: Thresholds = DEFAULT_THRESHOLDS) -> Thresholds:
    """`base` with the settings' [thresholds] overrides applied (validated again: merge may have added some)."""
    overrides = threshold_overrides(settings.get("thresholds") or {})
    return dataclasses.replace(base, **overrides)


def merge(settings: dict[str, Any], cli: dict[str, Any]) -> dict[str, Any]:
    """Settings overridden by the command line: each CLI key whose value is not None wins.

    The two tables (thresholds, kwargs) merge key by key, so one threshold given on the command line
    keeps the others from the file.
    """
    out = dict(settings)
    for key, value in cli.items():
        if value is None:
            continue
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **{k: v for k, v in value.items() if v is not None}}
        else:
            out[key] = value
    return out


def _did_you_mean(key: str, valid: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
