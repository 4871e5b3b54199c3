"""Screenshot a ganlint report (report.html) in headless Chromium, the whole page and each figure on it, at
the size the page shows them, and print how large each figure is displayed against how large it was drawn.

    .venv/bin/python scripts/screenshot_report.py /tmp/suite/report.html --out /work/notes/figures --prefix after_suite

Writes PREFIX_page.png (the full page at --width CSS px) and PREFIX_fig<N>.png (each <img>, cropped from
the page), and prints one line per figure: its alt text, drawn width (px), displayed width (CSS px) and the
scale between them (what a 10 pt label at the figure's dpi is reduced or enlarged by).

How, with nothing but Chromium's command line (no driver, nothing downloaded): a copy of the page gets a
small script that writes the page's height and each image's box (and its width inside its border) into the DOM, which `--dump-dom` prints;
then a window exactly that tall takes the screenshot. The reports embed their PNGs as data URIs, so the
page needs no network; the background-networking flags keep Chromium from trying to reach its servers (on
a closed network those attempts are refused and slow it down). Device scale factor 1: one screenshot
pixel is one CSS pixel, so the crops show what a reader on an ordinary screen sees.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         "--force-device-scale-factor=1", "--virtual-time-budget=10000"]
MAX_HEIGHT = 16_000  # Chromium's screenshots get unreliable beyond ~16k px; taller pages are cut there
# Written into the copy of the page: the layout as JSON in a <pre>, read back from --dump-dom.
PROBE = """<script>window.addEventListener("load", () => {
  const imgs = [...document.images].map(i => { const r = i.getBoundingClientRect();
    return {alt: i.alt, natural: i.naturalWidth, x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height, shown: i.clientWidth}; });
  const pre = document.createElement("pre"); pre.id = "ganlint-layout";
  pre.textContent = JSON.stringify({height: document.documentElement.scrollHeight, imgs});
  document.body.appendChild(pre); });</script>"""


def _chromium(args: list[str], profile: Path, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


def layout(page: Path, width: int, timeout: float = 120) -> dict:
    """The page's height and the box of each image (CSS px), as laid out at `width`."""
    with tempfile.TemporaryDirectory(prefix="ganlint-shot-") as tmp:
        probe = Path(tmp) / "probe.html"
        probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>", 1), encoding="utf-8")
        done = _chromium([f"--window-size={width},900", "--dump-dom", probe.as_uri()], Path(tmp) / "profile", timeout)
    m = re.search(r'<pre id="ganlint-layout">(.*?)</pre>', done.stdout, re.S)
    if not m:
        raise RuntimeError(f"Chromium printed no layout (exit {done.returncode}): {done.stderr[-500:]}")
    return json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))


def screenshot(page: Path, png: Path, width: int, height: int, timeout: float = 120) -> Path:
    """A screenshot of the page in a window of width x height CSS px."""
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ganlint-shot-") as tmp:
        done = _chromium([f"--window-size={width},{height}", f"--screenshot={png}", page.resolve().as_uri()],
                         Path(tmp) / "profile", timeout)
    if not png.is_file():
        raise RuntimeError(f"Chromium wrote no screenshot (exit {done.returncode}): {done.stderr[-500:]}")
    return png


def shoot(page: Path, out: Path, prefix: str, width: int = 1280, crops: bool = True) -> list[dict]:
    """The full page and (with `crops`) each figure; returns the figures' boxes with their crop's path."""
    from PIL import Image

    lay = layout(page, width)
    height = min(MAX_HEIGHT, int(lay["height"]) + 1)
    full = screenshot(page, out / f"{prefix}_page.png", width, height)
    figs = []
    with Image.open(full) as im:
        for i, box in enumerate(lay["imgs"]):
            box = {**box, "scale": box["shown"] / box["natural"] if box["natural"] else float("nan")}
            if crops and box["w"] and box["y"] + box["h"] <= im.height:
                crop = out / f"{prefix}_fig{i}.png"
                im.crop((round(box["x"]), round(box["y"]), round(box["x"] + box["w"]),
                         round(box["y"] + box["h"]))).save(crop)
                box["crop"] = str(crop)
            figs.append(box)
    return figs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("report", type=Path, help="a report.html")
    p.add_argument("--out", type=Path, default=Path("."), help="folder for the PNGs [default: .]")
    p.add_argument("--prefix", default="report", help="file name prefix [default: report]")
    p.add_argument("--width", type=int, default=1280, help="window width in CSS px [default: 1280]")
    p.add_argument("--no-crops", action="store_true", help="only the full page")
    a = p.parse_args(argv)
    if not shutil.which(CHROMIUM):
        print(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)", file=sys.stderr)
        return 2
    figs = shoot(a.report, a.out, a.prefix, a.width, crops=not a.no_crops)
    print(f"{a.out / (a.prefix + '_page.png')}")
    for i, f in enumerate(figs):
        print(f"fig{i}\t{f['alt']}\tdrawn {f['natural']} px\tshown {f['shown']} px\tscale {f['scale']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
