"""Sample pictures: image grids for MNIST, scatter over the real data for 2D, histograms for 1D and
marginal bars (real vs fake) for tables. Plotting is kept apart from computing; matplotlib is imported
lazily with the non-interactive Agg backend, so this works on machines without a display.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from ganlint.data.base import Dataset


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


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


def plot_samples(fake: torch.Tensor, real: torch.Tensor, dataset: Dataset, title: str, path: str | Path) -> Path:
    """Draw fakes (against reals where that helps) in the dataset's plot kind and save a PNG."""
    plt = _plt()
    fake = fake.detach().float().cpu()
    real = real.detach().float().cpu()
    kind = dataset.plot_kind
    if kind == "image":
        fig, ax = plt.subplots(figsize=(5, 5.3))
        ax.imshow(image_grid(fake).numpy(), cmap="gray", vmin=0, vmax=1)
        ax.axis("off")
    elif kind == "scatter":
        fig, ax = plt.subplots(figsize=(5, 5))
        ax.scatter(real[:, 0], real[:, 1], s=4, c="tab:blue", alpha=0.3, label="real")
        ax.scatter(fake[:, 0], fake[:, 1], s=4, c="tab:red", alpha=0.5, label="fake")
        centres = getattr(dataset, "centres", None)
        if centres is not None:
            ax.scatter(centres[:, 0], centres[:, 1], marker="x", c="black", s=30, label="modes")
            lim = float(centres.abs().max()) * 1.5
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.legend(loc="upper right", fontsize=8)
    elif kind == "hist":
        fig, ax = plt.subplots(figsize=(6, 4))
        r, f = real.reshape(-1).numpy(), fake.reshape(-1).numpy()
        lo, hi = min(r.min(), f.min()), max(r.max(), f.max())
        bins = torch.linspace(float(lo), float(hi) + 1e-6, 60).numpy()
        ax.hist(r, bins=bins, alpha=0.5, density=True, label="real")
        ax.hist(f, bins=bins, alpha=0.5, density=True, label="fake")
        ax.legend()
    elif kind == "bars":
        real_t, fake_t = dataset.decode(real), dataset.decode(fake)
        cols = list(real_t.columns)
        fig, axes = plt.subplots(1, len(cols), figsize=(4 * len(cols), 3.5))
        for ax, col in zip(axes, cols, strict=True):
            if col == "review_length":
                ax.hist([real_t[col].clip(upper=400), fake_t[col].clip(upper=400)], bins=30, label=["real", "fake"], density=True)
            else:
                rv = real_t[col].value_counts(normalize=True).sort_index()
                fv = fake_t[col].value_counts(normalize=True).reindex(rv.index, fill_value=0)
                pos = range(len(rv))
                ax.bar([p - 0.2 for p in pos], rv.values, width=0.4, label="real")
                ax.bar([p + 0.2 for p in pos], fv.values, width=0.4, label="fake")
                step = max(1, len(rv) // 10)
                ax.set_xticks(list(pos)[::step], [str(v) for v in rv.index][::step])
            ax.set_title(col)
        axes[0].legend()
    else:
        raise ValueError(f"unknown plot kind {kind!r}")
    fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
