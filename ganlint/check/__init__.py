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
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ganlint.check import snapshot as snap
from ganlint.check.reference import Reference, is_mnist_shape, resolve
from ganlint.diagnostics.engine import conclude
from ganlint.diagnostics.findings import Diagnosis, Finding
from ganlint.diagnostics.series import Context
from ganlint.diagnostics.thresholds import DEFAULT_THRESHOLDS, Thresholds
from ganlint.errors import ConfigError, DataError
from ganlint.training.config import MAX_SEED
from ganlint.vocabulary import (
    BN_MODES,
    D_RETURN_ALIASES,
    D_RETURNS,
    ERROR,
    FAIL,
    INCONCLUSIVE,
    NOT_ASSESSABLE,
    RECORDED_AS,
    WARN,
    d_returns,
    g_loss_choices,
)
from ganlint.vocabulary import g_loss as vocab_g_loss

DEFAULT_SAMPLES = 10_000
# PRDC's k-NN balls need more than k = 5 points; 100 is the least that gives a share worth reading.
MIN_SAMPLES = 100
# 200,000 MNIST-sized samples are ~600 MB of float32: beyond that a typo (an extra zero) is likelier
# than a need, and the k-NN measures would take minutes.
MAX_SAMPLES = 200_000
# The integer options' ranges, (lowest, highest), for the API, the command line and [tool.ganlint] alike.
OPTION_RANGES: dict[str, tuple[int, int]] = {
    "samples": (MIN_SAMPLES, MAX_SAMPLES),
    "seed": (0, MAX_SEED),  # as TrainConfig's seed: numpy's generators take seeds below 2**63
    "z_dim": (1, 2**16),  # as TrainConfig's z_dim; a typo beyond it would allocate samples x z_dim floats
    "num_classes": (2, 2**16),  # a conditional G has at least two classes to choose from
}


def check_options(**values: Any) -> None:
    """ConfigError naming the option (as its flag) and the value unless each given value is an integer in
    its OPTION_RANGES range; None means "not given" and passes."""
    for name, value in values.items():
        if value is None:
            continue
        low, high = OPTION_RANGES[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(f"--{name.replace('_', '-')} must be between {low:,} and {high:,} (an integer), got {value!r}")


@dataclass
class CheckResult:
    """The verdict on one checkpoint."""

    diagnosis: Diagnosis
    source: Path
    kind: str
    samples: int
    metrics: dict[str, Any]
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    class_histogram: list[int] | None = None
    fail_on: Any = None  # a ganlint.gating.FailPolicy; None means the default policy

    @property
    def policy(self):
        from ganlint.gating import parse_fail_on

        return self.fail_on if self.fail_on is not None else parse_fail_on(None)

    @property
    def label(self) -> str:
        return self.diagnosis.label

    @property
    def healthy(self) -> bool:
        """True unless the fail-on policy fails the diagnosis."""
        return not self.policy.fails(self.diagnosis)

    @property
    def checked(self) -> bool:
        """Whether any check could run at all (else the exit code is 3)."""
        return any(f.status != NOT_ASSESSABLE for f in self.diagnosis.findings)

    @property
    def inconclusive(self) -> bool:
        """Whether nothing decisive could be judged: the verdict is inconclusive, or no check could run."""
        return self.diagnosis.label == INCONCLUSIVE or not self.checked

    @property
    def exit_code(self) -> int:
        """What `ganlint check` exits with: 3 when no check could run, else the gate's
        FailPolicy.exit_code (0 passes, 1 fails, 3 inconclusive)."""
        from ganlint.gating import EXIT_INCONCLUSIVE

        return self.policy.exit_code(self.diagnosis) if self.checked else EXIT_INCONCLUSIVE

    def explain(self) -> str:
        """A readable account of the verdict: label, reasons, what to record to decide, failing findings,
        skipped checks."""
        d = self.diagnosis
        lines = [f"{self.source}: {d.label} (confidence {d.confidence:.2f}) - {d.summary}"]
        lines += [f"  gate: {r}" for r in self.policy.reasons(d)]
        if not self.checked:
            lines.append("  gate: nothing could be checked (see skipped)")
        if d.needs and d.label != INCONCLUSIVE:  # an inconclusive reason above already names them
            lines.append(f"  to be surer, record: {'; '.join(d.needs)}")
        if self.policy.passed_without_evidence(d):
            lines.append(f"  gate: passed without evidence ({INCONCLUSIVE}, and --fail-on {self.policy.to_spec()} "
                         f"lets it through){'; to decide, record: ' + '; '.join(d.needs) if d.needs else ''}")
        for f in d.findings:
            if f.status in (FAIL, WARN, ERROR):
                lines.append(f"  {f.status.upper():<5} {f.check}: {f.message}")
        lines += [f"  skipped: {s}" for s in self.skipped]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"source": str(self.source), "kind": self.kind, "samples": self.samples, "metrics": _clean(self.metrics),
                "class_histogram": self.class_histogram, "skipped": self.skipped, "notes": self.notes,
                **self.diagnosis.to_dict()}


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


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


