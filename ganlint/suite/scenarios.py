"""Scenario files: scripted training runs whose health label is known by construction.

    from ganlint.suite.scenarios import load_scenarios
    for sc in load_scenarios(suite="quick"):
        run = ganlint.train(sc.config(seed=0, out=f"runs/{sc.name}-0"))

One TOML file per scenario (the format is described in scenarios/README.md):

    name = "overpowered_discriminator"     # the file's name without .toml
    expect = "vanishing-gradient"          # one of LABELS
    suites = ["quick", "full"]             # a non-empty subset of SUITES
    why = "how the construction produces the label, and what its samples show"
    observe = "losses"                     # optional: what the diagnosis sees (OBSERVE; default "all")
    [train]                                # ganlint.TrainConfig fields, except out, seed and device
    dataset = "gaussian1d"
    ...

The files live in the repository's top-level `scenarios/` folder. `load_scenarios()` without paths finds
it next to the package (a source checkout or an editable install), else in the current directory; an
installed wheel carries no scenarios, so pass their paths there.

Every file is validated when it is loaded: unknown keys (top level or [train]) are errors, every value
must have its key's type (a string where a list or a number belongs is an error, and so is a float like
`steps = 1e15` where an integer belongs: see ganlint.training.config), and the [train] table must resolve to a
valid TrainConfig. Each error is a ConfigError that names the file, the key and the value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ganlint.errors import ConfigError
from ganlint.tomlfile import read_toml
from ganlint.training.config import TrainConfig
from ganlint.vocabulary import LABELS

# The labels a run can get are the engine's (ganlint.vocabulary); the suites by cost.
SUITES = ("quick", "full")  # quick: a 2-core CPU, minutes for the whole suite; full: wants a GPU
TOP_LEVEL_KEYS = ("name", "expect", "suites", "why", "train")
# What the diagnosis of a scenario's run sees: "all" its telemetry; "losses" only what a script that
# prints its losses logs (pytorch/examples' DCGAN prints Loss_D, Loss_G, D(x), D(G(z))), to prove that
# such a log gets no verdict however the run went.
OBSERVE = {"all": None, "losses": ("step", "loss_d", "loss_g", "d_real", "d_fake")}
OPTIONAL_KEYS = {"observe": "all"}
# Set by whoever runs a scenario (one run per seed, into its own folder, on the chosen device).
RUNNER_KEYS = ("out", "seed", "device")
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]*")
SCENARIOS_DIR = "scenarios"


@dataclass(frozen=True)
class Scenario:
    """One scripted run and the label it must get.

    Attributes:
        name: unique name, equal to the file's name without `.toml`.
        expect: the label the run must get (one of LABELS).
        suites: the suites it belongs to (a subset of SUITES).
        why: how the construction produces the label and what its samples show.
        observe: what the diagnosis sees: a key of OBSERVE ("all", or "losses" for a loss-only log).
        train: the TrainConfig fields of the [train] table (read-only; no out, seed or device).
        path: the file it came from.
    """

    name: str
    expect: str
    suites: tuple[str, ...]
    why: str
    train: Mapping[str, Any] = field(hash=False)
    path: Path
    observe: str = "all"

    def config(self, **overrides: Any) -> TrainConfig:
        """The TrainConfig for one run, e.g. `sc.config(seed=1, out="runs/x", device="cpu")`."""
        return TrainConfig.from_dict({**self.train, **overrides})


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate one scenario file.

    Raises:
        ConfigError: unreadable or invalid TOML, unknown or missing keys, invalid values; the message
            starts with the file's path.
    """
    path = Path(path)

    def fail(msg: str) -> ConfigError:
        return ConfigError(f"scenario {path}: {msg}")

    data = read_toml(path, f"scenario {path}")

    unknown = sorted(set(data) - set(TOP_LEVEL_KEYS) - set(OPTIONAL_KEYS))
    if unknown:
        raise fail(f"unknown key(s) {', '.join(unknown)}; valid keys: {', '.join([*TOP_LEVEL_KEYS, *OPTIONAL_KEYS])} "
                   "(training settings go in the [train] table)")
    missing = [k for k in TOP_LEVEL_KEYS if k not in data]
    if missing:
        raise fail(f"missing key(s) {', '.join(missing)}")

    name, expect, suites, why, train = (data[k] for k in TOP_LEVEL_KEYS)
    observe = data.get("observe", OPTIONAL_KEYS["observe"])
    if observe not in OBSERVE:
        raise fail(f"observe must be one of {', '.join(OBSERVE)}, got {observe!r}"[:400])
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise fail(f"name must be lower-case letters, digits, '_' or '-', got {name!r}")
    if name != path.stem:
        raise fail(f"name {name!r} differs from the file's name {path.name!r}: name the file {name}.toml")
    if expect not in LABELS:
        raise fail(f"expect must be one of {', '.join(LABELS)}, got {expect!r}")
    if (not isinstance(suites, list) or not suites or not all(isinstance(s, str) for s in suites)
            or len(set(suites)) != len(suites)):
        raise fail(f"suites must be a non-empty list of distinct names from {', '.join(SUITES)}, got {suites!r}")
    bad = [s for s in suites if s not in SUITES]
    if bad:
        raise fail(f"unknown suite(s) {', '.join(bad)}; valid suites: {', '.join(SUITES)}")
    if not isinstance(why, str) or not why.strip():
        raise fail(f"why must be a non-empty string: how the construction produces the expected label, got {why!r}"[:400])
    if not isinstance(train, dict):
        raise fail(f"train must be a table ([train]) of TrainConfig fields, got {train!r}"[:400])
    reserved = sorted(set(train) & set(RUNNER_KEYS))
    if reserved:
        raise fail(f"[train] must not set {', '.join(reserved)}: the runner sets {', '.join(RUNNER_KEYS)} for each run")
    try:
        TrainConfig.from_dict(train).resolve()
    except ConfigError as e:  # types are strict (beta1 = "0.5", spectral_norm = "no"): the message names the key
        raise fail(f"[train]: {e}") from None

    return Scenario(name=name, expect=expect, suites=tuple(suites), why=" ".join(why.split()),
                    train=MappingProxyType(dict(train)), path=path, observe=observe)


