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


# --- Bringing images to the MNIST classifier's input -------------------------------------------------
# The one home for "can the shipped MNIST classifier read these images, and how": `ganlint check`
# (G's samples, and real data at another size) and the Monitor use it, through ganlint.training.evaluation's
# classifier pass. GAN scripts train on MNIST at other sizes (pytorch/examples dcgan: --imageSize 64,
# transforms.Resize; sometimes 3 channels), so their samples are brought back to 1x28x28:
#   * channels averaged to grey (an RGB rendering of a grey digit has three equal channels);
#   * resized to 28x28 by bilinear interpolation with antialiasing, the filter torchvision's
#     transforms.Resize applies (antialias=True): the transform that made the 64 px training images from
#     the 28 px digits, so resizing back approximately inverts it. Plain bilinear without antialiasing
#     skips pixels on a 64 -> 28 downscale (aliasing: thin strokes break up); "area" averages too, but
#     with uneven windows for a non-integer factor such as 64/28.
MNIST_INPUT = (1, 28, 28)
MNIST_SIDE = 28
# Square-ish only: the classifier has no notion of aspect ratio, so a wider image would be squeezed
# and its digits distorted. 1.25 admits the odd crop (e.g. 32x28) and refuses landscape frames.
MAX_ASPECT = 1.25


def mnist_input_problem(shape: tuple[int, ...]) -> str | None:
    """None when images of per-sample `shape` ((C, H, W), or (H, W) for grey) can be brought to the MNIST
    classifier's input by to_mnist_input; else why not, as one phrase."""
    shape = tuple(int(s) for s in shape)
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3:
        return f"shape {shape} is not an image (C, H, W)"
    c, h, w = shape
    if c not in (1, 3):
        return f"{c} channels (the MNIST classifier reads grey or RGB images)"
    if min(h, w) < MNIST_SIDE:
        return f"{h}x{w} is smaller than MNIST's 28x28 (upscaling would invent detail)"
    if max(h, w) / min(h, w) > MAX_ASPECT:
        return f"{h}x{w} is not square (the classifier would read squeezed digits)"
    return None


def to_mnist_input(x: torch.Tensor) -> torch.Tensor:
    """Images (N, C, H, W) or (N, H, W), C in {1, 3}, H and W >= 28, in [-1, 1], as the MNIST classifier
    reads them: (N, 1, 28, 28), channels averaged, resized with antialiased bilinear interpolation (see
    above). 1x28x28 images come back unchanged (the same tensor)."""
    if x.dim() == 3:
        x = x.unsqueeze(1)
    problem = mnist_input_problem(tuple(x.shape[1:]))
    if problem is not None:
        raise ValueError(f"cannot bring images to the MNIST classifier's input: {problem}")
    if tuple(x.shape[1:]) == MNIST_INPUT:
        return x
    x = x.float()
    if x.shape[1] != 1:
        x = x.mean(dim=1, keepdim=True)
    if tuple(x.shape[2:]) != (MNIST_SIDE, MNIST_SIDE):
        x = torch.nn.functional.interpolate(x, size=(MNIST_SIDE, MNIST_SIDE), mode="bilinear", antialias=True,
                                            align_corners=False)
    return x


def from_mnist_input(x: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """MNIST digits (N, 1, 28, 28) brought to a generator's per-sample `shape` (C, H, W) as the training
    script's transforms did (torchvision Resize: antialiased bilinear; grey repeated over C channels), so D
    can be read on real digits at the size it was trained on."""
    c, h, w = shape
    if (h, w) != (x.shape[-2], x.shape[-1]):
        x = torch.nn.functional.interpolate(x.float(), size=(h, w), mode="bilinear", antialias=True,
                                            align_corners=False)
    return x.expand(len(x), c, h, w).contiguous() if c != x.shape[1] else x


def describe_resize(shape: tuple[int, ...]) -> str | None:
    """What to_mnist_input does to images of `shape`, for the notes; None when nothing."""
    shape = tuple(shape) if len(shape) == 3 else (1, *shape)
    if shape == MNIST_INPUT:
        return None
    c, h, w = shape
    steps = (["channels averaged to grey"] if c != 1 else []) + (
        ["resized to 28x28 (antialiased bilinear, as torchvision's Resize)"] if (h, w) != (28, 28) else [])
    return f"samples {c}x{h}x{w} {' and '.join(steps)} for the MNIST classifier"


# Real images of another size count as MNIST digits when the classifier is sure (top probability above
# CONFIDENT) of at least this share of them and they spread over at least DIGIT_CLASSES digits. Real MNIST
# scores 0.96 and covers all ten; the classifier is sure of uniform noise too (it calls it an "8"), but
# always of the same one or two classes, which the spread rule refuses (measured values in
# looks_like_digits' docstring).
DIGITS_CONFIDENT = 0.8
DIGIT_CLASSES = 8


def looks_like_digits(x: torch.Tensor, n: int = 1000) -> tuple[bool, float, int]:
    """(verdict, confident share, classes covered) of the classifier on the first n images of x (any size
    to_mnist_input takes). Measured: MNIST at 28 and resized to 64 px: 0.96 confident, 10 classes;
    uniform or Gaussian pixel noise, blurred noise, constant images: at most 3 classes."""
    from ganlint.metrics.mnist_classifier import classify

    with torch.no_grad():
        probs = classify(to_mnist_input(x[:n]))[1]
    stats = class_statistics(probs)
    share, covered = float(stats["confident"]), int(stats["classes_covered"])
    return share >= DIGITS_CONFIDENT and covered >= DIGIT_CLASSES, share, covered
