"""A user's own GAN code, written as plain PyTorch that knows nothing of ganlint (the tests check its
checkpoints with `ganlint check --generator ringgan:RingGenerator ...`).

RingGenerator draws from a mixture of Gaussians whose centres are its parameters: which centre a
sample belongs to is the argmax of the first `n_modes` latent values, and the last two latent values
are its offset, scaled by `spread`. So the health of each checkpoint is known from its weights alone:
  healthy    the 8 centres of ganlint's ring8 data (radius 2, std 0.02): samples match the data;
  collapsed  all 8 centres at one point of the ring: every sample lands in one mode;
  saturated  centres near the origin, far from the ring, and a sharp D that tells real (radius 2) from
             fake with near certainty: the saturating generator loss gives G almost no gradient.
RingDiscriminator is a radial D: sigmoid(sharpness * (width - | |x| - radius |)).
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import torch
from torch import nn

Z_DIM = 10  # 8 mode logits + 2 offset values


class RingGenerator(nn.Module):
    def __init__(self, n_modes: int = 8, spread: float = 0.02) -> None:
        super().__init__()
        angles = torch.arange(n_modes) * 2 * math.pi / n_modes
        self.centres = nn.Parameter(torch.stack([2 * torch.cos(angles), 2 * torch.sin(angles)], dim=1))
        self.log_spread = nn.Parameter(torch.tensor(math.log(spread)))
        self.n_modes = n_modes

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(z[:, : self.n_modes] * 200.0, dim=1)  # a smooth argmax: gradients flow to z's logits
        return weights @ self.centres + self.log_spread.exp() * z[:, self.n_modes : self.n_modes + 2]


class RingDiscriminator(nn.Module):
    def __init__(self, radius: float = 2.0, width: float = 0.5, sharpness: float = 0.0) -> None:
        super().__init__()
        self.radius = nn.Parameter(torch.tensor(radius))
        self.width = nn.Parameter(torch.tensor(width))
        self.sharpness = nn.Parameter(torch.tensor(sharpness))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = x.norm(dim=1)
        return torch.sigmoid(self.sharpness * (self.width - (r - self.radius).abs()))


class NaNGenerator(RingGenerator):
    """A generator with a bug: it divides by zero."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return super().forward(z) / torch.zeros(())


class FlatGenerator(RingGenerator):
    """A generator with a bug: it returns 3 values per sample instead of 2."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.cat([super().forward(z), z[:, :1]], dim=1)


def make(kind: str) -> tuple[RingGenerator, RingDiscriminator]:
    g, d = RingGenerator(), RingDiscriminator()
    with torch.no_grad():
        if kind == "collapsed":
            g.centres.copy_(g.centres[:1].expand(8, 2))
        elif kind == "saturated":
            g.centres.mul_(0.05)  # radius 0.1: nowhere near the ring
            d.sharpness.fill_(40.0)  # D(x) ~ 1 on the ring, D(G(z)) ~ 0 near the origin
        elif kind != "healthy":
            raise ValueError(kind)
    return g, d


def save_all(folder: Path) -> dict[str, Path]:
    """The checkpoints a user's training script would leave (the DCGAN tutorial's key names)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for kind in ("healthy", "collapsed", "saturated"):
        g, d = make(kind)
        out[kind] = folder / f"{kind}.pt"
        torch.save({"netG": g.state_dict(), "netD": d.state_dict(), "nz": Z_DIM, "epoch": 10}, out[kind])
    g, _ = make("collapsed")
    example = (torch.randn(4, Z_DIM),)
    out["export"] = folder / "collapsed_generator.pt2"
    torch.export.save(torch.export.export(g.eval(), example), out["export"])
    out["torchscript"] = folder / "collapsed_generator.torchscript"
    with warnings.catch_warnings():  # torch 2.10+ deprecates TorchScript; users still ship such files
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.script(g.eval()).save(str(out["torchscript"]))
    return out
