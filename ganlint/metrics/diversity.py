"""Diversity of a sample relative to real data."""

from __future__ import annotations

import torch

# Above this many rows the mean is estimated on a fixed random subset of them: all pairs of n rows cost
# O(n^2 d) (10,000 MNIST images: ~3 s on a 2-core CPU), while 2,000 rows give 2 million pairs, whose
# mean is within ~0.1% of the full one. The subset is drawn from its own seeded generator, so the value
# is deterministic and training's random stream is untouched.
MAX_PAIRWISE_ROWS = 2000


def mean_pairwise_distance(x: torch.Tensor, max_rows: int = MAX_PAIRWISE_ROWS) -> float:
    """Mean L2 distance over all distinct pairs of rows of x (flattened to (n, d)); estimated on
    `max_rows` random rows when x has more."""
    x = x.detach().reshape(len(x), -1).float()
    if len(x) < 2:
        return float("nan")
    if len(x) > max_rows:
        idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:max_rows]
        x = x[idx.to(x.device)]
    return float(torch.pdist(x).mean())


def diversity_ratio(fake: torch.Tensor, real: torch.Tensor, real_spread: float | None = None) -> float:
    """Mean pairwise distance of the fakes over that of the reals: ~1 healthy, -> 0 collapsed.

    Use samples of equal size; the ratio is scale-free, so it compares across datasets. `real_spread`
    is mean_pairwise_distance(real) when the caller already has it (a fixed real batch).
    """
    denom = mean_pairwise_distance(real) if real_spread is None else real_spread
    return mean_pairwise_distance(fake) / denom if denom > 0 else float("nan")
