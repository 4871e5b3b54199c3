"""The analytic toy datasets: one 1D Gaussian and the two standard 2D mode-collapse benchmarks.

ring8 and grid25 follow the setups of VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018):
8 Gaussians on a circle of radius 2 with std 0.02, and a 5x5 grid with spacing 2 and std 0.05.
"""

from __future__ import annotations

import math

import torch

from ganlint.data.base import MixtureDataset


def gaussian1d() -> MixtureDataset:
    return MixtureDataset(
        name="gaussian1d",
        description="N(2.0, 0.2^2): one mode, the simplest game; distance is Wasserstein-1",
        centres=torch.tensor([[2.0]]),
        std=0.2,
        plot_kind="hist",
        distance_kind="wasserstein1d",
    )


def ring8() -> MixtureDataset:
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    centres = 2.0 * torch.stack([angles.cos(), angles.sin()], dim=1)
    return MixtureDataset(
        name="ring8",
        description="8 Gaussians on a circle of radius 2, std 0.02 (mode-collapse benchmark)",
        centres=centres.float(),
        std=0.02,
        plot_kind="scatter",
        distance_kind="sliced_wasserstein",
    )


def grid25() -> MixtureDataset:
    axis = torch.arange(-4.0, 4.0 + 1e-9, 2.0)
    gx, gy = torch.meshgrid(axis, axis, indexing="ij")
    centres = torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)
    return MixtureDataset(
        name="grid25",
        description="5x5 grid of Gaussians, spacing 2, std 0.05 (mode-collapse benchmark)",
        centres=centres,
        std=0.05,
        plot_kind="scatter",
        distance_kind="sliced_wasserstein",
    )
