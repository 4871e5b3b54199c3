"""Mode statistics from a classifier's verdicts: the MNIST stand-in for counting mixture modes.

    probs = classify(fake)[1]                 # ganlint.metrics.mnist_classifier
    class_statistics(probs)["kl_uniform"]     # 0 perfect, ln 10 = 2.30 a single digit

The class histogram counts every sample under its most likely class (argmax), confident or not, as in
the usual Stacked-MNIST and domain figures. A digit is *covered* when it holds more than MIN_SHARE of
the samples, so a stray sample does not count as a mode the generator draws; the raw count of digits
with at least one sample is reported beside it as `classes_present`.
"""

from __future__ import annotations

import math

import torch

from ganlint.metrics.modes import kl_to_reference, kl_to_uniform, mode_entropy

# A digit counts as covered above this share of the samples (2% of 2,000 is 40 samples; a uniform
# generator puts 10% in each). The figure used by ganlint's calibration runs (domain notes).
MIN_SHARE = 0.02
# A sample is "confident" when the classifier's top probability exceeds this. 96% of the real held-out
# digits are, with the shipped classifier.
CONFIDENT = 0.9


def class_histogram(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Counts per class (num_classes,) of integer labels."""
    return torch.bincount(labels.detach().reshape(-1).cpu(), minlength=num_classes)[:num_classes]


def classes_covered(hist: torch.Tensor, min_share: float = MIN_SHARE) -> int:
    """Classes holding more than `min_share` of all samples (0 for an empty histogram)."""
    total = int(hist.sum())
    return int((hist.double() / total > min_share).sum()) if total else 0


def class_statistics(
    probs: torch.Tensor,
    reference: torch.Tensor | None = None,
    realistic: torch.Tensor | None = None,
    min_share: float = MIN_SHARE,
    confident: float = CONFIDENT,
) -> dict[str, float | list[int]]:
    """Class-histogram statistics of a sample from its class probabilities.

    Args:
        probs: (N, C) class probabilities (rows sum to 1).
        reference: optional (C,) counts of the real classes; KL to it uses kl_to_reference's smoothing.
        realistic: optional (N,) booleans, e.g. PRDC's `fake_in_real_ball`; a sample must also be
            realistic to be high quality. Needed because a classifier is confident on inputs unlike
            any digit: the shipped one calls uniform noise an "8" with probability > 0.9.
        min_share: share above which a class is covered.
        confident: top probability above which a sample is confident.

    Returns:
        histogram (counts), kl_uniform (KL(p || uniform), nats), kl_reference (NaN without a reference),
        entropy (nats), classes_covered (> min_share), classes_present (> 0), confident (share with top
        probability > confident), high_quality (share both confident and realistic; = confident without
        `realistic`).
    """
    if probs.dim() != 2:
        raise ValueError(f"expected (N, C) probabilities, got shape {tuple(probs.shape)}")
    top, labels = probs.detach().max(dim=1)
    hist = class_histogram(labels, probs.shape[1])
    sure = top > confident
    good = sure if realistic is None else sure & realistic.to(sure.device).reshape(-1)
    return {
        "histogram": hist.tolist(),
        "kl_uniform": kl_to_uniform(hist),
        "kl_reference": kl_to_reference(hist, reference) if reference is not None else math.nan,
        "entropy": mode_entropy(hist),
        "classes_covered": classes_covered(hist, min_share),
        "classes_present": int((hist > 0).sum()),
        "confident": float(sure.float().mean()) if len(top) else math.nan,
        "high_quality": float(good.float().mean()) if len(top) else math.nan,
    }
