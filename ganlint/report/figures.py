"""The PNG figures of ganlint's reports: a run's telemetry panels, the suite's expected-vs-found matrix
and an overview of every run (a run's samples are drawn by ganlint.report.plots, with the helpers and
colours defined here).

    from ganlint.report import figures
    figures.run_panels(pd.read_parquet("runs/ring8/telemetry.parquet"), "plots/panels.png", onset_step=120,
                       label="collapsed")

Each function takes plain data (DataFrames, tensors, a Dataset) and a path, writes one PNG (creating its
folders), closes the figure and returns the path. The PNGs are base64-embedded in an HTML page, so they
are drawn at a modest dpi (~90) and stay small (under ~150 KB), and no wider than the page shows them
(ganlint.report.html.FIGURE_WIDTH_PX), so their type reads at the size set here (TICK_PT, TITLE_PT). Telemetry is read defensively: missing
columns, all-NaN columns, infinities and non-positive values on log axes are masked or shown as "not
recorded", never an error, because a report is most needed for the runs that broke.

Colours are the same everywhere: real data blue, fakes red, the discriminator orange, the generator green.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ganlint.report.html import FIGURE_WIDTH_PX, HALF_WIDTH_PX

REAL, FAKE, D_COLOR, G_COLOR = "tab:blue", "tab:red", "tab:orange", "tab:green"
OK, WRONG = "#2ca02c", "#d62728"
DPI = 90
# Type sizes (pt) of every figure, for all of them one rule: shown 1:1, 1 pt is DPI/72 = 1.25 CSS px, so
# tick labels, legends and notes are 11.25 px high and titles 12.5 px, the smallest sizes that read
# without leaning in (a browser's smallest default text is ~12 px). Nothing in a figure is smaller.
TICK_PT = 9
TITLE_PT = 10
SUPTITLE_PT = 12
# A series that moves less than MIN_SPAN of its level is drawn on a y range of MIN_SPAN of its level
# (centred on it), not auto-scaled: auto-scaling stretches any range to fill the panel, so a 0.5% drift
# looked like a fall. Within FLAT of its level the panel also says so ("flat within 0.5%").
MIN_SPAN, FLAT = 0.1, 0.02
# Equilibrium of the summed BCE loss of D (-log 0.5 twice) when D outputs 1/2 everywhere.
BCE_EQUILIBRIUM = 2 * math.log(2)
# Typical healthy size of ||delta theta|| / ||theta|| per step (Karpathy's rule of thumb for Adam nets);
# far below it nothing learns, far above it the weights are being rewritten every step.
HEALTHY_UPDATE_RATIO = 1e-3
# Where D's output sits at equilibrium, per kind of output (see `d_output` in a run's config.json).
D_REFERENCE = {"probability": 0.5, "ls-score": 0.5, "critic": 0.0}


# ---------------------------------------------------------------- helpers (also ganlint.report.plots')


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend, imported on first use: reports are drawn on
    machines without a display (CI, a GPU server), and `import ganlint` must not pay for matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: str | Path, dpi: int = DPI) -> Path:
    """Save as a 128-colour palette PNG, close the figure and return the path.

    Why a palette: antialiased lines and alpha blends make a full-colour PNG of these plots ~250 KB, too
    much for a page that embeds a dozen of them; the plots hold a few colours, so 128 look the same at a
    third of the size. Closing matters too: pyplot keeps every open figure alive otherwise.
    """
    from PIL import Image  # matplotlib depends on Pillow

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    pyplot().close(fig)
    buf.seek(0)
    with Image.open(buf) as im:
        im.convert("RGB").quantize(128, method=Image.Quantize.FASTOCTREE).save(path, format="PNG", optimize=True)
    return path


def note(ax, text: str, size: float = TICK_PT + 1) -> None:
    """A grey message in the middle of an empty panel (no ticks, so it reads as a placeholder)."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.45", fontsize=size,
            zorder=10, bbox={"fc": "white", "ec": "none", "pad": 2})
    # tick_params, not set_xticks([]): a panel shares its x axis (and so its tick locator) with the others.
    ax.tick_params(bottom=False, left=False, labelbottom=False, labelleft=False)


