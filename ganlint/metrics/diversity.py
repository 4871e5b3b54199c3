"""Diversity of a sample relative to real data."""

from __future__ import annotations

import torch


def mean_pairwise_distance(x: torch.Tensor) -> float:
    """Mean L2 distance over all distinct pairs of rows of x (flattened to (n, d))."""
    x = x.detach().reshape(len(x), -1).float()
    if len(x) < 2:
        return float("nan")
    return float(torch.pdist(x).mean())


def diversity_ratio(fake: torch.Tensor, real: torch.Tensor, real_spread: float | None = None) -> float:
    """Mean pairwise distance of the fakes over that of the reals: ~1 healthy, -> 0 collapsed.

    Use samples of equal size; the ratio is scale-free, so it compares across datasets. `real_spread`
    is mean_pairwise_distance(real) when the caller already has it (a fixed real batch).
    """
    denom = mean_pairwise_distance(real) if real_spread is None else real_spread
    return mean_pairwise_distance(fake) / denom if denom > 0 else float("nan")
