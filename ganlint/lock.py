"""One writer per run folder: a lock file that names its holder and dies with it.

    lock = FolderLock(run_dir).acquire()     # DataError naming the folder and the holder if taken
    ...                                      # train, write
    lock.release()

    holder(run_dir)   # {"pid": ..., "host": ..., "started": ..., "command": ...} while a writer holds it

How: `RUN/.ganlint.lock` is locked with flock(2). The kernel drops an flock when its process dies, however
it dies (kill -9 included), so a lock left by a crashed run is stale by construction: the next writer
simply takes it, and no pid has to be guessed at. The holder's pid, host, start time and command line are
written into the file so that a refusal can say who holds the folder. Where the file system has no flock
(some network mounts answer ENOLCK), the holder's record decides: on the same host a live pid holds the
folder; a dead one, or an unreadable record, is stale.

The lock file is left in place after release (removing it would race with a writer that has just opened
it); it is a hidden file of a few bytes.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from ganlint.errors import DataError

LOCK_FILE = ".ganlint.lock"

try:  # POSIX; on Windows only the holder's record is used
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


class FolderLock:
    """The write lock of one run folder (see the module docstring)."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> FolderLock:
        """Take the lock, or raise DataError naming the folder and the process that holds it."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise DataError(f"cannot write the run folder {str(self.folder)!r}: {e.strerror or e}") from None
        try:
            if not _flock(fd):
                raise DataError(_taken(self.folder, _read_record(fd)))
            record = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                 "command": " ".join(sys.argv)[:500]})
            os.ftruncate(fd, 0)
            os.pwrite(fd, record.encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def release(self) -> None:
        """Let the next writer in (closing the file drops the flock)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def holder(folder: str | os.PathLike) -> dict[str, Any] | None:
    """The record of the process writing `folder` now, or None when nobody does (never written, finished,
    or killed: a dead process holds no flock)."""
    path = Path(folder) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return _read_record(fd) or {}
            except OSError:
                pass  # no flock here: fall back on the record
            else:
                fcntl.flock(fd, fcntl.LOCK_UN)
                return None
        record = _read_record(fd)
        return record if record and _alive(record) else None
    finally:
        os.close(fd)


def _flock(fd: int) -> bool:
    """True when this process now holds the exclusive lock on `fd`."""
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False
        except OSError:
            pass  # ENOLCK and the like: this file system has no flock
    record = _read_record(fd)
    return not (record and _alive(record))


def _read_record(fd: int) -> dict[str, Any] | None:
    try:
        data = os.pread(fd, 4096, 0)
        record = json.loads(data) if data.strip() else None
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _alive(record: dict[str, Any]) -> bool:
    """Whether the recorded holder still runs: only decidable on the same host (else assume it does)."""
    pid = record.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    if record.get("host") != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it runs, as another user
    return True


def _taken(folder: Path, record: dict[str, Any] | None) -> str:
    who = "another process"
    if record:
        who = f"process {record.get('pid')} on {record.get('host')}, running since {record.get('started')}"
        if record.get("command"):
            who += f" ({record['command'][:120]})"
    return (f"the run folder {str(folder)!r} is being written by {who}; one writer per folder: wait for it to "
            "finish, or choose another folder")
