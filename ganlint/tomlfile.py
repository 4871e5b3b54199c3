"""Reading a TOML file (scenario files, [tool.ganlint] in pyproject.toml) with one kind of error.

tomllib is in the standard library from Python 3.11; on 3.10 the same parser is the tomli package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ganlint.errors import ConfigError


def read_toml(path: str | Path, what: str) -> dict[str, Any]:
    """The parsed file; a ConfigError starting with `what` (e.g. "scenario x.toml") when it cannot be
    read or is not valid TOML (the parser's message has the line and column)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise ConfigError(f"{what}: reading TOML on Python 3.10 needs tomli: pip install tomli") from None
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{what}: cannot read it ({getattr(e, 'strerror', None) or e})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{what}: invalid TOML: {e}") from None
