"""ganlint's words, defined once: the labels a run can get, the statuses of a finding, and what D returns.

Every module that names a label, a status or a D-output kind imports it from here (the engine, the
gate, the formats, the reports, the suite, the Monitor, the Lightning callback), so that a new outcome
is added in one place and shows everywhere.

Labels, in priority order (when several hold, the first is the run's label; the others are kept in
`Diagnosis.other_labels`):

  diverged > vanishing-gradient > stalled > oscillating > collapsed > still-weak > stable > inconclusive

Why this order:
  * diverged: a NaN makes every other number meaningless.
  * vanishing-gradient, stalled: a dead gradient or a stalled optimizer is the cause of whatever the
    samples look like (a generator that cannot learn is also far from the data, or looks collapsed).
  * oscillating: a dynamic; collapse snapshots can catch it mid-swing (mode hopping), so the dynamic is
    named first.
  * collapsed before still-weak: collapse is only judged on samples realistic enough for modes to mean
    something (ganlint.diagnostics.checks.collapse); when it holds, too few modes is the specific
    problem, and training longer does not cure it.
  * still-weak: the generator moves and its samples get better, but they are not realistic yet. No
    dynamic is broken; the run is unfinished. It is last of the failures because every other label
    names a cause, and still-weak only says "not there yet".
  * stable: no failure, and positive evidence from the samples (their distance, diversity, modes or
    precision near the data's).
  * inconclusive: no failure and no sample evidence either way (a loss-only log, too few steps). Never
    a pass: losses alone never show health.
"""

from __future__ import annotations

import math

DIVERGED = "diverged"
VANISHING_GRADIENT = "vanishing-gradient"
STALLED = "stalled"
OSCILLATING = "oscillating"
COLLAPSED = "collapsed"
STILL_WEAK = "still-weak"
STABLE = "stable"
INCONCLUSIVE = "inconclusive"

# Every label, in priority order (see the module docstring).
LABELS = (DIVERGED, VANISHING_GRADIENT, STALLED, OSCILLATING, COLLAPSED, STILL_WEAK, STABLE, INCONCLUSIVE)
# The labels a failing check can support: everything that says the run is not healthy.
FAILURE_LABELS = (DIVERGED, VANISHING_GRADIENT, STALLED, OSCILLATING, COLLAPSED, STILL_WEAK)
# The one passing verdict.
PASSING_LABEL = STABLE

# A finding's status.
PASS, WARN, FAIL = "pass", "warn", "fail"
NOT_ASSESSABLE = "not-assessable"  # the input lacks what the check needs: never a crash, never a pass
ERROR = "error"  # the check itself crashed: a bug, kept apart from a failing run
STATUSES = (PASS, WARN, FAIL, NOT_ASSESSABLE, ERROR)
# The order findings are shown in: what a person must read first (failing, crashed) comes first.
STATUS_ORDER = {FAIL: 0, ERROR: 1, WARN: 2, NOT_ASSESSABLE: 3, PASS: 4}

# What the user's D returns (Monitor(outputs=...), the Lightning callback, `ganlint check --d-output`):
#   logit        a raw score that a sigmoid turns into a probability (BCEWithLogitsLoss)
#   probability  a value in [0, 1] (a D ending in nn.Sigmoid, trained with BCELoss)
#   ls-score     a least-squares GAN's score (MSELoss against 1/0 targets)
#   critic       a Wasserstein critic's unbounded score (also hinge losses)
D_RETURNS = ("logit", "probability", "ls-score", "critic")
# Older spellings still accepted (the Monitor's first release used plurals).
D_RETURN_ALIASES = {"logits": "logit", "probabilities": "probability"}
# How telemetry's d_real/d_fake read (config.json's `d_output`, `ganlint diagnose --d-output`): a logit is
# recorded as its sigmoid, so a probability.
D_OUTPUTS = ("probability", "ls-score", "critic")
RECORDED_AS = {"logit": "probability", "probability": "probability", "ls-score": "ls-score", "critic": "critic"}


