"""Train the MNIST classifier that ganlint ships, and write its weights and record to ganlint/assets/.

    .venv/bin/python scripts/train_mnist_classifier.py               # the shipped weights (~30 s on 2 idle cores)
    .venv/bin/python scripts/train_mnist_classifier.py --data-root ~/data --out /tmp/clf

It trains on the MNIST the trainer loads (`ganlint.data.get_dataset('mnist', data_root)`: the user's
torchvision folder, else the 5,000-digit subset shipped with ganlint) with a fixed seeded split (4,000
train / 1,000 held out by default), light augmentation (random affine: +-10 degrees, +-2 px, scale
0.9-1.1), Adam and a cosine learning-rate decay. It writes `mnist_classifier.safetensors` and
`mnist_classifier.json` (held-out accuracy, split, seed, epochs, data source, versions, date) and fails
when the held-out accuracy is below --min-accuracy, so weights that are not good enough never get written.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import ganlint
from ganlint.data import get_dataset
from ganlint.metrics.mnist_classifier import META_FILE, WEIGHTS_FILE, MnistClassifier, split_indices

ASSETS = Path(__file__).resolve().parents[1] / "ganlint" / "assets"


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random small affine transforms of images in [-1, 1] (background stays -1)."""
    n = len(x)
    angle = (torch.rand(n, generator=gen) * 2 - 1) * math.radians(10)
    scale = 0.9 + 0.2 * torch.rand(n, generator=gen)
    shift = (torch.rand(n, 2, generator=gen) * 2 - 1) * (2 / 14)  # 2 px in grid units (28 px = 2)
    cos, sin = angle.cos() / scale, angle.sin() / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    # grid_sample pads with 0, which is mid-grey in [-1, 1]: sample in [0, 1] so the padding is background.
    return F.grid_sample((x + 1) / 2, grid, align_corners=False) * 2 - 1


@torch.no_grad()
def accuracy(model: MnistClassifier, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    pred = torch.cat([model(x[i : i + 1000]).argmax(1) for i in range(0, len(x), 1000)])
    return float((pred == y).float().mean())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-root", default=None, help="MNIST folder (torchvision layout); default: the 5,000 digits ganlint ships")
    p.add_argument("--train", type=int, default=4000, help="training digits")
    p.add_argument("--heldout", type=int, default=1000, help="held-out digits")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--min-accuracy", type=float, default=0.97)
    p.add_argument("--out", type=Path, default=ASSETS, help="folder for the weights and the JSON record")
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    ds = get_dataset("mnist", args.data_root)
    tr, ho = split_indices(len(ds), args.seed, args.train, args.heldout)
    x_tr, y_tr, x_ho, y_ho = ds.data[tr], ds.labels[tr], ds.data[ho], ds.labels[ho]

    model = MnistClassifier()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps_per_epoch = math.ceil(len(x_tr) / args.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch)
    gen = torch.Generator().manual_seed(args.seed + 1)
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        model.train()
        perm = torch.randperm(len(x_tr), generator=gen)
        total = 0.0
        for i in range(0, len(x_tr), args.batch_size):
            idx = perm[i : i + args.batch_size]
            loss = F.cross_entropy(model(augment(x_tr[idx], gen)), y_tr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        print(f"epoch {epoch}/{args.epochs}  loss {total / len(x_tr):.4f}  held-out acc "
              f"{accuracy(model, x_ho, y_ho):.4f}  {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    train_s = time.perf_counter() - t0
    acc_ho, acc_tr = accuracy(model, x_ho, y_ho), accuracy(model, x_tr, y_tr)
    if acc_ho < args.min_accuracy:
        print(f"held-out accuracy {acc_ho:.4f} is below {args.min_accuracy}: nothing written", file=sys.stderr)
        return 1

    from safetensors.torch import save_file

    args.out.mkdir(parents=True, exist_ok=True)
    weights = args.out / WEIGHTS_FILE
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    record = {
        "heldout_accuracy": round(acc_ho, 4),
        "train_accuracy": round(acc_tr, 4),
        "split": {"seed": args.seed, "train": args.train, "heldout": args.heldout, "total": len(ds),
                  "how": "ganlint.metrics.mnist_classifier.split_indices(total, seed, train, heldout)"},
        "data_source": ds.source,
        "architecture": model.arch,
        "parameters": sum(p.numel() for p in model.parameters()),
        "features": "the feature layer's pre-ReLU output",
        "training": {"epochs": args.epochs, "batch_size": args.batch_size, "optimizer": "Adam",
                     "lr": args.lr, "schedule": "one-cycle", "seed": args.seed,
                     "augmentation": "random affine: rotation +-10 deg, shift +-2 px, scale 0.9-1.1",
                     "threads": args.threads, "seconds": round(train_s, 1),
                     # Other work on the machine stretches the wall time: the 1-minute load before and after.
                     "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)]},
        "torch_version": torch.__version__,
        "ganlint_version": ganlint.__version__,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "weights_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
    }
    (args.out / META_FILE).write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps({"heldout_accuracy": record["heldout_accuracy"], "seconds": record["training"]["seconds"],
                      "out": str(args.out)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
