"""The Frechet distance between Gaussians against closed forms, and its numerical care."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganlint.metrics import feature_statistics, frechet_distance, frechet_distance_of_samples


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def random_cov(d: int, seed: int) -> np.ndarray:
    a = np.random.default_rng(seed).standard_normal((d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def test_identical_samples_give_zero() -> None:
    x = torch.randn(500, 16, generator=gen(0))
    assert frechet_distance_of_samples(x, x) == pytest.approx(0.0, abs=1e-8)
    mu, sigma = feature_statistics(x)
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-8)


def test_a_shift_with_equal_covariances_is_the_squared_shift() -> None:
    """With S1 = S2 = S, tr(S) + tr(S) - 2 tr((S S)^(1/2)) = 0, leaving ||mu1 - mu2||^2."""
    d = 8
    sigma = random_cov(d, 1)
    mu = np.random.default_rng(2).standard_normal(d)
    shift = np.arange(d) / 4
    assert frechet_distance(mu, sigma, mu + shift, sigma) == pytest.approx(float(shift @ shift), rel=1e-8)
    # the same from samples: a shifted copy has the same covariance exactly
    x = torch.randn(1000, d, generator=gen(3), dtype=torch.float64)
    c = torch.full((d,), 0.5, dtype=torch.float64)
    assert frechet_distance_of_samples(x + c, x) == pytest.approx(d * 0.25, rel=1e-8)


def test_diagonal_covariances_closed_form() -> None:
    """Commuting covariances: d^2 = ||dmu||^2 + sum (sqrt(a_i) - sqrt(b_i))^2."""
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 0.25])
    mu1, mu2 = np.zeros(3), np.array([1.0, 0.0, -2.0])
    expected = 5.0 + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-10)
    # symmetric in its two arguments
    assert frechet_distance(mu2, np.diag(b), mu1, np.diag(a)) == pytest.approx(expected, rel=1e-10)


def test_one_dimensional_case_is_w2_between_gaussians() -> None:
    """In 1D the Frechet distance is (m1 - m2)^2 + (s1 - s2)^2."""
    assert frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([3.0]), np.array([[1.0]])) == pytest.approx(5.0)
    assert frechet_distance(1.0, 4.0, 3.0, 1.0) == pytest.approx(5.0)  # scalars are promoted


def test_singular_covariances_stay_finite() -> None:
    """A collapsed sample (every row the same) has a zero covariance: S1 S2 is singular."""
    d = 10
    real = torch.randn(400, d, generator=gen(4), dtype=torch.float64)
    collapsed = real[:1].repeat(400, 1)
    mu_r, s_r = feature_statistics(real)
    mu_c, s_c = feature_statistics(collapsed)
    fd = frechet_distance(mu_c, s_c, mu_r, s_r)
    # = ||dmu||^2 + tr(S_r) when S_c = 0
    assert fd == pytest.approx(float(((mu_c - mu_r) ** 2).sum() + np.trace(s_r)), rel=1e-3)
    # rank-deficient on both sides (fewer samples than dimensions)
    few = frechet_distance_of_samples(real[:5], real[5:10])
    assert np.isfinite(few) and few > 0


def test_feature_statistics_and_shape_errors() -> None:
    x = torch.tensor([[0.0, 1.0], [2.0, 3.0], [4.0, 8.0]])
    mu, sigma = feature_statistics(x)
    assert mu.tolist() == [2.0, 4.0]
    assert sigma.tolist() == [[4.0, 7.0], [7.0, 13.0]]  # unbiased (n - 1)
    with pytest.raises(ValueError, match="at least 2"):
        feature_statistics(x[:1])
    with pytest.raises(ValueError, match="shapes"):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))


def test_a_failed_square_root_is_retried_with_eps_on_the_diagonal(monkeypatch: pytest.MonkeyPatch) -> None:
    from ganlint.metrics import frechet

    real_sqrtm = frechet.linalg.sqrtm
    seen: list[np.ndarray] = []

    def fails_once(a):
        seen.append(a)
        return np.full_like(a, np.nan) if len(seen) == 1 else real_sqrtm(a)

    monkeypatch.setattr(frechet.linalg, "sqrtm", fails_once)
    s1, s2 = np.diag([1.0, 4.0]), np.diag([4.0, 1.0])
    assert frechet_distance(np.zeros(2), s1, np.zeros(2), s2) == pytest.approx(2.0, abs=1e-5)
    assert len(seen) == 2
    np.testing.assert_allclose(seen[1], (s1 + 1e-6 * np.eye(2)) @ (s2 + 1e-6 * np.eye(2)))


def test_small_imaginary_parts_are_dropped_and_large_ones_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from ganlint.metrics import frechet

    real_sqrtm = frechet.linalg.sqrtm
    s1, s2 = np.diag([1.0, 4.0]), np.diag([4.0, 1.0])
    monkeypatch.setattr(frechet.linalg, "sqrtm", lambda a: real_sqrtm(a) + 1e-9j)
    assert frechet_distance(np.zeros(2), s1, np.zeros(2), s2) == pytest.approx(2.0, rel=1e-8)
    monkeypatch.setattr(frechet.linalg, "sqrtm", lambda a: real_sqrtm(a) + 0.1j)
    with pytest.raises(ValueError, match="imaginary"):
        frechet_distance(np.zeros(2), s1, np.zeros(2), s2)