def _values(df: pd.DataFrame, col: str, positive: bool = False) -> np.ndarray | None:
    """The column as floats with inf (and non-positive values for log axes) masked to NaN; None when
    the column is absent or nothing finite is left."""
    if df is None or col not in df.columns:
        return None
    v = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=np.float64, copy=True)
    v[~np.isfinite(v)] = np.nan
    if positive:
        v[v <= 0] = np.nan
    return v if np.isfinite(v).any() else None


def _steps(df: pd.DataFrame) -> np.ndarray:
    if "step" in df.columns:
        return pd.to_numeric(df["step"], errors="coerce").to_numpy(dtype=np.float64)
    return np.arange(1, len(df) + 1, dtype=np.float64)


def _window(n: int) -> int:
    """Rolling window of ~1% of the steps: enough to read a trend in thousands of noisy steps, small
    enough that a spike still shows (the raw line stays faintly behind)."""
    return max(1, round(n / 100))


def _smooth(v: np.ndarray, window: int, log: bool = False) -> np.ndarray:
    """Centred rolling mean, in log space for log axes (a geometric mean is not dragged by one spike)."""
    s = pd.Series(np.log10(v) if log else v)
    out = s.rolling(window, min_periods=1, center=True).mean().to_numpy()
    return 10**out if log else out


def _line(ax, x, v, color, label, window, *, log=False, ls="-") -> None:
    """Raw series faint, smoothed series on top; markers when there are too few points for a line.

    Masked values (NaN, inf) break the raw line, which shows where a run produced nonsense; a finite
    value between two masked ones would draw no segment at all, so such points get a dot."""
    ok = np.isfinite(v)
    marker = "o" if ok.sum() <= 30 else None
    if window >= 3:
        ax.plot(x, v, color=color, lw=0.7, alpha=0.25, ls=ls)
        ax.plot(x, _smooth(v, window, log), color=color, lw=1.5, ls=ls, label=label)
    else:
        ax.plot(x, v, color=color, lw=1.2, ls=ls, label=label, marker=marker, ms=3)
    alone = ok & ~np.r_[False, ok[:-1]] & ~np.r_[ok[1:], False]
    if marker is None and alone.any():
        ax.plot(x[alone], v[alone], ls="none", marker=".", ms=3, color=color)


def legend(ax, *others, **kw) -> None:
    """A legend only when something is labelled (an empty legend is a matplotlib warning)."""
    handles, labels = ax.get_legend_handles_labels()
    for o in others:
        h, lab = o.get_legend_handles_labels()
        handles, labels = handles + h, labels + lab
    if handles:
        ax.legend(handles, labels, **{"fontsize": TICK_PT, "loc": "best", "framealpha": 0.8, **kw})


def _step_or_none(step) -> float | None:
    """An onset step as a float, or None for None/NaN (tables store a missing onset as NaN)."""
    try:
        step = float(step)
    except (TypeError, ValueError):
        return None
    return step if math.isfinite(step) else None


def show_flat_as_flat(ax, *series: np.ndarray | None) -> None:
    """y-limits of at least MIN_SPAN of the series' level (the largest |value|) around them, and a note
    "flat within x%" when they move less than FLAT of it: a nearly constant series must look constant."""
    v = np.concatenate([np.asarray(s, dtype=np.float64).ravel() for s in series if s is not None] or [np.empty(0)])
    v = v[np.isfinite(v)]
    if not len(v):
        return
    lo, hi = float(v.min()), float(v.max())
    level = max(abs(lo), abs(hi))
    if level == 0 or hi - lo >= MIN_SPAN * level:
        return
    mid = (lo + hi) / 2
    ax.set_ylim(mid - MIN_SPAN * level / 2, mid + MIN_SPAN * level / 2)
    if hi - lo < FLAT * level:
        share = max((hi - lo) / level * 100, 0.1)
        ax.text(0.02, 0.04, f"flat within {share:.1g}%" if share < 1 else f"flat within {share:.1f}%",
                transform=ax.transAxes, fontsize=TICK_PT, color="0.3", ha="left", va="bottom", zorder=6,
                bbox={"fc": "white", "ec": "none", "alpha": 0.8, "pad": 1})


def _onset(ax, onset_step) -> None:
    if onset_step is not None:
        ax.axvline(onset_step, color="black", ls="--", lw=1.1, zorder=5)


def finite_rows(x: torch.Tensor) -> torch.Tensor:
    """The rows of x (on the CPU, as floats) whose values are all finite: a diverged step's NaNs are left out."""
    x = x.detach().float().cpu()
    return x[torch.isfinite(x.reshape(len(x), -1)).all(dim=1)] if len(x) else x


