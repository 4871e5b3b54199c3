"""still-weak: the generator moves, but its samples are not realistic yet.

Seed 002's diagnosis menu ends with "still weak": G is learning (its updates are a healthy size, unlike
`stalled`), but its samples are not yet like the data. What says so:
  * realism: the k-NN precision (the share of fakes inside the real data's manifold) and the
    high-quality share (a fake close to a mode: within 3 std of a mixture centre, a confident digit
    inside the manifold) both sit below their thresholds;
  * the distance to the data, when measured, tells whether the samples are still improving ("train
    longer") or have stopped ("more capacity, check the learning rates"); it shapes the message, not
    the label.
Why it matters to the other checks: modes mean nothing on samples that are not realistic. Noise that
the MNIST classifier files under one digit reads as a one-mode collapse; ganlint.diagnostics.checks.collapse
asks `realistic()` before it lets a mode count decide.
"""

from __future__ import annotations

import numpy as np

from ganlint.diagnostics.checks import linear_severity, not_assessable
from ganlint.diagnostics.findings import FAIL, NOT_ASSESSABLE, PASS, Finding
from ganlint.diagnostics.series import Context, Series
from ganlint.schema import CLASSIFIER_KIND
from ganlint.vocabulary import STILL_WEAK

LABEL = STILL_WEAK
NAME = "still_weak"  # the summary finding (see ganlint.diagnostics.engine.conclude)
MEASURES = (("precision", "k-NN precision (share of fakes inside the real data's manifold)"),
            ("high_quality", "share of high-quality fakes (close to a mode of the data)"))
REALISM_CHECKS = tuple(f"{NAME}.{col}" for col, _ in MEASURES)


def distance_ratio(s: Series) -> float | None:
    """The late distance to the data as a share of the first evaluation's (None with fewer than two)."""
    d = s.evals("distance")
    if len(d) < 2 or not float(d["value"].iloc[0]) > 0:
        return None
    return float(np.median(d["value"].iloc[1:].iloc[-s.th.late_eval_rows:])) / float(d["value"].iloc[0])


def realistic(s: Series, ctx: Context) -> bool | None:
    """Whether the late samples are realistic (see Thresholds.realism_precision): a realism measure
    reaches realism_precision, or reaches realism_floor with the distance fallen to progress_ratio of its
    start; and the fakes are neither far more spread than the data nor, for classifier features, still
    far from it. None when no realism measure (precision, high_quality) was recorded."""
    return _verdict(_measures(s, ctx))


def _verdict(measures: list[Finding]) -> bool | None:
    """`realistic` from the measures' findings: the spread and distance findings appear only when they
    fail; precision and high_quality pass as the rule says."""
    realism = [f for f in measures if f.check in REALISM_CHECKS and f.status != NOT_ASSESSABLE]
    if not realism:
        return None
    return not any(f.status == FAIL for f in measures if f.check not in REALISM_CHECKS) and any(
        f.status == PASS for f in realism)


def _far(s: Series, ctx: Context, ratio: float | None) -> bool:
    """The distance is still far from its reference, where that decides: only for measures taken in a
    classifier's features (MNIST), which call noise realistic. In the samples' own space precision is
    trusted, and a far distance may be the collapse itself (all samples on one mode of the ring)."""
    return ctx.distance_kind == CLASSIFIER_KIND and ratio is not None and ratio > s.th.realism_far


