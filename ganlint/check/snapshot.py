"""Health checks of a GAN at one point in time: from G's samples and D's outputs, no history.

What one checkpoint can show, and how:
  * diverged: G's samples contain NaN or infinite values.
  * collapsed: the samples' diversity, modes and k-NN coverage (the engine's own collapse check, fed
    one evaluation row computed here), and near-duplicates among the samples (`duplicates`).
  * vanishing-gradient: D separates real from fake with near certainty (mean D(x) >= 0.9 and
    D(G(z)) <= 0.1 flags it; 0.99 / 0.01 fails it), and G's gradient under the saturating loss
    log(1 - D(G(z))) is a tiny fraction of the one under the non-saturating loss -log D(G(z)): for a
    sigmoid D their ratio per sample is D(G(z)) / (1 - D(G(z))), so a saturated D leaves the
    saturating generator ~100x less signal (Goodfellow et al. 2014, Arjovsky & Bottou 2017).
    Only for a D read as a probability (ganlint.vocabulary.D_RETURNS: logit or probability): an ls-score
    D (least-squares GAN) is regressed to its own 1/0 targets and a critic's scores are unbounded, so
    neither has a saturation point (and the LSGAN loss keeps G's gradient where D is sure, Mao et al.
    2017); their mean outputs are reported, and saturation is "not assessable".
  * oscillating and stalled need the run's history (`--history`); from one checkpoint they are
    "not assessable", said plainly.
Thresholds are the engine's (ganlint.diagnostics.thresholds), so a checkpoint and a run are judged alike.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import torch

from ganlint.diagnostics.checks import any_of, linear_severity, log_severity, not_assessable
from ganlint.diagnostics.findings import Finding
from ganlint.diagnostics.series import Context, Series
from ganlint.diagnostics.thresholds import Thresholds
from ganlint.errors import DataError
from ganlint.vocabulary import (
    COLLAPSED,
    D_RETURNS,
    DIVERGED,
    FAIL,
    NONSATURATING,
    NOT_ASSESSABLE,
    OSCILLATING,
    PASS,
    SATURATING,
    SATURATING_G_LOSSES,
    STALLED,
    VANISHING_GRADIENT,
    WARN,
)

LOGIT, PROBABILITY, LS_SCORE, CRITIC = D_RETURNS
# D kinds whose outputs are scores, not probabilities: no sigmoid, no saturation point, no BCE gradients.
SCORE_KINDS = (LS_SCORE, CRITIC)

# A sample is a near-duplicate when another sample lies closer than this share of the typical (median)
# nearest-neighbour distance between real samples: copies, not merely similar digits. Without reals
# there is no scale to judge "close" by, so only copies count: a root-mean-square difference per value
# below EXACT_COPY_RMS (on a tanh generator's [-1, 1] scale), i.e. a generator that ignores its input.
# (Tight on purpose: 2,000 samples of a 2D mixture with std 0.02 lie ~1e-3 apart and are not copies.)
DUPLICATE_RADIUS = 0.1
EXACT_COPY_RMS = 1e-5
# The relative radius is a test for copies only in many dimensions: the chance that a sample's nearest
# neighbour falls within r times the typical distance scales as r^d times the density ratio. In 8 or more
# dimensions 0.1^d makes it negligible for anything but copies; in one dimension it is ~6% for samples of
# the data's own distribution and doubles for a G only twice as narrow (a healthy 1-D Gaussian G read as
# collapsed). So in d < DUPLICATE_MIN_DIM dimensions the radius shrinks to 0.1^(8/d) times the typical
# distance, keeping that chance at the 0.1^8 of eight dimensions: only copies count.
DUPLICATE_MIN_DIM = 8
# Share of near-duplicates that is collapse (half the samples are copies of others) or suspicious.
DUPLICATES_FAIL = 0.5
DUPLICATES_WARN = 0.1
# Duplicates are counted on a subset: nearest neighbours are O(n^2) and 2,000 samples estimate a share
# to within ~1%.
DUPLICATE_SUBSET = 2000
# Samples used for D's outputs and G's gradients (one batch; enough for stable means).
D_BATCH = 512
OSCILLATION_NOTE = ("not assessable from one checkpoint: oscillation is a pattern over time; pass --history "
                    "(a telemetry table, a training log or a folder of checkpoints)")
STALL_NOTE = ("not assessable from one checkpoint: whether training still makes progress needs --history")


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(len(x), -1).to(torch.float32)


def nn_distances(x: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """Each row's distance to its nearest other row.

    Exact differences, not cdist's |a|^2 + |b|^2 - 2ab shortcut: that shortcut loses the small distances
    to cancellation (float32 samples near 2.0 lying 1e-5 apart came out as 0, so a healthy 1-D Gaussian G
    read as 90% copies). Centring first keeps the norms small; rows of many values keep the shortcut,
    whose error (~1e-3 of the norms) is far below their typical distances and which is much faster there.
    """
    x = _flat(x)
    x = x - x.mean(dim=0)
    mode = "use_mm_for_euclid_dist_if_necessary" if x.shape[1] > 64 else "donot_use_mm_for_euclid_dist"
    out = torch.empty(len(x))
    for i in range(0, len(x), chunk):
        d = torch.cdist(x[i : i + chunk], x, compute_mode=mode)
        d[torch.arange(d.shape[0]), torch.arange(i, i + d.shape[0])] = float("inf")
        out[i : i + chunk] = d.min(dim=1).values
    return out


def duplicate_fraction(fake: torch.Tensor, real: torch.Tensor | None, seed: int = 0) -> float:
    """Share of samples with a near-duplicate among the others (see DUPLICATE_RADIUS)."""
    g = torch.Generator().manual_seed(seed)
    sub = fake[torch.randperm(len(fake), generator=g)[:DUPLICATE_SUBSET]] if len(fake) > DUPLICATE_SUBSET else fake
    if real is not None and len(real) > 2:
        rsub = real[torch.randperm(len(real), generator=g)[:DUPLICATE_SUBSET]] if len(real) > DUPLICATE_SUBSET else real
        dims = _flat(sub).shape[1]
        radius = DUPLICATE_RADIUS ** max(1.0, DUPLICATE_MIN_DIM / dims) * float(nn_distances(rsub).median())
    else:
        radius = EXACT_COPY_RMS * math.sqrt(_flat(sub).shape[1])
    return float((nn_distances(sub) <= radius).float().mean())


def _prob(raw: torch.Tensor, kind: str) -> torch.Tensor:
    return torch.sigmoid(raw) if kind == LOGIT else raw


def infer_d_kind(raw: torch.Tensor) -> str:
    """'probability' when every output lies in [0, 1] (a D ending in a sigmoid), else 'logit'."""
    finite = raw[torch.isfinite(raw)]
    return PROBABILITY if len(finite) and bool(((finite >= 0) & (finite <= 1)).all()) else LOGIT


# A D read as logits whose outputs no BCE training reaches is likelier a critic (WGAN, WGAN-GP, hinge)
# read without --d-output critic. BCE pushes real logits up and fake logits down, and its gradient dies as
# e^-|l| once a side is won, so (a) both means on the same side of 0, far from it, cost BCE ~|l| per sample
# on one side (a loss far above chance's ln 2) and do not survive training, and (b) mean magnitudes in the
# tens are beyond what it reaches. Calibrated on MNIST MLPs (784-256-1, Adam, batch 64; 100/300/600 D
# steps): a BCE D's means were D(x) +1.27/+1.15/+0.91, D(G(z)) +0.34/-0.02/-0.40, mean |l| 0.6-0.8, max
# 2.4; a WGAN-GP critic's (n_critic 5, Adam 1e-4 (0, 0.9), penalty 10) D(x) +36/+39/+32, D(G(z))
# +4.5/+12/+18 (the same side), mean |s| 20-26, max 43.
CRITIC_SAME_SIDE = 3.0  # both means beyond this, same sign: 9x the BCE D's 0.34, below the critic's 4.5
CRITIC_MAGNITUDE = 20.0  # mean |output| beyond this: 25x the BCE D's, at the critic's lowest (a saturated
# BCE D's logits stop near 15, where its gradient is e^-15)
# G's gradient norm under its own loss below which it learns nothing (float32 round-off on a network's
# parameters; the userland DCGAN's G keeps 0.1-40 in every state measured).
G_GRAD_FLOOR = 1e-8


def looks_unbounded(raw_real: torch.Tensor | None, raw_fake: torch.Tensor) -> bool:
    """Whether D's raw outputs cannot be a BCE D's logits (see CRITIC_SAME_SIDE, CRITIC_MAGNITUDE)."""
    f = raw_fake[torch.isfinite(raw_fake)]
    r = raw_real[torch.isfinite(raw_real)] if raw_real is not None else f[:0]
    if not len(f):
        return False
    magnitude = float(torch.cat([r, f]).abs().mean())
    same_side = len(r) > 0 and float(r.mean()) * float(f.mean()) > 0 and \
        min(abs(float(r.mean())), abs(float(f.mean()))) > CRITIC_SAME_SIDE
    return same_side or magnitude > CRITIC_MAGNITUDE


def _describe(e: BaseException) -> str:
    from ganlint.loaders.errors import describe_exception

    return describe_exception(e)


def g_loss_value(raw_fake: torch.Tensor, kind: str, g_loss: str) -> torch.Tensor:
    """G's loss on one batch of D's raw outputs, as the named G loss (ganlint.vocabulary.G_LOSSES) writes it."""
    if g_loss == "wgan":
        return -raw_fake.mean()
    if g_loss == "lsgan":
        return 0.5 * ((raw_fake - 1) ** 2).mean()
    if kind == LOGIT:  # stable forms: log(1 - sigmoid(l)) = -softplus(l); -log sigmoid(l) = softplus(-l)
        return -torch.nn.functional.softplus(raw_fake).mean() if g_loss == SATURATING \
            else torch.nn.functional.softplus(-raw_fake).mean()
    # No two-sided clamp: clamping a saturated D's outputs would zero the very gradient measured.
    # Only outputs that hit exactly 0 or 1 in float32 are held off the log's pole.
    if g_loss == SATURATING:
        return torch.log1p(-raw_fake.clamp_max(1 - 1e-7)).mean()
    return -torch.log(raw_fake.clamp_min(torch.finfo(raw_fake.dtype).tiny)).mean()


def discriminator_metrics(g, d, latent_sample, real: torch.Tensor | None, d_kind: str | None,
                          g_loss: str | None = None) -> dict[str, float | str]:
    """D's mean outputs on real and fake (as probabilities when D is a probability/logit D, raw scores for an
    ls-score or critic D), for a probability/logit D the norm of G's gradient under the saturating and the
    non-saturating loss, and under `g_loss` (the loss G trained with, when known) `grad_g_loss`; on one batch.

    `latent_sample(n)` returns G's inputs (z, or (z, labels)) for n samples. A D read as logits (d_kind
    None) whose outputs look unbounded (looks_unbounded) is read as a critic, with `d_kind_guessed`. Raises
    DataError naming G (and the latent's shape) when G fails, D (and the samples' shape) when D fails.
    """
    out: dict[str, float | str] = {}
    inputs = latent_sample(D_BATCH)
    args = inputs if isinstance(inputs, tuple) else (inputs,)
    labels = args[1] if len(args) > 1 else None

    def D(x, what):
        try:
            return (d(x, labels[: len(x)]) if labels is not None else d(x)).reshape(-1)
        except Exception as e:
            raise DataError(f"D failed on {what} of shape {tuple(x.shape)}: {_describe(e)}") from None

    params = [p for p in getattr(g, "parameters", list)() if p.requires_grad]
    raw_real = None
    if real is not None:
        with torch.no_grad():
            raw_real = torch.cat([D(real[i : i + D_BATCH], "the real samples")
                                  for i in range(0, min(len(real), 4 * D_BATCH), D_BATCH)])
    with torch.enable_grad():
        try:
            fake = g(*args)
        except Exception as e:
            call = "G(z)" if labels is None else "G(z, labels)"
            raise DataError(f"G failed while D was being read: {call} for z of shape {tuple(args[0].shape)}: "
                            f"{_describe(e)}") from None
        raw_fake = D(fake, "G's samples")
        kind = d_kind or infer_d_kind(raw_fake.detach())
        if d_kind is None and kind == LOGIT and looks_unbounded(raw_real, raw_fake.detach()):
            kind, out["d_kind_guessed"] = CRITIC, 1.0
        out["d_kind"] = kind
        out["d_fake"] = float(_prob(raw_fake.detach(), kind).mean())
        losses = {}
        if kind not in SCORE_KINDS:
            losses = {"grad_saturating": SATURATING, "grad_nonsaturating": NONSATURATING}
        if g_loss is not None and (kind not in SCORE_KINDS or g_loss not in (SATURATING, NONSATURATING)):
            losses["grad_g_loss"] = g_loss
        for name, loss_name in losses.items():
            if not params:
                break
            loss = g_loss_value(raw_fake, kind, loss_name)
            grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
            norms = [x.norm() for x in grads if x is not None]
            out[name] = float(torch.linalg.vector_norm(torch.stack(norms))) if norms else 0.0
    if raw_real is not None:
        out["d_real"] = float(_prob(raw_real, kind).mean())
    return out


def collapse_findings(metrics: dict[str, float], th: Thresholds, num_modes: int | None,
                      distance_kind: str | None = None) -> list[Finding]:
    """The engine's collapse and still-weak checks on one evaluation row built from the samples' metrics.

    One checkpoint has no history: a realism measure between the engine's floor and its threshold
    cannot lean on a falling distance, so the samples count as not realistic yet (still-weak, never a
    pass on doubt); `--history` gives the distance its history."""
    from ganlint.diagnostics.checks import collapse, realism

    row = {"step": 1, **{k: metrics.get(k, np.nan) for k in ("distance", "diversity", "modes_covered", "high_quality",
                                                             "mode_kl", "precision", "recall", "density", "coverage",
                                                             "category_coverage")}}
    rows = [row]
    if metrics.get("distance_baseline") is not None:
        # The noise baseline stands where a run's first evaluation would: the reference the realism check
        # measures the distance against (see noise_baseline_distance).
        rows.insert(0, {"step": 0, "distance": metrics["distance_baseline"]})
    series = Series(pd.DataFrame(rows), th)
    ctx = Context(num_modes=num_modes, distance_reference="noise", distance_kind=distance_kind)
    findings = collapse.check(series, ctx) + realism.check(series, ctx)
    # One point in time: no step window or onset to report.
    return [dataclasses.replace(f, window=None, onset_step=None) for f in findings]


def noise_baseline_distance(ref, seed: int) -> float:
    """The distance to the real data of noise with the data's per-pixel mean and spread (clipped to the
    data's range): what a generator that learned nothing but those two statistics draws. For MNIST-shaped
    data the classifier's precision cannot tell such noise from digits (it scores 0.96), but the Frechet
    distance can: pixel noise sits at ~1,850 on MNIST, the 300-step noise blobs at ~2,270, healthy MLP
    digits at ~710. The realism check compares the samples' distance with it."""
    from ganlint.training.evaluation import distance_to_real

    real = ref.real
    g = torch.Generator().manual_seed(seed + 11)
    noise = real.mean(0) + real.std(0) * torch.randn(real.shape, generator=g)
    noise = noise.clamp(float(real.min()), float(real.max()))
    return float(distance_to_real(noise, real, ref.dataset))


