"""diverged: NaN or infinite values, exploding gradient norms, or fakes that left the data's scale."""

from __future__ import annotations

import numpy as np

from ganlint.diagnostics.checks import linear_severity, not_assessable
from ganlint.diagnostics.findings import FAIL, PASS, WARN, Finding
from ganlint.diagnostics.series import Context, Series, first_step
from ganlint.schema import STEP_COLUMNS

LABEL = "diverged"
CORE = ("loss_d", "loss_g", "d_real", "d_fake", "grad_norm_g", "grad_norm_d", "fake_mean", "fake_std")


def check(s: Series, ctx: Context) -> list[Finding]:
    if s.n < s.th.min_rows:  # a NaN needs no history; explosions are judged on early vs late windows
        why = f"at least {s.th.min_rows} logged steps (got {s.n})"
        return [_non_finite(s), not_assessable("divergence.grad_norm_g", LABEL, why),
                not_assessable("divergence.grad_norm_d", LABEL, why), not_assessable("divergence.outputs", LABEL, why)]
    return [_non_finite(s), *_exploding_norms(s), _exploding_outputs(s)]


def _non_finite(s: Series) -> Finding:
    """A value that became non-finite after the column had been finite: an infinity anywhere after that,
    or a NaN where a value was due.

    Absent is not broken: a column that is missing, or NaN from its first row to its last, was never
    logged (a Monitor without opt_d, a log of losses only) and says nothing; the check then rests on
    the columns that were logged. A run whose every logged value is NaN from the start gives no finite
    value to depart from: that is not assessable (the engine says inconclusive), not a divergence.

    In ganlint's own telemetry schema every step column is recorded at every step, so a NaN after a
    column's first finite value is a divergence. In other logs a NaN followed by finite values is a gap
    (Lightning writes D's and G's metrics on different rows), so only NaN from which a column never
    recovers counts there, and one column missing on the last row alone is a gap too.
    """
    name = "divergence.non_finite"
    cols = [c for c in CORE if s.has_finite(c)]
    if not cols:
        return not_assessable(name, LABEL, "a loss, D-output or gradient column with a finite value")
    own_schema = set(STEP_COLUMNS) <= set(s.df.columns)
    onsets: dict[str, int] = {}
    trailing: dict[str, int] = {}  # column -> rows of NaN at the end
    for c in cols:
        v = s.values(c)
        finite = np.isfinite(v)
        after = np.arange(len(v)) > np.flatnonzero(finite)[0]  # rows after the column's first finite value
        inf_step = first_step(s.steps, np.isinf(v) & after)
        if inf_step is not None:
            onsets[c] = inf_step
        if own_schema:
            nan_step = first_step(s.steps, ~finite & after)
            if nan_step is not None:
                onsets[c] = min(onsets.get(c, nan_step), nan_step)
            continue
        last_finite = np.flatnonzero(finite)[-1]
        if last_finite + 1 < len(v):
            trailing[c] = len(v) - last_finite - 1
    if len(trailing) >= 2 or any(n >= 2 for n in trailing.values()):
        for c, n in trailing.items():
            onsets[c] = min(onsets.get(c, np.iinfo(np.int64).max), int(s.steps[-n]))
    if not onsets:
        return Finding(name, LABEL, PASS, 0.0, 0.0, f"all logged values are finite ({', '.join(cols)})")
    step = min(onsets.values())
    which = ", ".join(sorted(onsets, key=onsets.get))
    return Finding(name, LABEL, FAIL, float(len(onsets)), 0.0,
                   f"non-finite values (NaN or inf) in {which}, from step {step}, after finite values",
                   window=(step, int(s.steps[-1])), onset_step=step, severity=1.0)


def _exploding_norms(s: Series) -> list[Finding]:
    th = s.th
    out = []
    for col, who in (("grad_norm_g", "G"), ("grad_norm_d", "D")):
        name = f"divergence.{col}"
        if not s.has(col):
            out.append(not_assessable(name, LABEL, col))
            continue
        v = s.values(col)
        finite = np.isfinite(v)
        if not finite.any():
            continue  # all non-finite: the non_finite finding already says so
        early = s.median(col, s.early)
        late = s.median(col, s.late)
        peak = float(np.max(v[finite]))
        growth = late / early if early > 0 else float("inf")
        exploding = late > th.grad_explode_abs and growth > th.grad_explode_growth
        if exploding:
            step = first_step(s.steps, finite & (v > th.grad_explode_abs))
            out.append(Finding(name, LABEL, FAIL, late, th.grad_explode_abs,
                               f"{who}'s gradient norm exploded: late median {late:.3g}, {growth:.3g}x its early value",
                               window=s.span(s.late), onset_step=step,
                               severity=linear_severity(np.log10(growth), np.log10(th.grad_explode_growth), 6)))
        elif peak > th.grad_norm_warn:
            step = first_step(s.steps, finite & (v > th.grad_norm_warn))
            out.append(Finding(name, LABEL, WARN, peak, th.grad_norm_warn,
                               f"{who}'s gradient norm peaked at {peak:.3g} (above {th.grad_norm_warn:g}, the usual sign of instability)",
                               window=(int(s.steps[0]), int(s.steps[-1])), onset_step=step))
        else:
            out.append(Finding(name, LABEL, PASS, peak, th.grad_norm_warn,
                               f"{who}'s gradient norm stays bounded (peak {peak:.3g})", window=(int(s.steps[0]), int(s.steps[-1]))))
    return out


def _exploding_outputs(s: Series) -> Finding:
    th = s.th
    name = "divergence.outputs"
    if not all(s.has(c) for c in ("fake_mean", "fake_std", "real_mean", "real_std")):
        return not_assessable(name, LABEL, "fake/real mean and std")
    scale = max(s.median("real_std", slice(None)), 1e-12)
    off = np.abs(s.values("fake_mean") - s.median("real_mean", slice(None))) / scale
    spread = s.values("fake_std") / scale
    worst = np.fmax(off, spread)
    late = float(np.nanmedian(worst[s.late])) if np.isfinite(worst[s.late]).any() else float("nan")
    if np.isfinite(late) and late > th.output_explode_std:
        step = first_step(s.steps, worst > th.output_explode_std)
        return Finding(name, LABEL, FAIL, late, th.output_explode_std,
                       f"generated samples sit {late:.3g} real standard deviations from the data", window=s.span(s.late),
                       onset_step=step, severity=linear_severity(np.log10(late), 2, 6))
    return Finding(name, LABEL, PASS, late, th.output_explode_std, "generated samples stay on the data's scale",
                   window=s.span(s.late))
