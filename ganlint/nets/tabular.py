"""A tabular generator: an MLP trunk with one softmax head per categorical column.

Each categorical head emits a one-hot vector through the straight-through Gumbel-softmax (Jang et al.
2017): the forward pass is a hard one-hot sample, so D sees the same kind of rows as the real table, and
the backward pass uses the soft relaxation, so gradients still reach G. Numeric columns are plain linear
outputs in the standardised scale. Temperature 0.2 follows CTGAN (Xu et al. 2019).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganlint.nets.mlp import hidden_stack

GUMBEL_TAU = 0.2


class TabularGenerator(nn.Module):
    def __init__(self, z_dim: int, blocks: list[tuple[str, int]], width: int = 256, depth: int = 2,
                 batch_norm: bool = False, tau: float = GUMBEL_TAU) -> None:
        super().__init__()
        self.blocks = [(str(k), int(s)) for k, s in blocks]
        self.tau = tau
        self.body, d = hidden_stack(z_dim, width, depth, nn.ReLU(), batch_norm=batch_norm)
        self.out = nn.Linear(d, sum(s for _, s in self.blocks))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        raw = self.out(self.body(z))
        parts, start = [], 0
        for kind, size in self.blocks:
            chunk = raw[:, start : start + size]
            parts.append(F.gumbel_softmax(chunk, tau=self.tau, hard=True) if kind == "categorical" else chunk)
            start += size
        return torch.cat(parts, dim=1)
