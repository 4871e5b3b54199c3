"""The pictures of a run's samples, drawn the way its data is read best: an image grid (MNIST), a scatter
over the real data with the mixture's centres (2D), a histogram against the real one (1D), or per-column
distances of the marginals (tables). One drawing per plot kind (DRAWERS), for both pictures:

    from ganlint.report.plots import plot_samples, samples_strip
    plot_samples(fake, real, get_dataset("ring8"), "ring8: samples at step 500", "samples/step_000500.png")
    samples_strip({1: fake_at_1, 500: fake_at_500}, real, get_dataset("ring8"), "plots/samples.png")

plot_samples is the trainer's and the Monitor's picture of one step (samples/step_NNNNNN.png);
samples_strip the report's picture of several steps side by side (plots/samples.png). Plotting is kept
apart from computing; matplotlib is imported on first use with the non-interactive Agg backend
(ganlint.report.figures.pyplot), so this works on machines without a display.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ganlint.report.figures import (
    DPI,
    FAKE,
    REAL,
    SUPTITLE_PT,
    TICK_PT,
    TITLE_PT,
    finite_rows,
    legend,
    note,
    pyplot,
    save,
)
from ganlint.report.html import FIGURE_WIDTH_PX

MAX_SAMPLE_COLUMNS = 6
# Width and height (inches) of one column of a picture, per plot kind; a picture of many columns is
# narrowed to the page's width (html.FIGURE_WIDTH_PX), where it is shown 1:1 (see _picture).
COLUMN_SIZE = {"image": (2.9, 3.1), "scatter": (2.6, 2.9), "hist": (2.8, 2.6), "bars": (2.6, 2.9)}
# Tick labels per axis in a sample panel: six columns leave ~170 px each, room for four labels of TICK_PT.
SAMPLE_TICKS = 4


def image_grid(x: torch.Tensor, nrow: int = 8) -> torch.Tensor:
    """(n, 1, H, W) in [-1, 1] -> one (rows*H, nrow*W) image in [0, 1], with 1-pixel gaps."""
    x = x[: nrow * nrow].detach().float().cpu().clamp(-1, 1).add(1).div(2)
    n, _, h, w = x.shape
    rows = math.ceil(n / nrow)
    grid = torch.ones(rows * (h + 1) + 1, nrow * (w + 1) + 1)
    for i in range(n):
        r, c = divmod(i, nrow)
        grid[1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + c * (w + 1) : 1 + c * (w + 1) + w] = x[i, 0]
    return grid


def _pick(steps: Sequence[int], k: int) -> list[int]:
    """At most k steps, evenly spread and always including the first and the last."""
    steps = sorted(steps)
    if len(steps) <= k:
        return steps
    idx = sorted({round(i) for i in np.linspace(0, len(steps) - 1, k)})
    return [steps[i] for i in idx]


def _tv(real: pd.Series, fake: pd.Series) -> float:
    """Total variation between two category frequency tables: the share of rows that would have to
    change category to turn one into the other (0 identical, 1 disjoint)."""
    p, q = real.value_counts(normalize=True), fake.value_counts(normalize=True)
    return 0.5 * float(p.sub(q, fill_value=0).abs().sum())


def _categorical(dataset, table: pd.DataFrame) -> dict[str, bool]:
    """Which decoded columns are categorical: from the dataset's column layout when it has one."""
    kinds = {c.name: c.kind == "categorical" for c in getattr(dataset, "columns", ()) if hasattr(c, "kind")}
    return {c: kinds.get(c, not pd.api.types.is_float_dtype(table[c]) and table[c].nunique() <= 50) for c in table.columns}


def _as_categories(real: pd.Series, fake: pd.Series, categorical: bool) -> tuple[pd.Series, pd.Series]:
    """Numeric columns become the reals' deciles, so one TV scale reads every column."""
    if categorical:
        return real.astype(str), fake.astype(str)
    edges = np.unique(np.quantile(real.to_numpy(dtype=np.float64), np.linspace(0, 1, 11)))[1:-1]
    return (pd.Series(np.searchsorted(edges, real.to_numpy(dtype=np.float64), side="right")),
            pd.Series(np.searchsorted(edges, fake.to_numpy(dtype=np.float64), side="right")))