def _measures(s: Series, ctx: Context) -> list[Finding]:
    out = []
    spread = s.late_eval("diversity")
    if spread is not None and spread[0] > s.th.realism_max_spread:
        value, window = spread[:2]
        out.append(Finding(f"{NAME}.spread", LABEL, FAIL, value, s.th.realism_max_spread,
                           f"the fakes are {value:.2g}x as spread as the data (diversity ratio)", window=window,
                           severity=linear_severity(value, s.th.realism_max_spread, 4.0)))
    ratio = distance_ratio(s)
    close = ratio is not None and ratio <= s.th.progress_ratio
    if _far(s, ctx, ratio):
        d = s.evals("distance")
        reference = ("noise with the data's mean and spread" if ctx.distance_reference == "noise" else
                     "the first evaluation's")
        out.append(Finding(f"{NAME}.distance", LABEL, FAIL, ratio, s.th.realism_far,
                           f"the distance to the data is {ratio:.0%} of {reference}",
                           window=(int(d["step"].iloc[0]), int(d["step"].iloc[-1])),
                           severity=linear_severity(ratio, s.th.realism_far, 1.0 + s.th.realism_far)))
    for col, what in MEASURES:
        name = f"{NAME}.{col}"
        got = s.late_eval(col)
        if got is None:
            out.append(not_assessable(name, LABEL, col))
            continue
        value, window = got[:2]
        th = s.th.realism_precision if value >= s.th.realism_floor and not close else s.th.realism_floor
        status = PASS if value >= s.th.realism_precision or (value >= s.th.realism_floor and close) else FAIL
        out.append(Finding(name, LABEL, status, value, th, f"{what} is {value:.2g}", window=window,
                           severity=linear_severity(-value, -th, 0.0)))
    return out


def _trend(s: Series) -> Finding:
    """Is the distance still falling? Last evaluations against the middle one of the run's evaluations."""
    name = f"{NAME}.trend"
    d = s.evals("distance")
    if len(d) < 4:
        return not_assessable(name, LABEL, "four or more evaluations of distance")
    v = d["value"].to_numpy(dtype=np.float64)
    middle, late = float(v[len(v) // 2]), float(np.median(v[-s.th.late_eval_rows:]))
    ratio = late / middle if middle > 0 else float("nan")
    falling = bool(ratio <= s.th.still_falling)
    window = (int(d["step"].iloc[len(v) // 2]), int(d["step"].iloc[-1]))
    return Finding(name, LABEL, PASS if falling else "warn", ratio, s.th.still_falling,
                   f"the distance to the data {'is still falling' if falling else 'no longer falls'}: "
                   f"{middle:.3g} at mid-run, {late:.3g} at the end", window=window)


def _moving(s: Series) -> bool | None:
    """G's updates are large enough to learn (None when update ratios were not recorded)."""
    late, _ = s.recorded_late("update_ratio_g")
    if not np.isfinite(late):
        return None
    return bool(late > s.th.update_ratio_fail)


def check(s: Series, ctx: Context) -> list[Finding]:
    measures = _measures(s, ctx)
    trend = _trend(s)
    findings = [*measures, trend]
    real = _verdict(measures)
    if real is None:
        findings.append(not_assessable(NAME, LABEL, "precision or high_quality (sample evaluations)"))
        return findings
    if real:
        findings.append(Finding(NAME, LABEL, PASS, None, None, "the samples are realistic"))
        return findings
    moving = _moving(s)
    worst = max((f for f in measures if f.status == FAIL), key=lambda f: f.severity)  # not realistic: one fails
    if moving is False:
        # Not learning at all is `stalled` (its own check): not still-weak.
        findings.append(Finding(NAME, LABEL, PASS, worst.value, worst.threshold,
                                "the samples are not realistic, but G is not moving either (see stall)"))
        return findings
    values = ", ".join(f"{f.check.split('.')[-1]} {f.value:.2g}" for f in measures if f.status == FAIL)
    if trend.status == PASS:
        how = "and they are still improving: G is learning but has not got there yet"
    elif len(s.evals("distance")) < 2 or ctx.distance_reference == "noise":
        how = "(with no history of the distance to show that they have come close to the data)"
    elif trend.status == NOT_ASSESSABLE:
        how = "and too few evaluations show whether they still improve"
    else:
        how = "and they have stopped improving"
    findings.append(Finding(NAME, LABEL, FAIL, worst.value, worst.threshold,
                            f"the samples are not realistic yet ({values}) {how}", window=worst.window,
                            severity=worst.severity))
    return findings
