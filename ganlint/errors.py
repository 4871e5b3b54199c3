"""Errors a user can cause. The CLI turns each into one line on stderr and exit code 2.

Anything that is *not* a GanlintError is a bug in ganlint and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Iterable


class GanlintError(Exception):
    """A user-facing error: bad name, bad value, unreadable input."""

    exit_code = 2


class ConfigError(GanlintError):
    """An invalid configuration value."""


class DataError(GanlintError):
    """Data that cannot be found or read."""


def unknown_name(kind: str, name: str, valid: Iterable[str], plural: str | None = None) -> ConfigError:
    """The one message for a name that is not in a registry, listing the valid ones."""
    return ConfigError(f"unknown {kind} {name!r}; valid {plural or kind + 's'}: {', '.join(sorted(valid))}")
