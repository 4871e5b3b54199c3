"""The periodic evaluation: distance to the real data, diversity and modes, from samples alone.

A pure function of tensors and the dataset description; the trainer decides when to call it.
"""

from __future__ import annotations

import math

import torch

from ganlint.data.base import Dataset
from ganlint.metrics import (
    column_js,
    diversity_ratio,
    high_quality_fraction,
    modes_covered,
    sliced_wasserstein,
    wasserstein1d,
)

NAN = float("nan")


def distance_to_real(fake: torch.Tensor, real: torch.Tensor, dataset: Dataset) -> float:
    """The dataset's own distance (see ganlint.metrics.distance for each kind)."""
    kind = dataset.distance_kind
    if kind == "wasserstein1d":
        return wasserstein1d(fake, real)
    if kind == "sliced_wasserstein":
        return sliced_wasserstein(fake, real)
    if kind == "column_js":
        per_column = column_js(fake, real, dataset.blocks())
        return sum(per_column.values()) / len(per_column)
    raise ValueError(f"unknown distance kind {kind!r}")


def evaluate(fake: torch.Tensor, real: torch.Tensor, dataset: Dataset) -> dict[str, float]:
    """distance, diversity, modes_covered and high_quality for one batch of fakes against reals.

    Non-finite fakes (a diverged generator) give NaN everywhere instead of an exception.
    """
    if not torch.isfinite(fake).all():
        return {"distance": NAN, "diversity": NAN, "modes_covered": NAN, "high_quality": NAN}
    out = {
        "distance": distance_to_real(fake, real, dataset),
        "diversity": diversity_ratio(fake, real),
        "modes_covered": NAN,
        "high_quality": NAN,
    }
    idx = dataset.mode_index(fake)
    if idx is not None and dataset.num_modes:
        out["modes_covered"] = float(modes_covered(idx, dataset.num_modes))
        hq = high_quality_fraction(idx)
        out["high_quality"] = hq if math.isfinite(hq) else NAN
    return out