# ---------------------------------------------------------------- run panels

# (panel title, y label, [(column, colour, legend, line style)], log y)
_PANELS = {
    "loss": ("losses", "loss", [("loss_d", D_COLOR, "D", "-"), ("loss_g", G_COLOR, "G", "-")], False),
    "d": ("D's mean output", "D(x)", [("d_real", REAL, "on real", "-"), ("d_fake", FAKE, "on fake", "-")], False),
    "grad": ("gradient norms", "L2 norm", [("grad_norm_d", D_COLOR, "D", "-"), ("grad_norm_g", G_COLOR, "G", "-")], True),
    "ratio": ("update ratio |Δθ| / |θ|", "ratio", [("update_ratio_d", D_COLOR, "D", "-"),
                                                   ("update_ratio_g", G_COLOR, "G", "-")], True),
    "stats": ("sample statistics", "value", [("fake_mean", FAKE, "fake mean", "-"), ("fake_std", "#ff9896", "fake std", "-"),
                                             ("real_mean", REAL, "real mean", "--"), ("real_std", "#9ec9e9", "real std", "--")],
              False),
}


def _series_panel(ax, df, x, key, window) -> None:
    title, ylabel, cols, log = _PANELS[key]
    ax.set_title(title, fontsize=TITLE_PT)
    drawn = []
    for col, color, label, ls in cols:
        v = _values(df, col, positive=log)
        if v is not None:
            _line(ax, x, v, color, label, window, log=log, ls=ls)
            drawn.append(v)
    if not drawn:
        recorded = any(_values(df, c) is not None for c, *_ in cols)
        note(ax, "no positive values (log scale)" if recorded else "not recorded")
        return
    if log:
        ax.set_yscale("log")
    else:
        show_flat_as_flat(ax, *drawn)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.25)


def _eval_panel(ax, strip, df, onset_step, num_modes: int | None = None) -> None:
    """Distance (lower is better) on the left axis; diversity and coverage (~1 healthy) on a right axis
    of their own, since the distance's scale depends on the dataset (~0.01 for W1 to ~1e3 for Fréchet).
    modes_covered is an integer count, so it gets its own short strip below instead of being squeezed
    onto the 0-1 axis; its axis runs from 0 to the data's number of modes when known (config.json's),
    so 1 of 10 modes does not fill the strip."""
    ax.set_title("evaluations (every few steps)", fontsize=TITLE_PT)
    x = _steps(df)
    dist = _values(df, "distance")
    right = [(c, _values(df, c), color) for c, color in (("diversity", "tab:purple"), ("coverage", "tab:cyan"))]
    right = [(c, v, color) for c, v, color in right if v is not None]
    if dist is None and not right:
        note(ax, "not recorded")
    else:
        if dist is not None:
            ok = np.isfinite(dist)
            ax.plot(x[ok], dist[ok], color="0.15", marker="o", ms=3, lw=1.2, label="distance")
            show_flat_as_flat(ax, dist)
        ax.set_ylabel("distance (lower = better)" if dist is not None else "distance: not recorded")
        if dist is None:
            ax.tick_params(left=False, labelleft=False)
        ax.grid(alpha=0.25)
        twin = None
        if right:
            twin = ax.twinx()
            top = max(1.1, *(np.nanmax(v) * 1.05 for _, v, _ in right))
            twin.axhline(1.0, color="0.5", ls=":", lw=1, label="healthy (1)")
            for c, v, color in right:
                ok = np.isfinite(v)
                twin.plot(x[ok], v[ok], color=color, marker="s", ms=3, lw=1.2, label=c)
            twin.set_ylim(0, top)
            twin.set_ylabel("diversity, coverage")
        legend(ax, *([twin] if twin else []), loc="upper right")
    _onset(ax, onset_step)

    modes = _values(df, "modes_covered")
    if modes is None:
        note(strip, "modes_covered not recorded", size=TICK_PT)
    else:
        ok = np.isfinite(modes)
        strip.plot(x[ok], modes[ok], color="0.3", marker="o", ms=3, lw=1, drawstyle="steps-post")
        top = max(num_modes or 0, int(np.nanmax(modes)), 1)
        strip.set_ylim(min(0, float(np.nanmin(modes))) - 0.5, top + 0.5)
        strip.set_yticks(sorted({0, round(top / 2), top}))  # three labels fit the strip's height
        strip.set_ylabel("modes", fontsize=TICK_PT)
        last = int(modes[ok][-1])
        high = last > top / 2  # the note goes where the line's end is not
        strip.text(0.99, 0.1 if high else 0.9, f"modes covered {last} / {num_modes}" if num_modes
                   else f"modes covered {last}", transform=strip.transAxes, ha="right", va="bottom" if high else "top",
                   fontsize=TICK_PT, color="0.2", zorder=6,
                   bbox={"fc": "white", "ec": "none", "alpha": 0.8, "pad": 1})
        strip.grid(alpha=0.25)
    strip.set_xlabel("step")
    _onset(strip, onset_step)


