"""The small MNIST digit classifier that judges generated digits (ganlint's stand-in for Inception).

    from ganlint.metrics.mnist_classifier import classify, predict
    labels = predict(images)          # images (N, 1, 28, 28) in [-1, 1], on any device
    feats, probs = classify(images)   # (N, 64) features and (N, 10) class probabilities

No Inception weights can be downloaded, so ganlint ships its own judge: two 3x3 conv layers (16 and 32
channels, each followed by ReLU and 2x2 max pooling), a 64-d feature layer and a linear head over 10
digits; about 106k parameters. `scripts/train_mnist_classifier.py` trains it on the MNIST the trainer
loads and writes the weights and a JSON record (held-out accuracy, split, seed, versions) to
`ganlint/assets/`, which ship with the package. Nothing is ever downloaded.

The features are the 64-d layer *before* its ReLU: the pre-activations have no dead (always zero)
dimensions, so their covariance is well conditioned for the Frechet distance, and they carry everything
the head sees.
"""

from __future__ import annotations

import functools
import json
import math
from importlib import resources
from typing import Any

import torch
from torch import nn

WEIGHTS_FILE = "mnist_classifier.safetensors"
META_FILE = "mnist_classifier.json"
NUM_CLASSES = 10
FEATURE_DIM = 64
# Images per forward pass: bounds memory (the first conv's output is 50 KB per image) on any device.
CHUNK = 1000


class MnistClassifier(nn.Module):
    """conv(16) -> pool -> conv(32) -> pool -> linear(64) = features -> ReLU -> dropout -> linear(10)."""

    def __init__(self, channels: tuple[int, int] = (16, 32), feature_dim: int = FEATURE_DIM,
                 num_classes: int = NUM_CLASSES, dropout: float = 0.25) -> None:
        super().__init__()
        c1, c2 = channels
        self.arch = {"channels": [c1, c2], "feature_dim": feature_dim, "num_classes": num_classes, "dropout": dropout}
        self.conv = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 28 -> 14
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 14 -> 7
            nn.Flatten(),
        )
        self.feature = nn.Linear(c2 * 7 * 7, feature_dim)
        self.head = nn.Sequential(nn.ReLU(), nn.Dropout(dropout), nn.Linear(feature_dim, num_classes))

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.feature(self.conv(x))
        return h, self.head(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features_and_logits(x)[1]


def split_indices(n: int, seed: int, train: int, heldout: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The classifier's fixed train / held-out split of `n` digits: a seeded permutation, cut in two."""
    if train + heldout > n:
        raise ValueError(f"a split of {train} + {heldout} needs {train + heldout} digits, the data has {n}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[:train], perm[train : train + heldout]


def _asset(name: str):
    return resources.files("ganlint") / "assets" / name


def classifier_info() -> dict[str, Any]:
    """The JSON record written beside the weights (accuracy, split, seed, versions, architecture)."""
    return json.loads(_asset(META_FILE).read_text())


@functools.cache
def _load(device: str) -> MnistClassifier:
    from safetensors.torch import load

    path = _asset(WEIGHTS_FILE)
    if not path.is_file():
        raise FileNotFoundError(f"the MNIST classifier's weights are missing ({path}); "
                                "train them with scripts/train_mnist_classifier.py")
    arch = classifier_info()["architecture"]
    # Building the layers draws their (soon overwritten) initial weights from torch's global generator;
    # fork it, so loading the classifier mid-training never shifts a run's random stream.
    with torch.random.fork_rng(devices=[]):
        model = MnistClassifier(tuple(arch["channels"]), arch["feature_dim"], arch["num_classes"], arch["dropout"])
    model.load_state_dict(load(path.read_bytes()))
    model.requires_grad_(False)
    return model.eval().to(device)


def load_classifier(device: torch.device | str | None = None) -> MnistClassifier:
    """The shipped classifier in eval mode, without gradients, on `device` (CPU by default).

    Loaded once per device and cached: callers share the module and must not train or modify it.
    """
    return _load(str(torch.device(device if device is not None else "cpu")))


def _as_images(x: torch.Tensor) -> torch.Tensor:
    if x.dim() < 2 or math.prod(x.shape[1:]) != 28 * 28:
        raise ValueError(f"expected MNIST images of shape (N, 1, 28, 28), got {tuple(x.shape)}")
    return x.detach().reshape(len(x), 1, 28, 28).float()


@torch.no_grad()
def classify(x: torch.Tensor, classifier: MnistClassifier | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Features (N, 64) and class probabilities (N, 10) of images in [-1, 1], on x's device."""
    model = classifier if classifier is not None else load_classifier(x.device)
    x = _as_images(x)
    feats, logits = [], []
    for i in range(0, len(x), CHUNK):
        f, lg = model.features_and_logits(x[i : i + CHUNK])
        feats.append(f)
        logits.append(lg)
    if not feats:
        return x.new_zeros(0, model.arch["feature_dim"]), x.new_zeros(0, model.arch["num_classes"])
    return torch.cat(feats), torch.cat(logits).softmax(dim=1)


def features(x: torch.Tensor, classifier: MnistClassifier | None = None) -> torch.Tensor:
    """The 64-d features (pre-ReLU feature layer) of images in [-1, 1] of shape (N, 1, 28, 28)."""
    return classify(x, classifier)[0]


def predict(x: torch.Tensor, classifier: MnistClassifier | None = None) -> torch.Tensor:
    """The predicted digit (N,) of images in [-1, 1] of shape (N, 1, 28, 28)."""
    return classify(x, classifier)[1].argmax(dim=1)
