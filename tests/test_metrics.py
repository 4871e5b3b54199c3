"""Metrics against answers known from their definitions."""

from __future__ import annotations

import math

import pytest
import torch

from ganlint.data import ReviewsDataset
from ganlint.data.toy import gaussian1d, ring8
from ganlint.metrics import (
    column_js,
    diversity_ratio,
    high_quality_fraction,
    mean_pairwise_distance,
    mode_histogram,
    modes_covered,
    sliced_wasserstein,
    wasserstein1d,
)
from ganlint.training.evaluation import distance_to_real, evaluate
from ganlint.training.telemetry import EVAL_COLUMNS


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# -- Wasserstein-1 in 1D --------------------------------------------------------------------------------------


def test_wasserstein1d_of_a_shift_is_the_shift() -> None:
    """W1(P, P shifted by c) = |c|; two independent N(0,1) samples of 20k differ by O(1/sqrt(n))."""
    n = 20_000
    a = torch.randn(n, generator=gen(0))
    b = torch.randn(n, generator=gen(1)) + 0.5
    assert wasserstein1d(a, b) == pytest.approx(0.5, abs=0.03)
    # exact for a shifted copy of the same sample
    assert wasserstein1d(a, a + 0.5) == pytest.approx(0.5, abs=1e-6)
    assert wasserstein1d(a, a) == 0.0


def test_wasserstein1d_hand_computed() -> None:
    """Sorted {0, 1} vs {2, 5}: mean gap (2 + 4) / 2 = 3; it is symmetric and flattens any shape."""
    assert wasserstein1d(torch.tensor([1.0, 0.0]), torch.tensor([5.0, 2.0])) == pytest.approx(3.0)
    assert wasserstein1d(torch.tensor([[5.0], [2.0]]), torch.tensor([[1.0], [0.0]])) == pytest.approx(3.0)


# -- sliced Wasserstein ------------------------------------------------------------------------------------------


def test_sliced_wasserstein_of_identical_samples_is_zero() -> None:
    x = torch.randn(500, 2, generator=gen(2))
    assert sliced_wasserstein(x, x) == 0.0
    assert sliced_wasserstein(x, x[torch.randperm(500, generator=gen(3))]) == pytest.approx(0.0, abs=1e-6)


def test_sliced_wasserstein_of_a_shift_is_positive_and_grows() -> None:
    """For a shift c along a fixed direction e, each projection's W1 is |c e.theta|: linear in c."""
    x = torch.randn(1000, 2, generator=gen(4))
    e = torch.tensor([1.0, 0.0])
    values = [sliced_wasserstein(x + c * e, x) for c in (0.1, 0.5, 1.0, 2.0)]
    assert all(v > 0 for v in values)
    assert values == sorted(values)
    for c, v in zip((0.1, 0.5, 1.0, 2.0), values, strict=True):
        assert v == pytest.approx(values[2] * c, rel=1e-4)
    # E|theta_1| over unit directions in 2D is 2/pi; 128 directions get within a few percent
    assert values[2] == pytest.approx(2 / math.pi, rel=0.1)


def test_sliced_wasserstein_is_deterministic_and_handles_unequal_sizes() -> None:
    x = torch.randn(300, 5, generator=gen(5))
    y = torch.randn(200, 5, generator=gen(6))
    assert sliced_wasserstein(x, y) == sliced_wasserstein(x, y)
    assert sliced_wasserstein(x, y) == pytest.approx(sliced_wasserstein(x[:200], y))
    assert sliced_wasserstein(x.reshape(300, 1, 5), y) == pytest.approx(sliced_wasserstein(x, y))


# -- diversity --------------------------------------------------------------------------------------------------


def test_mean_pairwise_distance_hand_computed() -> None:
    """Points 0, 3, 4 on a line: pairs 3, 4, 1 -> mean 8/3."""
    x = torch.tensor([[0.0, 0.0], [3.0, 0.0], [4.0, 0.0]])
    assert mean_pairwise_distance(x) == pytest.approx(8 / 3)
    assert math.isnan(mean_pairwise_distance(x[:1]))


def test_diversity_ratio_is_about_one_for_the_same_distribution() -> None:
    ds = ring8()
    a = ds.sample(1000, gen(7))
    b = ds.sample(1000, gen(8))
    assert diversity_ratio(a, b) == pytest.approx(1.0, abs=0.05)


def test_diversity_ratio_is_zero_for_a_collapsed_sample() -> None:
    ds = ring8()
    real = ds.sample(500, gen(9))
    collapsed = ds.centres[3].expand(500, 2).clone()
    assert diversity_ratio(collapsed, real) == 0.0
    # one mode with its own noise: far below 1
    one_mode = ds.centres[3] + 0.02 * torch.randn(500, 2, generator=gen(10))
    assert diversity_ratio(one_mode, real) < 0.05


def test_diversity_ratio_is_scale_free() -> None:
    a = torch.randn(400, 3, generator=gen(11))
    b = torch.randn(400, 3, generator=gen(12))
    assert diversity_ratio(2 * a, b) == pytest.approx(2 * diversity_ratio(a, b), rel=1e-5)
    assert diversity_ratio(7 * a, 7 * b) == pytest.approx(diversity_ratio(a, b), rel=1e-5)


def test_diversity_ratio_against_constant_reals_is_nan() -> None:
    assert math.isnan(diversity_ratio(torch.randn(10, 2), torch.ones(10, 2)))


