"""Writing files so that nothing is ever half-written, and a failed write is one clear line.

    atomic_write(path, lambda tmp: df.to_parquet(tmp))    # tmp file in the same folder, then rename
    write_json(path, obj)
    with writing(path): ...                              # OSError & co. -> DataError naming the path

Why a temporary file and a rename: `os.replace` within one folder is atomic on POSIX, so a reader (or a
run resumed after kill -9) sees either the old file or the new one, never a torn one. The temporary file
is removed when the write fails (a full disk, a read-only folder), so nothing partial is left beside it.

Why every write error becomes a DataError: a full disk, a read-only folder or a name the file system
refuses is the user's situation, not a bug in ganlint; the CLI shows it as one line naming the path and
the operating system's reason, exit code 2 (ganlint.errors).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ganlint.errors import DataError, GanlintError


def describe_os_error(e: BaseException) -> str:
    """The operating system's reason in a few words ('No space left on device'), also when a library
    (safetensors, pyarrow, torch) wrapped it in its own exception type."""
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    text = str(e)
    for code in (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT, errno.EIO, errno.ENAMETOOLONG):
        name = errno.errorcode.get(code, "")
        reason = os.strerror(code)
        if (name and name in text) or reason.lower() in text.lower() or f"code: {code}," in text:
            return reason
    lines = [line for line in text.splitlines() if line.strip()]
    return (lines[0] if lines else type(e).__name__)[:200]


@contextlib.contextmanager
def writing(path: str | os.PathLike) -> Iterator[None]:
    """Turn any failure of the writes inside into a DataError naming `path` and the OS's reason.

    Library writers report a full disk in their own types (safetensors' SafetensorError, pyarrow's
    ArrowIOError, torch's RuntimeError), so everything but a GanlintError is caught here; the block holds
    only the write, so a bug elsewhere cannot hide behind it.
    """
    try:
        yield
    except GanlintError:
        raise
    except (OSError, RuntimeError, ValueError, UnicodeError) as e:
        raise DataError(f"cannot write {os.fsdecode(path)!r}: {describe_os_error(e)}") from None
    except Exception as e:  # safetensors' SafetensorError and pyarrow's errors subclass Exception directly
        if type(e).__module__.split(".")[0] in ("safetensors", "pyarrow"):
            raise DataError(f"cannot write {os.fsdecode(path)!r}: {describe_os_error(e)}") from None
        raise


def atomic_write(path: str | os.PathLike, write: Callable[[str], Any], fsync: bool = False) -> None:
    """Write `path` by calling `write(tmp)` on a temporary path in the same folder, then renaming it.

    Args:
        path: the file to (re)place.
        write: writes the whole file to the path it is given (a str: the writers of torch, safetensors and
            pandas all take one).
        fsync: flush the file to the disk before the rename (checkpoints: the rename must never point at
            data still only in memory when the machine, not just the process, goes down).

    Raises:
        DataError: the folder cannot be written (full, read-only, missing), naming `path`.
    """
    path = Path(path)
    tmp = None
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            write(tmp)
            # After the write: some writers (safetensors) replace the file they are given. mkstemp's 0600
            # would hide the file from the user's colleagues and CI readers.
            os.chmod(tmp, 0o644)
            if fsync:
                with open(tmp, "rb") as f:
                    os.fsync(f.fileno())
            os.replace(tmp, path)
            tmp = None
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write JSON atomically (a temporary file, then a rename), so a kill never leaves half a file."""
    text = json.dumps(obj, indent=2, default=str) + "\n"

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)

    atomic_write(path, write)


def check_encodable(path: str | os.PathLike, what: str) -> None:
    """Refuse a path that is not valid UTF-8 up front: the writers of safetensors and pyarrow take str
    paths and fail on one at the end of a run, after the training it was meant to keep."""
    try:
        os.fsdecode(path).encode("utf-8")
    except UnicodeEncodeError:
        raise DataError(f"{what} {os.fsdecode(path)!r} is not a valid UTF-8 path; choose a folder name in UTF-8") from None
