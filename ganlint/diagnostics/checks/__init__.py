"""The checks, one module each. A check is `check(series, context) -> list[Finding]`.

A check never raises for missing data: it returns a NOT_ASSESSABLE finding naming what it lacked.
The engine runs them in this order and turns an unexpected exception into an ERROR finding.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ganlint.diagnostics.findings import NOT_ASSESSABLE, Finding
from ganlint.diagnostics.series import Context, Series

Check = Callable[[Series, Context], list[Finding]]


def not_assessable(check: str, label: str, missing: str) -> Finding:
    return Finding(check, label, NOT_ASSESSABLE, None, None, f"not assessable: needs {missing}")


def log_severity(value: float, threshold: float, decades: float = 2.0) -> float:
    """How many decades past the threshold (for values that fall below it), scaled to 0..1."""
    if not (value > 0 and threshold > 0):
        return 1.0
    return float(np.clip(np.log10(threshold / value) / decades, 0.0, 1.0))


def linear_severity(value: float, threshold: float, worst: float) -> float:
    """Where value sits between threshold (0) and worst (1)."""
    if worst == threshold:
        return 1.0
    return float(np.clip((value - threshold) / (worst - threshold), 0.0, 1.0))


def all_checks() -> list[tuple[str, Check]]:
    from ganlint.diagnostics.checks import (
        collapse,
        divergence,
        oscillation,
        progress,
        stall,
        vanishing_gradient,
    )

    return [
        ("divergence", divergence.check),
        ("vanishing_gradient", vanishing_gradient.check),
        ("stall", stall.check),
        ("oscillation", oscillation.check),
        ("collapse", collapse.check),
        ("progress", progress.check),
    ]
