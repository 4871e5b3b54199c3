"""Mode coverage from per-sample mode assignments (-1 = belongs to no mode)."""

from __future__ import annotations

import torch


def mode_histogram(mode_index: torch.Tensor, num_modes: int) -> torch.Tensor:
    """Counts per mode (samples assigned to no mode are left out)."""
    idx = mode_index[mode_index >= 0]
    return torch.bincount(idx.cpu(), minlength=num_modes)[:num_modes]


def modes_covered(mode_index: torch.Tensor, num_modes: int) -> int:
    """Modes that at least one sample belongs to (the VEEGAN/PacGAN "modes captured")."""
    return int((mode_histogram(mode_index, num_modes) > 0).sum())


def high_quality_fraction(mode_index: torch.Tensor) -> float:
    """Share of samples that belong to some mode (for mixtures: within 3 std of a centre)."""
    return float((mode_index >= 0).float().mean()) if len(mode_index) else float("nan")
