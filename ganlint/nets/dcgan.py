"""DCGAN-style convolutional G and D for 28x28 single-channel images (Radford et al. 2016, sized down).

G: z -> Linear -> (2w, 7, 7) -> ConvT -> (w, 14, 14) -> ConvT -> (1, 28, 28) -> tanh.
D: (1, 28, 28) -> Conv -> (w, 14, 14) -> Conv -> (2w, 7, 7) -> Linear -> raw score.
"""

from __future__ import annotations

import torch
from torch import nn

from ganlint.nets.layers import MinibatchStdDev, maybe_sn, pack


class DCGANGenerator(nn.Module):
    def __init__(self, z_dim: int, width: int = 64, batch_norm: bool = True, channels: int = 1) -> None:
        super().__init__()
        w = width

        def bn(c: int) -> nn.Module:
            return nn.BatchNorm2d(c) if batch_norm else nn.Identity()

        self.fc = nn.Linear(z_dim, 2 * w * 7 * 7)
        self.net = nn.Sequential(
            nn.Unflatten(1, (2 * w, 7, 7)),
            bn(2 * w),
            nn.ReLU(),
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1),
            bn(w),
            nn.ReLU(),
            nn.ConvTranspose2d(w, channels, 4, 2, 1),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.fc(z))


class DCGANDiscriminator(nn.Module):
    def __init__(self, width: int = 64, dropout: float = 0.0, spectral_norm: bool = False,
                 minibatch_std: bool = False, pack: int = 1, channels: int = 1) -> None:
        super().__init__()
        w, sn = width, spectral_norm
        self.pack = pack
        drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.features = nn.Sequential(
            maybe_sn(nn.Conv2d(channels * pack, w, 4, 2, 1), sn),
            nn.LeakyReLU(0.2),
            drop,
            maybe_sn(nn.Conv2d(w, 2 * w, 4, 2, 1), sn),
            nn.LeakyReLU(0.2),
            drop,
        )
        self.mbstd = MinibatchStdDev() if minibatch_std else None
        self.out = maybe_sn(nn.Linear((2 * w + (1 if minibatch_std else 0)) * 7 * 7, 1), sn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(pack(x, self.pack))
        if self.mbstd is not None:
            h = self.mbstd(h)
        return self.out(h.flatten(1)).squeeze(1)
