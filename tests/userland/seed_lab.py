"""Seed 002's lab, `tiny_gan_1d.py`, as its reader writes it: a 1D GAN whose real data is a Gaussian
(centre 2.0, std 0.2), read through the printed loss_d, loss_g, fake_mean and fake_std. Wrapped in a
function so the exercises can change its knobs (real centre, learning rate, hidden size, steps, and
exercise 4's "print fake_std every 25 steps and mark possible collapse points"). The three ganlint
lines a user adds are marked; without `monitor=True` the lab is the seed's code, unchanged.

    python tests/userland/seed_lab.py            # the lab as given
"""

import torch
from torch import nn

import ganlint


def main(center=2.0, lr=0.01, hidden=16, steps=300, print_every=None, monitor=False):
    torch.manual_seed(7)

    def real_batch(n):
        return torch.randn(n, 1) * 0.2 + center

    G = nn.Sequential(nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, 1))
    D = nn.Sequential(nn.Linear(1, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    loss_fn = nn.BCEWithLogitsLoss()
    opt_g = torch.optim.Adam(G.parameters(), lr=lr)
    opt_d = torch.optim.Adam(D.parameters(), lr=lr)
    mon = ganlint.Monitor(G, D, opt_g, opt_d, outputs="logit") if monitor else None  # ganlint line 1

    for step in range(1, steps + 1):
        real = real_batch(64)
        z = torch.randn(64, 2)
        fake = G(z).detach()

        d_real = D(real)
        d_fake = D(fake)
        loss_d = loss_fn(d_real, torch.ones_like(d_real)) + loss_fn(
            d_fake, torch.zeros_like(d_fake)
        )

        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()

        z = torch.randn(64, 2)
        fake = G(z)
        d_fake = D(fake)
        loss_g = loss_fn(d_fake, torch.ones_like(d_fake))

        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        if mon:
            mon.step(loss_d=loss_d, loss_g=loss_g, d_real=d_real, d_fake=d_fake, fake=fake, real=real)  # ganlint line 2

        shown = step in [1, 100, 200, 300] if print_every is None else step == 1 or step % print_every == 0
        if shown:
            with torch.no_grad():
                sample = G(torch.randn(256, 2))
            mark = "  <- possible collapse" if print_every and sample.std().item() < 0.1 else ""  # exercise 4
            print(
                f"step={step:03d} "
                f"loss_d={loss_d.item():.3f} "
                f"loss_g={loss_g.item():.3f} "
                f"fake_mean={sample.mean().item():.3f} "
                f"fake_std={sample.std().item():.3f}"
                + mark
            )

    return mon.diagnose() if mon else None  # ganlint line 3


if __name__ == "__main__":
    main()
