"""stalled: the updates are too small to learn and the samples do not get closer to the data.

D may sit calmly at 0.5 all along: a too-low learning rate looks like a healthy equilibrium in the
losses. The update-to-weight ratio (~1e-3 per step is healthy, CS231n) shows it.
"""

from __future__ import annotations

import numpy as np

from ganlint.diagnostics.checks import log_severity, not_assessable
from ganlint.diagnostics.findings import FAIL, NOT_ASSESSABLE, PASS, WARN, Finding
from ganlint.diagnostics.series import Context, Series, held_from_start, onset

LABEL = "stalled"


def check(s: Series, ctx: Context) -> list[Finding]:
    ratio_g = _ratio(s, "update_ratio_g", "G")
    ratio_d = _ratio(s, "update_ratio_d", "D")
    progress = _no_progress(s)
    findings = [ratio_g, ratio_d, progress]
    if ratio_g.status == FAIL and progress.status in (FAIL, NOT_ASSESSABLE):
        findings.append(Finding(
            "stall", LABEL, FAIL, ratio_g.value, ratio_g.threshold,
            f"G's updates are {ratio_g.value:.2g} of its weights per step (far below ~1e-3) and "
            + ("the samples get no closer to the data" if progress.status == FAIL else "progress could not be measured"),
            window=ratio_g.window, onset_step=ratio_g.onset_step, onset_from_start=ratio_g.onset_from_start,
            severity=ratio_g.severity if progress.status == FAIL else 0.5 * ratio_g.severity))
    elif ratio_g.status == NOT_ASSESSABLE:
        findings.append(not_assessable("stall", LABEL, "update_ratio_g"))
    else:
        findings.append(Finding("stall", LABEL, PASS, ratio_g.value, ratio_g.threshold,
                                "updates are large enough to learn" if ratio_g.status != FAIL else
                                "updates are small but the samples still move towards the data",
                                window=ratio_g.window))
    return findings


def _ratio(s: Series, col: str, who: str) -> Finding:
    th = s.th
    name = f"stall.{col}"
    if not s.has(col):
        return not_assessable(name, LABEL, col)
    late, window = s.recorded_late(col)
    if not np.isfinite(late):
        return not_assessable(name, LABEL, f"finite {col} values")
    status = FAIL if late <= th.update_ratio_fail else WARN if late <= th.update_ratio_warn else PASS
    start, from_start = None, False
    if status == FAIL:
        # On the ratio's own rows (the Monitor measures every 10th step), smoothed over ~5% of them: the
        # step from which the ratio stayed below the threshold.
        rows = s.df[["step", col]].dropna()
        low = rows[col].rolling(max(3, len(rows) // 20), min_periods=1).median().to_numpy() <= th.update_ratio_fail
        steps = rows["step"].to_numpy()
        start, from_start = onset(steps, low), held_from_start(steps, low)
    return Finding(name, LABEL, status, late, th.update_ratio_fail,
                   f"{who}'s update/weight ratio: late median {late:.2g} per step (healthy ~1e-3)",
                   window=window, severity=log_severity(late, th.update_ratio_fail, 2),
                   onset_step=start, onset_from_start=from_start)


def _no_progress(s: Series) -> Finding:
    """FAIL when the samples do not get closer to the data (distance, else the fake statistics)."""
    th = s.th
    name = "stall.no_progress"
    d = s.evals("distance")
    if len(d) >= 2:
        first, last = float(d["value"].iloc[0]), float(np.median(d["value"].iloc[-th.late_eval_rows:]))
        improvement = 1.0 - last / first if first > 0 else 0.0
        status = FAIL if improvement < th.stall_min_improvement else PASS
        return Finding(name, LABEL, status, improvement, th.stall_min_improvement,
                       f"the distance to the data went from {first:.3g} to {last:.3g} ({improvement:+.0%} improvement)",
                       window=(int(d["step"].iloc[0]), int(d["step"].iloc[-1])))
    if all(s.has(c) for c in ("fake_mean", "fake_std", "real_mean", "real_std")):
        # No evaluations: how far did the fake statistics move towards the real ones?
        gap = np.abs(s.values("fake_mean") - s.values("real_mean")) + np.abs(s.values("fake_std") - s.values("real_std"))
        first, last = float(np.nanmedian(gap[s.early])), float(np.nanmedian(gap[s.late]))
        improvement = 1.0 - last / first if first > 0 else 0.0
        status = FAIL if improvement < th.stall_min_improvement else PASS
        return Finding(name, LABEL, status, improvement, th.stall_min_improvement,
                       f"the gap between fake and real mean/std went from {first:.3g} to {last:.3g}",
                       window=(int(s.steps[0]), int(s.steps[-1])))
    return not_assessable(name, LABEL, "distance or fake/real statistics")
