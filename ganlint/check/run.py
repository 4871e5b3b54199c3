"""`ganlint check`: is a user's own GAN checkpoint healthy? A Diagnosis, like `ganlint diagnose`, from
what the checkpoint allows.

    import ganlint.check
    result = ganlint.check.check("ckpt.pt", generator="mypkg.models:Generator",
                                 discriminator="mypkg.models:Discriminator", data="mnist")
    result.healthy, result.diagnosis.label, result.skipped, result.exit_code   # 0, 1 or 3, as the CLI exits

Steps: load the checkpoint safely (ganlint.loaders), draw `samples` samples from G, measure them against
the real data when there is some (ganlint.check.reference), read D on real and generated samples, and
judge it all with the engine's thresholds (ganlint.check.snapshot). With `history` (a telemetry table,
a training log, or a folder of checkpoints over time) the engine's time-series checks run too, the
only way to judge oscillation and stalling. What could not be checked is listed in `skipped`.

What D returns is named as in ganlint.vocabulary.D_RETURNS (logit, probability, ls-score, critic; the
Monitor's plurals accepted): a logit or probability D is read as a probability and judged for
saturation; an ls-score or critic D returns scores with no saturation point, so only their means are
reported (ls-score is the least-squares GAN's score, compared to its own 1/0 targets, not a probability).
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import logging
import os
from pathlib import Path
from typing import Any

import torch

from ganlint.check import snapshot as snap
from ganlint.check.options import ALIASES, CheckOptions
from ganlint.check.reference import Reference, is_mnist_shape, resolve
from ganlint.check.result import CheckResult
from ganlint.diagnostics.engine import conclude
from ganlint.diagnostics.findings import Finding
from ganlint.diagnostics.series import Context
from ganlint.diagnostics.thresholds import DEFAULT_THRESHOLDS
from ganlint.errors import DataError
from ganlint.vocabulary import FAIL, RECORDED_AS
from ganlint.vocabulary import g_loss as vocab_g_loss

log = logging.getLogger(__name__)


def sample_metrics(fake: torch.Tensor, ref: Reference | None, seed: int) -> tuple[dict[str, float], list[int] | None, list[str]]:
    """Metrics of G's samples (ganlint.training.telemetry's evaluation columns where they apply), the class
    histogram for MNIST-shaped samples, and what was skipped for lack of real data."""
    from ganlint.training.evaluation import evaluate

    skipped: list[str] = []
    hist = None
    shape = tuple(fake.shape[1:])
    if ref is not None and ref.real is not None:
        if ref.shape != shape:
            raise DataError(f"G draws samples of shape {shape}, but the real data ({ref.name}) has shape {ref.shape}")
        metrics = evaluate(fake, ref.real, ref.dataset)
        if ref.mnist_like or ref.dataset.distance_kind == "sliced_wasserstein":
            # Images and multi-dimensional samples: noise with the data's mean and spread is a reference
            # far from the data (not so for one-dimensional Gaussians, or category tables).
            metrics["distance_baseline"] = snap.noise_baseline_distance(ref, seed)
    else:
        metrics = {}
        skipped.append("distance to the real data, diversity ratio, precision/recall/density/coverage: need real data (--data)")
    if is_mnist_shape(shape):
        from ganlint.metrics.classifier import class_histogram, class_statistics
        from ganlint.training.evaluation import classify_samples

        _, probs = classify_samples(fake)  # the pass evaluate() made, when it ran
        hist = [int(v) for v in class_histogram(probs.argmax(dim=1), 10)]
        if ref is None or ref.real is None:
            stats = class_statistics(probs, None, None)
            metrics.update({"modes_covered": float(stats["classes_covered"]), "mode_kl": stats["kl_uniform"]})
    elif ref is None or ref.dataset is None or not ref.dataset.num_modes:
        skipped.append("modes covered: the data's modes are unknown (MNIST-shaped samples or a ganlint dataset)")
    metrics["duplicates"] = snap.duplicate_fraction(fake, ref.real if ref is not None else None, seed)
    return metrics, hist, skipped


def check(checkpoint: str | os.PathLike, options: CheckOptions | None = None, **given: Any) -> CheckResult:
    """Check one checkpoint (see the module docstring). Raises a GanlintError (exit code 2) for unusable
    input: a file that does not load, a factory that does not import, data of another shape.

    The options are CheckOptions' fields (ganlint.check.options, one row each), given as keywords or as a
    CheckOptions (keywords win over it): generator, discriminator, kwargs, generator_kwargs,
    discriminator_kwargs, g_key, d_key, discriminator_file, trust_checkpoint, z_dim, z_dist, num_classes,
    data, data_root, history, samples, seed, d_output, g_loss, bn_mode, device, thresholds, fail_on; None
    means "not given". `discriminator_path` and `trust` are older spellings, still taken. `g_loss` is the
    loss G trained with (ganlint.vocabulary.G_LOSSES or an alias; a run folder's config says it), which
    decides how a saturated D is judged; `bn_mode` is BatchNorm's mode (ganlint.check.batchnorm).
    Error messages name the options as these keywords.
    """
    from ganlint.check import batchnorm as bn
    from ganlint.check.reference import match
    from ganlint.gating import parse_fail_on
    from ganlint.loaders import load_checkpoint

    opts = CheckOptions.from_given(options, **given)
    samples, seed, device, d_output, g_loss = opts.samples, opts.seed, opts.device, opts.d_output, opts.g_loss
    fail_on = opts.fail_on
    policy = fail_on if fail_on is not None and not isinstance(fail_on, (str, list, tuple)) else parse_fail_on(fail_on)
    th = opts.thresholds or DEFAULT_THRESHOLDS
    loaded = load_checkpoint(checkpoint, **opts.load_kwargs())
    notes = list(loaded.notes)
    meta = loaded.meta or {}
    config = meta.get("config") if isinstance(meta.get("config"), dict) else {}
    if g_loss is None and vocab_g_loss(config.get("loss")) is not None:
        g_loss = vocab_g_loss(config["loss"])
        notes.append(f"G's loss: {g_loss} (the run's config: loss {config['loss']!r})")
    if d_output is None and meta.get("d_raw_output"):
        # ganlint's own D returns raw scores: logits for the BCE losses (probability telemetry), ls-scores, critic scores.
        d_output = meta["d_raw_output"]
    if d_output is None and g_loss in LOSS_D_OUTPUT:
        d_output = LOSS_D_OUTPUT[g_loss]
        notes.append(f"D read as {d_output} scores (G's loss is {g_loss}; pass --d-output to say otherwise)")
    ref = resolve(opts.data, n=samples, seed=seed, run_dataset=meta.get("dataset"), data_root=opts.data_root)
    # Two samples say what G draws: fail (or decide the resize) before drawing thousands.
    matched = match(ref, tuple(loaded.sample(2, seed=seed).shape[1:]))
    notes += matched.notes
    real_for_d = matched.d_real
    findings: list[Finding] = []
    mode = bn.EVAL
    if opts.bn_mode == bn.TRAIN:
        mode = bn.TRAIN
    elif opts.bn_mode == bn.AUTO and (bn.has_batchnorm(loaded.generator) or bn.has_batchnorm(loaded.discriminator)):
        disagree, _, _ = bn.probe(loaded, real_for_d, d_output, seed)
        mode = bn.TRAIN if disagree else bn.EVAL
        findings.append(bn.mode_finding(mode, disagree))
    def train_mode():  # a fresh context each time: the samples are drawn and D is read in the chosen mode
        return bn.batch_statistics(loaded.generator, loaded.discriminator) if mode == bn.TRAIN else contextlib.nullcontext()

    log.info("drawing %s samples from G", f"{samples:,}")
    with train_mode():
        raw = loaded.sample(samples, seed=seed, batch_size=bn.TRAIN_BATCH if mode == bn.TRAIN else 1024)
    raw = raw.detach().float().cpu()
    finite = torch.isfinite(raw.reshape(len(raw), -1)).all(dim=1)
    findings.append(snap.finite_finding(int((~finite).sum()), len(raw)))
    metrics: dict[str, Any] = {}
    hist, skipped = None, []
    num_modes = matched.num_modes
    if finite.all():
        fake = matched.samples(raw)
        metrics, hist, skipped = sample_metrics(fake, matched.ref, seed)
        findings += snap.collapse_findings(metrics, th, num_modes, matched.ref.dataset.distance_kind
                                           if matched.ref is not None and matched.ref.dataset is not None else None)
        weak = any(f.check == "still_weak" and f.status == FAIL for f in findings)
        findings.append(snap.duplicates_finding(metrics.get("duplicates"), realistic=not weak))
    else:
        skipped.append("sample checks: G's samples are not finite")
    dm = None
    if loaded.discriminator is None:
        why = "a discriminator (--discriminator, or a checkpoint that holds one)"
        skipped.append("D's outputs and G's gradient under the two losses: no discriminator")
    elif not finite.all():
        why = "finite samples"
    else:
        if real_for_d is None:
            skipped.append("D(x): needs real data (--data)" if ref is None else "D(x): no real data at G's size")

        def latent(n: int):
            return latent_inputs(loaded.latent, n, seed, device)

        with train_mode():
            dm = snap.discriminator_metrics(loaded.generator, loaded.discriminator, latent,
                                            real_for_d.to(device) if real_for_d is not None else None, d_output, g_loss)
        metrics.update({k: v for k, v in dm.items()})
        why = ""
    findings += snap.discriminator_findings(dm, th, why, g_loss)
    if opts.history is not None:
        from ganlint.check.history import history_findings

        hist_findings, hist_notes = history_findings(
            opts.history, th, num_modes, loaded_options=opts.load_kwargs(),
            data=ref, samples=min(samples, 2000), seed=seed, d_output=d_output)
        findings += hist_findings
        notes += hist_notes
    else:
        findings += snap.history_notes()
        skipped.append("oscillation and stalling: a single checkpoint has no history (--history)")
    # How the engine reads D's outputs: a logit D's were turned into probabilities above (RECORDED_AS).
    ctx = Context(d_output=RECORDED_AS[(dm or {}).get("d_kind") or snap.PROBABILITY], num_modes=num_modes,
                  config=meta.get("config"), g_loss=g_loss)
    diagnosis = conclude(findings, ctx)
    return CheckResult(diagnosis, Path(checkpoint), loaded.kind, len(raw), metrics, skipped, notes, hist, policy)


def _signature() -> inspect.Signature:
    """check()'s signature as help(), IDEs and inspect show it: each option a keyword with its default."""
    own = inspect.signature(check)
    options = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default)
               for f in dataclasses.fields(CheckOptions)]
    aliases = [inspect.Parameter(old, inspect.Parameter.KEYWORD_ONLY, default=None) for old in ALIASES]
    positional = [p for p in own.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    return own.replace(parameters=[*positional, *options, *aliases])


check.__signature__ = _signature()  # type: ignore[attr-defined]


# What D returns under a G loss that implies it, when --d-output is not given.
LOSS_D_OUTPUT = {"wgan": "critic", "lsgan": "ls-score"}


def latent_inputs(latent, n: int, seed: int, device: str):
    """G's inputs for n samples, drawn like LoadedCheckpoint.sample draws them (own generator)."""
    # The latent's own draw, so G gets z in the shape it takes ((n, 100, 1, 1) for a DCGAN G).
    z, labels = latent.draw(n, torch.Generator().manual_seed(seed + 7))
    return (z.to(device), labels.to(device)) if labels is not None else z.to(device)
