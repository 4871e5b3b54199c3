"""vanishing-gradient: D overpowers G and G's gradient collapses by orders of magnitude.

Both halves are needed. A winning D alone is common in healthy small-data runs with the
non-saturating loss, where G keeps a strong gradient; a shrinking G gradient alone can be convergence.
With the saturating (minimax) loss, a winning D kills G's gradient: d/ds log(1 - sigmoid(s)) =
-sigmoid(s) -> 0 as D(G(z)) -> 0.
"""

from __future__ import annotations

import numpy as np

from ganlint.diagnostics.checks import linear_severity, log_severity, not_assessable
from ganlint.diagnostics.findings import FAIL, PASS, WARN, Finding
from ganlint.diagnostics.series import Context, Series, held_from_start, onset

LABEL = "vanishing-gradient"


def check(s: Series, ctx: Context) -> list[Finding]:
    dom = _dominance(s, ctx)
    findings = [dom]
    grad = _grad_collapse(s)
    findings.append(grad)
    if dom.status == FAIL and grad.status in (FAIL, WARN):
        status = grad.status
        findings.append(Finding(
            "vanishing_gradient", LABEL, status, grad.value, grad.threshold,
            f"D overpowers G and G's gradient fell to {grad.value:.2g}x its early value: G gets little signal",
            window=grad.window, onset_step=dom.onset_step, onset_from_start=dom.onset_from_start,
            severity=max(grad.severity, 0.5 * dom.severity)))
    elif dom.status == FAIL and grad.status == "not-assessable" and dom.severity >= 1.0:
        # No gradient norms (a bare log): only a fully saturated D is taken as proof.
        findings.append(Finding(
            "vanishing_gradient", LABEL, FAIL, dom.value, dom.threshold,
            "D is saturated (D(x) ~1, D(G(z)) ~0); gradient norms were not recorded to confirm the collapse",
            window=dom.window, onset_step=dom.onset_step, onset_from_start=dom.onset_from_start, severity=0.3))
    else:
        findings.append(Finding("vanishing_gradient", LABEL, PASS, grad.value, grad.threshold,
                                "G keeps a useful gradient" if dom.status != FAIL else
                                "D is ahead but G's gradient has not collapsed (G still learns)",
                                window=grad.window))
    return findings


def _dominance(s: Series, ctx: Context) -> Finding:
    th = s.th
    name = "vanishing_gradient.d_dominance"
    if not (s.has("d_real") and s.has("d_fake")):
        return not_assessable(name, LABEL, "d_real/d_fake")
    if ctx.d_output == "critic":
        gap = s.smoothed("d_real") - s.smoothed("d_fake")
        early = float(np.nanmedian(np.abs(gap[s.early])))
        late = float(np.nanmedian(gap[s.late]))
        runaway = late > th.critic_gap_min and late > th.critic_gap_growth * max(early, 1e-12)
        if runaway:
            cond = gap > max(th.critic_gap_min, th.critic_gap_growth * early)
            return Finding(name, LABEL, FAIL, late, th.critic_gap_min,
                           f"the critic gap E[f(x)] - E[f(G(z))] ran away to {late:.3g} ({late / max(early, 1e-12):.3g}x its early value)",
                           window=s.span(s.late), onset_step=onset(s.steps, cond),
                           onset_from_start=held_from_start(s.steps, cond),
                           severity=linear_severity(np.log10(late / max(early, 1e-12)), 1, 4))
        return Finding(name, LABEL, PASS, late, th.critic_gap_min, f"the critic gap stays bounded ({late:.3g})",
                       window=s.span(s.late))
    real, fake = s.median("d_real", s.late), s.median("d_fake", s.late)
    if real >= th.dominance_real and fake <= th.dominance_fake:
        sm_r, sm_f = s.smoothed("d_real"), s.smoothed("d_fake")
        cond = (sm_r >= th.dominance_real) & (sm_f <= th.dominance_fake)
        saturated = fake <= th.saturated_fake and real >= th.saturated_real
        return Finding(name, LABEL, FAIL, fake, th.dominance_fake,
                       f"D overpowers G: late D(x) {real:.3f}, D(G(z)) {fake:.2g}",
                       window=s.span(s.late), onset_step=onset(s.steps, cond),
                       onset_from_start=held_from_start(s.steps, cond),
                       severity=1.0 if saturated else log_severity(fake, th.dominance_fake))
    return Finding(name, LABEL, PASS, fake, th.dominance_fake,
                   f"D does not overpower G (late D(x) {real:.3f}, D(G(z)) {fake:.3f})", window=s.span(s.late))


def _grad_collapse(s: Series) -> Finding:
    th = s.th
    name = "vanishing_gradient.grad_collapse"
    if not s.has("grad_norm_g"):
        return not_assessable(name, LABEL, "grad_norm_g")
    # The early reference is the 90th percentile of the first window: G's gradient typically *rises*
    # for the first steps while D learns, and a low percentile would understate it.
    early_v = s.window("grad_norm_g", s.early)
    late = s.median("grad_norm_g", s.late)
    if not len(early_v) or not np.isfinite(late):
        return not_assessable(name, LABEL, "finite grad_norm_g values")
    early = float(np.percentile(early_v, 90))
    ratio = late / early if early > 0 else float("nan")
    if not np.isfinite(ratio):
        return not_assessable(name, LABEL, "a non-zero early grad_norm_g")
    status = FAIL if ratio <= th.grad_collapse_fail else WARN if ratio <= th.grad_collapse_warn else PASS
    return Finding(name, LABEL, status, ratio, th.grad_collapse_fail,
                   f"G's gradient norm: late median {late:.3g} is {ratio:.3g}x the early {early:.3g}",
                   window=s.span(s.late), severity=log_severity(ratio, th.grad_collapse_fail, 3))
