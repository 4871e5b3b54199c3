"""The periodic evaluation: every column, per dataset, on real samples and on collapsed ones."""

from __future__ import annotations

import math

import pytest
import torch

from ganlint.data import ReviewsDataset, get_dataset
from ganlint.data.mnist import mnist
from ganlint.data.toy import grid25, ring8
from ganlint.metrics import frechet_distance_of_samples
from ganlint.metrics.mnist_classifier import features
from ganlint.training.evaluation import _real_cache, distance_to_real, evaluate, mode_reference
from ganlint.training.telemetry import EVAL_COLUMNS


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def digits(shipped_mnist):
    """The mnist dataset as the trainer builds it (the shipped digits served from the session cache)."""
    with pytest.MonkeyPatch.context() as mp:
        import importlib

        mnist_mod = importlib.import_module("ganlint.data.mnist")
        images, labels = shipped_mnist
        mp.setattr(mnist_mod, "_read_shipped", lambda: (images.clone(), labels.clone()))
        return mnist(None, quiet=True)


@pytest.mark.parametrize("name", ["gaussian1d", "ring8", "grid25", "reviews"])
def test_real_against_real_is_healthy(name: str) -> None:
    ds = get_dataset(name)
    out = evaluate(ds.sample(2000, gen(1)), ds.sample(2000, gen(2)), ds)  # the trainer's eval_samples
    assert tuple(out) == EVAL_COLUMNS
    assert out["modes_covered"] == ds.num_modes
    assert out["mode_kl"] < 0.02
    assert out["precision"] > 0.9 and out["recall"] > 0.9
    # PRDC's same-distribution values (k = 5); the reviews' one-hot rows tie at equal distances, a bit lower
    assert out["coverage"] == pytest.approx(0.97, abs=0.03 if name != "reviews" else 0.05)
    assert out["density"] == pytest.approx(1.0, abs=0.1 if name != "reviews" else 0.15)
    if name == "reviews":
        assert out["category_coverage"] >= 0.96  # a rare product (~5 of 2,000) can fall short by chance
    else:
        assert math.isnan(out["category_coverage"])


def test_collapsed_ring_keeps_precision_and_loses_coverage() -> None:
    ds = ring8()
    real = ds.sample(1000, gen(3))
    fake = ds.centres[0] + ds.std * torch.randn(1000, 2, generator=gen(4))
    out = evaluate(fake, real, ds)
    assert out["modes_covered"] == 1.0
    assert out["mode_kl"] == pytest.approx(math.log(8), rel=1e-9)
    assert out["precision"] > 0.9
    assert out["coverage"] < 0.2 and out["recall"] < 0.2


def test_mode_kl_counts_only_samples_that_belong_to_a_mode() -> None:
    """Half the fakes on 5 grid modes, half far from any: KL over the 5 used modes = log(25 / 5)."""
    ds = grid25()
    real = ds.sample(1000, gen(5))
    on = ds.centres[torch.arange(500) % 5]
    off = torch.full((500, 2), 1.0)  # midway between centres: no mode
    out = evaluate(torch.cat([on, off]), real, ds)
    assert out["high_quality"] == 0.5
    assert out["mode_kl"] == pytest.approx(math.log(5), rel=1e-9)
    # nothing in any mode: the KL is undefined
    assert math.isnan(evaluate(off, real, ds)["mode_kl"])


def test_reviews_collapse_shows_in_category_coverage_and_mode_kl() -> None:
    ds = ReviewsDataset()
    real = ds.sample(1000, gen(6))
    fake = real[real[:, 50:55].argmax(1) == 4][:1].repeat(1000, 1)  # one 5-star row, again and again
    out = evaluate(fake, real, ds)
    assert out["category_coverage"] <= 1 / 5
    assert out["modes_covered"] == 1.0
    assert out["mode_kl"] > 0.6  # one cluster of shares 0.5 / 0.3 / 0.2: at least ln 2
    assert out["coverage"] < 0.05


def test_mode_reference_is_uniform_for_mixtures_and_label_counts_for_tables(digits) -> None:
    assert mode_reference(ring8()) is None
    reviews = ReviewsDataset()
    ref = mode_reference(reviews)
    assert ref.tolist() == torch.bincount(reviews.labels, minlength=3).tolist()
    assert mode_reference(digits).tolist() == [500] * 10


def test_mnist_real_against_real_is_healthy(digits) -> None:
    real, other = digits.sample(1000, gen(7)), digits.sample(1000, gen(8))
    out = evaluate(real, other, digits)
    assert out["distance"] == pytest.approx(frechet_distance_of_samples(features(real), features(other)))
    assert out["distance"] < 25
    assert out["modes_covered"] == 10.0
    assert out["mode_kl"] < 0.02
    assert out["high_quality"] > 0.85
    assert out["coverage"] > 0.9 and out["precision"] > 0.9
    assert math.isnan(out["category_coverage"])


def test_mnist_single_digit_and_noise(digits) -> None:
    real = digits.sample(1000, gen(9))
    ones = digits.data[digits.labels == 1][:500]
    out = evaluate(ones, real, digits)
    assert out["modes_covered"] == 1.0
    assert out["mode_kl"] > 2.0  # ln 10 = 2.30 if every "1" were read as a 1
    assert out["precision"] > 0.9 and out["coverage"] < 0.2
    assert out["distance"] > 500
    noise = torch.rand(500, 1, 28, 28, generator=gen(10)) * 2 - 1
    out = evaluate(noise, real, digits)
    assert out["high_quality"] == 0.0 and out["precision"] == 0.0


def test_the_real_side_cache_never_serves_a_changed_batch(digits) -> None:
    real = digits.sample(300, gen(11))
    fake = digits.sample(300, gen(12))
    first = evaluate(fake, real, digits)
    assert _real_cache["classify"][0]() is real and _real_cache["pairwise"][0]() is real
    assert evaluate(fake, real, digits) == first
    real[:150] = -1.0  # in place: half the reals become blank images
    changed = evaluate(fake, real, digits)
    assert changed["distance"] != first["distance"] and changed["diversity"] != first["diversity"]
    assert evaluate(fake, real.clone(), digits)["distance"] == pytest.approx(distance_to_real(fake, real, digits))


def test_non_finite_fakes_give_nan_everywhere(digits) -> None:
    for ds in (ring8(), digits):
        fake = torch.full((10, *ds.shape), float("nan"))
        out = evaluate(fake, ds.sample(10, gen(0)), ds)
        assert tuple(out) == EVAL_COLUMNS and all(math.isnan(v) for v in out.values())


def test_tiny_samples_leave_prdc_nan() -> None:
    ds = ring8()
    out = evaluate(ds.sample(5, gen(1)), ds.sample(5, gen(2)), ds)
    assert all(math.isnan(out[c]) for c in ("precision", "recall", "density", "coverage"))
    assert math.isfinite(out["distance"])