def default_scenarios_dir() -> Path:
    """The repository's scenarios/ folder next to the package, else ./scenarios.

    The repository root is recognised by its pyproject.toml, so an unrelated `scenarios` folder beside
    an installed package in site-packages is never picked up.
    """
    root = Path(__file__).resolve().parents[2]
    candidates = []
    if (root / "pyproject.toml").is_file():
        candidates.append(root / SCENARIOS_DIR)
    candidates.append(Path.cwd() / SCENARIOS_DIR)
    for cand in candidates:
        if cand.is_dir():
            return cand
    raise ConfigError(f"no scenarios folder found (looked in {', '.join(str(c) for c in candidates)}); "
                      "pass the scenario files or folders explicitly")


def _scenario_files(target: Path) -> list[Path]:
    if target.is_dir():
        files = sorted(target.glob("*.toml"))
        if not files:
            raise ConfigError(f"no scenario files (*.toml) in {target}")
        return files
    if target.is_file():
        return [target]
    raise ConfigError(f"scenario path {target} does not exist")


def load_scenarios(paths: str | Path | Iterable[str | Path] | None = None,
                   suite: str | None = None) -> list[Scenario]:
    """Load and validate scenarios from files and folders (a folder means its *.toml files).

    Args:
        paths: a file, a folder, or several; None for `default_scenarios_dir()`.
        suite: keep only the scenarios in this suite (one of SUITES); None keeps all.

    Returns:
        The scenarios in the order given (a folder's files sorted by name).

    Raises:
        ConfigError: a missing path, an invalid file (see `load_scenario`), two files with the same
            scenario name, or an unknown suite.
    """
    if suite is not None and suite not in SUITES:
        raise ConfigError(f"unknown suite {suite!r}; valid suites: {', '.join(SUITES)}")
    if paths is None:
        targets = [default_scenarios_dir()]
    elif isinstance(paths, (str, Path)):
        targets = [Path(paths)]
    else:
        targets = [Path(p) for p in paths]

    seen: dict[str, Path] = {}
    out: list[Scenario] = []
    for target in targets:
        for file in _scenario_files(target):
            if file.resolve() in {p.resolve() for p in seen.values()}:
                continue  # the same file named twice (a folder and one of its files)
            sc = load_scenario(file)
            if sc.name in seen:
                raise ConfigError(f"scenario name {sc.name!r} is used by both {seen[sc.name]} and {file}")
            seen[sc.name] = file
            out.append(sc)
    return [sc for sc in out if suite is None or suite in sc.suites]


__all__ = ["LABELS", "OBSERVE", "SUITES", "Scenario", "default_scenarios_dir", "load_scenario", "load_scenarios"]
