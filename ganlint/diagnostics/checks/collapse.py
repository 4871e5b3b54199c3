"""collapsed: the generator covers too few modes or has too little diversity.

Judged from the evaluation columns (samples), never from D: a collapsed G can keep D(x) at 0.5.
Each measure is a finding of its own; any failing one makes the run collapsed, because each alone
is proof (a diversity ratio of 0.1 is collapse however the modes are counted).

Mode measures (modes covered, mode KL, k-NN coverage) decide only on realistic samples
(ganlint.diagnostics.checks.realism.realistic): a classifier files noise under one digit, and a blob
of fakes near the origin of ring8 belongs to no mode, which is a generator that has not learned yet
(still-weak), not one that learned too few modes. Their failure then becomes a warning that says so.
The diversity ratio needs no realism: samples that are all alike are collapsed, realistic or not.
"""

from __future__ import annotations

import math

import numpy as np

from ganlint.diagnostics.checks import any_of, linear_severity, not_assessable
from ganlint.diagnostics.checks.realism import realistic
from ganlint.diagnostics.findings import FAIL, NOT_ASSESSABLE, PASS, WARN, Finding
from ganlint.diagnostics.series import Context, Series, held_from_start, onset

LABEL = "collapsed"


def check(s: Series, ctx: Context) -> list[Finding]:
    th = s.th
    findings = [
        _low("collapse.diversity", s, "diversity", th.diversity_fail, th.diversity_warn,
             "diversity ratio (fake/real mean pairwise distance)"),
        _modes(s, ctx),
        _mode_kl(s, ctx),
        _low("collapse.categories", s, "category_coverage", th.category_coverage_fail, th.category_coverage_warn,
             "share of categories kept (worst column)"),
    ]
    findings.append(_coverage(s, mode_based=any(f.status not in (NOT_ASSESSABLE, "error") for f in findings[1:])))
    if realistic(s, ctx) is False:
        findings = [_not_decisive(f) if f.check in MODE_MEASURES else f for f in findings]
        findings = [_unless_persistent(s, f) if f.check == "collapse.diversity" else f for f in findings]
    findings.append(any_of("collapse", LABEL, findings, "evaluation columns (diversity, modes_covered, mode_kl, coverage)",
                           "samples are as varied as the data"))
    return findings


MODE_MEASURES = ("collapse.modes", "collapse.mode_kl", "collapse.coverage")


def _not_decisive(f: Finding) -> Finding:
    if f.status != FAIL:
        return f
    return Finding(f.check, LABEL, WARN, f.value, f.threshold,
                   f"{f.message}; not decisive: the samples are not realistic yet (see still_weak), so their "
                   "modes mean little", window=f.window)


def _unless_persistent(s: Series, f: Finding) -> Finding:
    """A low diversity on samples that are not realistic is collapse only when it persisted
    (Thresholds.collapse_persist, over collapse_persist_steps of training): a generator that has not
    learned yet draws a narrow output too."""
    if f.status != FAIL:
        return f
    d = s.evals("diversity")
    v, steps = d["value"].to_numpy(dtype=np.float64), d["step"].to_numpy()
    low = steps[v <= s.th.diversity_fail]
    span = int(low[-1] - low[0]) if len(low) else 0
    if (len(v) >= 4 and float(np.mean(v <= s.th.diversity_fail)) >= s.th.collapse_persist
            and span >= s.th.collapse_persist_steps):
        return f
    return Finding(f.check, LABEL, WARN, f.value, f.threshold,
                   f"{f.message}; not decisive: the samples are not realistic yet and a narrow output is what an "
                   f"untrained generator draws; it is collapse if it persists ({len(v)} evaluation(s), low over "
                   f"{span} steps so far; collapse needs {s.th.collapse_persist_steps}: judge it over a longer "
                   "history)", window=f.window)


def _low(name: str, s: Series, col: str, fail: float, warn: float, what: str) -> Finding:
    got = s.late_eval(col)
    if got is None:
        return not_assessable(name, LABEL, col)
    value, window, steps, values = got
    if value <= fail:
        return Finding(name, LABEL, FAIL, value, fail, f"{what} is {value:.3g} (collapse below {fail:g})", window=window,
                       onset_step=onset(steps, values <= fail), severity=linear_severity(-value, -fail, 0.0),
                       onset_from_start=held_from_start(steps, values <= fail))
    if value <= warn:
        return Finding(name, LABEL, WARN, value, warn, f"{what} is low: {value:.3g}", window=window)
    return Finding(name, LABEL, PASS, value, warn, f"{what} is {value:.3g}", window=window)


def _coverage(s: Series, mode_based: bool) -> Finding:
    """k-NN coverage; decisive only as high precision with low coverage and no mode count to go by."""
    th = s.th
    f = _low("collapse.coverage", s, "coverage", th.coverage_fail, th.coverage_warn, "k-NN coverage of the real data")
    if f.status != FAIL:
        return f
    precision = s.late_eval("precision")
    if mode_based or precision is None or precision[0] < th.coverage_min_precision:
        why = ("the mode counts are the direct measure" if mode_based else
               f"precision is {precision[0]:.2f}: the fakes are imprecise rather than collapsed" if precision else
               "precision was not recorded to tell collapse from imprecision")
        return Finding(f.check, LABEL, WARN, f.value, f.threshold, f"{f.message}; not decisive: {why}", window=f.window)
    return f


def _modes(s: Series, ctx: Context) -> Finding:
    name = "collapse.modes"
    th = s.th
    if not ctx.num_modes:
        return not_assessable(name, LABEL, "known number of modes")
    got = s.late_eval("modes_covered")
    if got is None:
        return not_assessable(name, LABEL, "modes_covered")
    value, window, steps, values = got
    share = value / ctx.num_modes
    msg = f"{value:.0f} of {ctx.num_modes} modes covered"
    if share < th.modes_fail:
        return Finding(name, LABEL, FAIL, share, th.modes_fail, msg, window=window,
                       onset_step=onset(steps, values / ctx.num_modes < th.modes_fail),
                       severity=linear_severity(-share, -th.modes_fail, -1.0 / ctx.num_modes),
                       onset_from_start=held_from_start(steps, values / ctx.num_modes < th.modes_fail))
    status = WARN if share < th.modes_warn else PASS
    return Finding(name, LABEL, status, share, th.modes_warn, msg, window=window)


def _mode_kl(s: Series, ctx: Context) -> Finding:
    """KL of the mode histogram to uniform, as a share of log K (all samples in one mode = 1)."""
    name = "collapse.mode_kl"
    th = s.th
    if not ctx.num_modes or ctx.num_modes < 2:
        return not_assessable(name, LABEL, "two or more known modes")
    got = s.late_eval("mode_kl")
    if got is None:
        return not_assessable(name, LABEL, "mode_kl")
    value, window, steps, values = got
    share = value / math.log(ctx.num_modes)
    msg = f"KL of the mode histogram to uniform is {value:.3g} ({share:.0%} of a single-mode collapse)"
    if share >= th.mode_kl_fail:
        return Finding(name, LABEL, FAIL, share, th.mode_kl_fail, msg, window=window,
                       onset_step=onset(steps, values / math.log(ctx.num_modes) >= th.mode_kl_fail),
                       severity=linear_severity(share, th.mode_kl_fail, 1.0),
                       onset_from_start=held_from_start(steps, values / math.log(ctx.num_modes) >= th.mode_kl_fail))
    status = WARN if share >= th.mode_kl_warn else PASS
    return Finding(name, LABEL, status, share, th.mode_kl_warn, msg, window=window)