def run_panels(telemetry: pd.DataFrame, path: str | Path, *, title: str = "", onset_step: int | None = None,
               label: str | None = None, d_output: str = "probability", num_modes: int | None = None) -> Path:
    """Six panels of a run's telemetry over its steps: losses, D's outputs, gradient norms, update ratios,
    sample statistics and the periodic evaluations, with the diagnosed onset as a dashed line on each.

    Reference lines mark where a healthy game sits, so a reader compares against them rather than
    guessing scales: D's loss at 2 ln 2 and D's outputs at 0.5 for BCE losses (a D that cannot tell real
    from fake), a 0 line for critics, and the ~1e-3 update ratio of a network that learns.

    Args:
        telemetry: the telemetry table (ganlint.training.telemetry.COLUMNS); any subset of the columns works.
        path: where to write the PNG.
        title: the figure's title (the run's name).
        onset_step: the step where the diagnosed problem began, or None.
        label: the diagnosed label, added to the title and to the onset note.
        d_output: what d_real/d_fake hold: "probability", "ls-score" or "critic".
        num_modes: the data's number of modes (the top of the modes strip), or None when unknown.
    """
    plt = pyplot()
    onset_step = _step_or_none(onset_step)
    df = telemetry if telemetry is not None else pd.DataFrame()
    x = _steps(df)
    window = _window(len(df))
    fig = plt.figure(figsize=(FIGURE_WIDTH_PX / DPI, 9.5), layout="constrained")
    gs = fig.add_gridspec(3, 2)
    first = fig.add_subplot(gs[0, 0])
    axes = {"loss": first}
    for key, cell in (("d", gs[0, 1]), ("grad", gs[1, 0]), ("ratio", gs[1, 1]), ("stats", gs[2, 0])):
        axes[key] = fig.add_subplot(cell, sharex=first)
    sub = gs[2, 1].subgridspec(2, 1, height_ratios=[3, 1], hspace=0.02)
    ev, strip = fig.add_subplot(sub[0], sharex=first), fig.add_subplot(sub[1], sharex=first)

    if d_output == "probability" and _values(df, "loss_d") is not None:
        axes["loss"].axhline(BCE_EQUILIBRIUM, color=D_COLOR, ls=":", lw=1, label="D at equilibrium (2 ln 2)")
    ref = D_REFERENCE.get(d_output)
    if ref is not None and (_values(df, "d_real") is not None or _values(df, "d_fake") is not None):
        axes["d"].axhline(ref, color="0.4", ls=":", lw=1, label=f"equilibrium ({ref:g})")
    if _values(df, "update_ratio_d", True) is not None or _values(df, "update_ratio_g", True) is not None:
        axes["ratio"].axhline(HEALTHY_UPDATE_RATIO, color="0.4", ls=":", lw=1, label="healthy scale (1e-3)")
    for key, ax in axes.items():
        _series_panel(ax, df, x, key, window)
        _onset(ax, onset_step)
    if d_output == "probability" and axes["d"].has_data():
        axes["d"].set_ylim(-0.02, 1.02)
    axes["d"].set_ylabel({"probability": "D(x) (probability)", "critic": "critic score"}.get(d_output, "D(x)"))
    for ax in axes.values():
        if ax.has_data():
            legend(ax)
    axes["stats"].set_xlabel("step")
    first.xaxis.get_major_locator().set_params(integer=True)  # shared by every panel: steps are whole
    _eval_panel(ev, strip, df, onset_step, num_modes)
    if onset_step is not None:
        xmid = np.nanmean(x) if np.isfinite(x).any() else onset_step
        right = onset_step > xmid
        first.annotate(f"onset: {label or 'problem'} @ step {int(onset_step)}", xy=(float(onset_step), 0.97),
                       xycoords=("data", "axes fraction"), xytext=(-4 if right else 4, 0), textcoords="offset points",
                       ha="right" if right else "left", va="top", fontsize=TICK_PT, zorder=6,
                       bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "0.3", "alpha": 0.9})
    heading = " — ".join(t for t in (title, label) if t)
    if heading:
        fig.suptitle(heading, fontsize=SUPTITLE_PT + 1)
    return save(fig, path)