def check(checkpoint: str | os.PathLike, *, generator: str | None = None, discriminator: str | None = None,
          kwargs: dict | None = None, generator_kwargs: dict | None = None, discriminator_kwargs: dict | None = None,
          g_key: str | None = None, d_key: str | None = None, discriminator_file: str | os.PathLike | None = None,
          trust_checkpoint: bool = False, z_dim: int | None = None, z_dist: str | None = None,
          num_classes: int | None = None, data: str | None = None, data_root: str | None = None,
          history: str | os.PathLike | None = None, samples: int | None = DEFAULT_SAMPLES, seed: int | None = 0,
          d_output: str | None = None, g_loss: str | None = None, bn_mode: str | None = None, device: str = "cpu",
          thresholds: Thresholds | None = None, fail_on: Any = None, discriminator_path: str | os.PathLike | None = None,
          trust: bool | None = None) -> CheckResult:
    """Check one checkpoint (see the module docstring). Raises a GanlintError (exit code 2) for unusable
    input: a file that does not load, a factory that does not import, data of another shape.

    The keyword names are the command line's (`--discriminator-file` is `discriminator_file`,
    `--trust-checkpoint` `trust_checkpoint`); `discriminator_path` and `trust` are older spellings, still taken.
    `g_loss` is the loss G trained with (ganlint.vocabulary.G_LOSSES or an alias; a run folder's config says
    it), which decides how a saturated D is judged; `bn_mode` is BatchNorm's mode (ganlint.check.batchnorm).
    """
    from ganlint.check import batchnorm as bn
    from ganlint.check.reference import match
    from ganlint.gating import parse_fail_on
    from ganlint.loaders import load_checkpoint

    discriminator_file = _alias("discriminator_file", discriminator_file, "discriminator_path", discriminator_path)
    trust_checkpoint = bool(_alias("trust_checkpoint", trust_checkpoint or None, "trust", trust))
    samples = DEFAULT_SAMPLES if samples is None else samples  # None: not given (the CLI passes it on)
    seed = 0 if seed is None else seed
    check_options(samples=samples, seed=seed, z_dim=z_dim, num_classes=num_classes)
    if d_output is not None:
        if not isinstance(d_output, str) or d_returns(d_output) is None:
            raise ConfigError(f"--d-output must be one of {', '.join(D_RETURNS)} (or {', '.join(D_RETURN_ALIASES)}), "
                              f"got {d_output!r}")
        d_output = d_returns(d_output)
    if g_loss is not None:
        if vocab_g_loss(g_loss) is None:
            raise ConfigError(f"--g-loss must be one of {g_loss_choices()}, "
                              f"got {g_loss!r}")
        g_loss = vocab_g_loss(g_loss)
    bn_mode = bn.AUTO if bn_mode is None else bn_mode
    if bn_mode not in BN_MODES:
        raise ConfigError(f"--bn-mode must be one of {', '.join(BN_MODES)}, got {bn_mode!r}")
    policy = fail_on if fail_on is not None and not isinstance(fail_on, (str, list, tuple)) else parse_fail_on(fail_on)
    th = thresholds or DEFAULT_THRESHOLDS
    load_options = {"generator": generator, "discriminator": discriminator, "kwargs": kwargs,
                    "generator_kwargs": generator_kwargs, "discriminator_kwargs": discriminator_kwargs, "g_key": g_key,
                    "d_key": d_key, "trust": trust_checkpoint, "z_dim": z_dim, "z_dist": z_dist,
                    "num_classes": num_classes, "device": device}
    loaded = load_checkpoint(checkpoint, discriminator_path=discriminator_file, **load_options)
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
    ref = resolve(data, n=samples, seed=seed, run_dataset=meta.get("dataset"), data_root=data_root)
    # Two samples say what G draws: fail (or decide the resize) before drawing thousands.
    matched = match(ref, tuple(loaded.sample(2, seed=seed).shape[1:]))
    notes += matched.notes
    real_for_d = matched.d_real
    findings: list[Finding] = []
    mode = bn.EVAL
    if bn_mode == bn.TRAIN:
        mode = bn.TRAIN
    elif bn_mode == bn.AUTO and (bn.has_batchnorm(loaded.generator) or bn.has_batchnorm(loaded.discriminator)):
        disagree, _, _ = bn.probe(loaded, real_for_d, d_output, seed)
        mode = bn.TRAIN if disagree else bn.EVAL
        findings.append(bn.mode_finding(mode, disagree))
    def train_mode():  # a fresh context each time: the samples are drawn and D is read in the chosen mode
        return bn.batch_statistics(loaded.generator, loaded.discriminator) if mode == bn.TRAIN else contextlib.nullcontext()

    print(f"ganlint: drawing {samples:,} samples from G", file=sys.stderr, flush=True)
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
            return _latent_inputs(loaded.latent, n, seed, device)

        with train_mode():
            dm = snap.discriminator_metrics(loaded.generator, loaded.discriminator, latent,
                                            real_for_d.to(device) if real_for_d is not None else None, d_output, g_loss)
        metrics.update({k: v for k, v in dm.items()})
        why = ""
    findings += snap.discriminator_findings(dm, th, why, g_loss)
    if history is not None:
        from ganlint.check.history import history_findings

        hist_findings, hist_notes = history_findings(
            history, th, num_modes, loaded_options={**load_options, "discriminator_path": discriminator_file},
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


# What D returns under a G loss that implies it, when --d-output is not given.
LOSS_D_OUTPUT = {"wgan": "critic", "lsgan": "ls-score"}


def _alias(name: str, value: Any, old: str, old_value: Any) -> Any:
    """`value`, or the older spelling's; both given is a ConfigError."""
    if old_value is not None and value is not None and value != old_value:
        raise ConfigError(f"{name} and {old} are the same option (the older spelling); give one")
    return value if value is not None else old_value


def _latent_inputs(latent, n: int, seed: int, device: str):
    """G's inputs for n samples, drawn like LoadedCheckpoint.sample draws them (own generator)."""
    # The latent's own draw, so G gets z in the shape it takes ((n, 100, 1, 1) for a DCGAN G).
    z, labels = latent.draw(n, torch.Generator().manual_seed(seed + 7))
    return (z.to(device), labels.to(device)) if labels is not None else z.to(device)
