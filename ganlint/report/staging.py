"""Publishing a report without ever leaving a half-written one in place of a good one.

Everything is rendered into a hidden staging folder beside the destination first. Only when all of it
has been written are the files moved into place, each with os.replace (atomic on one filesystem). A
failure while rendering (bad input, a plotting error, a full disk, Ctrl-C) removes the staging folder
and leaves the previous report untouched.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ganlint.errors import DataError
from ganlint.files import describe_os_error


@contextmanager
def staged(dest: str | os.PathLike) -> Iterator[Path]:
    """Yield a staging folder; on a clean exit move its files (keeping subfolders) into `dest`."""
    dest = Path(dest)
    stage = None
    try:
        dest.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(dir=dest, prefix=".report-staging-"))
        yield stage
        # The pages last: a report.html in place means the pictures and tables beside it are new too.
        for src in sorted((p for p in stage.rglob("*") if p.is_file()), key=lambda p: (p.name.startswith("report."), str(p))):
            target = dest / src.relative_to(stage)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, target)
    except OSError as e:
        # A full disk or a read-only folder, wherever in the rendering it struck (matplotlib and pandas
        # report it without the file's name): one line naming the report's folder. Other errors are bugs
        # or bad input and keep their own message.
        raise DataError(f"cannot write the report into {str(dest)!r}: {describe_os_error(e)}") from None
    finally:
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)
