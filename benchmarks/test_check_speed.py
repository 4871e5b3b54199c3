"""How long `ganlint check` takes on an MNIST checkpoint with 10,000 samples (the default).

The checkpoint is a ganlint run folder of a 300-step MNIST MLP GAN (its label does not matter here).
Two figures: the library call (`ganlint.check.check`), and the command a user types, in a fresh Python
process (start-up and torch import included). The target is under 10 s on a 2-core CPU; the figures
are reported, never asserted.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

import ganlint


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "mnist"
    ganlint.train(dataset="mnist", steps=300, device="cpu", out=str(out), pictures=0)
    return out


def test_check_mnist_10k_library(benchmark, mnist_run):  # full size even in the smoke run: ~4 s
    from ganlint.check import check

    result = benchmark.pedantic(check, args=(mnist_run,), kwargs={"samples": 10_000},
                                rounds=1 if benchmark.disabled else 3, iterations=1, warmup_rounds=0 if benchmark.disabled else 1)
    assert result.samples == 10_000


def test_check_mnist_10k_command(benchmark, mnist_run):
    def run():
        return subprocess.run([sys.executable, "-m", "ganlint", "check", str(mnist_run), "--samples", "10000",
                               "--no-config", "--format", "json"], capture_output=True, text=True)

    p = benchmark.pedantic(run, rounds=1 if benchmark.disabled else 3, iterations=1)
    assert p.returncode in (0, 1), p.stderr
