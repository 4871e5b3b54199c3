"""Benchmarks (pytest-benchmark). In the ordinary test run they are a smoke test: pyproject's addopts
has --benchmark-disable, so each benchmarked call runs once and every ratio is measured over one short
round. In full, on demand:

    pytest benchmarks --benchmark-enable

Figures are ratios measured in one process (interleaved rounds), printed and stored in extra_info;
no test asserts a time.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def rounds(benchmark) -> int:
    """Timed rounds for the interleaved ratios: 1 in the smoke run, 5 in full."""
    return 1 if benchmark.disabled else 5


@pytest.fixture
def block(benchmark) -> int:
    """Steps per timed round: few in the smoke run."""
    return 5 if benchmark.disabled else 50
