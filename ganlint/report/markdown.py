"""Markdown building blocks (GitHub-flavoured): tables and escaping, for report.md.

report.md carries the same summary as report.html in a form that pastes into a pull request or prints
in a CI log; its pictures are relative links to the PNGs beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd

from ganlint.report.html import fmt


def cell(v: Any) -> str:
    """One table cell: formatted, with the characters that break a Markdown table escaped."""
    return fmt(v).replace("|", "\\|").replace("\n", " ")


def md_table(df: pd.DataFrame, *, columns: Iterable[str] | None = None,
             cells: dict[str, Callable[[Any], str]] | None = None) -> str:
    cols = list(columns) if columns is not None else list(df.columns)
    cells = cells or {}
    lines = ["| " + " | ".join(cols) + " |"]
    lines.append("| " + " | ".join("---:" if pd.api.types.is_numeric_dtype(df[c]) and df[c].dtype != bool else "---"
                                   for c in cols) + " |")
    for _, r in df.iterrows():
        lines.append("| " + " | ".join(cells[c](r[c]) if c in cells else cell(r[c]) for c in cols) + " |")
    return "\n".join(lines)
