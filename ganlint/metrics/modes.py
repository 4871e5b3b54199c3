"""Mode coverage from per-sample mode assignments (-1 = belongs to no mode), and the histogram's KL.

All logarithms are natural (nats), so a single mode of K gives KL log K: ln 10 = 2.30 for MNIST digits.
"""

from __future__ import annotations

import math

import torch

# Pseudo-count added to each reference count in kl_to_reference (additive smoothing, Jeffreys prior).
REFERENCE_PSEUDO_COUNT = 0.5


def _normalise(counts: torch.Tensor) -> torch.Tensor | None:
    """counts as float64 probabilities on the CPU, or None when they sum to 0."""
    c = counts.detach().double().cpu().reshape(-1)
    if (c < 0).any():
        raise ValueError("histogram counts must be non-negative")
    total = c.sum()
    return c / total if total > 0 else None


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


def mode_entropy(counts: torch.Tensor) -> float:
    """Shannon entropy (nats) of a histogram of counts; NaN when it is empty."""
    p = _normalise(counts)
    if p is None:
        return float("nan")
    nz = p[p > 0]
    return float(-(nz * nz.log()).sum())


def kl_to_uniform(counts: torch.Tensor) -> float:
    """KL(p || uniform) = log K - H(p) in nats, for the histogram p of the fakes over K modes.

    The direction is the one PacGAN and VEEGAN call "reverse KL", KL(P_fake || P_real): it charges the
    generator for piling its samples on a few modes, is 0 for a uniform histogram and log K (ln 10 = 2.30,
    ln 25 = 3.22) when every sample falls in one mode. It needs no smoothing: empty fake modes contribute
    0 log 0 = 0 and the uniform reference has no empty modes. (The forward KL(uniform || p_fake) would be
    infinite as soon as one mode is missed.) NaN when the histogram is empty (no sample in any mode).
    """
    p = _normalise(counts)
    if p is None:
        return float("nan")
    return max(0.0, math.log(len(p)) - mode_entropy(counts))  # clamp the rounding below 0 of a uniform p


def kl_to_reference(counts: torch.Tensor, reference: torch.Tensor, pseudo_count: float = REFERENCE_PSEUDO_COUNT) -> float:
    """KL(p_fake || p_ref) in nats, the same "reverse KL" as kl_to_uniform, against a given histogram.

    Smoothing: only the reference can make this infinite (a mode the fakes use but the reference never
    saw), so `pseudo_count` is added to every reference count before normalising (additive smoothing; 0.5
    is the Jeffreys / Krichevsky-Trofimov choice). Pass counts, not probabilities, so the smoothing is
    relative to the reference's size: for a reference of N samples it moves each probability by at most
    K * pseudo_count / N. A uniform reference stays uniform, so this then equals kl_to_uniform exactly.
    The fakes are not smoothed: their empty modes contribute 0. NaN when the fake histogram is empty.
    """
    p = _normalise(counts)
    ref = reference.detach().double().cpu().reshape(-1)
    if len(ref) != len(counts):
        raise ValueError(f"reference has {len(ref)} modes, the histogram {len(counts)}")
    if (ref < 0).any() or pseudo_count < 0:
        raise ValueError("counts and pseudo_count must be non-negative")
    if p is None:
        return float("nan")
    q = ref + pseudo_count
    if q.sum() <= 0:
        raise ValueError("the reference histogram is empty; give it counts or a positive pseudo_count")
    q = q / q.sum()
    mask = p > 0
    return max(0.0, float((p[mask] * (p[mask] / q[mask]).log()).sum()))
