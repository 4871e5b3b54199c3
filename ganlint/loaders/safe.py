"""Loading torch.save files without running their code, and saying exactly why a file is refused.

A torch.save file is a pickle, and unpickling can call any function the file names (`os.system`,
`builtins.exec`, ...). So every torch file is first read with `torch.load(weights_only=True)`, whose
unpickler only builds tensors, containers and a short allowlist of torch types. A file that needs more
(a pickled nn.Module, an argparse.Namespace, a malicious payload) is refused with one message that names
the globals it asks for, found by reading its pickle opcodes without running them. Only `trust=True`
(`--trust-checkpoint`) then loads it with weights_only=False, which runs whatever the pickle says.

Every load here (and export.py's) runs inside `quiet_library_logs()`: torch reports some failures
through `logging` before it raises (torch.export.load logs a 13-line traceback for a damaged archive),
and the user should see ganlint's one-line error only, not torch's log on top of it.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import pickle
import pickletools
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import torch

from ganlint.loaders.errors import (
    CheckpointError,
    UnsafeCheckpointError,
    describe_exception,
    naming,
    option,
    shorten,
)
from ganlint.loaders.factory import on_path

TRUST_FLAG = "--trust-checkpoint"  # in notes (text for the report); errors name TRUST_OPTION
TRUST_OPTION = option("trust_checkpoint")
_STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING", "BINSTRING", "STRING"}
# A legacy torch.save file is five pickles (magic, protocol, sys info, the object, storage keys), then raw
# storage bytes that must not be parsed as opcodes.
_LEGACY_PICKLES = 5
# The libraries whose loggers a load silences: torch's (torch.export, torch._export.serde, ...).
_QUIET_LOGGERS = ("torch",)


@contextlib.contextmanager
def quiet_library_logs(prefixes: tuple[str, ...] = _QUIET_LOGGERS) -> Iterator[None]:
    """Keep the named libraries' log records out of the terminal while a file loads; restored after.

    torch logs through `logging` to its own stderr handlers, on "torch" and on many children that do
    not propagate; the children are left at NOTSET, so they take their level from "torch". Raising
    "torch" (and any child given a level of its own, e.g. by TORCH_LOGS) above CRITICAL silences them
    all, loggers created during the load included. Logging levels are process-wide: this is meant for
    the short span of a load, not for code that runs other threads' logging meanwhile.
    """
    loggers = [logging.getLogger(p) for p in prefixes]
    loggers += [lg for name, lg in list(logging.Logger.manager.loggerDict.items())
                if isinstance(lg, logging.Logger) and lg.level != logging.NOTSET
                and name.startswith(tuple(f"{p}." for p in prefixes))]
    saved = [(lg, lg.level) for lg in loggers]
    for lg, _ in saved:
        lg.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for lg, level in saved:
            lg.setLevel(level)


def load_torch_file(path: Path, trust: bool) -> tuple[Any, list[str]]:
    """The object in a torch.save file (zip or legacy) and notes; UnsafeCheckpointError if it needs code."""
    try:
        with quiet_library_logs():
            return torch.load(path, weights_only=True, map_location="cpu"), []
    except pickle.UnpicklingError as e:  # what torch (2.14) raises when the weights-only unpickler refuses
        refusal: Exception = e
    except Exception as e:  # a damaged zip member, a cut-off pickle, a bad magic number
        raise CheckpointError(f"cannot read {str(path)!r}: {describe_exception(e)}") from None
    with path.open("rb") as f:
        names = unsafe_globals(f, refusal)
    if not trust:
        raise naming(UnsafeCheckpointError, unsafe_message(f"{str(path)!r}", names, refusal))
    # A trusted pickle names the user's classes: find them in the working folder, as `python -c` would.
    with on_path(os.getcwd()):
        try:
            with quiet_library_logs():
                obj = torch.load(path, weights_only=False, map_location="cpu")
        except Exception as e:
            hint = (" (it was pickled from a script's __main__: save model.state_dict() and load it with "
                    f"{option('generator')})"
                    if "__main__" in str(e) else "")
            raise naming(CheckpointError, f"{str(path)!r} could not be unpickled even with {TRUST_OPTION}: "
                         f"{describe_exception(e)}{hint}") from None
    uses = f": its pickle was free to call {shorten(names)}" if names else ""
    return obj, [f"{str(path)!r} loaded with weights_only=False ({TRUST_FLAG}){uses}"]


def load_weights_only(data: bytes, what: str) -> Any:
    """The object in `data` (a torch.save blob, e.g. an archive member), read with weights_only=True only.

    UnsafeCheckpointError (naming `what` and the globals its pickle asks for) when the weights-only
    unpickler refuses it; CheckpointError when it is not a readable torch file at all.
    """
    try:
        with quiet_library_logs():
            return torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as e:
        raise naming(UnsafeCheckpointError, unsafe_message(what, unsafe_globals(io.BytesIO(data), e), e)) from None
    except Exception as e:
        raise CheckpointError(f"cannot read {what}: {describe_exception(e)}") from None


def describe_load_error(e: BaseException) -> str:
    """One line for an exception from torch.load: for a weights-only refusal, the line that says why
    (torch's message runs to a dozen lines of advice), else describe_exception's first line."""
    if isinstance(e, pickle.UnpicklingError) and str(e).startswith("Weights only load failed"):
        return f"torch's weights-only loader refused it ({_refusal_reason(e)}): the file needs code to load"
    return describe_exception(e)


def unsafe_message(what: str, names: list[str], refusal: Exception | None = None) -> str:
    """The one refusal message: what the file asks for, why that matters, and the only way past it."""
    if names:
        asks = f"its pickle calls or builds {shorten(names, 5)}, which plain weights never need"
        if any(not n.startswith(("builtins.", "posix.", "nt.", "os.", "subprocess.")) for n in names):
            asks += " (pickled objects such as a whole model: save model.state_dict() instead)"
    else:
        asks = f"torch's weights-only loader refused it ({_refusal_reason(refusal)})"
    return (f"{what} is not a plain-weights checkpoint: {asks}. Loading it could run code from the file; "
            f"only {TRUST_OPTION} loads it, and only for a file from a source you trust")


def _refusal_reason(refusal: Exception | None) -> str:
    """The informative line of torch's long weights-only message (the rest is advice with ANSI codes)."""
    if refusal is None:
        return "no reason given"
    # a zip checkpoint's message has a "WeightsUnpickler error:" line; a legacy one a line naming the GLOBAL
    text = str(refusal)
    m = re.search(r"WeightsUnpickler error: ([^\n]+)", text) or re.search(r"^\s*(.*\bGLOBAL\b.*)$", text, re.M)
    if not m:
        return describe_exception(refusal)
    return m.group(1).split(". Please use", 1)[0].strip()[:300]


def unsafe_globals(f: IO[bytes], refusal: Exception | None = None) -> list[str]:
    """Globals the file's pickle refers to that weights_only does not allow, read without unpickling."""
    names: list[str] = []
    with contextlib.suppress(Exception):
        f.seek(0)
        if zipfile.is_zipfile(f):
            f.seek(0)
            getter = getattr(torch.serialization, "get_unsafe_globals_in_checkpoint", None)
            names = list(getter(f)) if getter is not None else _zip_globals(f)
        else:
            f.seek(0)
            names = [g for g in _legacy_globals(f) if g not in _allowed_globals()]
    if not names and refusal is not None:  # fall back to the one global torch's message names
        names = re.findall(r"GLOBAL ([\w.]+) was not an allowed global", str(refusal))
    return sorted(dict.fromkeys(names))


def _zip_globals(f: IO[bytes]) -> list[str]:
    """For a torch without get_unsafe_globals_in_checkpoint: scan the zip's data.pkl ourselves."""
    with zipfile.ZipFile(f) as zf:
        pkl = next(n for n in zf.namelist() if n.endswith("data.pkl"))
        found = _pickle_globals(io.BytesIO(zf.read(pkl)))
    allowed = _allowed_globals()
    return [g for g in found if g not in allowed]


def _legacy_globals(f: IO[bytes]) -> list[str]:
    found: list[str] = []
    for _ in range(_LEGACY_PICKLES):
        try:
            found += _pickle_globals(f)
        except Exception:
            break
    return found


def _pickle_globals(f: IO[bytes]) -> list[str]:
    """'module.name' for each GLOBAL / STACK_GLOBAL in one pickle, by reading opcodes (nothing runs)."""
    found, strings = [], []
    for op, arg, _ in pickletools.genops(f):
        if op.name in _STRING_OPS:
            strings.append(str(arg))
        elif op.name == "GLOBAL":
            found.append(".".join(str(arg).split(" ", 1)))
        elif op.name == "STACK_GLOBAL" and len(strings) >= 2:  # module and name were the last two strings
            found.append(f"{strings[-2]}.{strings[-1]}")
    # protocol 2 writes Python 2's module name for builtins; report (and allowlist-check) the Python 3 one
    return [f"builtins.{g[len('__builtin__.'):]}" if g.startswith("__builtin__.") else g for g in found]


def _allowed_globals() -> set[str]:
    """What weights_only accepts; a private torch table, so an empty set (report everything) if it moved."""
    try:
        from torch import _weights_only_unpickler as w

        return set(w._get_allowed_globals()) | set(w._get_user_allowed_globals())
    except Exception:
        return set()


