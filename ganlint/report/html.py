"""The building blocks of a self-contained HTML page: escaped text, tables, embedded PNGs, one stylesheet.

Self-contained means the page is one file: images are base64 data URIs, the style is inline, there is
no script, font or link to anything outside it, so it opens the same from a CI artifact, an e-mail or
an offline laptop.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from ganlint import vocabulary as V

# One colour per label (every one of ganlint.vocabulary.LABELS; tests/test_report.py checks), also used
# for the badges in the Markdown-free parts of the page. White text must stay readable on each.
LABEL_COLOURS = {
    V.DIVERGED: "#000000",
    V.VANISHING_GRADIENT: "#c62828",
    V.STALLED: "#546e7a",
    V.OSCILLATING: "#ef6c00",
    V.COLLAPSED: "#6a1b9a",
    V.STILL_WEAK: "#00838f",  # teal: not broken, not there yet
    V.STABLE: "#2e7d32",
    V.INCONCLUSIVE: "#6d4c41",  # brown: neither a failure's red nor a pass's green
}
STATUS_COLOURS = {V.PASS: "#2e7d32", V.WARN: "#ef6c00", V.FAIL: "#c62828", V.NOT_ASSESSABLE: "#78909c", V.ERROR: "#000000"}

# How wide the page shows a picture, in CSS px. <main> is at most 1180 px wide with 28 px of padding a
# side, so its content is 1124 px; a figure is drawn no wider than the slot it goes in (at figures.DPI,
# 1 px of the PNG per CSS px), so it is shown 1:1 and its type is as large as it was drawn. A figure
# shown shrunk would have 9 pt labels ~7 px high: the "ticks 5 px high" a reader could not read.
PAGE_WIDTH_PX = 1124
FIGURE_WIDTH_PX = 1080  # a full-width figure (run panels, samples, the suite's overview)
HALF_WIDTH_PX = 540  # a figure in one column of .grid2 (two columns of (1124 - 16 gap) / 2, less the border)

CSS = """
body { font: 15px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #1d2125;
       background: #f4f5f7; margin: 0; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 60px; }
h1 { font-size: 26px; margin: 8px 0 4px; } h2 { font-size: 20px; margin: 34px 0 10px; border-bottom: 1px solid #d0d4d9;
  padding-bottom: 4px; } h3 { font-size: 16px; margin: 18px 0 6px; }
.meta { color: #5f6b76; font-size: 13px; }
.card { background: #fff; border: 1px solid #dde1e5; border-radius: 8px; padding: 14px 18px; margin: 14px 0; }
.verdict { display: flex; gap: 14px; align-items: center; flex-wrap: wrap; font-size: 17px; }
.badge { display: inline-block; color: #fff; border-radius: 12px; padding: 1px 10px; font-size: 13px;
         font-weight: 600; white-space: nowrap; }
.big { font-size: 18px; padding: 4px 14px; border-radius: 16px; }
.pass { color: #2e7d32; font-weight: 600; } .fail { color: #c62828; font-weight: 600; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0; background: #fff; }
th, td { border-bottom: 1px solid #e3e6e9; padding: 4px 9px; text-align: left; vertical-align: top; }
th { background: #eef0f3; font-weight: 600; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.bad td { background: #fdecea; }
img { max-width: 100%; height: auto; border: 1px solid #e3e6e9; border-radius: 4px; background: #fff; }
.grid2 { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 16px; align-items: start; }
.nw { white-space: nowrap; }
.pics img { display: block; margin: 8px 0; }
ul.remedies, ul.needs { margin: 4px 0 0 18px; padding: 0; } .why { color: #3d4650; }
nav a { margin-right: 10px; font-size: 13px; } a { color: #1565c0; }
details summary { cursor: pointer; color: #1565c0; margin: 6px 0; }
.banner { background: #fff4e5; border: 1px solid #ffb74d; border-radius: 6px; padding: 8px 14px; margin: 10px 0; }
"""


def esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def badge(label: str, big: bool = False) -> str:
    colour = LABEL_COLOURS.get(label, STATUS_COLOURS.get(label, "#455a64"))
    return f'<span class="badge{" big" if big else ""}" style="background:{colour}">{esc(label)}</span>'


def fmt(v: Any, digits: int = 4) -> str:
    """A cell for people: numbers to `digits` significant digits, missing as an en dash."""
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return "\u2013"  # en dash
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) in pixels from a PNG's header (its IHDR chunk); (0, 0) for anything else."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return 0, 0
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def image(path: str | Path | None, alt: str, slot: int = FIGURE_WIDTH_PX) -> str:
    """An <img> with the PNG embedded as a data URI (empty when the file is missing), `width` set to the
    CSS px it is shown at: its own width, or the slot's when wider (then it is shrunk, and so is its
    type). Stating the width also reserves the picture's room before it is decoded."""
    if path is None or not Path(path).is_file():
        return f'<p class="meta">({esc(alt)}: no picture)</p>'
    raw = Path(path).read_bytes()
    w = png_size(raw)[0]
    size = f' width="{min(w, slot)}"' if w else ""
    data = base64.b64encode(raw).decode("ascii")
    return f'<img alt="{esc(alt)}"{size} src="data:image/png;base64,{data}">'


def table(df: pd.DataFrame, *, cells: dict[str, Callable[[Any], str]] | None = None,
          row_class: Callable[[pd.Series], str] | None = None, columns: Iterable[str] | None = None) -> str:
    """A DataFrame as an HTML table. `cells` maps a column to a function giving that cell's (safe) HTML."""
    cells = cells or {}
    cols = list(columns) if columns is not None else list(df.columns)
    head = "".join(f"<th>{esc(c)}</th>" for c in cols)
    body = []
    for _, r in df.iterrows():
        tds = []
        for c in cols:
            v = r[c]
            if c in cells:
                tds.append(f"<td>{cells[c](v)}</td>")
            else:
                num = isinstance(v, (int, float)) and not isinstance(v, bool)
                attr = ' class="num"' if num else ""
                tds.append(f"<td{attr}>{esc(fmt(v))}</td>")
        cls = row_class(r) if row_class else ""
        attr = f' class="{cls}"' if cls else ""
        body.append(f"<tr{attr}>{''.join(tds)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{esc(title)}</title>\n'
            f"<style>{CSS}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n")