def _bars_panel(ax, dataset, real_t: pd.DataFrame, fake: torch.Tensor) -> None:
    fake_t = dataset.decode(fake)
    kinds = _categorical(dataset, real_t)
    cols = list(real_t.columns)
    # Noise floor: the TV between two disjoint halves of the reals, at most the fakes' sample size. A
    # perfect generator gets about this much: 50 product ids in two sets of 256 rows differ by ~0.2.
    m = min(len(fake_t), len(real_t) // 2)
    tv, floor = [], []
    for c in cols:
        r, f = _as_categories(real_t[c], fake_t[c], kinds[c])
        tv.append(_tv(r, f))
        floor.append(_tv(r.iloc[:m], r.iloc[len(r) - m:]) if m else 0.0)
    pos = np.arange(len(cols))
    ax.bar(pos, tv, color=FAKE, alpha=0.8, width=0.6, label="real vs fake")
    ax.scatter(pos, floor, marker="_", s=400, color="black", linewidths=2, zorder=3, label="real vs real (chance)")
    # Bar values and column names upright while they fit beside each other (~7 px a character at TICK_PT),
    # else turned: a panel is ~170 px wide when six steps are shown.
    width_px = ax.get_position().width * ax.figure.get_figwidth() * DPI
    turned = len(cols) * max(len(w) for c in cols for w in c.split("_")) * 7 > width_px
    for p, t, f in zip(pos, tv, floor, strict=True):
        ax.text(p, max(t, f) + 0.02, f"{t:.2f}", ha="center", va="bottom", fontsize=TICK_PT,
                rotation=90 if turned else 0)
    ax.set_xticks(pos, [c if turned else c.replace("_", "\n") for c in cols], fontsize=TICK_PT,
                  rotation=90 if turned else 0)
    ax.set_ylim(0, 1.2 if turned else 1.08)


def _sample_limits(real: torch.Tensor, dataset) -> float:
    centres = getattr(dataset, "centres", None)
    if centres is not None and len(centres):
        return float(torch.as_tensor(centres).abs().max()) * 1.5
    return float(real.abs().max()) * 1.2 if len(real) else 1.0


def _no_samples(ax) -> None:
    """The placeholder of a panel whose reals are still drawn (figures.note would hide its ticks)."""
    ax.text(0.5, 0.5, "no finite samples", ha="center", va="center", transform=ax.transAxes, fontsize=TICK_PT,
            color="0.3")


def _few_ticks(ax) -> None:
    """At most SAMPLE_TICKS labels per axis, at TICK_PT."""
    from matplotlib.ticker import MaxNLocator

    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(MaxNLocator(nbins=SAMPLE_TICKS, min_n_ticks=2))
    ax.tick_params(labelsize=TICK_PT)


def _draw_images(axes, shown, real, dataset) -> None:
    """8x8 grids of fakes, then one of reals (the last column) to compare strokes against."""
    axes[-1].set_title("real data", fontsize=TITLE_PT, color=REAL)
    for ax, x in zip(axes, [*shown.values(), real], strict=True):
        if len(x):
            ax.imshow(image_grid(x, nrow=8).numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.axis("off")
        else:
            note(ax, "no finite samples", size=TICK_PT)


def _draw_scatter(axes, shown, real, dataset) -> None:
    """Fakes over reals and the mixture centres, in the same square view in every column."""
    lim = _sample_limits(real, dataset)
    centres = getattr(dataset, "centres", None)
    real = real.numpy()
    for ax, x in zip(axes, shown.values(), strict=True):
        if centres is not None:  # under the reals: at std 0.02 a mode's reals would hide beneath its marker
            c = torch.as_tensor(centres).cpu().numpy()
            ax.scatter(c[:, 0], c[:, 1], marker="x", c="black", s=40, lw=0.8, label="modes", zorder=1)
        ax.scatter(real[:, 0], real[:, 1], s=5, c=REAL, alpha=0.3, label="real", zorder=2)
        if len(x):
            ax.scatter(x[:, 0].numpy(), x[:, 1].numpy(), s=3, c=FAKE, alpha=0.5, label="fake", zorder=3)
            out = int(((x[:, 0].abs() > lim) | (x[:, 1].abs() > lim)).sum())
            if out:
                ax.text(0.03, 0.03, f"{out} outside view", transform=ax.transAxes, fontsize=TICK_PT, color=FAKE)
        else:
            _no_samples(ax)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        _few_ticks(ax)
    legend(axes[0], loc="upper right", markerscale=2)


def _draw_hist(axes, shown, real, dataset) -> None:
    """Real vs fake histograms on shared bins, as the share of samples per bin."""
    r = real.reshape(-1).numpy()
    allf = np.concatenate([x.reshape(-1).numpy() for x in shown.values()])
    # Bins cover the reals and the bulk of the fakes; a few far-off fakes must not squash the plot.
    span = np.concatenate([r, np.quantile(allf, [0.01, 0.99]) if len(allf) else []])
    lo, hi = (float(span.min()), float(span.max())) if len(span) else (-1.0, 1.0)
    pad = 0.05 * (hi - lo) or 0.5
    bins = np.linspace(lo - pad, hi + pad, 50)
    for ax, x in zip(axes, shown.values(), strict=True):
        f = x.reshape(-1).numpy()
        if len(r):
            ax.hist(r, bins=bins, weights=np.full(len(r), 1 / len(r)), color=REAL, alpha=0.45, label="real")
        if len(f):
            ax.hist(f, bins=bins, weights=np.full(len(f), 1 / len(f)), color=FAKE, alpha=0.55, label="fake")
        else:
            _no_samples(ax)
        _few_ticks(ax)  # at 1D's fine bin edges, matplotlib's default ticks ran into each other
    axes[0].set_ylabel("share of samples", fontsize=TICK_PT)
    legend(axes[0])


def _draw_bars(axes, shown, real, dataset) -> None:
    """One total-variation panel per step (see _bars_panel)."""
    real_t = dataset.decode(real)
    for ax, x in zip(axes, shown.values(), strict=True):
        if len(x) and len(real_t):
            _bars_panel(ax, dataset, real_t, x)
            ax.tick_params(axis="y", labelsize=TICK_PT)
        else:
            note(ax, "no finite samples", size=TICK_PT)
    axes[0].set_ylabel("total variation, real vs fake", fontsize=TICK_PT)
    legend(axes[0], loc="upper left")


# How each plot kind (ganlint.data.base.PLOT_KINDS, a Dataset's plot_kind) is drawn.
DRAWERS = {"image": _draw_images, "scatter": _draw_scatter, "hist": _draw_hist, "bars": _draw_bars}


def samples_strip(fakes: dict[int, torch.Tensor], real: torch.Tensor, dataset, path: str | Path, *,
                  title: str = "") -> Path:
    """Samples at up to six training steps side by side (first and last always among them), drawn in
    the dataset's plot kind so the reader watches the generator converge or collapse:

    * image: 8x8 grids of fakes, plus a column of real digits for reference;
    * scatter: fakes (red) over faint reals (blue) and the mixture centres (x), same limits everywhere,
      with a count of the fakes that fall outside the view;
    * hist: real vs fake histograms on the same bins (share of samples per bin, so mass outside the
      bins is visibly missing);
    * bars (tables): one bar per column with the total variation distance between the real and fake
      frequencies of its categories (numeric columns by the reals' deciles), and a black tick at the TV
      between two halves of the reals. One 0-1 scale for every column and step shows at a glance which
      column fails and when, where side-by-side marginals of 50 product ids would need reading closely;
      the tick keeps the chance level of many-category columns from being mistaken for a failure.

    Non-finite fake rows are dropped (a diverged step says "no finite samples").
    """
    _check_kind(dataset)
    steps = _pick(list(fakes), MAX_SAMPLE_COLUMNS)
    return _picture({f"step {s}": fakes[s] for s in steps}, real, dataset, path, title, "no samples saved")


def plot_samples(fake: torch.Tensor, real: torch.Tensor, dataset, title: str, path: str | Path) -> Path:
    """One step's samples (the trainer's and the Monitor's samples/step_NNNNNN.png), drawn as one column of
    samples_strip: the same picture a reader later sees in the report. Returns the path."""
    _check_kind(dataset)
    return _picture({"generated": fake}, real, dataset, path, title, "no samples")


def _check_kind(dataset) -> None:
    if dataset.plot_kind not in DRAWERS:
        raise ValueError(f"unknown plot kind {dataset.plot_kind!r}; known: {', '.join(DRAWERS)}")


def _picture(columns: dict[str, torch.Tensor], real: torch.Tensor, dataset, path: str | Path, title: str,
             empty: str) -> Path:
    """The fakes of each column (titled by its key) in the dataset's plot kind, one row of panels; a PNG."""
    kind = dataset.plot_kind
    plt = pyplot()
    real = finite_rows(real)
    shown = {k: finite_rows(x) for k, x in columns.items()}
    n_cols = max(1, len(shown) + (kind == "image" and len(shown) > 0))
    width, height = COLUMN_SIZE[kind]
    # Narrowed to the page's width, and lowered by as much (panels keep their shape), but not below 70%
    # of the height: the titles and tick labels above and below the panels do not shrink.
    full = max(4.0, width * n_cols)
    fit = min(1.0, FIGURE_WIDTH_PX / DPI / full)
    fig, axes = plt.subplots(1, n_cols, figsize=(full * fit, height * max(fit, 0.7)), squeeze=False,
                             layout="constrained")
    axes = list(axes[0])
    if shown:
        for ax, k in zip(axes, shown, strict=False):
            ax.set_title(k, fontsize=TITLE_PT)
        DRAWERS[kind](axes, shown, real, dataset)
    else:
        note(axes[0], empty)
    if title:
        fig.suptitle(title, fontsize=SUPTITLE_PT)
    return save(fig, path)
