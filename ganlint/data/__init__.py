"""Named datasets. `get_dataset(name)` returns a Dataset; `DATASETS.names()` lists them."""

from __future__ import annotations

from collections.abc import Callable

from ganlint.data.base import Column, Dataset, MixtureDataset, TableDataset
from ganlint.data.mnist import mnist
from ganlint.data.reviews import ReviewsDataset
from ganlint.data.toy import gaussian1d, grid25, ring8
from ganlint.registry import Registry

DATASETS: Registry[Callable[..., Dataset]] = Registry("dataset")
DATASETS.add("gaussian1d", lambda data_root=None: gaussian1d())
DATASETS.add("ring8", lambda data_root=None: ring8())
DATASETS.add("grid25", lambda data_root=None: grid25())
DATASETS.add("mnist", lambda data_root=None: mnist(data_root))
DATASETS.add("reviews", lambda data_root=None: ReviewsDataset())


def get_dataset(name: str, data_root: str | None = None) -> Dataset:
    """Build the named dataset (`data_root` only matters for mnist)."""
    return DATASETS.get(name)(data_root=data_root)


__all__ = ["DATASETS", "Column", "Dataset", "MixtureDataset", "ReviewsDataset", "TableDataset", "get_dataset"]
