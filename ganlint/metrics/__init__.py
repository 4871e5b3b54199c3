"""Metrics: pure functions of tensors."""

from ganlint.metrics.categories import category_coverage
from ganlint.metrics.classifier import class_statistics, classes_covered
from ganlint.metrics.distance import column_js, sliced_wasserstein, wasserstein1d
from ganlint.metrics.diversity import diversity_ratio, mean_pairwise_distance
from ganlint.metrics.frechet import feature_statistics, frechet_distance, frechet_distance_of_samples
from ganlint.metrics.modes import (
    high_quality_fraction,
    kl_to_reference,
    kl_to_uniform,
    mode_entropy,
    mode_histogram,
    modes_covered,
)
from ganlint.metrics.prdc import knn_radii, prdc

__all__ = [
    "category_coverage",
    "class_statistics",
    "classes_covered",
    "column_js",
    "diversity_ratio",
    "feature_statistics",
    "frechet_distance",
    "frechet_distance_of_samples",
    "high_quality_fraction",
    "kl_to_reference",
    "kl_to_uniform",
    "knn_radii",
    "mean_pairwise_distance",
    "mode_entropy",
    "mode_histogram",
    "modes_covered",
    "prdc",
    "sliced_wasserstein",
    "wasserstein1d",
]