def duplicates_finding(value: float | None, realistic: bool = True) -> Finding:
    """Near-copies among the samples. On samples that are not realistic yet (still-weak) many near-copies
    are what an untrained generator's narrow output gives, not a collapse onto modes: a warning."""
    if value is None or not math.isfinite(value):
        return not_assessable("duplicates", COLLAPSED, "finite samples")
    msg = f"{value:.0%} of the samples have a near-copy among the others"
    if value >= DUPLICATES_FAIL and not realistic:
        return Finding("duplicates", COLLAPSED, WARN, value, DUPLICATES_FAIL,
                       msg + "; not decisive: the samples are not realistic yet (see still_weak), and an untrained "
                       "generator's narrow output repeats itself too; it is collapse if it persists (--history)")
    if value >= DUPLICATES_FAIL:
        return Finding("duplicates", COLLAPSED, FAIL, value, DUPLICATES_FAIL, msg + " (collapse: the generator repeats itself)",
                       severity=linear_severity(value, DUPLICATES_FAIL, 1.0))
    if value >= DUPLICATES_WARN:
        return Finding("duplicates", COLLAPSED, WARN, value, DUPLICATES_WARN, msg)
    return Finding("duplicates", COLLAPSED, PASS, value, DUPLICATES_WARN, msg)


