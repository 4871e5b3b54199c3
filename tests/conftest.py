"""Shared fixtures for the ganlint test suite.

Every test runs on the CPU with one intra-op thread: that keeps runs bit-for-bit reproducible and fast on
a small (and possibly busy) machine, where torch's default of one thread per core oversubscribes it.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

import ganlint
from ganlint.training.run import Run

# pytester runs the pytest plugin's tests in a subprocess, as a user's test suite would.
pytest_plugins = ["pytester"]

# Small enough that a run takes well under a second on one CPU thread, big enough to exercise every part
# of the loop (several flushes, several evaluations).
TINY: dict[str, Any] = {
    "dataset": "ring8",
    "steps": 20,
    "batch_size": 32,
    "eval_every": 10,
    "eval_samples": 200,
    "pictures": 0,
    "flush_every": 8,
    "g_width": 32,
    "d_width": 32,
    "device": "cpu",
    "seed": 0,
}


def pytest_configure(config: pytest.Config) -> None:
    torch.set_num_threads(1)
    # Subprocesses (the CLI tests) inherit these.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def _no_user_mnist(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never depend on the developer's MNIST folder."""
    monkeypatch.delenv("GANLINT_DATA", raising=False)


@pytest.fixture
def tiny() -> dict[str, Any]:
    """A fresh copy of the tiny training config (a dict of TrainConfig fields)."""
    return dict(TINY)


@pytest.fixture
def train_tiny(tmp_path: Path, tiny: dict[str, Any]) -> Callable[..., Run]:
    """train_tiny(name="run", **overrides) trains the tiny config into tmp_path/name."""

    def _train(name: str = "run", **overrides: Any) -> Run:
        cfg = {**tiny, **overrides}
        cfg.setdefault("out", str(tmp_path / name))
        return ganlint.train(cfg)

    return _train


@pytest.fixture(scope="session")
def shipped_mnist() -> tuple[torch.Tensor, torch.Tensor]:
    """The 5,000 digits ganlint ships, as it reads them (images uint8 (N, 28, 28), labels), read once."""
    from ganlint.data.mnist import _read_shipped

    return _read_shipped()


@pytest.fixture
def fast_mnist(monkeypatch: pytest.MonkeyPatch, shipped_mnist) -> None:
    """Serve the shipped fallback digits from the session cache (one read per session, clones per test)."""
    # (ganlint.data re-exports the function `mnist`, which hides the submodule of that name)
    mnist_mod = importlib.import_module("ganlint.data.mnist")
    images, labels = shipped_mnist
    monkeypatch.setattr(mnist_mod, "_read_shipped", lambda: (images.clone(), labels.clone()))
