"""ganlint's log: library code reports progress and warnings through `logging`, never `print`.

    log = logging.getLogger(__name__)        # in each module: ganlint.training.loop, ganlint.check, ...
    log.info("step %d/%d ...", step, total)  # progress
    log.log(NOTICE, "stopping: %s", why)     # what the user must see even with --quiet, not a warning
    log.warning("skipping %s: %s", f, e)     # something the user should know; the run goes on

Every record goes to the "ganlint" logger, so a user silences or routes all of it in one place:
`logging.getLogger("ganlint").setLevel(logging.WARNING)` drops the progress lines, a handler of their own
(or pytest's log capture, or logging.basicConfig) receives the records instead of stderr.

Where the program configured no handler at all (a plain script, a notebook), nothing would be shown;
for that case the "ganlint" logger has one handler of last resort, like Python's own logging.lastResort
but from INFO: it writes `ganlint: <message>` (`ganlint: warning: <message>` from WARNING up) to the
current sys.stderr, and stays silent as soon as any other handler would take the record. The CLI
installs the same format as a handler of its own while it runs (cli_stderr), so its stderr does not depend on
what else is configured.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator

LOGGER = "ganlint"
# Between INFO (progress, which --quiet hides) and WARNING (printed as "warning: ..."): a plain line that
# --quiet still shows, such as why a run stopped or where the data came from.
NOTICE = 25
logging.addLevelName(NOTICE, "NOTICE")


def line(record: logging.LogRecord) -> str:
    """A record as ganlint's stderr shows it: `ganlint: <message>`, `ganlint: warning: <message>` from WARNING."""
    kind = "" if record.levelno < logging.WARNING else ("warning: " if record.levelno < logging.ERROR else "error: ")
    return f"ganlint: {kind}{record.getMessage()}\n"


class _Stderr(logging.Handler):
    """Writes one `ganlint: ...` line to sys.stderr as it is at emit time (pytest's capsys swaps it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            _write(line(record))
        except Exception:
            self.handleError(record)


def _write(line: str) -> None:
    """`line` on sys.stderr; above the live tqdm bars, as tqdm.write does, while there are any (`ganlint
    train`'s own bar, or a bar in the user's loop around a Monitor), so the line does not land in the middle of
    a bar and the bar is redrawn below it. tqdm is looked up, never imported: without bars, a plain write."""
    std = sys.modules.get("tqdm.std")
    cls = getattr(std, "tqdm", None)
    if getattr(cls, "_instances", None):  # a WeakSet of the bars not yet closed (disabled ones are never in it)
        cls.write(line, file=sys.stderr, end="")
    else:
        sys.stderr.write(line)
    sys.stderr.flush()


def handled_elsewhere(record: logging.LogRecord, handler: logging.Handler) -> bool:
    """Whether a handler other than `handler` and ganlint's last resort would take `record` on its way up:
    a handler of the program's own (logging.basicConfig, pytest's log capture), or the CLI's."""
    logger: logging.Logger | None = logging.getLogger(record.name)
    while logger is not None:
        if any(h is not handler and not isinstance(h, _LastResort) for h in logger.handlers):
            return True
        if not logger.propagate:
            break
        logger = logger.parent
    return False


class _LastResort(_Stderr):
    """_Stderr, but only when no other handler on the record's way up would take it."""

    def emit(self, record: logging.LogRecord) -> None:
        if not handled_elsewhere(record, self):
            super().emit(record)


class _CLI(_Stderr):
    pass


@contextlib.contextmanager
def cli_stderr(quiet: bool = False) -> Iterator[None]:
    """While the CLI runs: every ganlint record from INFO (NOTICE with quiet) on stderr, removed after, so
    a process that calls ganlint.cli.main() more than once (tests, a notebook) gets each line once."""
    logger = logging.getLogger(LOGGER)
    handler = _CLI()
    handler.setLevel(NOTICE if quiet else logging.INFO)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


_root = logging.getLogger(LOGGER)
if _root.level == logging.NOTSET:
    _root.setLevel(logging.INFO)
if not any(isinstance(h, _LastResort) for h in _root.handlers):
    _root.addHandler(_LastResort())
