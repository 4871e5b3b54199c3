"""Metrics: pure functions of tensors."""

from ganlint.metrics.distance import column_js, sliced_wasserstein, wasserstein1d
from ganlint.metrics.diversity import diversity_ratio, mean_pairwise_distance
from ganlint.metrics.modes import high_quality_fraction, mode_histogram, modes_covered

__all__ = [
    "column_js",
    "diversity_ratio",
    "high_quality_fraction",
    "mean_pairwise_distance",
    "mode_histogram",
    "modes_covered",
    "sliced_wasserstein",
    "wasserstein1d",
]
