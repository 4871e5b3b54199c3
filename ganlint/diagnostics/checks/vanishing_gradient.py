"""vanishing-gradient: D overpowers G and G's gradient collapses by orders of magnitude.

Both halves are needed. A winning D alone is common in healthy small-data runs with the
non-saturating loss, where G keeps a strong gradient; a shrinking G gradient alone can be convergence.
With the saturating (minimax) loss, a winning D kills G's gradient: d/ds log(1 - sigmoid(s)) =
-sigmoid(s) -> 0 as D(G(z)) -> 0.

So the verdict depends on the G loss trained with (Context.g_loss: given, from config.json, or inferred
by ganlint.ingest.conventions):
  * non-saturating, lsgan, wgan: a dominant D alone never fails (G keeps its gradient); it is a warning
    that points at G's learning rate and capacity. A measured collapse of G's gradient norm still fails.
  * saturating: a dominant D with no gradient norms recorded is enough (its gradient scales with D(G(z))).
  * unknown: a fully saturated D (0.99 / 0.01), or, in a log of losses only, both loss signatures (D's
    loss near 0 and G's near 0 from below).
Dominance is read from D(x) and D(G(z)) when logged, else from a BCE D's loss per term (thresholds.py).
"""

from __future__ import annotations

import numpy as np

from ganlint.diagnostics.checks import linear_severity, log_severity, not_assessable
from ganlint.diagnostics.findings import FAIL, NOT_ASSESSABLE, PASS, WARN, Finding
from ganlint.diagnostics.series import Context, Series, held_from_start, onset
from ganlint.vocabulary import SATURATING_G_LOSSES

LABEL = "vanishing-gradient"
NAME = "vanishing_gradient"


def check(s: Series, ctx: Context) -> list[Finding]:
    dom = _dominance(s, ctx)
    findings = [dom]
    if dom.status == NOT_ASSESSABLE:  # no D outputs: D's dominance from its loss, when it is a BCE loss
        dom = _loss_dominance(s, ctx)
        findings.append(dom)
    grad = _grad_collapse(s)
    findings.append(grad)
    findings.append(_conventions(ctx))
    findings.append(_summary(s, ctx, dom, grad))
    return findings


def _summary(s: Series, ctx: Context, dom: Finding, grad: Finding) -> Finding:
    keeps = ctx.g_loss is not None and ctx.g_loss not in SATURATING_G_LOSSES
    if dom.status == FAIL and ctx.g_loss in SATURATING_G_LOSSES and grad.status in (FAIL, WARN):
        # Under log(1 - D(G(z))) G's gradient scales with D(G(z)): a dominant D starves it by the loss's own
        # formula, so a measured fall of a tenth or more confirms it (PyTorch-GAN's MLP with D's learning
        # rate x10: D(G(z)) 0.001, G's gradient 0.054x its early value, which was already small: D led
        # from the first steps).
        return Finding(
            NAME, LABEL, FAIL, grad.value, grad.threshold,
            f"D overpowers G under the saturating G loss log(1 - D(G(z))) ({_g_loss_words(ctx)}), and G's gradient "
            f"fell to {grad.value:.2g}x its early value: G gets little signal",
            window=grad.window, onset_step=dom.onset_step, onset_from_start=dom.onset_from_start,
            severity=max(grad.severity, 0.5 * dom.severity, 0.5))
    if dom.status == FAIL and grad.status in (FAIL, WARN):  # measured: holds under any G loss
        return Finding(
            NAME, LABEL, grad.status, grad.value, grad.threshold,
            f"D overpowers G and G's gradient fell to {grad.value:.2g}x its early value: G gets little signal",
            window=grad.window, onset_step=dom.onset_step, onset_from_start=dom.onset_from_start,
            severity=max(grad.severity, 0.5 * dom.severity))
    if dom.status == FAIL and keeps:
        return Finding(
            NAME, LABEL, WARN, dom.value, dom.threshold,
            f"D overpowers G; under the {ctx.g_loss} G loss G keeps its gradient: if G does not catch up, check "
            f"G's learning rate (a stall) or capacity, and record the update ratio (update_ratio_g)",
            window=dom.window, onset_step=dom.onset_step, onset_from_start=dom.onset_from_start)
    if dom.status == FAIL and grad.status == NOT_ASSESSABLE:
        # No gradient norms (a bare log): the proof must come from the loss or from a fully saturated D.
        from_loss = dom.check.endswith(".loss_saturation")
        if ctx.g_loss in SATURATING_G_LOSSES:
            why = (f"D overpowers G and the run trains with the saturating G loss log(1 - D(G(z))), whose gradient "
                   f"scales with D(G(z)), held near 0 ({_g_loss_words(ctx)})")
        elif not from_loss and dom.severity >= 1.0:
            why = "D is saturated (D(x) ~1, D(G(z)) ~0); gradient norms were not recorded to confirm the collapse"
        elif from_loss and (g := _g_near_zero_from_below(s)) is not None:
            why = (f"D's loss is near 0 and G's loss near 0 from below (late median {g:.3g}): the saturating "
                   f"loss log(1 - D(G(z))) of a saturated D; gradient norms were not recorded to confirm it")
        else:
            return Finding(NAME, LABEL, PASS, dom.value, dom.threshold,
                           "D is ahead; without G's gradient norms (grad_norm_g) or a known saturating G loss "
                           "(--g-loss) that is no proof of a vanishing gradient", window=dom.window)
        return Finding(NAME, LABEL, FAIL, dom.value, dom.threshold, why, window=dom.window,
                       onset_step=dom.onset_step, onset_from_start=dom.onset_from_start,
                       severity=0.3 + 0.2 * dom.severity)
    return Finding(NAME, LABEL, PASS, grad.value, grad.threshold,
                   "G keeps a useful gradient" if dom.status != FAIL else
                   "D is ahead but G's gradient has not collapsed (G still learns)",
                   window=grad.window)


