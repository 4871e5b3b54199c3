"""Views of a telemetry table that the checks share: windows, smoothing, onsets, autocorrelation.

Pure functions of pandas/numpy data. A column that is absent, or all NaN, is "missing": checks
ask `has()` first and report "not assessable" instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ganlint.diagnostics.thresholds import Thresholds


@dataclass(frozen=True)
class Context:
    """What the engine knows about the run beyond its table (from config.json when there is one).

    Attributes:
        d_output: how d_real/d_fake read: 'probability', 'ls-score' or 'critic'.
        num_modes: known modes of the data (mixture centres, digit classes), or None.
        config: the run's TrainConfig fields as a dict (tailors the remedies), or {}.
        distance_reference: what the first distance in the table is: "first evaluation" (a run's, G
            near its initial noise) or "noise" (`ganlint check`'s noise with the data's mean and spread).
        distance_kind: the dataset's distance (ganlint.training.evaluation), e.g. "classifier_frechet" when the
            sample measures are taken in the MNIST classifier's features; None when unknown.
        g_loss: the G loss trained with (ganlint.vocabulary.G_LOSSES), or None when unknown; the
            vanishing gradient is judged under it.
        d_loss_reduction: how loss_d combines a BCE D's two terms, 'sum' or 'mean', or None.
        g_loss_reason, d_loss_reduction_reason: where each came from (given, config.json, the log's
            format, inferred from its values, with the evidence), for the findings.
    """

    d_output: str = "probability"
    num_modes: int | None = None
    config: dict | None = None
    distance_reference: str = "first evaluation"
    distance_kind: str | None = None
    g_loss: str | None = None
    d_loss_reduction: str | None = None
    g_loss_reason: str = ""
    d_loss_reduction_reason: str = ""


class Series:
    """A telemetry table sorted by step, with the windows the checks use."""

    def __init__(self, df: pd.DataFrame, th: Thresholds) -> None:
        self.df = df.sort_values("step").reset_index(drop=True)
        self.th = th
        self.steps = self.df["step"].to_numpy()
        n = len(self.df)
        self.n = n
        k_early = max(th.min_window_rows, round(n * th.early_fraction))
        k_late = max(th.min_window_rows, round(n * th.late_fraction))
        self.early = slice(0, min(n, k_early))
        self.late = slice(max(0, n - k_late), n)

    def has(self, col: str) -> bool:
        """The column was logged: present with at least one value (NaN from start to end is absent)."""
        return col in self.df.columns and self.df[col].notna().any()

    def has_finite(self, col: str) -> bool:
        """The column holds at least one finite value."""
        return col in self.df.columns and bool(np.isfinite(self.values(col)).any())

    def values(self, col: str) -> np.ndarray:
        return self.df[col].to_numpy(dtype=np.float64)

    def window(self, col: str, which: slice) -> np.ndarray:
        v = self.values(col)[which]
        return v[np.isfinite(v)]

    def median(self, col: str, which: slice) -> float:
        v = self.window(col, which)
        return float(np.median(v)) if len(v) else float("nan")

    def recorded_late(self, col: str) -> tuple[float, tuple[int, int]]:
        """(median, (first, last) step) of a column's late values among the rows where it was recorded:
        the Monitor measures update ratios every 10th step, so the run's late rows may hold none of them
        (a 30-step run's last rows do not), and the late window is taken on the column's own rows.
        (nan, (0, 0)) when the column holds no finite value."""
        d = self.evals(col)
        if not len(d):
            return float("nan"), (0, 0)
        k = max(min(len(d), self.th.min_window_rows), round(len(d) * self.th.late_fraction))
        tail = d.iloc[-k:]
        return float(np.median(tail["value"])), (int(tail["step"].iloc[0]), int(tail["step"].iloc[-1]))

    def span(self, which: slice) -> tuple[int, int]:
        s = self.steps[which]
        return (int(s[0]), int(s[-1])) if len(s) else (0, 0)

    def evals(self, col: str) -> pd.DataFrame:
        """The evaluation rows of a column: (step, value) where the value is finite."""
        if col not in self.df.columns:
            return self.df.iloc[0:0][["step"]].assign(value=np.nan)
        d = self.df[["step", col]].rename(columns={col: "value"})
        return d[np.isfinite(d["value"].to_numpy(dtype=np.float64))]

    def late_eval(self, col: str) -> tuple[float, tuple[int, int], np.ndarray, np.ndarray] | None:
        """(median of the last `late_eval_rows` evaluations, their (first, last) step, all evaluation steps,
        all values) of a column, or None when it was never evaluated."""
        d = self.evals(col)
        if not len(d):
            return None
        tail = d.iloc[-self.th.late_eval_rows:]
        return (float(np.median(tail["value"])), (int(tail["step"].iloc[0]), int(tail["step"].iloc[-1])),
                d["step"].to_numpy(), d["value"].to_numpy(dtype=np.float64))

    def smoothed(self, col: str, window: int | None = None) -> np.ndarray:
        """Rolling mean over ~1% of the run (at least 3 rows), to remove per-batch noise."""
        w = window or max(3, self.n // 100)
        return self.df[col].astype(float).rolling(w, min_periods=1, center=True).mean().to_numpy()


def onset(steps: np.ndarray, condition: np.ndarray) -> int | None:
    """The first step from which `condition` holds until the end (None if it does not hold at the end).

    `steps` are the measure's own steps (evaluation steps for a sample measure), so the onset is a step
    where the measure was taken. When the condition held from the measure's first step, that step is
    returned and `held_from_start` says so: the run was never healthy by that measure, which is not the
    same as a failure that began at step 1.
    """
    cond = np.asarray(condition, dtype=bool)
    if not len(cond) or not cond[-1]:
        return None
    false_idx = np.flatnonzero(~cond)
    start = 0 if not len(false_idx) else false_idx[-1] + 1
    return int(steps[start])


def held_from_start(steps: np.ndarray, condition: np.ndarray) -> bool:
    """Whether `condition` held at every one of the measure's steps (see `onset`)."""
    cond = np.asarray(condition, dtype=bool)
    return bool(len(cond)) and bool(cond.all())


def first_step(steps: np.ndarray, condition: np.ndarray) -> int | None:
    idx = np.flatnonzero(np.asarray(condition, dtype=bool))
    return int(steps[idx[0]]) if len(idx) else None


def autocorrelation(x: np.ndarray) -> np.ndarray:
    """Normalised autocorrelation of a mean-removed signal, lags 0..n-1 (via scipy's FFT correlate)."""
    from scipy.signal import correlate

    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean()
    denom = float(np.dot(x, x))
    if denom <= 0:
        return np.zeros(len(x))
    ac = correlate(x, x, mode="full", method="fft")[len(x) - 1 :]
    return ac / denom


def second_peak(ac: np.ndarray) -> tuple[float, int | None]:
    """Height and lag of the autocorrelation's highest peak after its first zero crossing.

    A sustained cycle of period P gives a peak near 1 at lag P; noise or a trend gives none
    (a trend never crosses zero early, noise has only small peaks).
    """
    neg = np.flatnonzero(ac[1:] < 0)
    if not len(neg):
        return 0.0, None
    start = neg[0] + 1
    tail = ac[start : max(start + 1, len(ac) // 2)]  # lags beyond n/2 rest on too few pairs
    if not len(tail):
        return 0.0, None
    i = int(np.argmax(tail))
    return float(tail[i]), int(start + i)


def dominant_period(x: np.ndarray) -> float | None:
    """The period (in rows) of the strongest non-zero frequency in a periodogram (scipy)."""
    from scipy.signal import periodogram

    if len(x) < 8:
        return None
    f, p = periodogram(np.asarray(x, dtype=np.float64), detrend="linear")
    if len(f) < 2 or not np.any(p[1:] > 0):
        return None
    i = 1 + int(np.argmax(p[1:]))
    return float(1.0 / f[i]) if f[i] > 0 else None


def swing(x: np.ndarray) -> float:
    """Half the 5-95% range: a robust amplitude."""
    x = x[np.isfinite(x)]
    if len(x) < 2:
        return float("nan")
    lo, hi = np.percentile(x, [5, 95])
    return float(hi - lo) / 2.0
