"""Every threshold the diagnostics engine uses, in one place, each with its reason.

Override any of them with `ganlint.diagnose(..., thresholds=Thresholds(...))` (or `.replace(...)`).
Sources: /shared/domain.md summarises them (CS231n update-ratio rule of thumb, ganhacks on gradient
norms, Arjovsky & Bottou 2017 on the saturating loss, Naeem et al. 2020 on coverage, PacGAN/VEEGAN on
modes). Values marked "calibrated" were set from ganlint's own healthy and broken runs on CPU.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Thresholds:
    # -- windows ------------------------------------------------------------------------------------
    # The "early" reference is the first 10% of steps, the "late" verdict the last 25%: long enough to
    # average out batch noise, late enough to judge where the run has ended up.
    early_fraction: float = 0.10
    late_fraction: float = 0.25
    min_window_rows: int = 5
    # Fewer logged steps than this cannot be judged (the early and late windows would overlap, and no
    # trend or swing shows in a handful of rows): the verdict is inconclusive unless a value already
    # turned non-finite, which needs no history.
    min_rows: int = 20

    # -- diverged -----------------------------------------------------------------------------------
    # ganhacks: gradient norms above ~100 suggest explosion. A norm that is both above 100 and 1,000x
    # its early value is a failure; above 100 alone only a warning (a winning D gives G large
    # non-saturating gradients without anything being broken).
    grad_norm_warn: float = 100.0
    grad_explode_abs: float = 100.0
    grad_explode_growth: float = 1e3
    # Fakes whose mean or spread sit 100 real standard deviations away have left the data's scale.
    output_explode_std: float = 100.0

    # -- vanishing-gradient ---------------------------------------------------------------------------
    # D overpowers G: mean D(x) >= 0.9 and D(G(z)) <= 0.1 (probability or least-squares outputs).
    dominance_real: float = 0.9
    dominance_fake: float = 0.1
    # With no gradient norms recorded, only a saturated D (<= 0.01 / >= 0.99) is taken as proof.
    saturated_fake: float = 0.01
    saturated_real: float = 0.99
    # Critic losses: the gap E[f(x)] - E[f(G(z))] running away: 10x its early value and above 1.
    critic_gap_growth: float = 10.0
    critic_gap_min: float = 1.0
    # G's gradient fell two orders of magnitude below its early value (Arjovsky & Bottou 2017 show ~1e5
    # decay as D approaches optimality; two orders already mean G learns ~100x slower).
    grad_collapse_fail: float = 1e-2
    grad_collapse_warn: float = 1e-1
    # Logs of losses only (no D(x), D(G(z))): a BCE D's loss per term (loss_d, halved when it sums its two
    # terms; see --d-loss-reduction). If the two terms average to l, each is at most 2 l, and Jensen's
    # inequality (mean of -log D >= -log of the mean) puts mean D(x) >= exp(-2 l) and mean D(G(z)) <=
    # 1 - exp(-2 l). So l <= -ln(0.9) / 2 = 0.053 proves the dominance above (0.9 / 0.1), and
    # l <= -ln(0.99) / 2 = 0.005 the saturation (0.99 / 0.01); a D at equilibrium has l = ln 2 = 0.693.
    d_loss_dominant: float = -math.log(0.9) / 2
    d_loss_saturated: float = -math.log(0.99) / 2
    # The saturating G loss log(1 - D(G(z))) near 0 from below: >= ln(0.9) = -0.105 means mean D(G(z))
    # <= 0.1 (Jensen again), G's loss signature of the same dominance.
    g_loss_saturated: float = -math.log(0.9)

    # -- stalled --------------------------------------------------------------------------------------
    # CS231n: ~1e-3 per step is healthy. Ten times below is far below (DeepDiagnosis flags < 1e-5 as
    # broken; healthy ganlint runs sit at 5e-4 to 5e-3, a learning rate of 1e-6 gives ~1e-5).
    update_ratio_fail: float = 1e-4
    update_ratio_warn: float = 3e-4
    # "The distance does not fall": the late distance is above 90% of the first evaluation's.
    stall_min_improvement: float = 0.10

    # -- oscillating ------------------------------------------------------------------------------------
    # Judged on the second half of the run, smoothed over ~1% of it to remove batch noise.
    # Half the 5-95% range of the smoothed signal counts as a swing when it is at least:
    swing_fake_mean_std: float = 0.5  # ... half a real standard deviation (fake_mean)
    swing_d_fake: float = 0.15  # ... 0.15 in D's probability (d_fake)
    swing_distance_rel: float = 0.35  # ... 35% of its median (distance, at evaluation steps)
    # Periodicity: the autocorrelation's second peak (after its first zero crossing) reaches this;
    # smoothed white noise stays near 0, a sustained cycle near 1 (calibrated).
    acf_peak: float = 0.3
    # No convergence: the last quarter still swings at least this share of the third quarter.
    sustain_ratio: float = 0.5

    # -- collapsed --------------------------------------------------------------------------------------
    # Diversity ratio (mean pairwise distance of fakes over reals); healthy runs 0.7-1.2 (calibrated).
    diversity_fail: float = 0.3
    diversity_warn: float = 0.5
    # Share of known modes covered (VEEGAN/PacGAN "modes captured"); vanilla GANs reach ~0.8 on ring8.
    modes_fail: float = 0.5
    modes_warn: float = 0.8
    # KL of the mode histogram to uniform as a share of log K (log K = all samples in one mode).
    mode_kl_fail: float = 0.6
    mode_kl_warn: float = 0.35
    # k-NN coverage (Naeem et al. 2020): ~0.97 for two samples of one distribution at k = 5. Coverage
    # also falls when fakes are merely imprecise (calibrated: healthy ring8 runs whose fakes spread wider
    # than the modes' std 0.02 score 0.2-0.45; a 1,200-step MNIST MLP with 9 digits covered scores 0.12),
    # so it only decides when no mode count exists and the fakes are realistic (precision >= 0.7): the
    # collapse signature of high precision with low coverage.
    coverage_fail: float = 0.3
    coverage_warn: float = 0.6
    coverage_min_precision: float = 0.7
    # Tables: share of categories (worst column) the fakes keep at >= 1/4 of their real share
    # (ganlint.metrics.categories); two real samples score 0.98-1.0, "only 5-star ratings" <= 0.2.
    category_coverage_fail: float = 0.5
    category_coverage_warn: float = 0.8
    # How many evaluation rows the late verdict uses (their median).
    late_eval_rows: int = 3

    # -- still-weak -------------------------------------------------------------------------------------
    # Realism: the k-NN precision (share of fakes inside the real data's manifold; Kynkaanniemi et al.
    # 2019, Naeem et al. 2020) and the high-quality share (mixtures: within 3 std of a centre; MNIST: a
    # confident digit inside the manifold). Samples are realistic when one of them reaches
    # `realism_precision`; not realistic when both stay below `realism_floor`; in between, realistic
    # only when the distance to the data has also fallen to `progress_ratio` of its start. Calibrated on
    # the quick suite, seeds 0-2, last evaluations: healthy ring8 runs (fakes wider than the modes' std
    # 0.02) reach precision 0.13-0.55 with the distance at 10-33% of its start; healthy MNIST 0.76-0.85;
    # ring8 stopped at 400 steps (a cloud over the ring) 0.003-0.008; the README's 300-step MNIST run
    # (noise blobs) 0.02-0.18 from one evaluation to the next, its distance still at 83% of its start.
    realism_precision: float = 0.3
    realism_floor: float = 0.05
    # Samples whose distance to the data is still above this share of the reference (the first
    # evaluation of a run, G near its initial noise; for one checkpoint, `ganlint check`'s noise with the
    # data's per-pixel mean and std) are not realistic, whatever precision says: the MNIST classifier's
    # features put such noise inside the real manifold (Gaussian pixel noise: precision 0.96, high-quality
    # 0.96). Measured: healthy quick-suite runs end at 2-33% of their first distance, and their final
    # checkpoints at 34-42% of the noise (stable_ring8, ring8_pacgan2, stable_mnist); the 300-step MNIST run
    # at 83% (122% of the noise), the collapsed MNIST MLP at 82-88% (131%), ring8 at 400 steps at 81% of
    # the noise. One healthy ring8_lsgan checkpoint (seed 1, clusters unevenly filled) sits at 116%: `check`
    # calls it still-weak, an error on the side of caution; its own run's history says 33%.
    realism_far: float = 0.7
    # On samples that are not realistic, a low diversity is collapse only when it persisted: below
    # diversity_fail in at least this share of at least four evaluations. An untrained generator draws
    # a narrow output too (diversity 0.10-0.17 after 20-30 iterations, 0.15 at step 1 of MNIST runs).
    collapse_persist: float = 0.5
    # ... and only when those low evaluations span at least this many steps: persisting through the first
    # iterations is G's initialisation, not a collapse (the Monitor evaluates at steps 1, 10, 20, 30, so a
    # 30-iteration run has four low evaluations and learned nothing). Adam moves a weight by up to ~lr per
    # step: at the usual lr 2e-4, 200 steps move it by up to 0.04, twice the N(0, 0.02) init of DCGAN-style
    # nets, enough for a G that learns to widen its output. Measured: PyTorch-GAN's MLP G without
    # BatchNorm stays at diversity 0.04-0.08 over 390+ steps (collapsed); 20-30-step runs sit at 0.05-0.17.
    collapse_persist_steps: int = 200
    # Fakes far more spread than the data are not realistic either: a diversity ratio above this (healthy
    # runs end at 0.7-1.2; seed 002's lab at lr 1e-3 after 300 steps, fake_std 0.4 against 0.2, at 2.2).
    realism_max_spread: float = 1.5
    # "Still falling": the last evaluations' distance is below this share of the mid-run one.
    still_falling: float = 0.9

    # -- stable (positive evidence) -----------------------------------------------------------------------
    # The distance fell to at most this share of its first evaluation.
    progress_ratio: float = 0.5
    # Tolerance band for D around 0.5 for probability losses. Wide on purpose: healthy small-data runs
    # keep D(x) ~0.7-0.9 (domain.md's MNIST calibration run); samples decide, D only informs.
    equilibrium_band: float = 0.35

    def replace(self, **changes: float) -> Thresholds:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)


DEFAULT_THRESHOLDS = Thresholds()
