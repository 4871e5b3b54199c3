"""KL of a mode histogram to uniform and to a reference, and its entropy, against known answers."""

from __future__ import annotations

import math

import pytest
import torch

from ganlint.metrics import kl_to_reference, kl_to_uniform, mode_entropy


@pytest.mark.parametrize("k", [1, 2, 8, 10, 25])
def test_kl_of_a_uniform_histogram_is_zero(k: int) -> None:
    assert kl_to_uniform(torch.full((k,), 7)) == pytest.approx(0.0, abs=1e-12)
    assert mode_entropy(torch.full((k,), 7)) == pytest.approx(math.log(k))


@pytest.mark.parametrize("k", [2, 8, 10, 25])
def test_kl_of_a_single_mode_is_log_k(k: int) -> None:
    hist = torch.zeros(k, dtype=torch.long)
    hist[k // 2] = 300
    assert kl_to_uniform(hist) == pytest.approx(math.log(k), rel=1e-12)
    assert mode_entropy(hist) == 0.0


def test_kl_to_uniform_hand_computed() -> None:
    """p = (1/2, 1/4, 1/4, 0): sum p log(4 p) = 1/2 log 2 + 2 * 1/4 log 1 = 0.5 ln 2."""
    assert kl_to_uniform(torch.tensor([2, 1, 1, 0])) == pytest.approx(0.5 * math.log(2), rel=1e-12)
    # counts or probabilities: only the shape of the histogram matters
    assert kl_to_uniform(torch.tensor([0.5, 0.25, 0.25, 0.0])) == pytest.approx(0.5 * math.log(2), rel=1e-12)
    # half the modes equally used: log K - log(K/2) = log 2
    assert kl_to_uniform(torch.tensor([5, 5, 5, 5, 0, 0, 0, 0])) == pytest.approx(math.log(2), rel=1e-12)


def test_kl_of_an_empty_histogram_is_nan() -> None:
    assert math.isnan(kl_to_uniform(torch.zeros(8)))
    assert math.isnan(kl_to_reference(torch.zeros(8), torch.ones(8)))
    assert math.isnan(mode_entropy(torch.zeros(3)))


def test_kl_to_a_uniform_reference_equals_kl_to_uniform() -> None:
    """Additive smoothing keeps a uniform reference uniform, so the two agree exactly."""
    hist = torch.tensor([30, 0, 12, 5, 0, 1, 1, 51])
    assert kl_to_reference(hist, torch.full((8,), 500)) == pytest.approx(kl_to_uniform(hist), rel=1e-12)


def test_kl_to_reference_hand_computed() -> None:
    """p = (1/2, 1/2, 0), q = (1/4, 1/4, 1/2) without smoothing: KL = ln 2; fakes' empty modes cost nothing."""
    p = torch.tensor([10, 10, 0])
    assert kl_to_reference(p, torch.tensor([1, 1, 2]), pseudo_count=0) == pytest.approx(math.log(2), rel=1e-12)
    assert kl_to_reference(torch.tensor([1, 1, 2]), torch.tensor([1, 1, 2]), pseudo_count=0) == pytest.approx(0.0, abs=1e-12)
    # smoothing a small reference moves it towards uniform: no longer exactly 0
    assert 0 < kl_to_reference(torch.tensor([1, 1, 2]), torch.tensor([1, 1, 2])) < 0.01


def test_kl_to_reference_smooths_empty_reference_modes() -> None:
    """A mode the reference never saw: infinite without smoothing, finite and large with it."""
    p = torch.tensor([50, 50, 0])
    ref = torch.tensor([100, 0, 100])
    assert kl_to_reference(p, ref, pseudo_count=0) == math.inf
    smoothed = kl_to_reference(p, ref)  # q = (100.5, 0.5, 100.5) / 201.5
    q = torch.tensor([100.5, 0.5, 100.5], dtype=torch.float64) / 201.5
    expected = 0.5 * math.log(0.5 / float(q[0])) + 0.5 * math.log(0.5 / float(q[1]))
    assert smoothed == pytest.approx(expected, rel=1e-12)
    assert 1.0 < smoothed < math.inf


def test_kl_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="modes"):
        kl_to_reference(torch.ones(3), torch.ones(4))
    with pytest.raises(ValueError, match="non-negative"):
        kl_to_uniform(torch.tensor([1, -1]))
    with pytest.raises(ValueError, match="empty"):
        kl_to_reference(torch.ones(3), torch.zeros(3), pseudo_count=0)
