"""The loaders' errors: one line each, exit code 2 (they are GanlintErrors, see ganlint.errors).

A checkpoint comes from outside ganlint, so nearly everything that goes wrong while loading one is the
user's input, not a bug: a damaged file, weights that do not fit the model, a factory that does not
import. Each becomes a CheckpointError whose message says what was found and what to do. Exceptions from
torch or from user code are folded into that one line (their type and first line), never a traceback.
"""

from __future__ import annotations

from ganlint.errors import GanlintError

# Long torch messages (a state_dict dump, a pickle's opcode trace) would drown the one line.
_MAX_DETAIL = 300


class CheckpointError(GanlintError):
    """A checkpoint that cannot be loaded or run as asked; the message says why and what to pass."""


class UnsafeCheckpointError(CheckpointError):
    """The file needs code to load (pickled globals, executable parts); only --trust-checkpoint loads it."""


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
