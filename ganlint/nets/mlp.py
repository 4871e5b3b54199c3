"""Multi-layer perceptrons for any flat data dimension (toy data, flattened MNIST, tables)."""

from __future__ import annotations

import math

import torch
from torch import nn

from ganlint.nets.layers import MinibatchStdDev, maybe_sn, pack


def hidden_stack(d_in: int, width: int, depth: int, act: nn.Module, batch_norm: bool = False,
                 dropout: float = 0.0, sn: bool = False) -> tuple[nn.Sequential, int]:
    """`depth` blocks of Linear [-> BatchNorm] -> activation [-> Dropout]; returns (stack, out width)."""
    layers: list[nn.Module] = []
    d = d_in
    for _ in range(depth):
        layers.append(maybe_sn(nn.Linear(d, width), sn))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(act)
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        d = width
    return nn.Sequential(*layers), d


class MLPGenerator(nn.Module):
    """z -> [Linear -> (BN) -> ReLU] x depth -> Linear -> (tanh when the data is bounded)."""

    def __init__(self, z_dim: int, shape: tuple[int, ...], width: int = 128, depth: int = 2,
                 batch_norm: bool = False, bounded: bool = False) -> None:
        super().__init__()
        self.shape = tuple(shape)
        self.body, d = hidden_stack(z_dim, width, depth, nn.ReLU(), batch_norm=batch_norm)
        self.out = nn.Linear(d, math.prod(self.shape))
        self.bounded = bounded

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.out(self.body(z))
        if self.bounded:
            x = torch.tanh(x)
        return x.reshape(len(z), *self.shape)


class MLPDiscriminator(nn.Module):
    """x -> [Linear -> LeakyReLU(0.2) -> (Dropout)] x depth -> (minibatch stddev) -> Linear -> raw score.

    Returns one raw output per sample, or per packed group of `pack` samples.
    """

    def __init__(self, shape: tuple[int, ...], width: int = 128, depth: int = 2, dropout: float = 0.0,
                 spectral_norm: bool = False, minibatch_std: bool = False, pack: int = 1) -> None:
        super().__init__()
        self.pack = pack
        d_in = math.prod(shape) * pack
        self.body, d = hidden_stack(d_in, width, depth, nn.LeakyReLU(0.2), dropout=dropout, sn=spectral_norm)
        self.mbstd = MinibatchStdDev() if minibatch_std else None
        self.out = maybe_sn(nn.Linear(d + (1 if minibatch_std else 0), 1), spectral_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body(pack(x.reshape(len(x), -1), self.pack))
        if self.mbstd is not None:
            h = self.mbstd(h)
        return self.out(h).squeeze(1)