def discriminator_findings(m: dict[str, float | str] | None, th: Thresholds, why_missing: str,
                           g_loss: str | None = None) -> list[Finding]:
    """Saturation of D, and whether G is starved of gradient, judged under the loss G trained with.

    * saturating loss (ganlint.vocabulary.SATURATING_G_LOSSES): a saturated D with G's gradient under
      log(1 - D(G(z))) a tiny fraction of the non-saturating one is a vanishing gradient (FAIL);
    * non-saturating, lsgan, wgan: G keeps its gradient where D is sure, so a saturated D is a WARN ("D
      overpowers G") reporting G's gradient under that loss; only a gradient that is truly gone fails;
    * unknown loss: the ratio is measured, but a checkpoint cannot tell which loss G trains with, so it
      is a WARN naming both readings and asking for --g-loss, never a vanishing-gradient FAIL alone.
    """
    label = VANISHING_GRADIENT
    if m is None:
        return [not_assessable("vanishing_gradient", label, why_missing)]
    findings: list[Finding] = []
    if m.get("d_kind_guessed"):
        findings.append(Finding("vanishing_gradient.d_output", label, WARN, None, CRITIC_SAME_SIDE,
                                "D's outputs look unbounded, like a critic's: pass --d-output critic if it is one "
                                "(read as a critic: no saturation point; --d-output logit to read them as logits)"))
    gl = m.get("grad_g_loss")
    loss_grad = None
    if g_loss is not None and isinstance(gl, float) and math.isfinite(gl):
        if gl <= G_GRAD_FLOOR:
            loss_grad = Finding("vanishing_gradient.g_gradient", label, FAIL, gl, G_GRAD_FLOOR,
                                f"under the {g_loss} loss G's gradient is {gl:.3g}: G learns nothing", severity=1.0)
        else:
            loss_grad = Finding("vanishing_gradient.g_gradient", label, PASS, gl, G_GRAD_FLOOR,
                                f"under the {g_loss} loss G's gradient is {gl:.3g}")
    if m.get("d_kind") in SCORE_KINDS:
        why = ("a least-squares GAN's scores are regressed to their own 1/0 targets, not probabilities: they have "
               "no saturation point" if m["d_kind"] == LS_SCORE else "a critic's scores have no saturation point")
        findings.append(Finding("vanishing_gradient.d_saturation", label, NOT_ASSESSABLE, None, None,
                                f"not assessable: {why} (--d-output {m['d_kind']})"))
        if loss_grad is None:
            return [*findings, not_assessable("vanishing_gradient", label, "a probability or logit discriminator")]
        findings.append(loss_grad)
        return [*findings, any_of("vanishing_gradient", label, findings, "a discriminator", "G keeps a gradient")]
    saturating = g_loss in SATURATING_G_LOSSES
    fake, real = float(m["d_fake"]), m.get("d_real")
    gs, gn = m.get("grad_saturating"), m.get("grad_nonsaturating")
    if real is None:
        sat = Finding("vanishing_gradient.d_saturation", label, NOT_ASSESSABLE, fake, None,
                      f"D(G(z)) = {fake:.3g}; D(x) needs real data (--data) to judge saturation")
    else:
        real = float(real)
        msg = f"D(x) = {real:.3g}, D(G(z)) = {fake:.3g}"
        if real >= th.saturated_real and fake <= th.saturated_fake and saturating:
            sat = Finding("vanishing_gradient.d_saturation", label, FAIL, fake, th.saturated_fake,
                          msg + ": D separates real from fake with near certainty (saturated)",
                          severity=log_severity(max(fake, 1e-12), th.saturated_fake, 3.0))
        elif real >= th.saturated_real and fake <= th.saturated_fake and g_loss is None:
            sat = Finding("vanishing_gradient.d_saturation", label, WARN, fake, th.saturated_fake,
                          msg + ": D separates real from fake with near certainty (saturated); it starves G only "
                          "under the saturating loss: pass --g-loss to decide")
        elif real >= th.dominance_real and fake <= th.dominance_fake:
            sat = Finding("vanishing_gradient.d_saturation", label, WARN, fake, th.dominance_fake, msg + ": D overpowers G")
            if g_loss is not None and not saturating and loss_grad is not None and loss_grad.status == PASS:
                sat = dataclasses.replace(sat, message=(
                    f"{msg}: D overpowers G; under the {g_loss} loss G keeps a gradient of {gl:.3g}: not a vanishing "
                    "gradient; if G does not catch up, its learning rate or capacity may be too small - a stall "
                    "needs --history to show"))
        else:
            sat = Finding("vanishing_gradient.d_saturation", label, PASS, fake, th.dominance_fake,
                          msg + f" (equilibrium 0.5; D overpowers G at {th.dominance_real:g} / {th.dominance_fake:g})")
    findings.append(sat)
    if loss_grad is not None and not saturating:
        findings.append(loss_grad)
    elif gs is None or gn is None or not (math.isfinite(gs) and math.isfinite(gn)) or gn <= 0:
        findings.append(not_assessable("vanishing_gradient.grad_ratio", label, "G's parameters and finite gradients"))
    else:
        ratio = gs / gn
        msg = (f"G's gradient under the saturating loss is {ratio:.2g}x the non-saturating one ({gs:.3g} vs {gn:.3g})"
               if ratio > 0 else f"G's gradient under the saturating loss vanishes (0 vs {gn:.3g} under the non-saturating loss)")
        collapsed = ratio <= th.grad_collapse_fail and sat.status in (FAIL, WARN, NOT_ASSESSABLE)
        if collapsed and saturating:
            findings.append(Finding("vanishing_gradient.grad_ratio", label, FAIL, ratio, th.grad_collapse_fail,
                                    msg + ": with log(1 - D(G(z))) G learns almost nothing",
                                    severity=log_severity(ratio, th.grad_collapse_fail)))
        elif collapsed:
            findings.append(Finding("vanishing_gradient.grad_ratio", label, WARN, ratio, th.grad_collapse_fail,
                                    msg + ": a vanishing gradient if G trains with the saturating log(1 - D(G(z))); "
                                    f"not one under the non-saturating -log D(G(z)) (pytorch/examples dcgan, "
                                    f"PyTorch-GAN), where G keeps {gn:.3g}: pass --g-loss to decide"))
        elif ratio <= th.grad_collapse_warn:
            findings.append(Finding("vanishing_gradient.grad_ratio", label, WARN, ratio, th.grad_collapse_warn, msg))
        else:
            findings.append(Finding("vanishing_gradient.grad_ratio", label, PASS, ratio, th.grad_collapse_warn, msg))
    findings.append(any_of("vanishing_gradient", label, findings, "a discriminator", "D does not saturate"))
    return findings


def finite_finding(n_bad: int, n: int) -> Finding:
    if n_bad:
        return Finding("divergence.non_finite", DIVERGED, FAIL, n_bad / n, 0.0,
                       f"{n_bad} of {n} samples contain NaN or infinite values", severity=1.0)
    return Finding("divergence.non_finite", DIVERGED, PASS, 0.0, 0.0, f"all {n} samples are finite")


def history_notes() -> list[Finding]:
    return [Finding("oscillation", OSCILLATING, NOT_ASSESSABLE, None, None, OSCILLATION_NOTE),
            Finding("stall", STALLED, NOT_ASSESSABLE, None, None, STALL_NOTE)]
