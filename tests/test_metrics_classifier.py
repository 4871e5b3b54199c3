"""The shipped MNIST classifier and the class-histogram and feature-space metrics built on it."""

from __future__ import annotations

import hashlib
import math

import pytest
import torch

from ganlint.metrics import class_statistics, classes_covered, frechet_distance_of_samples, prdc
from ganlint.metrics.mnist_classifier import (
    WEIGHTS_FILE,
    _asset,
    classifier_info,
    classify,
    features,
    load_classifier,
    predict,
    split_indices,
)


@pytest.fixture(scope="module")
def digits(shipped_mnist):
    """The shipped digits in [-1, 1] as the trainer sees them, the classifier's split, and its verdicts."""
    images, labels = shipped_mnist
    x = images.float().div(127.5).sub(1.0).unsqueeze(1)
    split = classifier_info()["split"]
    train, heldout = split_indices(len(x), split["seed"], split["train"], split["heldout"])
    feats, probs = classify(x)
    return {"x": x, "y": labels, "train": train, "heldout": heldout, "feats": feats, "probs": probs}


def test_the_record_describes_the_shipped_weights() -> None:
    info = classifier_info()
    data = _asset(WEIGHTS_FILE).read_bytes()
    assert len(data) < 1_000_000
    assert hashlib.sha256(data).hexdigest() == info["weights_sha256"]
    assert info["heldout_accuracy"] >= 0.97
    assert info["split"] == {**info["split"], "seed": 0, "train": 4000, "heldout": 1000, "total": 5000}
    for key in ("data_source", "torch_version", "date", "training", "architecture"):
        assert info[key], key


def test_heldout_accuracy_is_at_least_97_percent(digits) -> None:
    """Recomputed here on the record's held-out digits, which the classifier never trained on."""
    ho = digits["heldout"]
    acc = (digits["probs"][ho].argmax(1) == digits["y"][ho]).float().mean().item()
    assert acc >= 0.97
    assert acc == pytest.approx(classifier_info()["heldout_accuracy"], abs=1e-3)
    assert set(digits["train"].tolist()).isdisjoint(ho.tolist())


def test_class_histogram_of_real_digits_is_near_uniform(digits) -> None:
    stats = class_statistics(digits["probs"][digits["heldout"]])
    assert stats["kl_uniform"] < 0.01  # single digit: ln 10 = 2.30
    assert stats["classes_covered"] == stats["classes_present"] == 10
    assert stats["entropy"] == pytest.approx(math.log(10), abs=0.01)
    assert stats["confident"] > 0.9


def test_frechet_distance_of_real_heldout_vs_train_digits_is_small(digits) -> None:
    """Real vs real is small; dropping half the digits is ~100x further."""
    f, y = digits["feats"], digits["y"]
    real = frechet_distance_of_samples(f[digits["heldout"]], f[digits["train"]])
    half = frechet_distance_of_samples(f[y < 5], f[digits["train"]])
    one = frechet_distance_of_samples(f[y == 1], f[digits["train"]])
    assert real < 20
    assert half > 10 * real
    assert one > half


def test_prdc_in_feature_space_separates_real_from_collapsed(digits) -> None:
    f, y, tr, ho = digits["feats"], digits["y"], digits["train"], digits["heldout"]
    real = prdc(f[ho], f[tr[:1000]])
    assert real["coverage"] > 0.9 and real["precision"] > 0.9 and real["density"] == pytest.approx(1, abs=0.15)
    ones = prdc(f[y == 1], f[tr[:1000]])
    assert ones["precision"] > 0.9 and ones["coverage"] < 0.2 and ones["recall"] < 0.3


def test_noise_is_confidently_classified_but_not_realistic(digits) -> None:
    """Why high quality also asks for realism: the classifier calls uniform noise a digit with p > 0.9."""
    noise = torch.rand(500, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    f, p = classify(noise)
    realistic = prdc(f, digits["feats"][digits["train"][:1000]], per_sample=True)["fake_in_real_ball"]
    stats = class_statistics(p, realistic=realistic)
    assert stats["high_quality"] == 0.0
    assert stats["high_quality"] <= stats["confident"]


def test_class_statistics_hand_made() -> None:
    probs = torch.zeros(100, 10)
    probs[:, 3] = 1.0
    stats = class_statistics(probs)
    assert stats["histogram"] == [0, 0, 0, 100, 0, 0, 0, 0, 0, 0]
    assert stats["kl_uniform"] == pytest.approx(math.log(10))
    assert stats["classes_covered"] == stats["classes_present"] == 1
    assert stats["entropy"] == 0.0 and stats["high_quality"] == 1.0
    assert math.isnan(stats["kl_reference"])
    # 2% rule: 1 of 100 samples (1%) is present but not covered; 3 of 100 is covered
    labels = torch.tensor([0] * 96 + [1] + [2] * 3)
    probs = torch.nn.functional.one_hot(labels, 10).float() * 0.8 + 0.02
    stats = class_statistics(probs, reference=torch.full((10,), 50))
    assert stats["classes_present"] == 3 and stats["classes_covered"] == 2
    assert stats["kl_reference"] == pytest.approx(stats["kl_uniform"], rel=1e-12)
    assert stats["confident"] == 0.0  # top probability 0.82
    assert classes_covered(torch.zeros(10)) == 0


def test_features_and_predict_api(digits) -> None:
    x = digits["x"][:7]
    assert features(x).shape == (7, 64) and predict(x).shape == (7,)
    assert torch.equal(predict(x.reshape(7, 784)), predict(x))  # flat rows are images too
    assert torch.equal(predict(x), digits["probs"][:7].argmax(1))
    assert load_classifier() is load_classifier("cpu")  # cached per device
    assert not load_classifier().training
    assert not any(p.requires_grad for p in load_classifier().parameters())
    f, p = classify(x[:0])
    assert f.shape == (0, 64) and p.shape == (0, 10)
    with pytest.raises(ValueError, match="28, 28"):
        predict(torch.zeros(3, 2, 2))
