"""The `ganlint` command line: parses, calls the library, prints. No logic of its own.

stdout carries results (text or --format json); stderr carries progress and errors.
Exit codes: 0 success (for diagnose and check: the gate passes), 1 the gate fails (a failure label,
ganlint.vocabulary.FAILURE_LABELS), 2 usage or input error (one line on stderr, never a traceback),
3 inconclusive (nothing decisive could be judged, and the gate does not pass on no evidence; for check
also: nothing could be checked), 130 interrupted.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

from ganlint.cli.codes import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from ganlint.cli.parser import build_parser
from ganlint.errors import GanlintError
from ganlint.logs import cli_stderr


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        with cli_stderr(quiet=bool(getattr(args, "quiet", False))):
            return args.func(args)
    except GanlintError as e:
        print(f"ganlint: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("ganlint: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # stdout closed early (`ganlint ... | head`): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as e:
        # A read or write the library did not wrap (ganlint.files wraps its own): a full disk, a read-only
        # folder, a name the file system refuses. The user's situation, so one line, not a traceback.
        where = f" {os.fsdecode(e.filename)!r}" if e.filename else ""
        print(f"ganlint: error: cannot access{where}: {e.strerror or e}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as e:  # a bug in ganlint: keep the traceback for the report, but never exit 1 (= "unhealthy")
        import traceback

        traceback.print_exc(file=sys.stderr)
        print(f"ganlint: internal error (a bug in ganlint, please report it with the traceback above): "
              f"{type(e).__name__}: {e}", file=sys.stderr)
        return EXIT_USAGE


def _entry() -> Any:  # pragma: no cover
    sys.exit(main())
