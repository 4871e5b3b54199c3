"""Building blocks shared by the networks: spectral norm, minibatch stddev and PacGAN packing."""

from __future__ import annotations

import torch
from torch import nn


def maybe_sn(module: nn.Module, enabled: bool) -> nn.Module:
    """Spectral normalisation (Miyato et al. 2018) on a Linear or Conv layer when enabled."""
    return nn.utils.parametrizations.spectral_norm(module) if enabled else module


class MinibatchStdDev(nn.Module):
    """Appends the mean over features of the batch standard deviation as one extra feature/channel.

    Karras et al. 2018: D sees how varied its batch is, so a generator that emits near-identical samples
    is easy to reject. Statistics are taken over groups of `group_size` samples (the whole batch when it
    does not divide), so each sample gets the statistic of the group it was judged with.
    """

    def __init__(self, group_size: int = 4) -> None:
        super().__init__()
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        g = self.group_size if n % self.group_size == 0 else n
        grouped = x.reshape(n // g, g, *x.shape[1:])
        std = (grouped.var(dim=1, unbiased=False) + 1e-8).sqrt()  # (n/g, ...)
        stat = std.reshape(n // g, -1).mean(dim=1)  # (n/g,)
        stat = stat.repeat_interleave(g).reshape(n, *([1] * (x.dim() - 1)))
        stat = stat.expand(n, *((1,) if x.dim() == 2 else (1, *x.shape[2:])))
        return torch.cat([x, stat], dim=1)


def pack(x: torch.Tensor, m: int) -> torch.Tensor:
    """PacGAN (Lin et al. 2018): D judges m samples at once.

    (B, F) -> (B/m, m*F) for flat data; (B, C, H, W) -> (B/m, m*C, H, W) for images. Consecutive samples
    are packed together; the batch size must be a multiple of m (checked in the config).
    """
    if m == 1:
        return x
    b = x.shape[0]
    return x.reshape(b // m, m * x.shape[1], *x.shape[2:])
