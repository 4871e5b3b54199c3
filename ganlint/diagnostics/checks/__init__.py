"""The checks, one module each. A check is `check(series, context) -> list[Finding]`.

A check never raises for missing data: it returns a NOT_ASSESSABLE finding naming what it lacked.
The engine runs them in this order and turns an unexpected exception into an ERROR finding.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ganlint.diagnostics.findings import FAIL, NOT_ASSESSABLE, PASS, Finding
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


def any_of(name: str, label: str, findings: list[Finding], needs: str, pass_message: str) -> Finding:
    """The summary finding for a check whose measures each suffice alone: it fails when any fails.

    It carries the worst failure's value, the earliest onset, and a severity raised a little for each
    further failing measure (independent evidence of the same condition). Its message names the failing
    measures rather than repeating the worst one's sentence, which is its own finding.
    """
    fails = [f for f in findings if f.status == FAIL]
    if fails:
        worst = max(fails, key=lambda f: f.severity)
        first = min((f for f in fails if f.onset_step is not None), key=lambda f: f.onset_step, default=None)
        names = ", ".join(f.check.split(".", 1)[-1] for f in fails)
        assessed = [f for f in findings if f.status != NOT_ASSESSABLE]
        return Finding(name, label, FAIL, worst.value, worst.threshold,
                       f"{label}: {len(fails)} of {len(assessed)} measures fail ({names})",
                       window=worst.window, onset_step=first.onset_step if first else None,
                       severity=min(1.0, worst.severity + 0.1 * (len(fails) - 1)),
                       onset_from_start=bool(first and first.onset_from_start))
    if all(f.status == NOT_ASSESSABLE for f in findings):
        return not_assessable(name, label, needs)
    return Finding(name, label, PASS, None, None, pass_message)


def all_checks() -> list[tuple[str, str, Check]]:
    """(name, the label a failure supports, check) for every check, in the order the engine runs them."""
    from ganlint.diagnostics.checks import (
        collapse,
        divergence,
        oscillation,
        progress,
        realism,
        stall,
        vanishing_gradient,
    )

    return [
        ("divergence", divergence.LABEL, divergence.check),
        ("vanishing_gradient", vanishing_gradient.LABEL, vanishing_gradient.check),
        ("stall", stall.LABEL, stall.check),
        ("oscillation", oscillation.LABEL, oscillation.check),
        ("collapse", collapse.LABEL, collapse.check),
        (realism.NAME, realism.LABEL, realism.check),
        ("progress", progress.LABEL, progress.check),
    ]
