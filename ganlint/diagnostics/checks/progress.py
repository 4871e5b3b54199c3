"""Positive evidence for `stable`: the samples got closer to the data, and D sits near 0.5.

These never fail a run: they warn. A run is labelled stable when no pathology check fails, and
its confidence rests on how much of this evidence was there (D near 0.5 alone is never enough).
"""

from __future__ import annotations

import numpy as np

from ganlint.diagnostics.checks import not_assessable
from ganlint.diagnostics.findings import PASS, WARN, Finding
from ganlint.diagnostics.series import Context, Series

LABEL = "stable"


def check(s: Series, ctx: Context) -> list[Finding]:
    return [_distance(s), _equilibrium(s, ctx)]


def _distance(s: Series) -> Finding:
    name = "progress.distance"
    th = s.th
    d = s.evals("distance")
    if len(d) < 2:
        return not_assessable(name, LABEL, "two or more evaluations of distance")
    first = float(d["value"].iloc[0])
    last = float(np.median(d["value"].iloc[-th.late_eval_rows:]))
    ratio = last / first if first > 0 else float("nan")
    window = (int(d["step"].iloc[0]), int(d["step"].iloc[-1]))
    if ratio <= th.progress_ratio:
        return Finding(name, LABEL, PASS, ratio, th.progress_ratio,
                       f"the distance to the data fell from {first:.3g} to {last:.3g} ({ratio:.0%} of its start)", window=window)
    return Finding(name, LABEL, WARN, ratio, th.progress_ratio,
                   f"the distance to the data only went from {first:.3g} to {last:.3g} ({ratio:.0%} of its start)", window=window)


def _equilibrium(s: Series, ctx: Context) -> Finding:
    name = "progress.equilibrium"
    th = s.th
    if ctx.d_output == "critic":
        return Finding(name, LABEL, "not-assessable", None, None, "a critic's scores have no fixed equilibrium value")
    if not (s.has("d_real") and s.has("d_fake")):
        return not_assessable(name, LABEL, "d_real/d_fake")
    real, fake = s.median("d_real", s.late), s.median("d_fake", s.late)
    off = max(abs(real - 0.5), abs(fake - 0.5))
    status = PASS if off <= th.equilibrium_band else WARN
    return Finding(name, LABEL, status, off, th.equilibrium_band,
                   f"late D(x) {real:.3f} and D(G(z)) {fake:.3f} (equilibrium 0.5)", window=s.span(s.late))