# -- modes ------------------------------------------------------------------------------------------------------


def test_mode_histogram_and_coverage_on_hand_made_indices() -> None:
    idx = torch.tensor([0, 0, 2, -1, 2, 2, 5, -1])
    assert mode_histogram(idx, 8).tolist() == [2, 0, 3, 0, 0, 1, 0, 0]
    assert modes_covered(idx, 8) == 3
    assert high_quality_fraction(idx) == pytest.approx(6 / 8)


def test_modes_edge_cases() -> None:
    none = torch.full((5,), -1)
    assert mode_histogram(none, 4).tolist() == [0, 0, 0, 0]
    assert modes_covered(none, 4) == 0
    assert high_quality_fraction(none) == 0.0
    assert math.isnan(high_quality_fraction(torch.empty(0, dtype=torch.long)))
    assert modes_covered(torch.arange(25), 25) == 25


# -- column JS ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reviews() -> ReviewsDataset:
    return ReviewsDataset()


def test_column_js_of_identical_tables_is_zero(reviews: ReviewsDataset) -> None:
    x = reviews.data[:2000]
    js = column_js(x, x, reviews.blocks())
    assert set(js) == {"product_id", "rating", "cluster", "review_length"}
    for v in js.values():
        assert v == pytest.approx(0.0, abs=1e-12)


def test_column_js_of_a_single_product_table(reviews: ReviewsDataset) -> None:
    """A table that only has product 0: the product column diverges, the others do not change."""
    real = reviews.data[:2000]
    fake = real.clone()
    fake[:, :50] = 0.0
    fake[:, 0] = 1.0
    js = column_js(fake, real, reviews.blocks())
    assert js["product_id"] > 0.3
    assert js["rating"] == pytest.approx(0.0, abs=1e-12)
    assert js["cluster"] == pytest.approx(0.0, abs=1e-12)
    # JS (base 2) of a point mass at k against p: with m = (p + e_k)/2, computed by hand
    p = torch.bincount(real[:, :50].argmax(1), minlength=50).double()
    p = p / p.sum()
    q = torch.zeros(50, dtype=torch.float64)
    q[0] = 1.0
    m = (p + q) / 2

    def kl(a, b):
        mask = a > 0
        return float((a[mask] * torch.log2(a[mask] / b[mask])).sum())

    assert js["product_id"] == pytest.approx(0.5 * kl(p, m) + 0.5 * kl(q, m), rel=1e-9)


def test_column_js_is_within_zero_one_and_detects_numeric_shift(reviews: ReviewsDataset) -> None:
    real = reviews.data[:2000]
    fake = real.clone()
    fake[:, 58] += 10.0  # every generated length far beyond the real range: all in the last bin
    js = column_js(fake, real, reviews.blocks())
    assert 0.0 < js["review_length"] <= 1.0
    # the last of 20 quantile bins holds ~5% of the reals: JS of a point mass on a 1/20 bin
    # m = (p + q) / 2: KL(p||m) = (1 - p_l) + p_l log2(2 p_l / (p_l + 1)), KL(q||m) = log2(2 / (p_l + 1))
    p_l = 1 / 20
    kl_p = (1 - p_l) + p_l * math.log2(2 * p_l / (p_l + 1))
    kl_q = math.log2(2 / (p_l + 1))
    expected = 0.5 * (kl_p + kl_q)
    assert js["review_length"] == pytest.approx(expected, abs=0.02)


# -- the evaluation ----------------------------------------------------------------------------------------------


def test_evaluate_real_against_real_is_healthy() -> None:
    ds = ring8()
    a, b = ds.sample(1000, gen(13)), ds.sample(1000, gen(14))
    out = evaluate(a, b, ds)
    assert tuple(out) == EVAL_COLUMNS  # the new columns are tested in test_metrics_evaluation.py
    assert out["distance"] < 0.1
    assert out["diversity"] == pytest.approx(1.0, abs=0.05)
    assert out["modes_covered"] == 8.0
    assert out["high_quality"] == pytest.approx(1 - math.exp(-4.5), abs=0.02)


def test_evaluate_collapsed_sample() -> None:
    ds = ring8()
    real = ds.sample(1000, gen(15))
    fake = ds.centres[0] + 0.02 * torch.randn(1000, 2, generator=gen(16))
    out = evaluate(fake, real, ds)
    assert out["modes_covered"] == 1.0
    assert out["diversity"] < 0.05
    assert out["distance"] > 0.5


def test_evaluate_non_finite_fakes_gives_nan() -> None:
    ds = gaussian1d()
    fake = torch.full((10, 1), float("nan"))
    out = evaluate(fake, ds.sample(10, gen(0)), ds)
    assert all(math.isnan(v) for v in out.values())


def test_distance_uses_the_datasets_kind(reviews: ReviewsDataset) -> None:
    g1 = gaussian1d()
    a, b = g1.sample(500, gen(1)), g1.sample(500, gen(2))
    assert distance_to_real(a, b, g1) == wasserstein1d(a, b)
    r8 = ring8()
    a, b = r8.sample(500, gen(1)), r8.sample(500, gen(2))
    assert distance_to_real(a, b, r8) == sliced_wasserstein(a, b)
    x, y = reviews.data[:500], reviews.data[500:1000]
    per = column_js(x, y, reviews.blocks())
    assert distance_to_real(x, y, reviews) == pytest.approx(sum(per.values()) / 4)
