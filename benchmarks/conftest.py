"""Benchmarks (pytest-benchmark): run with `pytest benchmarks/` (not part of the test command in the
README: they take minutes and measure, they do not assert times)."""

from __future__ import annotations

import pytest
import torch


def pytest_configure(config: pytest.Config) -> None:
    # Benchmarks use the machine as a user would: torch's default threads (one per core).
    torch.set_num_threads(torch.get_num_threads())