def _g_loss_words(ctx: Context) -> str:
    return f"G loss {ctx.g_loss or 'unknown'}: {ctx.g_loss_reason}" if ctx.g_loss_reason else f"G loss {ctx.g_loss}"


def _conventions(ctx: Context) -> Finding:
    """What the verdict assumed of the losses, and why (given, config.json, the log's format, its values)."""
    parts = [f"G loss {ctx.g_loss or 'unknown'} ({ctx.g_loss_reason or 'not given'})",
             f"D loss reduction {ctx.d_loss_reduction or 'unknown'} ({ctx.d_loss_reduction_reason or 'not given'})"]
    return Finding(f"{NAME}.conventions", LABEL, PASS, None, None, "; ".join(parts))


def _g_near_zero_from_below(s: Series) -> float | None:
    """The late median of loss_g when it lies in [-g_loss_saturated, 0), else None."""
    if not s.has_finite("loss_g"):
        return None
    g = s.median("loss_g", s.late)
    return g if -s.th.g_loss_saturated <= g < 0 else None


def _loss_dominance(s: Series, ctx: Context) -> Finding:
    """D's dominance from a BCE D's loss per term (thresholds.d_loss_dominant, with its derivation)."""
    th = s.th
    name = f"{NAME}.loss_saturation"
    if not s.has_finite("loss_d"):
        return not_assessable(name, LABEL, "d_real/d_fake, or a BCE D's loss_d")
    if ctx.d_output != "probability":
        return not_assessable(name, LABEL, "a BCE D (its loss per term is read against the BCE formula; "
                                           f"D's outputs read as {ctx.d_output})")
    v = s.values("loss_d")
    if (v[np.isfinite(v)] < 0).any():
        return not_assessable(name, LABEL, "a BCE D's loss (loss_d takes negative values: a critic's?)")
    # Halved when summed; when the reduction is unknown the loss is read as a mean of the two terms, the
    # stricter reading: a summed loss read so is twice its per-term value, so dominance is never over-called.
    scale = 2.0 if ctx.d_loss_reduction == "sum" else 1.0
    how = {"sum": "loss_d / 2 (summed terms)", "mean": "loss_d (averaged terms)"}.get(
        ctx.d_loss_reduction, "loss_d read as averaged terms (the reduction is unknown)")
    per_term = s.median("loss_d", s.late) / scale
    if per_term <= th.d_loss_dominant:
        cond = s.smoothed("loss_d") / scale <= th.d_loss_dominant
        decades = np.log10(th.d_loss_dominant / th.d_loss_saturated)
        return Finding(name, LABEL, FAIL, per_term, th.d_loss_dominant,
                       f"D overpowers G by its loss: late BCE per term {per_term:.3g} ({how}), so mean D(x) >= "
                       f"{np.exp(-2 * per_term):.3f} and D(G(z)) <= {1 - np.exp(-2 * per_term):.2g}",
                       window=s.span(s.late), onset_step=onset(s.steps, cond),
                       onset_from_start=held_from_start(s.steps, cond),
                       severity=log_severity(per_term, th.d_loss_dominant, decades))
    return Finding(name, LABEL, PASS, per_term, th.d_loss_dominant,
                   f"D's loss does not show it overpowering G (late BCE per term {per_term:.3g}, {how})",
                   window=s.span(s.late))


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
