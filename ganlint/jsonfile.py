"""Reading a JSON file that must hold one object (a run's config.json and summary.json) with one kind of error.

Every way such a file can be broken (unreadable, binary, not JSON, a list instead of an object, nested
beyond the parser's recursion limit, gigabytes large) is a DataError naming the file: one line, exit 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ganlint.errors import DataError

# A run's config.json and summary.json hold a few KB; a file this large is not one of them (and reading
# it whole would be the first thing to go wrong).
MAX_JSON_BYTES = 16 * 2**20


def read_json_object(path: str | Path, what: str = "a ganlint run file") -> dict[str, Any]:
    """The object in the file; a DataError naming the file (and saying it is not `what`) otherwise."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise DataError(f"{str(path)!r} is {size:,} bytes: not {what} (they hold a few KB)")
        obj = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as e:
        raise DataError(f"cannot read {str(path)!r}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise DataError(f"{str(path)!r} is not UTF-8 text: not {what}") from None
    except json.JSONDecodeError as e:
        raise DataError(f"{str(path)!r} is not valid JSON ({e}): not {what}") from None
    except RecursionError:
        raise DataError(f"{str(path)!r} is nested too deeply: not {what}") from None
    if not isinstance(obj, dict):
        raise DataError(f"{str(path)!r} holds a JSON {type(obj).__name__}, not an object: not {what}")
    return obj