# ---------------------------------------------------------------- suite figures


def confusion_png(confusion: pd.DataFrame, path: str | Path, *, title: str = "expected vs found") -> Path:
    """The expected-vs-found count table as coloured cells: green where the found label is the expected
    one (deeper for more runs), red where a run got another label, white for zero. Cells are matched by
    label, not by position, so rows and columns may hold different label sets. The title counts the runs
    on the diagonal, the one number a reader wants first."""
    plt = pyplot()
    rows, cols = [str(i) for i in confusion.index], [str(c) for c in confusion.columns]
    counts = confusion.apply(pd.to_numeric, errors="coerce").fillna(0).to_numpy(dtype=np.int64)
    # No wider than its column of the page (html.HALF_WIDTH_PX), where it is shown 1:1.
    width = min(HALF_WIDTH_PX / DPI, max(3.6, 1.4 + 0.95 * len(cols)))
    fig, ax = plt.subplots(figsize=(width, max(2.6, 1.6 + 0.55 * len(rows))), layout="constrained")
    if not rows or not cols:
        note(ax, "no runs")
        ax.set_title(title, fontsize=TITLE_PT + 1)
        return save(fig, path)
    top = max(1, int(counts.max()))
    rgb = np.ones((len(rows), len(cols), 3))
    green, red = np.array([0.17, 0.63, 0.17]), np.array([0.84, 0.15, 0.16])
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            n = counts[i, j]
            shade = 0.35 + 0.65 * math.sqrt(n / top)  # sqrt: a cell of 2 stays visible next to one of 40
            if n:
                rgb[i, j] = 1 - shade * (1 - (green if r == c else red))
            elif r == c:
                rgb[i, j] = (0.92, 0.97, 0.92)  # where the runs should have been: a faint green
            ax.text(j, i, str(n), ha="center", va="center", fontsize=10,
                    fontweight="bold" if r == c else "normal",
                    color="white" if n and shade > 0.75 else ("0.2" if n else "0.65"))
    ax.imshow(rgb, aspect="auto", interpolation="nearest")
    ax.set_xticks(range(len(cols)), cols, rotation=30, ha="right", fontsize=TICK_PT)
    ax.set_yticks(range(len(rows)), rows, fontsize=TICK_PT)
    ax.set_xticks(np.arange(len(cols) + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(len(rows) + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="white", lw=2)
    ax.tick_params(which="minor", length=0)
    ax.set_xlabel("found")
    ax.set_ylabel("expected")
    right = sum(int(counts[i, j]) for i, r in enumerate(rows) for j, c in enumerate(cols) if r == c)
    ax.set_title(f"{title}\n{right} of {int(counts.sum())} runs as expected", fontsize=TITLE_PT)
    return save(fig, path)


def _overview_cell(ax, item: dict) -> None:
    ok = item.get("label") == item.get("expected")
    color = OK if ok else WRONG
    head = f"{item.get('scenario', '?')} s{item.get('seed', '?')}"
    sub = str(item.get("label")) if ok else f"{item.get('label')} (expected {item.get('expected')})"
    ax.set_title(f"{head}\n{sub}", fontsize=TITLE_PT, color=color, pad=3)
    for spine in ax.spines.values():
        spine.set_edgecolor(color)
        spine.set_linewidth(1.6)
    df = item.get("telemetry")
    if df is None or len(df) == 0:
        note(ax, "no telemetry", size=TICK_PT)
        return
    x = _steps(df)
    window = _window(len(df))
    drawn = []
    for col, c in (("d_real", REAL), ("d_fake", FAKE)):
        v = _values(df, col)
        if v is not None:
            _line(ax, x, v, c, col, window)
            drawn.append(v)
    if not drawn:
        note(ax, "D(x) not recorded", size=TICK_PT)
        return
    d_output = item.get("d_output", "probability")
    ref = D_REFERENCE.get(d_output)
    if ref is not None:
        ax.axhline(ref, color="0.5", ls=":", lw=0.8)
    if d_output == "probability":
        ax.set_ylim(-0.03, 1.03)
        ax.set_yticks([0, 0.5, 1], ["0", ".5", "1"])
    else:
        show_flat_as_flat(ax, *drawn)
        ax.yaxis.set_major_locator(_few(3))
        # Each tick carries its own exponent ("-1e+19"): matplotlib's offset text ("1e19" above the axis)
        # lands on the cell's two-line title, and a diverged critic's scores reach 1e19.
        from matplotlib.ticker import FuncFormatter

        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _short(v)))
    ax.xaxis.set_major_locator(_few(3, integer=True))
    _onset(ax, _step_or_none(item.get("onset_step")))
    ax.tick_params(labelsize=TICK_PT, length=2, pad=1)


