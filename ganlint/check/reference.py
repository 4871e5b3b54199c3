"""The real data a checkpoint is judged against (`ganlint check --data ...`).

`--data` takes:
  * a dataset name ganlint ships (`mnist`, `ring8`, `grid25`, `gaussian1d`, `reviews`): its own metrics;
  * a folder of images (PNG, JPEG, BMP; searched recursively): grey or RGB, scaled to [-1, 1] like a
    tanh generator's output;
  * a tensor file: `.npy` (numpy, no pickles) or `.pt`/`.pth` (loaded with weights_only=True) holding an
    array (N, ...) of samples in the generator's scale; images as (N, C, H, W) or (N, H, W).
Without `--data`, a ganlint run folder uses its own dataset; anything else has no real data and the
checks that need it are listed as skipped.

Why MNIST is special: the shipped MNIST classifier gives the classes (modes) and the features for the
Frechet distance and PRDC, the standard measures for MNIST GANs. G's samples of any size it can read
(ganlint.metrics.classifier.mnist_input_problem: grey or RGB, at least 28x28, square-ish: a DCGAN trained
at 32 or 64 px) are brought to 1x28x28 by the one rule, to_mnist_input, before they are measured; D is
read on the real digits brought to G's size as the training script's transforms.Resize did. Real data of
the user's at another size counts as MNIST only when the classifier reads it as digits (looks_like_digits).
Other shapes use the samples' own values (sliced Wasserstein distance, PRDC on the flattened values), and
for images the notes say that raw pixels were measured and how far that goes (see match()).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ganlint.data.base import Dataset, TableDataset
from ganlint.errors import DataError
from ganlint.loaders.errors import naming, option

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
MNIST_SHAPE = (1, 28, 28)
# Reals drawn from a named dataset: enough for stable k-NN and Frechet statistics.
MAX_REALS = 10_000


@dataclass
class Reference:
    """Real data (or none) and how to measure samples against it."""

    name: str
    dataset: Dataset | None  # what ganlint.training.evaluation needs: distance kind, modes
    real: torch.Tensor | None  # (n, *shape) in the generator's scale
    mnist_like: bool

    @property
    def shape(self) -> tuple[int, ...] | None:
        return tuple(self.real.shape[1:]) if self.real is not None else (self.dataset.shape if self.dataset else None)


def is_mnist_shape(shape: tuple[int, ...]) -> bool:
    return tuple(shape) == MNIST_SHAPE


def from_tensor(name: str, x: torch.Tensor, classifier: bool | None = None) -> Reference:
    """A reference from a tensor of samples: images keep (C, H, W); (N, H, W) gains a channel. `classifier`
    True measures them through the MNIST classifier whatever their size (ganlint.training.evaluation resizes);
    None: only 1x28x28 data is."""
    x = x.detach().to(torch.float32).cpu()
    if x.ndim == 3 and x.shape[1:] == (28, 28):
        x = x.unsqueeze(1)
    if x.ndim < 2 or len(x) < 2:
        raise naming(DataError, f"{option('data')} {name}: expected an array of samples (N, ...), got shape {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise naming(DataError, f"{option('data')} {name}: the real data contains NaN or infinite values")
    shape = tuple(x.shape[1:])
    mnist_like = is_mnist_shape(shape) if classifier is None else classifier
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
        raise naming(DataError, f"{option('data')} {str(folder)!r}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
    arrays, first = [], None
    for f in files:
        try:
            with Image.open(f) as im:
                grey = im.mode in ("L", "1", "I", "I;16", "F")
                arr = np.asarray(im.convert("L" if grey else "RGB"), dtype=np.float32)
        except (UnidentifiedImageError, OSError) as e:
            raise naming(DataError, f"{option('data')}: cannot read the image {str(f)!r}: {e}") from None
        arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
        if first is None:
            first = (arr.shape, f)
        elif arr.shape != first[0]:
            raise naming(DataError, f"{option('data')}: images differ in size or colour: {first[1].name} is {first[0]}, {f.name} is {arr.shape}")
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
                    raise naming(DataError, f"{option('data')} {str(path)!r}: a dict with {len(tensors)} tensors; save one tensor of samples")
                obj = tensors[0]
            if not isinstance(obj, torch.Tensor):
                raise naming(DataError, f"{option('data')} {str(path)!r}: holds a {type(obj).__name__}, not a tensor of samples")
            return obj
    except DataError:
        raise
    except Exception as e:  # numpy and torch raise many types for a broken or unsafe file
        from ganlint.loaders.safe import describe_load_error  # one line, not torch's weights-only essay

        raise naming(DataError, f"{option('data')} {str(path)!r}: cannot read it as {suffix[1:]}: {describe_load_error(e)}") from None
    raise naming(DataError, f"{option('data')} {str(path)!r}: unsupported file type {suffix or '(none)'}; use .npy, .pt or a folder of images")


def resolve(spec: str | None, *, n: int, seed: int, run_dataset: str | None = None, data_root: str | None = None) -> Reference | None:
    """The Reference for `--data` (see the module docstring); None when there is no real data."""
    from ganlint.data import DATASETS

    if spec is None:
        if run_dataset is None:
            return None
        log.info("judging against the run's own dataset %r", run_dataset)
        return from_name(run_dataset, n, seed, data_root)
    if spec in DATASETS.names():
        return from_name(spec, n, seed, data_root)
    path = Path(spec).expanduser()
    if path.is_dir():
        return from_tensor(path.name, read_images(path))
    if path.is_file():
        return from_tensor(path.name, read_tensor_file(path))
    raise naming(DataError, f"{option('data')} {spec!r} is neither a dataset ({', '.join(DATASETS.names())}) nor an existing file or folder")


# Raw pixels say little about images: what was measured instead, and how far it can be trusted.
RAW_PIXELS_NOTE = ("no feature space fits these images (the MNIST classifier reads only digits): distance "
                   "(sliced Wasserstein), diversity, PRDC and near-duplicates were measured on raw pixels, which "
                   "catch gross failures (collapse to one image, noise, blank or saturated images) but not "
                   "realism: two good images of the same thing lie far apart in pixel space, so read precision, "
                   "recall and the distance as rough")


@dataclass
class Match:
    """How G's samples meet the real data: the Reference the sample metrics use (1x28x28 digits when the
    classifier reads them), the reals D is read on (at G's shape), and whether G's samples are resized."""

    ref: Reference | None
    d_real: torch.Tensor | None
    classifier: bool
    num_modes: int | None
    notes: list[str]

    def samples(self, fake: torch.Tensor) -> torch.Tensor:
        """G's samples as the sample metrics read them (resized to 1x28x28 for the classifier)."""
        from ganlint.metrics.classifier import to_mnist_input

        return to_mnist_input(fake) if self.classifier and tuple(fake.shape[1:]) != MNIST_SHAPE else fake


def match(ref: Reference | None, shape: tuple[int, ...]) -> Match:
    """Decide, from G's per-sample `shape` (two samples drawn before the rest), how G's samples are measured
    against `ref` (see the module docstring). Raises DataError when they cannot be compared."""
    from ganlint.metrics.classifier import (
        describe_resize,
        from_mnist_input,
        looks_like_digits,
        mnist_input_problem,
        to_mnist_input,
    )

    shape = tuple(shape)
    image = len(shape) == 3
    if ref is None or ref.real is None:
        if is_mnist_shape(shape):
            return Match(ref, None, True, 10, [])
        hint = (["without --data, the samples' classes are not read: if G was trained on MNIST, pass --data mnist "
                 f"to read its {'x'.join(map(str, shape))} samples with the MNIST classifier"]
                if image and mnist_input_problem(shape) is None else [])
        return Match(ref, None, False, None, hint)
    real, name = ref.real, ref.name
    mismatch = f"G draws samples of shape {shape}, but the real data ({name}) has shape {ref.shape}"
    if ref.mnist_like:  # MNIST digits at 28x28 (--data mnist, or 1x28x28 data of the user's)
        if shape == ref.shape:
            return Match(ref, real, True, ref.dataset.num_modes or 10, [])
        problem = mnist_input_problem(shape)
        if problem is not None:
            raise DataError(f"{mismatch}, and the MNIST classifier cannot read them: {problem}")
        notes = [describe_resize(shape),
                 f"D read on the real digits resized to {'x'.join(map(str, shape))} (as torchvision's Resize does)"]
        return Match(ref, from_mnist_input(real, shape), True, ref.dataset.num_modes or 10, notes)
    if not (image and len(ref.shape or ()) == 3):
        if shape != ref.shape:
            raise DataError(mismatch)
        return Match(ref, real, False, ref.dataset.num_modes, [])
    # Images of the user's at a size other than 28x28: digits when the classifier reads them as digits.
    problems = (mnist_input_problem(shape), mnist_input_problem(ref.shape))
    digits, share, covered = looks_like_digits(real) if problems == (None, None) else (False, 0.0, 0)
    if digits:
        notes = [n for n in (describe_resize(shape),) if n]
        notes.append(f"the real images ({name}, {'x'.join(map(str, ref.shape))}) read as MNIST digits: the classifier "
                     f"is sure of {share:.0%} of them over {covered} digits; resized to 28x28 the same way")
        if shape != ref.shape:
            notes.append("D is read on G's samples only: the real images are not at G's size")
        mnist = from_tensor(name, to_mnist_input(real), classifier=True)
        return Match(mnist, real if shape == ref.shape else None, True, 10, notes)
    if shape != ref.shape:
        raise DataError(mismatch)
    why = (f" (the classifier is sure of {share:.0%} of them, over {covered} digits)" if problems == (None, None)
           else f" ({problems[0] or problems[1]})")
    return Match(ref, real, False, ref.dataset.num_modes, [f"{name}: not read as MNIST digits{why}; {RAW_PIXELS_NOTE}"])
