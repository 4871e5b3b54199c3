"""A user's own GAN loop in plain PyTorch (no ganlint), as in the PyTorch examples: a 1D Gaussian,
G and D of a few linear layers, Adam. `monitor` is the only hook: the three ganlint lines of the README
are marked. Returns the fake mean and std the loop saw at every step (the user's own view)."""

from __future__ import annotations

import torch
from torch import nn

REAL_MEAN, REAL_STD = 4.0, 1.25


STEP_ARGS = ("loss_d", "loss_g", "d_real", "d_fake", "fake", "real")


def train(lr: float, steps: int, seed: int = 0, monitor_factory=None, batch: int = 64, beta1: float = 0.5,
          logged: tuple[str, ...] = STEP_ARGS):
    """`logged`: the values this user hands to mon.step (a user who logs only the losses passes fewer)."""
    torch.manual_seed(seed)
    G = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 1))
    D = nn.Sequential(nn.Linear(1, 32), nn.LeakyReLU(0.2), nn.Linear(32, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=(beta1, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=(beta1, 0.999))
    bce = nn.BCEWithLogitsLoss()
    ones, zeros = torch.ones(batch, 1), torch.zeros(batch, 1)
    mon = monitor_factory(G, D, opt_g, opt_d) if monitor_factory else None  # ganlint line 1
    means, stds = [], []
    for _ in range(steps):
        real = REAL_MEAN + REAL_STD * torch.randn(batch, 1)
        fake = G(torch.randn(batch, 8))
        d_real, d_fake = D(real), D(fake.detach())
        loss_d = bce(d_real, ones) + bce(d_fake, zeros)
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = bce(D(fake), ones)
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        means.append(fake.detach().mean().item())
        stds.append(fake.detach().std().item())
        if mon is not None:
            values = {"loss_d": loss_d, "loss_g": loss_g, "d_real": d_real, "d_fake": d_fake, "fake": fake, "real": real}
            mon.step(**{k: v for k, v in values.items() if k in logged})  # ganlint line 2
            if mon.should_stop:  # ganlint line 3
                break
    return G, mon, torch.tensor(means), torch.tensor(stds)