def _short(v: float) -> str:
    """A tick label of at most ~6 characters, its exponent included: 0.5, 12, 3e4, -4e18, 1.5e-5."""
    text = f"{v:.2g}"
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    return f"{mantissa}e{int(exponent)}"


def _few(n: int, integer: bool = False):
    """A tick locator for at most about n labels (a small panel fits no more at TICK_PT)."""
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(nbins=n, integer=integer, min_n_ticks=2)


def overview_png(items: list[dict], path: str | Path, *, title: str = "") -> Path:
    """One small panel per run: D's mean output on real (blue) and fake (red) data over the steps, the
    onset as a dashed line, and the run's label in green when it is the expected one, red otherwise.
    D(x) against D(G(z)) is the one pair of curves that separates most pathologies by shape: a gap that
    opens (vanishing gradient), curves that swing (oscillation), a jump to nonsense (divergence)."""
    plt = pyplot()
    n = len(items)
    # Five columns of ~210 px: room for a two-line title of TITLE_PT ("overpowered_discriminator s0").
    ncols = min(5, max(1, n))
    nrows = max(1, math.ceil(n / ncols))
    # At most the page's width (FIGURE_WIDTH_PX, shown 1:1); rows shrink once there are more than ~12 of
    # them so the image stays under ~25 in (2,250 px) up to ~80 runs, and never below 1.3 in per row.
    full = FIGURE_WIDTH_PX / DPI
    width = full if ncols >= 4 else min(full, 3.0 * ncols + 1.5)
    row_h = max(1.3, min(max(2.0, 0.7 * width / ncols), 3.0, 23 / nrows))
    # The title and the first row's panel titles; the legend (two lines of it under fewer than 3 columns).
    head, foot = (0.5 if title else 0.1) + 0.45, (0.5 if ncols >= 3 else 0.75) if items else 0.1
    height = row_h * nrows + head + foot
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False)
    # A fixed layout, not constrained: the cells are all alike, so the margins are known in inches, and
    # constrained layout is slow on dozens of axes and collapses (with a warning) when rows get short.
    gap_h, gap_w = 0.7, 0.4  # room for two title lines (and the x tick labels above them), and y tick labels
    axes_h = (row_h * nrows - gap_h * (nrows - 1)) / nrows
    axes_w = (width - 0.45 - 0.15 - gap_w * (ncols - 1)) / ncols
    fig.subplots_adjust(left=0.45 / width, right=1 - 0.15 / width, top=1 - head / height, bottom=foot / height,
                        hspace=gap_h / axes_h, wspace=gap_w / axes_w)
    flat = list(axes.ravel())
    if not items:
        note(flat[0], "no runs")
    for ax, item in zip(flat, items, strict=False):
        _overview_cell(ax, item)
    for ax in flat[max(1, n):]:
        ax.set_visible(False)
    if items:
        line = plt.Line2D
        handles = [line([], [], color=REAL, label="D on real"), line([], [], color=FAKE, label="D on fake"),
                   line([], [], color="black", ls="--", label="onset"),
                   line([], [], color=OK, lw=3, label="label as expected"), line([], [], color=WRONG, lw=3, label="other label")]
        # Below the panels: above them it would collide with the title.
        fig.legend(handles=handles, loc="lower center", ncols=5 if ncols >= 3 else 3, fontsize=TICK_PT, frameon=False,
                   borderaxespad=0.1)
    if title:
        fig.suptitle(title, fontsize=SUPTITLE_PT, y=1 - 0.1 / height, va="top")
    return save(fig, path)
