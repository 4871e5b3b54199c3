"""The loaders' errors: one line each, exit code 2 (they are GanlintErrors, see ganlint.errors).

A checkpoint comes from outside ganlint, so nearly everything that goes wrong while loading one is the
user's input, not a bug: a damaged file, weights that do not fit the model, a factory that does not
import. Each becomes a CheckpointError whose message says what was found and what to do. Exceptions from
torch or from user code are folded into that one line (their type and first line), never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from ganlint.errors import GanlintError

# Long torch messages (a state_dict dump, a pickle's opcode trace) would drown the one line.
_MAX_DETAIL = 300
E = TypeVar("E", bound=BaseException)
# How an option is spelled in a message: the library's parameter name, a command-line flag, a pytest option.
Spell = Callable[[str], str]
# Marks an option's name inside a message until it is spelled (NUL: in no path, value or name a user can give).
_MARK = "\x00"


class CheckpointError(GanlintError):
    """A checkpoint that cannot be loaded or run as asked; the message says why and what to pass."""


class UnsafeCheckpointError(CheckpointError):
    """The file needs code to load (pickled globals, executable parts); only --trust-checkpoint loads it."""


def option(name: str) -> str:
    """An option's place in a message given to naming(): `f"{option('samples')} must be ..."`."""
    return f"{_MARK}{name}{_MARK}"


def parameter(name: str) -> str:
    """The library's spelling of an option: its keyword argument's name (samples, g_key, discriminator_path)."""
    return name


def spelled(message: str, spell: Spell) -> str:
    parts = message.split(_MARK)
    parts[1::2] = [spell(p) for p in parts[1::2]]
    return "".join(parts)


def naming(cls: Callable[[str], E], message: str) -> E:
    """An error whose message names options (marked with option()), spelled as the library's parameters;
    a shell re-spells it with respell() (the CLI as its flags), so the library never speaks in another
    tool's words.

        raise naming(ConfigError, f"{option('samples')} must be 100 or more, got {n}")
    """
    error = cls(spelled(message, parameter))
    error.template = message  # type: ignore[attr-defined]
    return error


def respell(error: E, spell: Spell) -> E:
    """`error` with the options its message names spelled by `spell` (unchanged when it names none)."""
    template = getattr(error, "template", None)
    if isinstance(template, str):
        error.args = (spelled(template, spell),)
    return error


def describe_exception(e: BaseException) -> str:
    """'Type: first line of the message', shortened: how a foreign exception appears in our one line."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    text = lines[0] if lines else ""
    if len(text) > _MAX_DETAIL:
        text = text[: _MAX_DETAIL - 3] + "..."
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def shorten(items: list[str], limit: int = 3) -> str:
    """'a, b, c and 4 more': a few examples and a count, so one message stays one readable line."""
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit} more"
