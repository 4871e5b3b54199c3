"""The real data a checkpoint is judged against (`ganlint check --data ...`).

`--data` takes:
  * a dataset name ganlint ships (`mnist`, `ring8`, `grid25`, `gaussian1d`, `reviews`): its own metrics;
  * a folder of images (PNG, JPEG, BMP; searched recursively): grey or RGB, scaled to [-1, 1] like a
    tanh generator's output;
  * a tensor file: `.npy` (numpy, no pickles) or `.pt`/`.pth` (loaded with weights_only=True) holding an
    array (N, ...) of samples in the generator's scale; images as (N, C, H, W) or (N, H, W).
Without `--data`, a ganlint run folder uses its own dataset; anything else has no real data and the
checks that need it are listed as skipped.

Why MNIST-shaped data (1x28x28) is special: the shipped MNIST classifier gives the classes (modes)
and the features for the Frechet distance and PRDC, the standard measures for MNIST GANs; other shapes
use the samples' own values (sliced Wasserstein distance, PRDC on the flattened values).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ganlint.data.base import Dataset, TableDataset
from ganlint.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
MNIST_SHAPE = (1, 28, 28)
# Reals drawn from a named dataset: enough for stable k-NN and Frechet statistics.
MAX_REALS = 10_000


@dataclass
class Reference:
    """Real data (or none) and how to measure samples against it."""

    name: str
    dataset: Dataset | None  # what ganlint.evaluation needs: distance kind, modes
    real: torch.Tensor | None  # (n, *shape) in the generator's scale
    mnist_like: bool

    @property
    def shape(self) -> tuple[int, ...] | None:
        return tuple(self.real.shape[1:]) if self.real is not None else (self.dataset.shape if self.dataset else None)


def is_mnist_shape(shape: tuple[int, ...]) -> bool:
    return tuple(shape) == MNIST_SHAPE


def from_tensor(name: str, x: torch.Tensor) -> Reference:
    """A reference from a tensor of samples: images keep (C, H, W); (N, H, W) gains a channel."""
    x = x.detach().to(torch.float32).cpu()
    if x.ndim == 3 and x.shape[1:] == (28, 28):
        x = x.unsqueeze(1)
    if x.ndim < 2 or len(x) < 2:
        raise DataError(f"--data {name}: expected an array of samples (N, ...), got shape {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise DataError(f"--data {name}: the real data contains NaN or infinite values")
    shape = tuple(x.shape[1:])
    mnist_like = is_mnist_shape(shape)
    if mnist_like:
        kind, modes, plot = "classifier_frechet", 10, "image"
    elif len(shape) == 1 and shape[0] == 1:
        kind, modes, plot = "wasserstein1d", None, "hist"
    else:
        kind, modes, plot = "sliced_wasserstein", None, "scatter" if shape == (2,) else "image"
    ds = TableDataset(name=name, description=f"user data {name}", data=x, plot_kind=plot, distance_kind=kind,
                      num_modes=modes, source=name, bounded=bool(x.min() >= -1 and x.max() <= 1))
    return Reference(name, ds, x, mnist_like)


def from_name(name: str, n: int, seed: int, data_root: str | None = None) -> Reference:
    from ganlint.data import get_dataset

    ds = get_dataset(name, data_root)
    g = torch.Generator().manual_seed(seed + 1)
    table = getattr(ds, "data", None)
    if table is not None:
        # A fixed table (MNIST): distinct rows, never drawn twice. Repeated reals would sit at distance 0
        # from each other and shrink the k-NN balls that precision, recall and coverage are built on.
        real = table[torch.randperm(len(table), generator=g)[: min(n, MAX_REALS, len(table))]]
    else:
        real = ds.sample(min(n, MAX_REALS), g, "cpu")
    return Reference(name, ds, real, is_mnist_shape(ds.shape))


def read_images(folder: Path) -> torch.Tensor:
    """All images under folder as one (N, C, H, W) tensor in [-1, 1]; they must share a size and mode."""
    from PIL import Image, UnidentifiedImageError

    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise DataError(f"--data {str(folder)!r}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
    arrays, first = [], None
    for f in files:
        try:
            with Image.open(f) as im:
                grey = im.mode in ("L", "1", "I", "I;16", "F")
                arr = np.asarray(im.convert("L" if grey else "RGB"), dtype=np.float32)
        except (UnidentifiedImageError, OSError) as e:
            raise DataError(f"--data: cannot read the image {str(f)!r}: {e}") from None
        arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
        if first is None:
            first = (arr.shape, f)
        elif arr.shape != first[0]:
            raise DataError(f"--data: images differ in size or colour: {first[1].name} is {first[0]}, {f.name} is {arr.shape}")
        arrays.append(arr)
    return torch.from_numpy(np.stack(arrays)).div(127.5).sub(1.0)


def read_tensor_file(path: Path) -> torch.Tensor:
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            return torch.from_numpy(np.load(path, allow_pickle=False).astype(np.float32))
        if suffix in (".pt", ".pth"):
            obj = torch.load(path, map_location="cpu", weights_only=True)
            if isinstance(obj, dict):  # {"data": tensor} or {"images": tensor}: take the one tensor
                tensors = [v for v in obj.values() if isinstance(v, torch.Tensor)]
                if len(tensors) != 1:
                    raise DataError(f"--data {str(path)!r}: a dict with {len(tensors)} tensors; save one tensor of samples")
                obj = tensors[0]
            if not isinstance(obj, torch.Tensor):
                raise DataError(f"--data {str(path)!r}: holds a {type(obj).__name__}, not a tensor of samples")
            return obj
    except DataError:
        raise
    except Exception as e:  # numpy and torch raise many types for a broken or unsafe file
        from ganlint.loaders.safe import describe_load_error  # one line, not torch's weights-only essay

        raise DataError(f"--data {str(path)!r}: cannot read it as {suffix[1:]}: {describe_load_error(e)}") from None
    raise DataError(f"--data {str(path)!r}: unsupported file type {suffix or '(none)'}; use .npy, .pt or a folder of images")


def resolve(spec: str | None, *, n: int, seed: int, run_dataset: str | None = None, data_root: str | None = None) -> Reference | None:
    """The Reference for `--data` (see the module docstring); None when there is no real data."""
    from ganlint.data import DATASETS

    if spec is None:
        if run_dataset is None:
            return None
        print(f"ganlint: judging against the run's own dataset {run_dataset!r}", file=sys.stderr)
        return from_name(run_dataset, n, seed, data_root)
    if spec in DATASETS.names():
        return from_name(spec, n, seed, data_root)
    path = Path(spec).expanduser()
    if path.is_dir():
        return from_tensor(path.name, read_images(path))
    if path.is_file():
        return from_tensor(path.name, read_tensor_file(path))
    raise DataError(f"--data {spec!r} is neither a dataset ({', '.join(DATASETS.names())}) nor an existing file or folder")
