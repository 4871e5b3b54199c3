"""diverged: NaN or infinite values, exploding gradient norms, or fakes that left the data's scale."""

from __future__ import annotations

import numpy as np

from ganlint.diagnostics.checks import linear_severity, not_assessable
from ganlint.diagnostics.findings import FAIL, PASS, WARN, Finding
from ganlint.diagnostics.series import Context, Series, first_step
from ganlint.telemetry import STEP_COLUMNS

LABEL = "diverged"
CORE = ("loss_d", "loss_g", "d_real", "d_fake", "grad_norm_g", "grad_norm_d", "fake_mean", "fake_std")


def check(s: Series, ctx: Context) -> list[Finding]:
    return [_non_finite(s), *_exploding_norms(s), _exploding_outputs(s)]


def _non_finite(s: Series) -> Finding:
    """Infinite values anywhere, or NaN where a value was due.

    In ganlint's own telemetry schema every step column is recorded at every step, so any NaN there
    is a divergence. In other logs a NaN followed by finite values is a gap (Lightning writes D's and
    G's metrics on different rows), so only NaN from which a column never recovers counts there.
    """
    if set(STEP_COLUMNS) <= set(s.df.columns):
        cols = [c for c in CORE if c in s.df.columns]
        bad = ~np.isfinite(s.df[cols].to_numpy(dtype=np.float64))
        step = first_step(s.steps, bad.any(axis=1))
        if step is None:
            return Finding("divergence.non_finite", LABEL, PASS, 0.0, 0.0, "all recorded values are finite")
        which = [c for c, col_bad in zip(cols, bad.any(axis=0), strict=True) if col_bad]
        return Finding("divergence.non_finite", LABEL, FAIL, float(len(which)), 0.0,
                       f"non-finite values (NaN or inf) in {', '.join(which)}, from step {step}",
                       window=(step, int(s.steps[-1])), onset_step=step, severity=1.0)
    cols = [c for c in CORE if s.has(c)]
    if not cols:
        return not_assessable("divergence.non_finite", LABEL, "loss or gradient columns")
    onsets: dict[str, int] = {}
    trailing: dict[str, int] = {}  # column -> rows of NaN at the end
    for c in cols:
        v = s.values(c)
        inf_step = first_step(s.steps, np.isinf(v))
        if inf_step is not None:
            onsets[c] = inf_step
        last_finite = np.flatnonzero(np.isfinite(v))[-1]
        if last_finite + 1 < len(v):
            trailing[c] = len(v) - last_finite - 1
    # One column missing on the last row alone is a gap; several, or several rows, is a divergence.
    if len(trailing) >= 2 or any(n >= 2 for n in trailing.values()):
        for c, n in trailing.items():
            onsets[c] = min(onsets.get(c, np.iinfo(np.int64).max), int(s.steps[-n]))
    if not onsets:
        return Finding("divergence.non_finite", LABEL, PASS, 0.0, 0.0, "all recorded values are finite")
    step = min(onsets.values())
    which = ", ".join(sorted(onsets, key=onsets.get))
    return Finding("divergence.non_finite", LABEL, FAIL, float(len(onsets)), 0.0,
                   f"non-finite values (NaN or inf) in {which}, from step {step}",
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
