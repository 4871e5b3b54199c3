"""oscillating: G and D chase each other; the fake statistics swing and never settle.

Three signals are judged on the second half of the run: D's output on fakes (probability losses),
the fake mean relative to the real spread, and the distance to the data (evaluation steps). A signal
oscillates when all three hold:
  * it swings: half its 5-95% range (after smoothing out batch noise) passes a threshold;
  * the swing is periodic: the autocorrelation has a clear second peak (scipy), so a trend or noise
    does not count, and the periodogram gives the period for the message;
  * it does not converge: the last quarter still swings at least half as much as the third.
Mode hopping shows up here too: the fake mean and the distance jump as G moves between modes.
"""

from __future__ import annotations

import numpy as np

from ganlint.diagnostics.checks import any_of, linear_severity, not_assessable
from ganlint.diagnostics.findings import FAIL, PASS, WARN, Finding
from ganlint.diagnostics.series import (
    Context,
    Series,
    autocorrelation,
    dominant_period,
    held_from_start,
    onset,
    second_peak,
    swing,
)

LABEL = "oscillating"
MIN_ROWS = 24  # fewer rows than this in the second half cannot show a cycle


def check(s: Series, ctx: Context) -> list[Finding]:
    findings = []
    if ctx.d_output != "critic":
        findings.append(_per_step(s, "d_fake", "D(G(z))", scale=1.0, threshold=s.th.swing_d_fake))
    if s.has("real_std") and s.has("fake_mean"):
        scale = max(s.median("real_std", slice(None)), 1e-12)
        findings.append(_per_step(s, "fake_mean", "the fake mean", scale=scale, threshold=s.th.swing_fake_mean_std,
                                  unit=" real std"))
    else:
        findings.append(not_assessable("oscillation.fake_mean", LABEL, "fake_mean/real_std"))
    findings.append(_distance(s))
    findings.append(any_of("oscillation", LABEL, findings, "d_fake, fake_mean or distance series", "no sustained periodic swings"))
    return findings


def _judge(s: Series, name: str, what: str, steps: np.ndarray, x: np.ndarray, amp_threshold: float, unit: str) -> Finding:
    half = len(x) // 2
    x2, steps2 = x[half:], steps[half:]
    amp = swing(x2)
    q = len(x2) // 2
    third, last = swing(x2[:q]), swing(x2[q:])
    sustained = third > 0 and last / third >= s.th.sustain_ratio
    peak, _ = second_peak(autocorrelation(x2))
    period_rows = dominant_period(x2)
    row_step = float(np.median(np.diff(steps2))) if len(steps2) > 1 else 1.0
    window = (int(steps2[0]), int(steps2[-1]))
    periodic = peak >= s.th.acf_peak
    if amp >= amp_threshold and periodic and sustained:
        period = f", period ~{period_rows * row_step:.0f} steps" if period_rows else ""
        start, from_start = _swing_onset(steps, x, period_rows, amp_threshold)
        return Finding(name, LABEL, FAIL, amp, amp_threshold,
                       f"{what} keeps swinging by +/-{amp:.3g}{unit} (autocorrelation peak {peak:.2f}{period}) without settling",
                       window=window, onset_step=start if start is not None else window[0], onset_from_start=from_start,
                       severity=linear_severity(amp / amp_threshold, 1.0, 4.0))
    if amp >= amp_threshold:
        why = "not periodic" if not periodic else "dying down"
        return Finding(name, LABEL, WARN, amp, amp_threshold,
                       f"{what} swings by +/-{amp:.3g}{unit} in the second half, but {why}", window=window)
    return Finding(name, LABEL, PASS, amp, amp_threshold, f"{what} is steady (swing +/-{amp:.3g}{unit})", window=window)


def _swing_onset(steps: np.ndarray, x: np.ndarray, period_rows: float | None, threshold: float) -> tuple[int | None, bool]:
    """Where the swinging began: the series cut into chunks of two periods (else an eighth of it), the
    first chunk from which every chunk swings past the threshold (the last chunk, often cut short, may
    swing less; it is left out). (None, False) when no such run of chunks reaches the end."""
    size = max(8, round(2 * period_rows)) if period_rows else max(8, len(x) // 8)
    starts = np.arange(0, len(x) - size + 1, size)
    if len(starts) < 2:
        return None, False
    swinging = np.array([swing(x[i : i + size]) >= threshold for i in starts])
    chunk_steps = steps[starts]
    return onset(chunk_steps, swinging), held_from_start(chunk_steps, swinging)


def _per_step(s: Series, col: str, what: str, scale: float, threshold: float, unit: str = "") -> Finding:
    name = f"oscillation.{col}"
    if not s.has(col):
        return not_assessable(name, LABEL, col)
    if s.n // 2 < MIN_ROWS:
        return not_assessable(name, LABEL, f"enough steps ({2 * MIN_ROWS}) to judge {col}")
    x = s.smoothed(col) / scale
    ok = np.isfinite(x)
    return _judge(s, name, what, s.steps[ok], x[ok], threshold, unit)


def _distance(s: Series) -> Finding:
    name = "oscillation.distance"
    d = s.evals("distance")
    if len(d) < 2 * 8:
        return not_assessable(name, LABEL, "16 or more evaluations of distance")
    v = d["value"].to_numpy(dtype=np.float64)
    med = float(np.median(v[len(v) // 2 :]))
    return _judge(s, name, "the distance to the data", d["step"].to_numpy(), v / max(med, 1e-12),
                  s.th.swing_distance_rel, " of its median")
