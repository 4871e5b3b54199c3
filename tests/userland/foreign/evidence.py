"""The truth of each zoo run, measured from its files and its own printed log, never from ganlint's verdict.

Every function here is plain PyTorch on the user's own checkpoint and the user's own stdout; the shipped
digit classifier is not used (it files noise under one class with high confidence: see
tests/test_short_runs.py). Digit classes come from the nearest real digit in pixel space (1-NN on 4,000
labelled digits, ~90% accurate on MNIST), which is only meaningful once the samples are digit-like.
"""

from __future__ import annotations

import importlib.util
import math
import re
import sys
from pathlib import Path

import torch

HERE = Path(__file__).parent


def _import(name: str):
    """The zoo's own module `name`, loaded from this folder by its path: other tests put modules of the same
    name (a user's dcgan_models.py) on sys.path and in sys.modules, and a plain import would return theirs."""
    key = f"_foreign_zoo_{name}"
    if key not in sys.modules:
        if str(HERE) not in sys.path:  # the models' own imports (none today) resolve here
            sys.path.insert(0, str(HERE))
        spec = importlib.util.spec_from_file_location(key, HERE / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


def real_digits(size: int = 28) -> tuple[torch.Tensor, torch.Tensor]:
    """The 5,000 digits as the user's DataLoader sees them (Resize(size), ToTensor, Normalize(0.5, 0.5)),
    flattened (N, size*size) in [-1, 1], and their labels."""
    import torchvision.transforms as transforms

    ds = _import("mnist_subset").MNIST(transform=transforms.Compose([
        transforms.Resize(size), transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))]))
    x = torch.stack([ds[i][0] for i in range(len(ds))]).reshape(len(ds), -1)
    return x, ds.targets.clone()


def draw(generator: torch.nn.Module, n: int = 1000, nz: int = 100, conv: bool = False, seed: int = 123) -> torch.Tensor:
    """n samples (n, pixels) from G in eval mode, as `ganlint check` draws them."""
    generator.eval()
    z = torch.randn(n, nz, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        x = generator(z[:, :, None, None] if conv else z)
    return x.reshape(n, -1)


def sample_stats(fake: torch.Tensor, real: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Measures of how digit-like and how diverse samples (n, d) are, against the real digits (N, d).

    background: share of samples with >= 50% black pixels (< -0.9); every real 28-px digit has >= 62%.
    nn_ratio: median distance from a sample to its nearest real digit / the same among real digits.
    diversity: mean pairwise distance among samples / among real digits (1 for the data, 0 for one output).
    classes: digits (by 1-NN) holding > 2% of samples; top_share: the biggest class's share; kl: KL of the
    1-NN class histogram to uniform (0 perfect, ln 10 = 2.30 one class).
    """
    gen = torch.Generator().manual_seed(0)
    perm = torch.randperm(len(real), generator=gen)
    ref, probe = real[perm[1000:]], real[perm[:1000]]
    ref_labels = labels[perm[1000:]]
    real_nn = float(torch.cdist(probe, ref).min(dim=1).values.median())
    d_fake = torch.cdist(fake, ref)
    fake_nn = float(d_fake.min(dim=1).values.median())
    nearest = ref_labels[d_fake.argmin(dim=1)]
    hist = torch.bincount(nearest, minlength=10).double() / len(fake)
    kl = float((hist[hist > 0] * (hist[hist > 0] * 10).log()).sum())

    def mean_pairwise(x: torch.Tensor) -> float:
        d = torch.cdist(x, x)
        return float(d.sum() / (len(x) * (len(x) - 1)))

    return {
        "background": float(((fake < -0.9).float().mean(dim=1) >= 0.5).float().mean()),
        "nn_ratio": fake_nn / real_nn,
        "diversity": mean_pairwise(fake) / mean_pairwise(probe),
        "classes": int((hist > 0.02).sum()),
        "top_share": float(hist.max()),
        "kl": kl,
    }


def relative_change(final: torch.nn.Module, initial: torch.nn.Module) -> float:
    """||W_final - W_init|| / ||W_init|| over G's weights (BatchNorm running stats left out)."""
    a = torch.cat([p.detach().flatten() for p in final.parameters()])
    b = torch.cat([p.detach().flatten() for p in initial.parameters()])
    return float((a - b).norm() / b.norm())


def g_gradients(generator: torch.nn.Module, discriminator: torch.nn.Module, nz: int = 100, conv: bool = False,
                n: int = 256) -> dict[str, float]:
    """G's gradient norm under the saturating loss log(1 - D(G(z))) and the non-saturating -log D(G(z)),
    for a sigmoid D, in train mode (as in training), with D(x)-free D(G(z)) for reference."""
    generator.train()
    discriminator.train()
    z = torch.randn(n, nz, generator=torch.Generator().manual_seed(7))
    out = {}
    for name in ("saturating", "non_saturating"):
        generator.zero_grad()
        p = discriminator(generator(z[:, :, None, None] if conv else z)).reshape(-1).clamp(1e-12, 1 - 1e-12)
        loss = torch.log1p(-p).mean() if name == "saturating" else -p.log().mean()
        loss.backward()
        out[name] = float(torch.cat([q.grad.flatten() for q in generator.parameters()]).norm())
        out["d_fake"] = float(p.detach().mean())
    generator.zero_grad()
    return out


def d_outputs(discriminator: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor, shape: tuple[int, ...]) -> tuple[float, float]:
    """D's mean output on real and fake samples (n, d), in eval mode."""
    discriminator.eval()
    with torch.no_grad():
        return (float(discriminator(real.reshape(len(real), *shape)).mean()),
                float(discriminator(fake.reshape(len(fake), *shape)).mean()))


DCGAN_LINE = re.compile(r"^\[(\d+)/(\d+)\]\[(\d+)/(\d+)\] Loss_D: (\S+) Loss_G: (\S+) D\(x\): (\S+) D\(G\(z\)\): (\S+) / (\S+)$")
PTGAN_LINE = re.compile(r"^\[Epoch (\d+)/(\d+)\] \[Batch (\d+)/(\d+)\] \[D loss: (\S+)\] \[G loss: (\S+)\]$")


def log_tail(log: Path, last: int = 50) -> dict[str, float]:
    """Means over the last `last` printed iterations of the user's own stdout (the script's print line)."""
    rows = []
    for line in log.read_text().splitlines():
        if m := DCGAN_LINE.match(line):
            rows.append({"loss_d": float(m[5]), "loss_g": float(m[6]), "d_x": float(m[7]), "d_g_z": float(m[8])})
        elif m := PTGAN_LINE.match(line):
            rows.append({"loss_d": float(m[5]), "loss_g": float(m[6])})
    tail = rows[-last:]
    out = {"lines": float(len(rows))}
    for k in tail[0] if tail else ():
        vals = [r[k] for r in tail]
        out[k] = sum(vals) / len(vals) if all(math.isfinite(v) for v in vals) else math.nan
    return out
