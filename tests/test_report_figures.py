"""The report's PNG figures: each is written, is a real PNG of a sensible size, is not blank, and survives
the telemetry of broken runs (missing, NaN, infinite and non-positive values, a single row).

Synthetic telemetry and samples keep the file fast; pytest turns every matplotlib warning into an error,
so these tests also prove the figures draw without warnings.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from ganlint.data import get_dataset
from ganlint.report import figures, plots
from ganlint.training.telemetry import COLUMNS, EVAL_COLUMNS


def telemetry(n: int = 200, seed: int = 0) -> pd.DataFrame:
    """A full telemetry table with plausible values; evaluation columns every 20th step (and step 1)."""
    rng = np.random.default_rng(seed)
    t = np.arange(1, n + 1)
    df = pd.DataFrame({"step": t})
    df["loss_d"] = 1.3 + 0.1 * np.sin(t / 15) + 0.05 * rng.standard_normal(n)
    df["loss_g"] = 0.8 + 0.1 * rng.standard_normal(n)
    df["d_real"] = 0.6 + 0.05 * rng.standard_normal(n)
    df["d_fake"] = 0.4 + 0.05 * rng.standard_normal(n)
    for c, scale in (("grad_norm_g", 2.0), ("grad_norm_d", 1.0), ("update_ratio_g", 3e-3), ("update_ratio_d", 2e-3)):
        df[c] = scale * np.exp(0.3 * rng.standard_normal(n))
    df["fake_mean"], df["fake_std"] = np.sin(t / 30), 1 + 0.2 * np.cos(t / 20)
    df["real_mean"], df["real_std"] = 0.02 * rng.standard_normal(n), 1.41 + 0.01 * rng.standard_normal(n)
    df["time_s"] = t * 0.01
    evals = (t % 20 == 0) | (t == 1)
    for c in EVAL_COLUMNS:
        df[c] = np.where(evals, rng.uniform(0.2, 1.0, n), np.nan)
    df["modes_covered"] = np.where(evals, rng.integers(1, 9, n), np.nan)
    return df[list(COLUMNS)]


def read_png(path: Path) -> np.ndarray:
    import matplotlib.image

    return matplotlib.image.imread(path)[..., :3]


def check_png(path: Path, min_kb: float = 5, max_kb: float = 400, blank_ok: bool = False) -> np.ndarray:
    """The file is a PNG of a plausible size with something drawn on it; returns its pixels."""
    assert path.is_file()
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG")
    assert min_kb * 1024 < len(data) < max_kb * 1024, f"{path.name}: {len(data) / 1024:.1f} KB"
    img = read_png(path)
    ink = (img < 0.9).any(axis=-1).mean()  # share of pixels that are not (nearly) white
    assert ink > (0.001 if blank_ok else 0.02), f"{path.name} looks blank ({ink:.4f} ink)"
    assert img.std() > 0.02
    return img


@pytest.fixture(autouse=True)
def _no_open_figures():
    """Every function closes its figure (pyplot would keep them alive, a leak over a suite of reports)."""
    yield
    plt = figures.pyplot()
    assert plt.get_fignums() == []


# ---------------------------------------------------------------- run_panels


def test_run_panels_full_telemetry(tmp_path):
    path = figures.run_panels(telemetry(), tmp_path / "deep" / "er" / "panels.png", title="ring8 seed 0",
                              onset_step=120, label="collapsed")
    assert path == tmp_path / "deep" / "er" / "panels.png"
    img = check_png(path, max_kb=150)
    assert img.shape[0] > 600 and img.shape[1] > 900


def test_run_panels_marks_the_onset(tmp_path):
    plain = read_png(figures.run_panels(telemetry(), tmp_path / "a.png"))
    marked = check_png(figures.run_panels(telemetry(), tmp_path / "b.png", onset_step=120, label="collapsed"))
    assert plain.shape == marked.shape
    # The dashed line (and its note) changes a vertical band of pixels on every row of panels.
    changed_rows = np.flatnonzero(np.abs(plain - marked).max(axis=(1, 2)) > 0.2)
    assert len(changed_rows) > 0.5 * plain.shape[0]


def test_run_panels_bare_critic_table(tmp_path):
    bare = telemetry()[["step", "loss_d", "loss_g", "d_real", "d_fake"]]
    bare = bare.assign(d_real=bare["d_real"] * 20, d_fake=-bare["d_fake"] * 20)
    # An onset past the last step must not break anything either.
    check_png(figures.run_panels(bare, tmp_path / "bare.png", title="bare", onset_step=10_000, d_output="critic"))


def test_run_panels_broken_values(tmp_path):
    df = telemetry(100)
    df["loss_d"] = np.nan  # all-NaN column
    df.loc[10:20, "loss_g"] = np.inf
    df.loc[30, "d_fake"] = -np.inf
    df["grad_norm_g"] = 0.0  # nothing positive on a log axis
    df["grad_norm_d"] = -1.0
    df.loc[::2, "update_ratio_d"] = -1e-3  # half negative on a log axis
    df["distance"] = np.inf
    df = df.drop(columns=["modes_covered", "coverage"])
    check_png(figures.run_panels(df, tmp_path / "broken.png", title="broken", onset_step=40, label="diverged",
                                 d_output="an-output-kind-from-the-future"))


def test_run_panels_nothing_recorded(tmp_path):
    empty = pd.DataFrame({c: pd.Series(dtype="float64") for c in COLUMNS})
    check_png(figures.run_panels(empty, tmp_path / "empty.png", title="empty"), blank_ok=True)
    all_nan = telemetry(20)
    all_nan.loc[:, all_nan.columns != "step"] = np.nan
    check_png(figures.run_panels(all_nan, tmp_path / "nan.png", onset_step=3), blank_ok=True)


def test_run_panels_one_row(tmp_path):
    check_png(figures.run_panels(telemetry(1), tmp_path / "one.png", title="one step", onset_step=1, label="diverged",
                                 d_output="ls-score"))


def test_smoothing_window_is_about_one_percent():
    assert figures._window(1) == 1
    assert figures._window(400) == 4
    assert figures._window(20_000) == 200


# ---------------------------------------------------------------- samples_strip


def test_pick_spreads_steps_and_keeps_the_ends():
    assert plots._pick([300, 1, 200], 6) == [1, 200, 300]
    picked = plots._pick(list(range(1, 1001, 100)), 6)
    assert len(picked) == 6 and picked[0] == 1 and picked[-1] == 901
    assert picked == sorted(picked)


def test_samples_strip_scatter_with_broken_fakes_and_many_steps(tmp_path):
    ds = get_dataset("ring8")
    g = torch.Generator().manual_seed(0)
    real = ds.sample(512, g)
    fakes = {s: 0.3 * torch.randn(256, 2, generator=g) + s / 1000 for s in range(100, 1001, 100)}  # 10 steps
    fakes[100][:10] = float("nan")
    fakes[1000] = torch.full((256, 2), float("inf"))  # a diverged last step: nothing finite left
    fakes[500][:5] = 50.0  # far outside the view
    check_png(plots.samples_strip(fakes, real, ds, tmp_path / "s" / "scatter.png", title="ring8"), min_kb=3)


def test_samples_strip_hist(tmp_path):
    ds = get_dataset("gaussian1d")
    g = torch.Generator().manual_seed(0)
    fakes = {1: 0.1 * torch.randn(256, 1, generator=g), 200: 2 + 0.3 * torch.randn(256, 1, generator=g),
             400: torch.full((256, 1), float("nan"))}
    fakes[200][0] = 1e9  # one far-off fake must not squash the bins
    check_png(plots.samples_strip(fakes, ds.sample(512, g), ds, tmp_path / "hist.png", title="g1d"), min_kb=3)


def test_samples_strip_bars(tmp_path):
    ds = get_dataset("reviews")
    g = torch.Generator().manual_seed(0)
    real = ds.sample(512, g)
    good = ds.sample(256, g)
    bad = torch.zeros(256, ds.dim)
    bad[:, 0] = 1.0  # every row the same product, rating 1, first cluster
    bad[:3] = float("nan")
    fakes = {1: torch.randn(256, ds.dim, generator=g), 200: bad, 400: good}
    check_png(plots.samples_strip(fakes, real, ds, tmp_path / "bars.png", title="reviews"), min_kb=3)


def test_total_variation():
    a = pd.Series(["x", "x", "y", "y"])
    assert plots._tv(a, a) == 0
    assert plots._tv(a, pd.Series(["z", "z"])) == 1
    assert math.isclose(plots._tv(a, pd.Series(["x", "x", "x", "x"])), 0.5)


def blobs(n: int, g: torch.Generator) -> torch.Tensor:
    """Digit-like images in [-1, 1]: one bright disc per image on a dark background."""
    yy, xx = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    centre = 8 + 12 * torch.rand(n, 2, generator=g)
    d2 = (yy - centre[:, 0, None, None]) ** 2 + (xx - centre[:, 1, None, None]) ** 2
    return torch.where(d2 < 25, 1.0, -1.0).unsqueeze(1)


def test_samples_strip_images(tmp_path):
    image_data = SimpleNamespace(plot_kind="image")  # MNIST itself takes seconds to load
    g = torch.Generator().manual_seed(0)
    fakes = {1: blobs(64, g), 100: blobs(100, g), 200: torch.full((64, 1, 28, 28), float("nan"))}
    fakes[100][5] = float("inf")
    check_png(plots.samples_strip(fakes, blobs(64, g), image_data, tmp_path / "img.png", title="digits"))


def test_samples_strip_without_samples(tmp_path):
    ds = get_dataset("ring8")
    check_png(plots.samples_strip({}, ds.sample(64), ds, tmp_path / "none.png"), min_kb=1, blank_ok=True)


def test_samples_strip_unknown_kind(tmp_path):
    with pytest.raises(ValueError, match="plot kind"):
        plots.samples_strip({1: torch.zeros(4, 2)}, torch.zeros(4, 2), SimpleNamespace(plot_kind="3d"), tmp_path / "x.png")


def test_every_plot_kind_has_one_drawing():
    from ganlint.data.base import PLOT_KINDS

    assert set(plots.DRAWERS) == set(PLOT_KINDS) == set(plots.COLUMN_SIZE)


@pytest.mark.parametrize("name", ["ring8", "gaussian1d", "reviews", "digits"])
def test_plot_samples_draws_one_step_as_the_strip_does(name, tmp_path):
    g = torch.Generator().manual_seed(0)
    if name == "digits":  # MNIST itself takes seconds to load
        ds, fake, real = SimpleNamespace(plot_kind="image"), blobs(64, g), blobs(64, g)
    else:
        ds = get_dataset(name)
        fake, real = ds.sample(256, g), ds.sample(512, g)
    path = plots.plot_samples(fake, real, ds, f"{name}: samples at step 5", tmp_path / "samples" / "step_000005.png")
    assert path == tmp_path / "samples" / "step_000005.png"
    check_png(path, min_kb=3)


def test_plot_samples_unknown_kind(tmp_path):
    with pytest.raises(ValueError, match="plot kind"):
        plots.plot_samples(torch.zeros(4, 2), torch.zeros(4, 2), SimpleNamespace(plot_kind="3d"), "x", tmp_path / "x.png")


# ---------------------------------------------------------------- suite figures


def confusion(rows: list[str], cols: list[str], counts: list[list[int]]) -> pd.DataFrame:
    return pd.DataFrame(counts, index=pd.Index(rows, name="expected"), columns=pd.Index(cols, name="found"))


def test_confusion_full(tmp_path):
    labels = ["stable", "oscillating", "collapsed", "vanishing-gradient", "diverged", "stalled"]
    counts = (np.eye(6, dtype=int) * 5 + np.random.default_rng(0).integers(0, 2, (6, 6))).tolist()
    check_png(figures.confusion_png(confusion(labels, labels, counts), tmp_path / "c.png"))


def test_confusion_one_by_one_and_non_square(tmp_path):
    check_png(figures.confusion_png(confusion(["stable"], ["stable"], [[3]]), tmp_path / "one.png"), min_kb=1)
    # Different label sets: the diagonal is matched by name ("stable"), not by position.
    c = confusion(["stable", "collapsed"], ["diverged", "stable", "stalled"], [[0, 4, 1], [2, 0, 0]])
    check_png(figures.confusion_png(c, tmp_path / "two.png", title="odd"), min_kb=1)
    check_png(figures.confusion_png(confusion([], [], []), tmp_path / "none.png"), min_kb=1, blank_ok=True)


def overview_items(n: int) -> list[dict]:
    labels = ["stable", "collapsed", "diverged"]
    items = []
    for i in range(n):
        df = None if i % 7 == 3 else telemetry(60 + 10 * i, seed=i)
        if df is not None and i % 5 == 4:  # a critic: raw scores, not probabilities
            df = df.assign(d_real=df["d_real"] * 10, d_fake=-df["d_fake"] * 10)
        items.append({"scenario": f"scenario_{i // 3}", "seed": i % 3, "expected": labels[i % 3],
                      "label": labels[(i + (i % 4 == 0)) % 3], "telemetry": df,
                      "onset_step": 30 if i % 2 else (np.nan if i % 4 == 2 else None),  # NaN: a table's "none"
                      "d_output": "critic" if i % 5 == 4 else "probability"})
    return items


@pytest.mark.parametrize("n", [0, 1, 30])
def test_overview(tmp_path, n):
    path = figures.overview_png(overview_items(n), tmp_path / f"o{n}.png", title=f"{n} runs")
    img = check_png(path, min_kb=1 if n < 2 else 5, max_kb=150, blank_ok=n == 0)
    assert img.shape[0] < 2400 and img.shape[1] < 1200


def test_overview_empty_telemetry_frame(tmp_path):
    items = overview_items(2)
    items[0]["telemetry"] = telemetry(10).iloc[:0]
    items[1]["telemetry"] = telemetry(10)[["step", "loss_d"]]  # no D outputs
    check_png(figures.overview_png(items, tmp_path / "o.png"), min_kb=1)


# ---------------------------------------------------------------- readable at the size the page shows them

# The smallest type a reader should meet, in CSS px as the page shows it (see figures.TICK_PT): tick
# labels, legends and notes, and panel titles.
MIN_TICK_PX, MIN_TITLE_PX = 10.5, 12.0


def drawn(monkeypatch, make) -> tuple:
    """(figure, dpi) that `make()` saves: the figure is inspected just before it is written."""
    seen = []
    real_save = figures.save

    def spy(fig, path, dpi=figures.DPI):
        fig.canvas.draw()
        seen.append((fig, dpi, [t for t in fig.findobj(lambda o: hasattr(o, "get_fontsize") and hasattr(o, "get_text"))
                                if t.get_visible() and t.get_text().strip()]))
        return real_save(fig, path, dpi)

    monkeypatch.setattr(figures, "save", spy)
    monkeypatch.setattr(plots, "save", spy)
    make()
    assert len(seen) == 1
    return seen[0]


def shown_px(fig, dpi, slot: int) -> float:
    """CSS px per point of type: the page shows the PNG min(its width, slot) wide (html.image)."""
    natural = fig.get_figwidth() * dpi
    return dpi / 72 * min(natural, slot) / natural


def _figure_makers(tmp_path):
    from ganlint.report import html

    g = torch.Generator().manual_seed(0)
    ring, g1d, reviews = get_dataset("ring8"), get_dataset("gaussian1d"), get_dataset("reviews")
    steps = range(1, 1201, 200)  # six columns: the narrowest panels
    labels = ["stable", "oscillating", "collapsed", "vanishing-gradient", "diverged", "stalled", "inconclusive",
              "still-weak"]
    return {
        "run panels": (html.FIGURE_WIDTH_PX, lambda: figures.run_panels(telemetry(), tmp_path / "p.png", onset_step=50,
                                                                         label="collapsed", num_modes=8)),
        "scatter": (html.FIGURE_WIDTH_PX, lambda: plots.samples_strip(
            {s: ring.sample(256, g) for s in steps}, ring.sample(512, g), ring, tmp_path / "s.png", title="ring8")),
        "hist": (html.FIGURE_WIDTH_PX, lambda: plots.samples_strip(
            {s: g1d.sample(256, g) for s in steps}, g1d.sample(512, g), g1d, tmp_path / "h.png", title="1d")),
        "bars": (html.FIGURE_WIDTH_PX, lambda: plots.samples_strip(
            {s: reviews.sample(256, g) for s in steps}, reviews.sample(512, g), reviews, tmp_path / "b.png", title="r")),
        "images": (html.FIGURE_WIDTH_PX, lambda: plots.samples_strip(
            {s: blobs(64, g) for s in steps}, blobs(64, g), SimpleNamespace(plot_kind="image"), tmp_path / "i.png",
            title="digits")),
        "confusion": (html.HALF_WIDTH_PX, lambda: figures.confusion_png(
            confusion(labels, labels, (np.eye(8, dtype=int) * 3).tolist()), tmp_path / "c.png")),
        "overview": (html.FIGURE_WIDTH_PX, lambda: figures.overview_png(overview_items(30), tmp_path / "o.png",
                                                                          title="every run")),
    }


@pytest.mark.parametrize("name", ["run panels", "scatter", "hist", "bars", "images", "confusion", "overview"])
def test_type_is_readable_at_the_displayed_size(name, tmp_path, monkeypatch):
    """Every piece of text, as large as the page shows it (the PNG's width against its slot on the page):
    tick labels and notes at least MIN_TICK_PX, titles at least MIN_TITLE_PX."""
    slot, make = _figure_makers(tmp_path)[name]
    fig, dpi, texts = drawn(monkeypatch, make)
    px = shown_px(fig, dpi, slot)
    assert fig.get_figwidth() * dpi <= slot, "drawn wider than the page shows it: shrunk, type and all"
    small = sorted({(t.get_fontsize() * px, t.get_text()[:30]) for t in texts})[:3]
    assert small[0][0] >= MIN_TICK_PX, f"{name}: text {small} px"
    titles = [ax.title for ax in fig.axes if ax.title.get_text()]
    assert all(t.get_fontsize() * px >= MIN_TITLE_PX for t in titles), [(t.get_text(), t.get_fontsize() * px) for t in titles]


def test_report_pages_show_their_figures_one_to_one(tmp_path, train_tiny):
    """The <img> width the pages write is the PNG's own width (nothing shrunk), within the page's slot."""
    import base64
    import re

    from ganlint.report import html
    from ganlint.report.run_report import render_run

    page = render_run(train_tiny("run").out_dir).read_text()
    imgs = re.findall(r'<img alt="([^"]*)" width="(\d+)" src="data:image/png;base64,([^"]+)"', page)
    assert imgs
    for alt, width, data in imgs:
        natural = html.png_size(base64.b64decode(data))[0]
        assert int(width) == natural <= html.FIGURE_WIDTH_PX <= html.PAGE_WIDTH_PX, alt
    assert html.image(tmp_path / "missing.png", "x").startswith("<p")


def tick_boxes_overlap(ax) -> list[tuple[str, str]]:
    labels = [t for t in ax.get_xticklabels() if t.get_visible() and t.get_text()]
    boxes = sorted(((t.get_window_extent(), t.get_text()) for t in labels), key=lambda b: b[0].x0)  # left to right
    return [(a, b) for (ba, a), (bb, b) in itertools.pairwise(boxes) if ba.x1 > bb.x0 - 2]


def test_1d_histogram_tick_labels_do_not_overlap(tmp_path, monkeypatch):
    ds = get_dataset("gaussian1d")
    g = torch.Generator().manual_seed(0)
    fakes = {s: -3 + 0.37 * s / 100 + torch.randn(256, 1, generator=g) for s in range(1, 1201, 200)}
    fig, _, _ = drawn(monkeypatch, lambda: plots.samples_strip(fakes, ds.sample(512, g), ds, tmp_path / "h.png"))
    for ax in fig.axes:
        assert len([t for t in ax.get_xticklabels() if t.get_text()]) >= 2
        assert tick_boxes_overlap(ax) == []


def test_modes_strip_reaches_the_number_of_modes(tmp_path, monkeypatch):
    df = telemetry()
    df["modes_covered"] = np.where(df["modes_covered"].notna(), 1.0, np.nan)  # one of ten, all along
    fig, _, texts = drawn(monkeypatch, lambda: figures.run_panels(df, tmp_path / "p.png", num_modes=10))
    strip = next(ax for ax in fig.axes if ax.get_ylabel() == "modes")
    assert strip.get_ylim()[1] >= 10 and 10 in strip.get_yticks()
    assert all(float(t).is_integer() for t in strip.get_yticks())
    assert any(t.get_text() == "modes covered 1 / 10" for t in texts)


def test_a_small_drift_is_not_stretched_to_fill_the_panel(tmp_path, monkeypatch):
    df = telemetry()[["step", "loss_d", "loss_g"]]
    df = df.assign(loss_d=1.0 - 0.005 * df["step"] / df["step"].max(), loss_g=1.0)  # falls 0.5%, and a flat line
    fig, _, texts = drawn(monkeypatch, lambda: figures.run_panels(df, tmp_path / "p.png", d_output="critic"))
    loss = next(ax for ax in fig.axes if ax.get_title() == "losses")
    lo, hi = loss.get_ylim()
    assert hi - lo >= figures.MIN_SPAN * 1.0 * 0.999
    assert any(t.get_text().startswith("flat within 0.5") for t in texts)
    # A real change still fills the panel.
    df = df.assign(loss_d=1.0 - 0.5 * df["step"] / df["step"].max())
    fig, _, _ = drawn(monkeypatch, lambda: figures.run_panels(df, tmp_path / "q.png", d_output="critic"))
    lo, hi = next(ax for ax in fig.axes if ax.get_title() == "losses").get_ylim()
    assert hi - lo < 0.7


def test_screenshot_script_in_chromium(tmp_path, train_tiny):
    """scripts/screenshot_report.py in a real browser, where one is installed (CI has none)."""
    import shutil
    import subprocess
    import sys

    if not shutil.which("/usr/bin/chromium"):
        pytest.skip("no Chromium at /usr/bin/chromium (apt-get install chromium) to take screenshots with")
    from ganlint.report.run_report import render_run

    page = render_run(train_tiny("run").out_dir)
    script = Path(__file__).resolve().parents[1] / "scripts" / "screenshot_report.py"
    done = subprocess.run([sys.executable, str(script), str(page), "--out", str(tmp_path), "--prefix", "t"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "scale 1.00" in done.stdout
    shot = check_png(tmp_path / "t_page.png", min_kb=5, max_kb=20_000)
    assert shot.shape[1] == 1280
    check_png(tmp_path / "t_fig0.png", min_kb=5, max_kb=5_000)


def test_overview_tick_labels_of_a_diverged_critic_are_short():
    """A critic's scores reaching 1e19 (exploding_critic): each tick carries its exponent, no offset text
    above the axis (it landed on the cell's title), and every label fits the cell's margin."""
    from ganlint.report.figures import _short

    labels = [_short(v) for v in (0.0, 0.5, 12.0, 9999.0, 3e4, -4e18, 1.5e-5, -8e18)]
    assert labels == ["0", "0.5", "12", "1e4", "3e4", "-4e18", "1.5e-5", "-8e18"]
    assert max(map(len, labels)) <= 6