def d_returns(value: str) -> str | None:
    """The canonical D_RETURNS name for a user's spelling (aliases included), or None if unknown."""
    value = D_RETURN_ALIASES.get(value, value)
    return value if value in D_RETURNS else None


# The generator loss a run trained with (`--g-loss`, [tool.ganlint] g_loss, the pytest fixture's g_loss,
# or inferred from a log): the vanishing gradient is judged under this loss only.
#   nonsaturating  -log D(G(z)) (BCE against "real" labels: pytorch/examples dcgan, PyTorch-GAN); G keeps
#                  its gradient where D is sure, so a winning D does not starve it (Goodfellow et al. 2014)
#   saturating     log(1 - D(G(z))) (the minimax loss); G's gradient dies as D(G(z)) -> 0
#   wgan           -E[f(G(z))] of a critic (WGAN, WGAN-GP; also hinge GANs' generator loss)
#   lsgan          (D(G(z)) - 1)^2 (least squares, Mao et al. 2017): no saturation point
NONSATURATING, SATURATING = "nonsaturating", "saturating"
G_LOSSES = (NONSATURATING, SATURATING, "wgan", "lsgan")
# Other spellings: ganlint's own --loss names, and the usual hyphenations.
G_LOSS_ALIASES = {"non-saturating": NONSATURATING, "ns": NONSATURATING, "minimax": SATURATING, "wgan-gp": "wgan",
                  "hinge": "wgan", "ls": "lsgan"}
# The G losses under which a saturated D starves G of gradient.
SATURATING_G_LOSSES = (SATURATING,)


def g_loss_choices() -> str:
    """The accepted G loss names, for error messages and help: "nonsaturating, ... (or minimax, ...)"."""
    return f"{', '.join(G_LOSSES)} (or {', '.join(G_LOSS_ALIASES)})"


def g_loss(value: str) -> str | None:
    """The canonical G_LOSSES name for a user's spelling (aliases and ganlint's --loss names), or None."""
    value = G_LOSS_ALIASES.get(value, value) if isinstance(value, str) else None
    return value if value in G_LOSSES else None


# ganlint's own training losses (`ganlint train --loss`), each with its line for `ganlint list`. Their math and
# registry are in ganlint.training.losses (LOSSES, which takes these lines); the names are here too so that the
# parser, and so `ganlint --help`, need no torch. tests/test_architecture.py checks LOSSES registers exactly these.
LOSS_DESCRIPTIONS = {
    "minimax": "saturating log(1 - D(G(z))) generator loss (Goodfellow 2014)",
    "nonsaturating": "BCE with the non-saturating -log D(G(z)) generator loss",
    "wgan": "Wasserstein critic with weight clipping at 0.01 (Arjovsky 2017)",
    "wgan-gp": "Wasserstein critic with gradient penalty 10 (Gulrajani 2017)",
    "lsgan": "least squares, targets 0/1 (Mao 2017)",
    "hinge": "hinge loss for D, -D(G(z)) for G (SNGAN, BigGAN)",
}


# How a log's BCE discriminator loss combines its real and fake terms (`--d-loss-reduction`): summed
# (pytorch/examples dcgan: errD = errD_real + errD_fake; ganlint's trainer) or averaged (PyTorch-GAN:
# d_loss = (real_loss + fake_loss) / 2). A D that outputs 0.5 everywhere has loss 2 ln 2 = 1.386 summed,
# ln 2 = 0.693 averaged.
D_LOSS_REDUCTIONS = ("sum", "mean")
BCE_EQUILIBRIUM = {"sum": 2 * math.log(2), "mean": math.log(2)}


# BatchNorm's mode when `ganlint check` samples G and reads D (`--bn-mode`): "eval" uses the running
# statistics (what a deployed G does), "train" the batch's own (what the training loop saw: pytorch/examples
# dcgan never calls .eval(), and a young G's running statistics lag far behind its weights); "auto" reads
# both and says when they disagree.
BN_MODES = ("auto", "train", "eval")
