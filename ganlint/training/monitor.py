"""Watch a training loop you wrote yourself: three lines, the trainer's telemetry, the engine's label.

    mon = ganlint.Monitor(G, D, opt_g, opt_d, real=real_batch, outputs="logit")
    for step in range(steps):
        ...                                  # your D update, then your G update, unchanged
        mon.step(loss_d=loss_d, loss_g=loss_g, d_real=d_out_real, d_fake=d_out_fake, fake=fake)
        if mon.should_stop:                  # only with stop_on=...
            break
    print(mon.diagnose().label)
    mon.save("runs/mine")                    # then: ganlint diagnose runs/mine / ganlint report runs/mine

What it records (ganlint.training.telemetry's schema, one row per `step()` call):
  * gradient norms and update ratios from hooks on the optimizers' `step()`: the gradients each
    optimizer actually applies (G's backward also leaves gradients in D; D's optimizer never applies
    them, so they are not D's). Computed on the device with foreach norms: no host synchronisation.
  * losses, D's mean outputs (as probabilities when D returns a logit or a probability), the mean and
    spread of the fake batch and of the real data: step(real=...)'s batch when given, else the `real`
    given at construction (a tensor: its mean and std once; a callable: sampled at the first step and
    at every evaluation, carried forward in between). Kept on the device and copied to the host every
    `flush_every` steps by the trainer's own recorder (ganlint.training.telemetry.TelemetryRecorder).
    What differs from the trainer is only where the values come from (the user's tensors or numbers,
    moved to G's device here) and that the Monitor keeps a rolling window (`TelemetryRecorder.trim`). What it is not given stays NaN, which the
    engine reads as not recorded (never as a failure).
  * at evaluations, when `fake` (and real data) are given: diversity, distance, modes (the shipped
    MNIST classifier for 1x28x28 samples, which also sets num_modes=10 unless you pass num_modes) and
    k-NN coverage, as ganlint.training.evaluation computes them; a few of the evaluated batches are kept for
    the sample pictures that `save()` writes.

The evaluation schedule adapts to the run's length (eval_gap): step 1 (a baseline), then every 10
steps up to step 160, and the gap doubles each time the run doubles (20 up to 320, 40 up to 640, ...)
until it reaches `eval_every` (500 by default, from step 5,120 on). Why: the engine needs several
evaluations to judge samples at all (progress compares the first with the last ones, collapse takes
the median of the last 3, oscillation of the distance needs 16), so a 300-step run needs ~20, which a
fixed gap of 500 never gives; a long run must not pay for them (an MNIST evaluation costs ~80 ms, 3-8
steps of a small GAN), and a gap of 1/16 of the run keeps ~8 evaluations per doubling at a cost that
fades to 1/eval_every. Passing eval_every yourself asks for a fixed schedule: every eval_every-th step.
`diagnose()` and `save()` first evaluate the last fake batch given to step() when the last evaluation
is older than the current gap (only a reference to that one batch is kept, detached).

Every `diagnose_every` steps (default 1,000) the engine labels the rolling window (the last `window`
steps, default 10,000; memory stays bounded on runs of millions of steps): `status` holds the label
(one of ganlint.vocabulary.LABELS), `on_label(label, onset_step, diagnosis)` fires when it changes
(not for a first label that is stable or inconclusive: nothing to report), and `should_stop` turns
true on a label in `stop_on`.

With `loggers=` (TensorBoard, W&B, MLflow, or your own writer or run: ganlint.integrations.sinks) the
same values go there as they reach the host: each flush's new rows as scalars `ganlint/<column>` at their
steps, each diagnosis as the label's text and index with its findings, and sample pictures.

Why it never changes the run it watches: it draws no random numbers from the global generators (a
`real` callable is called inside a forked RNG with Python's and numpy's states restored), it reads
gradients and parameters without writing them, and it never touches train/eval modes or optimizer
state; so the same seed trains identically with and without it (tested).

Why it never kills the run: a week-long job must not die because of its monitor. Any error inside
the Monitor is logged once as a warning (the "ganlint" logger: on stderr unless logging says otherwise)
and the Monitor disables itself, unless `strict=True`. What it
recorded before the error is kept: `diagnose()`, `telemetry` and `save()` still work on those steps
(a diagnosis of no steps at all says so, labelled inconclusive with confidence 0, rather than raising).

Under torch.distributed (DDP), batch statistics are averaged over ranks at each flush (gradients are
already synchronised), only rank 0 labels the run and writes, and its decision is broadcast so every
rank sees the same `should_stop`.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ganlint.errors import ConfigError
from ganlint.schema import CONFIG_FILE
from ganlint.training.run import SAVED_SAMPLES
from ganlint.training.telemetry import TelemetryRecorder, snapshot, step_row, total_norm, update_ratio
from ganlint.vocabulary import (
    D_RETURN_ALIASES,
    D_RETURNS,
    INCONCLUSIVE,
    LABELS,
    PASSING_LABEL,
    RECORDED_AS,
    d_returns,
    g_loss_choices,
)
from ganlint.vocabulary import g_loss as canonical_g_loss

log = logging.getLogger(__name__)

DEFAULTS = {
    "flush_every": 50,  # host syncs: one per 50 steps
    # The costs below were measured on a 2-core CPU against the MNIST MLP GAN's ~10 ms step; each default
    # keeps its part of the Monitor's overhead near 1-3% (benchmarks/test_monitor_overhead.py).
    # The largest gap between evaluations (sample metrics on one batch: ~80 ms for 64 MNIST digits): the
    # adaptive schedule (eval_gap) starts at 10 and reaches it at step 5,120. Passed explicitly: a fixed gap.
    "eval_every": 500,
    "diagnose_every": 1000,  # the engine on the window: ~0.05 s on 1,000 rows, ~0.27 s on 10,000
    # Update ratios need a copy of the parameters before the optimizer step: on a CPU that copy costs
    # ~10% of a small GAN's step, so only every 10th step of each optimizer is measured (a window's
    # median needs no more; the other rows hold NaN).
    "ratio_every": 10,
    "window": 10_000,  # steps kept for the label; older rows are dropped (bounded memory and engine time)
    "min_steps": 100,  # no label before this many steps: the engine's windows need rows
}
# The adaptive schedule (module docstring): the first gap, and the gap's largest share of the steps done.
FIRST_EVAL_GAP = 10
EVAL_GAP_SHARE = 16  # gap <= steps / 16: ~8 evaluations per doubling of the run, 24 by step 300
# Upper bounds of the options that size memory: a typo (an extra zero) must be an error at once, not an
# allocation that fails (flush_every rows are allocated on the device up front) or grows for days.
MAXIMA = {
    "flush_every": 10**5,  # as TrainConfig's: a device buffer of this many rows
    "window": 10**7,  # rows kept on the host: ~1.5 GB at 10**7 (and the engine's time grows with it)
}
MNIST_MODES = 10  # 1x28x28 samples are read by the shipped MNIST classifier: ten digits
PICTURES = 6  # evaluated batches kept for the sample pictures (the report's strip shows at most 6)
STOP_LABELS = tuple(label for label in LABELS if label != PASSING_LABEL)


def eval_gap(step: int, largest: int = DEFAULTS["eval_every"]) -> int:
    """The adaptive schedule's gap at `step`: FIRST_EVAL_GAP, doubled while it is under 1/EVAL_GAP_SHARE
    of the steps done, at most `largest` (10 up to step 160, 20 up to 320, ..., 500 from 5,120)."""
    gap = FIRST_EVAL_GAP
    while gap < largest and step > EVAL_GAP_SHARE * gap:
        gap *= 2
    return max(1, min(gap, largest))


class _Probe:
    """Hooks on one optimizer: the norm of the gradients it applies and the relative size of its update."""

    def __init__(self, opt: torch.optim.Optimizer, ratio_every: int, on_error: Callable[[BaseException], None]) -> None:
        self.opt, self.ratio_every, self.on_error = opt, ratio_every, on_error
        self.count = 0
        self.grad_norm: torch.Tensor | None = None
        self.ratio: torch.Tensor | None = None
        self._params: list[torch.Tensor] = []
        self._before: list[torch.Tensor] | None = None
        self.handles = [opt.register_step_pre_hook(self._pre), opt.register_step_post_hook(self._post)]

    def _pre(self, opt, args, kwargs) -> None:
        try:
            params = [p for group in opt.param_groups for p in group["params"] if p.grad is not None]
            self._params = params
            self.grad_norm = total_norm([p.grad for p in params]) if params else None
            self._before = snapshot(params) if params and self.count % self.ratio_every == 0 else None
        except Exception as e:  # never break the user's optimizer step
            self.on_error(e)

    def _post(self, opt, args, kwargs) -> None:
        try:
            if self._before is not None:
                self.ratio = update_ratio(self._params, self._before)
                self._before = None
            self.count += 1
        except Exception as e:
            self.on_error(e)

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


class Monitor:
    """See the module docstring. Arguments beyond G and D are optional; checks that lack their input
    say so in the diagnosis.

    Args:
        generator, discriminator: the user's modules (only their device is read).
        opt_g, opt_d: their optimizers (anything with param_groups, register_step_pre_hook and
            register_step_post_hook); without one, that side's gradient norms and update ratios are NaN.
        real: real samples: a fixed tensor, or a callable returning a real batch; gives real_mean/real_std
            to every row (unless step() gets a real batch) and the reals that evaluations compare with.
        outputs: what D returns (ganlint.vocabulary.D_RETURNS): "logit", "probability", "ls-score" or
            "critic" (Wasserstein or hinge scores); the plurals "logits" and "probabilities" also work.
        g_loss: the generator loss the loop trains with (ganlint.vocabulary.G_LOSSES or an alias:
            "nonsaturating", "saturating"/"minimax", "wgan", "lsgan"); the vanishing gradient is judged
            under it. Default: inferred from the recorded losses where they show it, else unknown.
        stop_on: labels that make `should_stop` true: any of ganlint.vocabulary.LABELS but stable.
        on_label: called as on_label(label, onset_step, diagnosis) when the label changes.
        num_modes: known modes of the data, for the mode checks (default: 10 for 1x28x28 samples).
        strict: raise Monitor errors instead of disabling the Monitor.
        flush_every, eval_every, diagnose_every, ratio_every, window, min_steps: the schedule (DEFAULTS).
        loggers: where else the run is written as it trains: one item or a list of the items
            ganlint.integrations.sinks.Loggers.open takes ("tensorboard:DIR", "wandb", "mlflow", or your own
            SummaryWriter, wandb run, mlflow module or run, Lightning logger). Sent there: the telemetry rows
            as scalars `ganlint/<column>` at each flush (no extra host sync), the label (text, index,
            confidence, findings) at each diagnosis and at `diagnose()`, and sample pictures `ganlint/samples`
            (ganlint.training.monitor_feed.PICTURE_SHARE). Opened here (an unknown item is a ConfigError); `close()` finishes
            what ganlint opened and only flushes your own objects. A failing logger is switched off with a
            warning: it never disables the Monitor nor stops the loop. Default: none.
    """

    def __init__(self, generator: torch.nn.Module, discriminator: torch.nn.Module | None = None,
                 opt_g: torch.optim.Optimizer | None = None, opt_d: torch.optim.Optimizer | None = None, *,
                 real: torch.Tensor | Callable[[], torch.Tensor] | None = None, outputs: str = "logit",
                 g_loss: str | None = None, stop_on: Iterable[str] = (), on_label: Callable[..., Any] | None = None, num_modes: int | None = None,
                 strict: bool = False, loggers: Any = None, **schedule: int) -> None:
        canonical = d_returns(outputs) if isinstance(outputs, str) else None
        if canonical is None:
            raise ConfigError(f"outputs must be one of {', '.join(D_RETURNS)} (or {', '.join(D_RETURN_ALIASES)}), "
                              f"got {outputs!r}")
        if g_loss is not None and canonical_g_loss(g_loss) is None:
            raise ConfigError(f"g_loss must be one of {g_loss_choices()}, "
                              f"got {g_loss!r}")
        self.g_loss = canonical_g_loss(g_loss) if g_loss is not None else None
        unknown = set(schedule) - set(DEFAULTS)
        if unknown:
            raise ConfigError(f"unknown Monitor option(s) {', '.join(sorted(unknown))}; valid: {', '.join(DEFAULTS)}")
        self.cfg = {**DEFAULTS, **schedule}
        for k, v in self.cfg.items():
            high = MAXIMA.get(k)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1 or (high is not None and v > high):
                what = "a positive integer" + (f" of at most {high:,}" if high is not None else "")
                raise ConfigError(f"Monitor option {k} must be {what}, got {v!r}")
        if num_modes is not None and (isinstance(num_modes, bool) or not isinstance(num_modes, int) or num_modes < 1):
            raise ConfigError(f"num_modes must be a positive integer (the data's known modes), got {num_modes!r}")
        stop_on = (stop_on,) if isinstance(stop_on, str) else tuple(stop_on)
        bad = set(stop_on) - set(STOP_LABELS)
        if bad:
            raise ConfigError(f"stop_on: unknown label(s) {', '.join(sorted(bad))}; labels: {', '.join(STOP_LABELS)}"
                              + (" (stable never stops a run)" if PASSING_LABEL in bad else ""))
        if real is not None and not callable(real) and not isinstance(real, torch.Tensor):
            raise ConfigError(f"real must be a tensor of real samples or a callable returning a batch, got {type(real).__name__}")
        self.outputs, self.d_output = canonical, RECORDED_AS[canonical]
        self.stop_on, self.on_label, self.num_modes, self.strict = set(stop_on), on_label, num_modes, strict
        self.adaptive = "eval_every" not in schedule  # an explicit eval_every is a fixed schedule
        self.real = real
        params = list(generator.parameters())
        self.device = params[0].device if params else torch.device("cpu")
        self.disabled = False
        self._failure: str | None = None  # the error that disabled the Monitor
        self.status: str | None = None
        self.onset_step: int | None = None
        self.should_stop = False
        self.last_diagnosis = None
        self.n = 0
        self._t0 = time.perf_counter()
        self._recorder = TelemetryRecorder(self.device, self.cfg["flush_every"])  # rows, evaluations, the window
        self._last_eval: int | None = None  # the step of the last evaluation
        self._last: tuple[int, torch.Tensor, torch.Tensor | None] | None = None  # (step, fake, real): one batch
        self._samples: dict[int, torch.Tensor] = {}  # evaluated fakes kept for the pictures, by step
        self._picture_real: torch.Tensor | None = None
        self._said: set[str] = set()
        self._nan = torch.full((), float("nan"), device=self.device)
        self._real_moments: tuple[torch.Tensor, torch.Tensor] | None = None
        self._distance_kind: str | None = None  # set from the samples' shape (see _watch_shape)
        self._shape_seen = False
        if isinstance(real, torch.Tensor):
            self._real_moments = self._moments(real)  # once: a fixed tensor's statistics never change
            self._watch_shape(real)
        self._probes = {}
        for side, opt in (("g", opt_g), ("d", opt_d)):
            if opt is None:
                self._say(f"no optimizer for {side.upper()}: grad_norm_{side} and update_ratio_{side} are not recorded")
            else:
                self._probes[side] = _Probe(opt, self.cfg["ratio_every"], self._fail)
        self._dist = _dist_info()
        self._feed = None  # ganlint.training.monitor_feed.LoggerFeed: last, once every argument is known good
        if loggers is not None and self._dist.rank == 0:  # under DDP rank 0 alone writes, as save() does
            from ganlint.training.monitor_feed import LoggerFeed

            self._feed = LoggerFeed.open(loggers, say=self._say, config={
                "source": "ganlint.Monitor", "outputs": self.outputs, "g_loss": self.g_loss, "schedule": self.cfg,
                "eval_schedule": "adaptive" if self.adaptive else "fixed"})

    # -- the one call in the user's loop -----------------------------------------------------------------
    def step(self, loss_d=None, loss_g=None, d_real=None, d_fake=None, fake=None, real=None) -> str | None:
        """Record one training step; returns the current label (None until the first diagnosis)."""
        if self.disabled:
            return self.status
        try:
            self._step(loss_d, loss_g, d_real, d_fake, fake, real)
        except Exception as e:
            self._fail(e)
        return self.status

    def _step(self, loss_d, loss_g, d_real, d_fake, fake, real) -> None:
        # A gradient norm exists only once its optimizer has applied a step (AMP's GradScaler also skips the
        # first steps while it calibrates): a row of NaN norms would read as divergence, so none is recorded.
        if self._probes and any(p.count == 0 for p in self._probes.values()):
            self._say("step() before every optimizer has applied a step: not recorded (rows start once "
                      "opt_d.step() and opt_g.step() have each run; call mon.step after them)")
            return
        self.n += 1
        v = {"loss_d": self._scalar(loss_d), "loss_g": self._scalar(loss_g), "d_real": self._d(d_real),
             "d_fake": self._d(d_fake)}
        for side in ("g", "d"):
            p = self._probes.get(side)
            v[f"grad_norm_{side}"] = p.grad_norm if p is not None and p.grad_norm is not None else self._nan
            v[f"update_ratio_{side}"] = p.ratio if p is not None and p.ratio is not None else self._nan
            if p is not None:
                p.ratio = None  # an update ratio belongs to the step that measured it
        if isinstance(fake, torch.Tensor):
            fake = fake.detach()
            if not self._shape_seen:
                self._watch_shape(fake)
            self._last = (self.n, fake, real.detach() if isinstance(real, torch.Tensor) else None)
        v["fake_mean"], v["fake_std"] = self._moments(fake)
        if isinstance(real, torch.Tensor) and real.numel() >= 2:
            v["real_mean"], v["real_std"] = self._moments(real)
        else:
            if self._real_moments is None and callable(self.real):
                self._sample_real_moments()  # once, so that rows before the first evaluation have them too
            v["real_mean"], v["real_std"] = self._real_moments or (self._nan, self._nan)
        self._recorder.record_row(self.n, time.perf_counter() - self._t0,
                                  step_row({c: x.to(self.device) for c, x in v.items()}))
        if isinstance(fake, torch.Tensor) and self._eval_due(self.n):
            self._evaluate(fake, real, self.n)
        # Decisions follow the step count, not the buffer: reading `telemetry` mid-run flushes a partial
        # buffer, and every rank of a DDP job reaches the same step, so the collectives stay aligned.
        due = self.n % self.cfg["diagnose_every"] == 0 and self.n >= self.cfg["min_steps"]
        if self._recorder.full or due:
            self._flush()  # off the flush grid: one extra host sync per diagnose_every steps
        if due:
            self._decide()

    # -- the evaluation schedule --------------------------------------------------------------------------
    def gap(self, step: int | None = None) -> int:
        """Steps between evaluations at `step` (default: now): eval_gap's, or the fixed eval_every."""
        step = self.n if step is None else step
        return eval_gap(step, self.cfg["eval_every"]) if self.adaptive else self.cfg["eval_every"]

    def _eval_due(self, step: int) -> bool:
        return (self.adaptive and step == 1) or step % self.gap(step) == 0

    # -- values -------------------------------------------------------------------------------------------
    def _scalar(self, x) -> torch.Tensor:
        if x is None:
            return self._nan
        t = x.detach() if isinstance(x, torch.Tensor) else torch.as_tensor(float(x))
        return t.float().mean().to(self.device)

    def _d(self, x) -> torch.Tensor:
        """D's mean output on a batch, as the trainer records it (a probability for a logit)."""
        if x is None:
            return self._nan
        t = x.detach().float() if isinstance(x, torch.Tensor) else torch.as_tensor(float(x))
        if self.outputs == "logit":
            t = torch.sigmoid(t)
        return t.mean().to(self.device)

    def _moments(self, x) -> tuple[torch.Tensor, torch.Tensor]:
        if not isinstance(x, torch.Tensor) or x.numel() < 2:
            return self._nan, self._nan
        t = x.detach().float()
        # Two plain reductions, as the trainer computes them: torch.std_mean is ~4x slower on a CPU (0.2 ms
        # for a 64x784 batch, a few percent of a small GAN's step).
        return t.mean().to(self.device), t.std().to(self.device)

    def _watch_shape(self, x: torch.Tensor) -> None:
        """Grey images the MNIST classifier can read (ganlint.metrics.classifier.mnist_input_problem: 1x28x28,
        or a DCGAN's 1x32x32 / 1x64x64, resized by its to_mnist_input) are evaluated through it, with
        num_modes=10 (its digits) unless num_modes is given. RGB images are not taken for digits."""
        from ganlint.metrics.classifier import mnist_input_problem

        self._shape_seen = True
        shape = tuple(x.shape[1:])
        grey = len(shape) == 2 or (len(shape) == 3 and shape[0] == 1)
        if not (grey and mnist_input_problem(shape) is None):
            return
        from ganlint.training.evaluation import CLASSIFIER_KIND

        self._distance_kind = CLASSIFIER_KIND
        size = "x".join(map(str, shape if len(shape) == 3 else (1, *shape)))
        resized = "" if shape in ((1, 28, 28), (28, 28)) else ", resized to 28x28 for it"
        if self.num_modes is None:
            self.num_modes = MNIST_MODES
            self._say(f"{size} samples: num_modes={MNIST_MODES} (the shipped MNIST classifier's digits{resized}); "
                      "pass num_modes= if your data has other classes")

    def _real_batch(self, n: int) -> torch.Tensor | None:
        src = self.real
        if src is None:
            return None
        if callable(src):
            # The user's sampler may draw random numbers: fork torch's RNG and restore Python's and numpy's,
            # so the training run draws exactly what it would have without the Monitor.
            py, npy = random.getstate(), np.random.get_state()
            devices = [self.device] if self.device.type == "cuda" else []
            with torch.random.fork_rng(devices=devices):
                batch = src()
            random.setstate(py)
            np.random.set_state(npy)
            if isinstance(batch, torch.Tensor) and batch.numel() >= 2:
                self._real_moments = self._moments(batch)  # carried forward to the rows until the next sample
            return batch
        return src[:n] if len(src) > n else src

    def _sample_real_moments(self) -> None:
        self._real_batch(0)
        if self._real_moments is None:  # a sampler that returns nothing usable: say so once, keep NaN
            self._real_moments = (self._nan, self._nan)
            self._say("real() returned no batch of two or more values: real_mean/real_std are not recorded")

    def _evaluate(self, fake: torch.Tensor, real: torch.Tensor | None, step: int) -> None:
        from ganlint.check.reference import from_tensor
        from ganlint.training.evaluation import CLASSIFIER_KIND, evaluate

        self._last_eval = step
        fake = fake.detach().float()
        real = real if real is not None else self._real_batch(len(fake))
        if real is None:
            self._say("no real data (real=...): distance, diversity and coverage are not measured")
            return
        real = real.detach().float().to(fake.device)
        if real.shape[1:] != fake.shape[1:]:
            self._say(f"fake samples {tuple(fake.shape[1:])} and real samples {tuple(real.shape[1:])} differ in shape: "
                      "sample metrics are skipped")
            return
        ref = from_tensor("real", real.cpu(), classifier=self._distance_kind == CLASSIFIER_KIND)
        fake_cpu = fake.cpu()
        with torch.random.fork_rng(devices=[]), torch.no_grad():  # evaluations never touch the run's RNG
            metrics = evaluate(fake_cpu, ref.real, ref.dataset)
        self._recorder.record_eval(step, metrics)
        self._keep_samples(fake_cpu, ref.real, step)

    def _keep_samples(self, fake: torch.Tensor, real: torch.Tensor, step: int) -> None:
        """Keep this evaluation's fakes for the pictures: at most PICTURES batches, spread over the run
        (first and last kept; on overflow the inner one nearest its predecessor goes)."""
        self._samples[step] = fake[:SAVED_SAMPLES].clone()  # a copy: the user may reuse the tensor
        self._picture_real = real[:SAVED_SAMPLES].clone()
        if self._feed:  # before the overflow below may drop this batch again
            self._feed.picture(step, self._samples[step], self._picture_real)
        if len(self._samples) > PICTURES:
            steps = sorted(self._samples)
            del self._samples[min((steps[i] - steps[i - 1], steps[i]) for i in range(1, len(steps) - 1))[1]]

    def _evaluate_last(self) -> None:
        """Evaluate the last fake batch given to step() when the last evaluation is older than the gap (a
        run that ends between evaluations, or a fixed eval_every longer than the run)."""
        if self.disabled or self._last is None or self._dist.rank != 0:
            return
        step, fake, real = self._last
        if self._last_eval is not None and step - self._last_eval < self.gap(step):
            return
        try:
            self._evaluate(fake, real, step)  # recorded at the batch's own step
        except Exception as e:
            self._fail(e)
            return
        if self._feed:
            self._feed.late_evaluation(step, self._recorder.evaluation(step))

    # -- host side ----------------------------------------------------------------------------------------
    def _flush(self, collective: bool = True) -> None:
        # The one host sync per flush_every steps. Non-finite rows are recorded, not acted on: stopping is
        # the user's loop's business (the engine labels such a run diverged).
        reduce = self._mean_over_ranks if collective and self._dist.world > 1 else None
        self._recorder.flush(reduce)
        if self._feed:
            self._feed.rows(self._recorder)  # before trim: a window shorter than a flush must not drop unsent rows
        self._recorder.trim(self.cfg["window"])

    def _mean_over_ranks(self, rows: torch.Tensor) -> torch.Tensor:
        """Batch statistics differ between ranks (gradients do not, DDP synchronised them): their mean."""
        rows = rows.clone()
        self._dist.all_reduce(rows)
        rows /= self._dist.world
        return rows

    @property
    def telemetry(self) -> pd.DataFrame:
        """The recorded window in ganlint's telemetry schema (flushes pending steps: one host sync)."""
        if not self.disabled:
            self._flush()
        return self._recorder.frame()

    def diagnose(self):
        """The engine's Diagnosis of the recorded window, after evaluating the last fake batch if the last
        evaluation is stale; after the Monitor disabled itself, of the steps recorded before the error
        (its summary says so). With no step recorded, an inconclusive Diagnosis that says so (confidence
        0, what to do in `needs`) instead of an error: this is called at the end of the user's loop,
        where a raise would lose the run's own results."""
        self._evaluate_last()
        d = self._diagnose()
        if self._feed and self.n:
            self._feed.diagnosis(self.n, d)
        return d

    def _diagnose(self):
        from dataclasses import replace

        from ganlint.diagnostics import diagnose

        df = self.telemetry
        if not len(df):
            return self._nothing_recorded()
        d = diagnose(df, d_output=self.d_output, num_modes=self.num_modes, distance_kind=self._distance_kind,
                     g_loss=self.g_loss)
        if self._failure is not None:
            d = replace(d, summary=f"{d.summary} (steps {int(df['step'].min())}-{int(df['step'].max())} only: the "
                                   f"Monitor was disabled after an error: {self._failure})")
        return d

    def _nothing_recorded(self):
        from ganlint.diagnostics.findings import NOT_ASSESSABLE, Diagnosis, Finding

        if self._failure is not None:
            why = f"the Monitor was disabled by an error before it recorded a step ({self._failure})"
            need = "a Monitor that records steps: fix the error above (strict=True raises it where it happens)"
        else:
            why = "no step recorded yet (call mon.step(...) after opt_d.step() and opt_g.step())"
            need = "training steps: call mon.step(...) after opt_d.step() and opt_g.step()"
        finding = Finding("monitor.recorded_steps", INCONCLUSIVE, NOT_ASSESSABLE, None, None, f"nothing to diagnose: {why}")
        return Diagnosis(label=INCONCLUSIVE, confidence=0.0, onset_step=None, findings=[finding], remedies=[],
                         summary=f"nothing to diagnose: {why}", needs=[need])

    def _decide(self) -> None:
        label = None
        if self._dist.rank == 0:
            d = self._diagnose()  # on the schedule's evaluations only: a live decision adds none
            self.last_diagnosis, label = d, d.label
            if self._feed:
                self._feed.diagnosis(self.n, d)
        label = self._dist.broadcast_label(label)
        if label != self.status:
            previous, self.status = self.status, label
            self.onset_step = self.last_diagnosis.onset_step if self.last_diagnosis is not None else None
            quiet = previous is None and label in (PASSING_LABEL, INCONCLUSIVE)  # nothing to report yet
            if self.on_label is not None and self._dist.rank == 0 and not quiet:
                self.on_label(label, self.onset_step, self.last_diagnosis)
        self.should_stop = label in self.stop_on

    def save(self, path: str | Path) -> Path:
        """Write the telemetry: a folder (telemetry.parquet and .csv, a config.json that says how D's
        outputs read, so `ganlint diagnose FOLDER` and `ganlint report FOLDER` work; it holds no training
        config, as the Monitor never sees one; and samples/ as the trainer writes it: the kept evaluated
        fakes as step_NNNNNN.safetensors and .png, and the reals they were compared with as
        real.safetensors) or a .csv/.parquet file (the telemetry only). Evaluates the last fake batch
        first when the last evaluation is stale. Only rank 0 writes under DDP."""
        from ganlint.files import write_json
        from ganlint.training.run import save_telemetry

        path = Path(path)
        self._evaluate_last()
        df = self.telemetry
        if self._dist.rank != 0:
            return path
        if path.suffix in (".csv", ".parquet"):
            path.parent.mkdir(parents=True, exist_ok=True)
            df.to_csv(path, index=False) if path.suffix == ".csv" else df.to_parquet(path, index=False)
            return path
        path.mkdir(parents=True, exist_ok=True)
        save_telemetry(df, path)
        write_json(path / CONFIG_FILE, {"source": "ganlint.Monitor", "d_output": self.d_output, "outputs": self.outputs,
                                           **({"g_loss": self.g_loss} if self.g_loss else {}),
                                           "dataset": {"num_modes": self.num_modes, "distance_kind": self._distance_kind}, "steps": self.n, "schedule": self.cfg,
                                           "eval_schedule": "adaptive" if self.adaptive else "fixed"})
        self._save_samples(path)
        return path

    def _save_samples(self, folder: Path) -> None:
        """samples/step_NNNNNN.safetensors ({"fake": ...}) and .png, as ganlint.training.loop writes them."""
        if not self._samples or self._picture_real is None:
            return
        from safetensors.torch import save_file

        from ganlint.check.reference import from_tensor
        from ganlint.report.plots import plot_samples
        from ganlint.training.run import SAMPLES_DIR, sample_file

        out = folder / SAMPLES_DIR
        out.mkdir(exist_ok=True)
        real = self._picture_real
        save_file({"real": real.float().contiguous()}, str(out / "real.safetensors"))
        dataset = from_tensor("real", real).dataset
        for step, fake in sorted(self._samples.items()):
            save_file({"fake": fake.float().contiguous()}, str(sample_file(folder, step, ".safetensors")))
            if torch.isfinite(fake).all():
                plot_samples(fake, real, dataset, f"samples at step {step} (ganlint.Monitor)", sample_file(folder, step))

    def close(self) -> None:
        """Remove the optimizer hooks; with loggers, send them the last samples' picture and the final
        diagnosis (unless diagnose() just sent it), then close them: what ganlint opened is finished, the
        objects you passed are flushed and stay open."""
        self._remove_hooks()
        feed = self._feed
        if feed is None:
            return
        try:
            if feed and self.n:
                self.diagnose()  # evaluates the last batch first when stale; sends the label unless sent
                if self._samples:
                    last = max(self._samples)
                    feed.picture(last, self._samples[last], self._picture_real, force=True)
        except Exception as e:  # the engine at the end of the user's loop: say it, never raise from close()
            self._say(f"the final diagnosis not sent to the loggers ({type(e).__name__}: {e})")
        finally:
            self._feed = None
            feed.close()

    def _remove_hooks(self) -> None:
        for p in self._probes.values():
            p.remove()

    # -- failure handling ---------------------------------------------------------------------------------
    def _say(self, msg: str) -> None:
        if msg not in self._said:
            self._said.add(msg)
            log.warning("Monitor: %s", msg)

    def _fail(self, e: BaseException) -> None:
        if self.strict:
            raise e
        if not self.disabled:
            self.disabled = True
            self._failure = f"{type(e).__name__}: {e}"[:300]
            self._remove_hooks()  # the loggers stay open: close() still sends what was recorded
            self._keep_recorded()
            self._last = None  # nothing more is evaluated
            log.warning("Monitor: disabled after an error (%s: %s); training continues unwatched "
                        "(pass strict=True to raise instead)", type(e).__name__, e)

    def _keep_recorded(self) -> None:
        """Move the buffered steps to the host so that diagnose() sees them: locally (the other ranks are
        not flushing now, so no collective). The recorder writes a row and its step number together, so
        they always agree."""
        with contextlib.suppress(Exception):  # the device may be what failed: the steps on the host remain
            self._flush(collective=False)
        self._recorder.drop_pending()


class _Dist:
    def __init__(self, rank: int = 0, world: int = 1) -> None:
        self.rank, self.world = rank, world

    def all_reduce(self, t: torch.Tensor) -> None:
        import torch.distributed as dist

        dist.all_reduce(t)

    def broadcast_label(self, label: str | None) -> str | None:
        if self.world <= 1:
            return label
        import torch.distributed as dist

        t = torch.tensor([LABELS.index(label) if label in LABELS else -1])
        if dist.get_backend() == "nccl":
            t = t.cuda()
        dist.broadcast(t, src=0)
        i = int(t.item())
        return LABELS[i] if i >= 0 else None


def _dist_info() -> _Dist:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return _Dist(dist.get_rank(), dist.get_world_size())
    return _Dist()


__all__ = ["DEFAULTS", "Monitor", "eval_gap"]
