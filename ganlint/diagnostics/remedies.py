"""What to try for each label, most specific first, tailored to the run's config when it is known.

The general remedies name the concept (a loss, a regulariser, a learning-rate ratio), because most runs
are the user's own code. Only a run made by ganlint's trainer (its config.json holds the TrainConfig)
gets remedies that name `ganlint train` flags, since only there do the flags exist.
"""

from __future__ import annotations

from typing import Any

from ganlint.vocabulary import NONSATURATING, SATURATING

GENERAL: dict[str, list[str]] = {
    "diverged": [
        "lower both learning rates (by 10x) and keep Adam's beta1 at 0.5 or 0",
        "add spectral norm to D, or a gradient penalty (wgan-gp) / R1 penalty",
        "clip gradients, and check that the data is scaled like G's output (e.g. [-1, 1] for tanh)",
    ],
    "vanishing-gradient": [
        "use the non-saturating generator loss (-log D(G(z))) or a Wasserstein loss (wgan-gp)",
        "weaken D: fewer D steps per G step (n_critic 1), a lower D learning rate or TTUR with D slower, a smaller D",
        "smooth D's targets: one-sided label smoothing 0.1 (or 0.9 real targets)",
        "constrain D: spectral norm, gradient penalty or R1",
    ],
    "stalled": [
        "raise the learning rates until update/weight ratios reach ~1e-3 per step (2e-4 is the usual Adam start)",
        "check that the optimizer holds all of G's and D's parameters and that gradients reach them",
    ],
    "oscillating": [
        "lower the learning rates, and use Adam beta1 0.5 (or 0) rather than 0.9",
        "use TTUR (D's learning rate above G's) or more D steps per G step to let D track G",
        "stabilise D: spectral norm, gradient penalty (wgan-gp) or R1 regularisation",
        "keep an exponential moving average of G's weights for sampling",
    ],
    "collapsed": [
        "let D see the batch: PacGAN packing (pack 2-4) or a minibatch-stddev layer",
        "use a Wasserstein loss with gradient penalty (wgan-gp), or unrolled D updates",
        "strengthen D if it is much smaller than G; lower G's learning rate",
    ],
    "still-weak": [
        "train longer: the generator is still improving (watch the distance and the sample grids)",
        "give G (and D) more capacity if the samples stop improving while still unrealistic",
        "check the learning rates: Adam at 1e-4 to 2e-4 with beta1 0.5 is the usual start for both",
    ],
    "stable": [],
    "inconclusive": [],
}


# Offered instead of the first vanishing-gradient remedy to a run known to train with the non-saturating
# loss already (its vanishing gradient was measured, not inferred from D's dominance).
ALREADY_NONSATURATING = ("the run already trains with the non-saturating loss: try a Wasserstein loss with gradient "
                         "penalty (wgan-gp), whose critic keeps G's gradient where a BCE D saturates")


def remedies_for(label: str, config: dict[str, Any] | None, g_loss: str | None = None) -> list[str]:
    """Remedies for a label; with the run's config, the ones that apply to it come first.

    g_loss: the G loss the run trains with (ganlint.vocabulary.G_LOSSES), when known: a run known to use
    the non-saturating loss is not told to switch to it.
    """
    cfg = config or {}
    specific: list[str] = []
    general = GENERAL.get(label, [])
    if label == "vanishing-gradient":
        if cfg.get("loss") == "minimax":
            specific.append("this run uses the saturating minimax loss: switch to --loss nonsaturating (or wgan-gp)")
        elif g_loss == SATURATING:
            specific.append("this run trains with the saturating G loss log(1 - D(G(z))): minimise -log D(G(z)) "
                            "instead (BCE of D(G(z)) against the real label)")
        if g_loss == NONSATURATING:
            general = [ALREADY_NONSATURATING, *general[1:]]
        if (cfg.get("n_critic") or 1) > 1:
            specific.append(f"D takes {cfg['n_critic']} steps per G step: try --n-critic 1")
        if cfg.get("lr_d") and cfg.get("lr_g") and cfg["lr_d"] > cfg["lr_g"]:
            specific.append(f"D learns {cfg['lr_d'] / cfg['lr_g']:.3g}x faster than G: lower --lr-d")
        if cfg.get("d_width") and cfg.get("g_width") and cfg["d_width"] > 2 * cfg["g_width"]:
            specific.append(f"D is much wider than G ({cfg['d_width']} vs {cfg['g_width']}): shrink --d-width")
    elif label == "stalled":
        lrs = [cfg[k] for k in ("lr_g", "lr_d") if cfg.get(k)]
        if lrs and max(lrs) < 1e-5:
            specific.append(f"the learning rates ({', '.join(f'{v:g}' for v in lrs)}) are far below the usual 1e-4 to 1e-3")
    elif label == "oscillating":
        if (cfg.get("beta1") or 0) >= 0.9:
            specific.append(f"Adam beta1 is {cfg['beta1']}: use 0.5 (--beta1 0.5)")
        lrs = [cfg[k] for k in ("lr_g", "lr_d") if cfg.get(k)]
        if lrs and max(lrs) > 1e-3:
            specific.append(f"the learning rates ({', '.join(f'{v:g}' for v in lrs)}) are high: try 2e-4")
    elif label == "collapsed":
        if (cfg.get("pack") or 1) == 1 and not cfg.get("minibatch_std"):
            specific.append("D judges one sample at a time: try --pack 2 or --minibatch-std")
        if cfg.get("d_width") and cfg.get("g_width") and cfg["d_width"] * 2 < cfg["g_width"]:
            specific.append(f"D is much narrower than G ({cfg['d_width']} vs {cfg['g_width']}): widen --d-width")
    elif label == "still-weak":
        if cfg.get("steps"):
            specific.append(f"the run is {cfg['steps']} steps long: train longer (--steps), or resume it (--resume)")
    elif label == "diverged":
        lrs = [cfg[k] for k in ("lr_g", "lr_d") if cfg.get(k)]
        if lrs and max(lrs) > 1e-3:
            specific.append(f"the learning rates ({', '.join(f'{v:g}' for v in lrs)}) are high: try 2e-4")
    return specific + general
