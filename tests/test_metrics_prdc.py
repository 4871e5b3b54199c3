"""Precision, recall, density and coverage: exactly equal to a slow reference, and their known behaviour."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganlint.metrics import knn_radii, prdc


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def reference_prdc(fake: torch.Tensor, real: torch.Tensor, k: int) -> dict[str, float]:
    """Naeem et al. 2020 written out with loops over points: slow and obviously correct."""
    f, r = fake.double().numpy(), real.double().numpy()

    def dist(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.sqrt(((a - b) ** 2).sum()))

    def radii(x: np.ndarray) -> list[float]:  # distance to the k-th nearest *other* point
        return [sorted(dist(x[i], x[j]) for j in range(len(x)) if j != i)[k - 1] for i in range(len(x))]

    rr, fr = radii(r), radii(f)
    precision = sum(any(dist(fi, r[j]) < rr[j] for j in range(len(r))) for fi in f)
    recall = sum(any(dist(rj, f[i]) < fr[i] for i in range(len(f))) for rj in r)
    density = sum(sum(dist(fi, r[j]) < rr[j] for j in range(len(r))) for fi in f)
    coverage = sum(min(dist(r[j], fi) for fi in f) < rr[j] for j in range(len(r)))
    return {"precision": precision / len(f), "recall": recall / len(r),
            "density": density / (k * len(f)), "coverage": coverage / len(r)}


@pytest.mark.parametrize(("m", "n", "d", "k", "seed"), [
    (30, 40, 1, 5, 0),
    (40, 30, 2, 5, 1),
    (35, 35, 5, 3, 2),
    (25, 45, 20, 5, 3),  # above DIRECT_MAX_DIM: the matrix-product distances
    (30, 30, 3, 1, 4),
])
def test_prdc_equals_the_reference_exactly(m: int, n: int, d: int, k: int, seed: int) -> None:
    fake = torch.randn(m, d, generator=gen(seed), dtype=torch.float64) * 1.3 + 0.4
    real = torch.randn(n, d, generator=gen(seed + 100), dtype=torch.float64)
    expected = reference_prdc(fake, real, k)
    assert prdc(fake, real, k=k) == expected
    # blocks of a few rows at a time: the chunked loop gives the very same answer
    assert prdc(fake, real, k=k, block_elems=3 * max(m, n)) == expected


def test_prdc_per_sample_masks_agree_with_the_rates() -> None:
    fake = torch.randn(50, 2, generator=gen(5), dtype=torch.float64)
    real = torch.randn(60, 2, generator=gen(6), dtype=torch.float64)
    out = prdc(fake, real, per_sample=True)
    assert out["fake_in_real_ball"].shape == (50,) and out["real_covered"].shape == (60,)
    assert out["fake_in_real_ball"].double().mean().item() == pytest.approx(out["precision"])
    assert out["real_covered"].double().mean().item() == pytest.approx(out["coverage"])


def test_knn_radii_hand_computed() -> None:
    """Points 0, 1, 3, 7 on a line: 1st neighbours at 1, 1, 2, 4; 2nd at 3, 2, 3, 6."""
    x = torch.tensor([[0.0], [1.0], [3.0], [7.0]], dtype=torch.float64)
    assert knn_radii(x, k=1).tolist() == [1.0, 1.0, 2.0, 4.0]
    assert knn_radii(x, k=2).tolist() == [3.0, 2.0, 3.0, 6.0]
    with pytest.raises(ValueError, match="more than 4"):
        knn_radii(x, k=4)


def test_same_distribution_gives_coverage_097_and_density_1() -> None:
    """Naeem et al.: for two samples of one distribution, E[coverage] = 1 - 1/2^k ~ 0.97 at k = 5, E[density] = 1."""
    real = torch.randn(2000, 2, generator=gen(7))
    fake = torch.randn(2000, 2, generator=gen(8))
    out = prdc(fake, real)
    assert out["coverage"] == pytest.approx(0.97, abs=0.02)
    assert out["density"] == pytest.approx(1.0, abs=0.08)
    assert out["precision"] > 0.9 and out["recall"] > 0.9


def test_same_distribution_far_from_the_origin_in_float32() -> None:
    """Close neighbours at a large offset: float32 matrix-product distances would cancel (see prdc.py)."""
    real = 2.0 + 0.2 * torch.randn(2000, 1, generator=gen(9))
    fake = 2.0 + 0.2 * torch.randn(2000, 1, generator=gen(10))
    out32 = prdc(fake, real)
    out64 = prdc(fake.double(), real.double())
    assert out32["coverage"] == pytest.approx(out64["coverage"], abs=0.005)
    assert out32["density"] == pytest.approx(out64["density"], abs=0.01)
    assert out32["coverage"] > 0.93


def test_collapsed_sample_has_high_precision_and_low_recall_and_coverage() -> None:
    """A generator that draws 3 real points (with tiny noise): realistic, but it covers almost nothing."""
    real = torch.randn(1000, 2, generator=gen(11))
    fake = real[:3].repeat(300, 1) + 1e-3 * torch.randn(900, 2, generator=gen(12))
    out = prdc(fake, real)
    assert out["precision"] == 1.0
    # each of the 3 spots lies in its own real point's ball and, on average, in k others': ~3 (k + 1) / N
    assert out["recall"] < 0.04
    assert out["coverage"] < 0.04
    assert out["density"] > 1.0  # each fake sits inside its real point's own ball and its neighbours'


def test_disjoint_samples_score_zero() -> None:
    real = torch.randn(200, 3, generator=gen(13))
    out = prdc(real + 100.0, real)
    assert out == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_prdc_flattens_images_and_rejects_too_few_points() -> None:
    x = torch.randn(20, 1, 4, 4, generator=gen(14))
    y = torch.randn(20, 16, generator=gen(15))
    assert prdc(x, y) == prdc(x.reshape(20, 16), y)
    with pytest.raises(ValueError, match="more than 5"):
        prdc(x[:5], y)
    with pytest.raises(ValueError, match="features"):
        prdc(torch.randn(20, 3), torch.randn(20, 4))
