"""Named datasets. `get_dataset(name)` returns a Dataset; `DATASETS.names()` lists them.

The registry is light: each entry imports its dataset's module (torch, pandas) only when it is built, so
`ganlint --help` lists the names without loading torch. The classes below are imported on first use (PEP 562).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ganlint.registry import Registry

if TYPE_CHECKING:
    from ganlint.data.base import Column, Dataset, MixtureDataset, TableDataset
    from ganlint.data.reviews import ReviewsDataset


def _gaussian1d(data_root: str | None = None) -> Dataset:
    from ganlint.data.toy import gaussian1d

    return gaussian1d()


def _ring8(data_root: str | None = None) -> Dataset:
    from ganlint.data.toy import ring8

    return ring8()


def _grid25(data_root: str | None = None) -> Dataset:
    from ganlint.data.toy import grid25

    return grid25()


def _mnist(data_root: str | None = None) -> Dataset:
    from ganlint.data.mnist import mnist

    return mnist(data_root)


def _reviews(data_root: str | None = None) -> Dataset:
    from ganlint.data.reviews import ReviewsDataset

    return ReviewsDataset()


DATASETS: Registry[Callable[..., Dataset]] = Registry("dataset")
DATASETS.add("gaussian1d", _gaussian1d)
DATASETS.add("ring8", _ring8)
DATASETS.add("grid25", _grid25)
DATASETS.add("mnist", _mnist)
DATASETS.add("reviews", _reviews)


def get_dataset(name: str, data_root: str | None = None) -> Dataset:
    """Build the named dataset (`data_root` only matters for mnist)."""
    return DATASETS.get(name)(data_root=data_root)


_LAZY = {"Column": "ganlint.data.base", "Dataset": "ganlint.data.base", "MixtureDataset": "ganlint.data.base",
         "TableDataset": "ganlint.data.base", "ReviewsDataset": "ganlint.data.reviews"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = ["DATASETS", "Column", "Dataset", "MixtureDataset", "ReviewsDataset", "TableDataset", "get_dataset"]
