"""BatchNorm's mode when `ganlint check` samples G and reads D (`--bn-mode`, ganlint.vocabulary.BN_MODES).

In eval mode a BatchNorm layer normalises with its running statistics, in train mode with the batch's own.
A young DCGAN's running statistics lag far behind its weights (momentum 0.1 averages the last ~10 batches
of a G that changes every step), so the two readings can disagree wildly: the userland DCGAN after 60
steps gives near-identical samples in eval mode where train mode gives varied ones, and D(x) 0.09 in eval
mode where its training log says 0.88. The training loop saw train mode (pytorch/examples dcgan never
calls .eval()), so:

  * eval / train: that mode, as asked;
  * auto (default): with no BatchNorm layer in G or D nothing changes (eval). Otherwise a batch of
    PROBE_BATCH samples is read in both modes; they disagree strongly when D's mean output (as a
    probability) differs by more than D_GAP on real or generated samples, or the samples' spread (mean
    per-value standard deviation across the batch) differs by more than SPREAD_RATIO either way. Then the
    check is judged in train mode (what training saw) with a WARN finding naming both readings; else eval.

Train-mode reads never change the modules: their BatchNorm buffers (running mean, variance, batch count)
are saved and restored around every read, and only BatchNorm layers switch (dropout stays off: it adds
noise, not the batch-statistics difference that matters here). Samples are drawn in batches of
TRAIN_BATCH in train mode: batch statistics depend on the batch size, and GAN scripts train with 64-128
(pytorch/examples dcgan and PyTorch-GAN: 64); one sample per batch would normalise each to zero.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from ganlint.diagnostics.findings import Finding
from ganlint.vocabulary import PASS, WARN

AUTO, TRAIN, EVAL = "auto", "train", "eval"
# The batch G is sampled in and D reads in train mode: the usual training batch (64) doubled, which keeps
# the batch statistics near what training saw while halving their sampling noise.
TRAIN_BATCH = 128
PROBE_BATCH = 256  # the auto probe: two train-mode batches' worth of samples, read in both modes
# A quarter of the probability range: enough to move D from "sure" (0.9, the dominance threshold) to near
# equilibrium (0.65), i.e. to flip the saturation verdict; the two modes of a settled net differ by < 0.05.
D_GAP = 0.25
# Half or twice the spread: the diversity and duplicate checks' verdicts move at such factors (a diversity
# ratio of 0.5 is the collapse check's warning level); a settled net's modes differ by < 10%.
SPREAD_RATIO = 2.0


def has_batchnorm(module: Any) -> bool:
    return isinstance(module, nn.Module) and any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


@contextlib.contextmanager
def batch_statistics(*modules: Any) -> Iterator[None]:
    """Inside: the BatchNorm layers of `modules` in train mode (batch statistics), their buffers restored
    on exit and every layer's mode as it was."""
    layers = [m for mod in modules if isinstance(mod, nn.Module) for m in mod.modules()
              if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m, m.training, {k: v.clone() for k, v in m.named_buffers(recurse=False) if v is not None}) for m in layers]
    try:
        for m in layers:
            m.train()
        yield
    finally:
        for m, was_training, buffers in saved:
            m.train(was_training)
            for k, v in buffers.items():
                getattr(m, k).copy_(v)


def spread(x: torch.Tensor) -> float:
    """Mean per-value standard deviation across the batch: how different the samples are."""
    return float(x.reshape(len(x), -1).float().std(dim=0).mean())


def compare(eval_reading: dict[str, float], train_reading: dict[str, float]) -> list[str]:
    """The strong disagreements between two readings ({spread, d_real?, d_fake?}), as phrases."""
    out = []
    a, b = eval_reading["spread"], train_reading["spread"]
    if (min(a, b) <= 0 and max(a, b) > 0) or (min(a, b) > 0 and max(a, b) / min(a, b) > SPREAD_RATIO):
        out.append(f"the samples' spread is {a:.3g} in eval mode, {b:.3g} in train mode")
    for key, name in (("d_real", "D(x)"), ("d_fake", "D(G(z))")):
        if key in eval_reading and key in train_reading and abs(eval_reading[key] - train_reading[key]) > D_GAP:
            out.append(f"{name} is {eval_reading[key]:.3g} in eval mode, {train_reading[key]:.3g} in train mode")
    return out


def mode_finding(chosen: str, disagreements: list[str]) -> Finding:
    """The bn_mode finding: a WARN when the modes disagree (judged in train mode), else a PASS."""
    from ganlint.vocabulary import STABLE

    if disagreements:
        return Finding("bn_mode", STABLE, WARN, None, D_GAP,
                       f"BatchNorm's two modes disagree ({'; '.join(disagreements)}): judged in {chosen} mode, what "
                       "the training loop saw (its running statistics lag behind the weights); pass --bn-mode eval "
                       "to judge the deployed G")
    return Finding("bn_mode", STABLE, PASS, None, D_GAP, f"BatchNorm's train and eval modes agree: judged in {chosen} mode")


def _mean_prob(raw: torch.Tensor, kind: str) -> float:
    return float((torch.sigmoid(raw) if kind == "logit" else raw).mean())


def probe(loaded: Any, real: torch.Tensor | None, d_kind: str | None, seed: int) -> tuple[list[str], dict, dict]:
    """Read PROBE_BATCH samples (and D on them and on as many reals) in eval and in train mode; the strong
    disagreements (compare) and both readings."""
    from ganlint.check.snapshot import SCORE_KINDS, infer_d_kind

    d = loaded.discriminator
    readings = {}
    kind = d_kind
    for mode in (EVAL, TRAIN):
        ctx = batch_statistics(loaded.generator, d) if mode == TRAIN else contextlib.nullcontext()
        with ctx:
            fake = loaded.sample(PROBE_BATCH, seed=seed, batch_size=TRAIN_BATCH)
            reading = {"spread": spread(fake)}
            if d is not None and bool(fake.isfinite().all()):
                raw = loaded.discriminate(fake, batch_size=TRAIN_BATCH)
                kind = kind or infer_d_kind(raw)
                if kind not in SCORE_KINDS:  # scores have no common scale to compare by D_GAP
                    reading["d_fake"] = _mean_prob(raw, kind)
                    if real is not None and len(real) >= 2:
                        reading["d_real"] = _mean_prob(loaded.discriminate(real[:PROBE_BATCH], batch_size=TRAIN_BATCH), kind)
        readings[mode] = reading
    return compare(readings[EVAL], readings[TRAIN]), readings[EVAL], readings[TRAIN]
