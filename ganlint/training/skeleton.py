"""What every ganlint training loop does around its step, in one place: ganlint.train's (loop.py) and the
batched seeds' (batched.py).

    cfg = as_config({"dataset": "ring8"}, {"steps": 300}).resolve()
    evals = Evaluations(cfg, dataset, device)      # the schedule, the fixed inputs, the pictures
    bar = Progress(cfg.steps, enabled=True)        # a bar on a terminal, else a line every PROGRESS_EVERY_S s
    for step in range(1, cfg.steps + 1):
        recorder.record_row(step, t, one_step())
        if step in evals:
            evals.run(step, g, recorder, out)      # metrics into the recorder, a picture when due
        stop = non_finite_stop(recorder.flush())   # (reason, last step kept) or None
    write_json(out / SUMMARY_FILE, summary(cfg, recorder.frame(), reason, wall, device))

Evaluations never draw from training's random stream (see Evaluations.run), so how often one evaluates
never changes the training trajectory.
"""

from __future__ import annotations

import logging
import os
import platform
import sys
import time
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganlint.training.config import MAX_SEED, TrainConfig
from ganlint.training.device import describe
from ganlint.training.evaluation import evaluate
from ganlint.training.run import SAMPLES_DIR, SAVED_SAMPLES, sample_file
from ganlint.training.telemetry import EVAL_COLUMNS, TelemetryRecorder

log = logging.getLogger(__name__)

# Seconds between progress lines.
PROGRESS_EVERY_S = 2.0
# Offset between a run's seed and the seed of its evaluation inputs (eval_inputs).
EVAL_SEED_OFFSET = 10_007


def as_config(config: TrainConfig | Mapping[str, Any] | None, overrides: dict[str, Any]) -> TrainConfig:
    """A TrainConfig from a TrainConfig, a dict of its fields or None (the defaults), with `overrides` applied."""
    if config is None:
        cfg = TrainConfig()
    elif isinstance(config, TrainConfig):
        cfg = config
    else:
        cfg = TrainConfig.from_dict(dict(config))
    return cfg.replace(**overrides) if overrides else cfg


class EvalSchedule:
    """The evaluated steps: the first (an early baseline), every `every`-th, and the last.

    A sequence computed on demand, never built: `--steps 10**8 --eval-every 1` must not allocate a list
    of 10**8 steps before the first one trains.
    """

    def __init__(self, steps: int, every: int) -> None:
        self.steps, self.every = steps, every
        self._head = [1] if every > 1 else []  # step 1 is a multiple of 1
        self._multiples = steps // every
        self._tail = [steps] if steps % every and steps > 1 else []  # step 1 is in the head already

    def __contains__(self, step: object) -> bool:
        return isinstance(step, int) and 1 <= step <= self.steps and (
            step == 1 or step == self.steps or step % self.every == 0)

    def __len__(self) -> int:
        return len(self._head) + self._multiples + len(self._tail)

    def __getitem__(self, i: int) -> int:
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        if i < len(self._head):
            return 1
        i -= len(self._head)
        return (i + 1) * self.every if i < self._multiples else self.steps

    def __iter__(self):
        return (self[i] for i in range(len(self)))


def eval_steps(steps: int, every: int) -> EvalSchedule:
    """Steps evaluated: the first (an early baseline), every `every`-th, and the last (see EvalSchedule)."""
    return EvalSchedule(steps, every)


def picture_steps(evals: EvalSchedule | list[int], count: int) -> list[int]:
    """`count` evaluation steps spread over the run, first and last included."""
    if count <= 0:
        return []
    idx = np.unique(np.round(np.linspace(0, len(evals) - 1, min(count, len(evals)))).astype(int))
    return [evals[i] for i in idx]


def run_meta(cfg: TrainConfig, device, loss, dataset, g_params, d_params) -> dict[str, Any]:
    """What config.json records of a run: versions, device, how D's outputs read, config, data, sizes."""
    import ganlint

    return {
        "ganlint_version": ganlint.__version__,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "device": str(device),
        "device_name": describe(device),
        "dtype": "float32",
        "d_output": loss.output,
        "config": cfg.to_dict(),
        "dataset": dataset.info(),
        "parameters": {"generator": sum(p.numel() for p in g_params), "discriminator": sum(p.numel() for p in d_params)},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def eval_inputs(cfg: TrainConfig, dataset) -> tuple[int, torch.Tensor, torch.Tensor]:
    """The fixed evaluation inputs of a run: (seed, z, reals), drawn on the CPU from their own generator,
    so they are identical on every device and a report can draw the same reals again later."""
    eval_seed = (cfg.seed + EVAL_SEED_OFFSET) % (MAX_SEED + 1)
    eval_gen = torch.Generator().manual_seed(eval_seed)
    z_eval = torch.randn(cfg.eval_samples, cfg.z_dim, generator=eval_gen)
    real_eval = dataset.sample(cfg.eval_samples, eval_gen, "cpu")
    return eval_seed, z_eval, real_eval


def generate(g: torch.nn.Module, z: torch.Tensor, seed: int, chunk: int = 1024) -> torch.Tensor:
    """G's samples in eval mode (batch-norm running statistics), restoring its mode afterwards.

    Some generators draw noise of their own (the tabular G's Gumbel noise) from the global generator;
    forking it here keeps evaluations from shifting the training's random stream, and seeding it makes
    every evaluation of the same weights give the same samples.
    """
    was_training = g.training
    devices = [z.device] if z.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        torch.manual_seed(seed)
        g.eval()
        out = torch.cat([g(z[i : i + chunk]) for i in range(0, len(z), chunk)])
    g.train(was_training)
    return out


def save_picture(fake: torch.Tensor, real: torch.Tensor, dataset, step: int, out: Path) -> None:
    """samples/step_NNNNNN.safetensors (SAVED_SAMPLES fakes) and, when they are finite, the .png beside it."""
    from safetensors.torch import save_file

    from ganlint.report.plots import plot_samples

    samples = out / SAMPLES_DIR
    samples.mkdir(exist_ok=True)
    save_file({"fake": fake[:SAVED_SAMPLES].detach().float().cpu().contiguous()}, str(sample_file(out, step, ".safetensors")))
    if torch.isfinite(fake).all():
        plot_samples(fake[:1000], real[:1000], dataset, f"{dataset.name}: samples at step {step}", sample_file(out, step))


class Evaluations:
    """A run's evaluations: which steps (EvalSchedule), on which fixed inputs (eval_inputs, on the device),
    and at which of them a picture is saved (picture_steps)."""

    def __init__(self, cfg: TrainConfig, dataset, device: torch.device) -> None:
        self.dataset = dataset
        self.seed, z, real = eval_inputs(cfg, dataset)
        self.z, self.real = z.to(device), real.to(device)
        self.steps = eval_steps(cfg.steps, cfg.eval_every)
        self.pictures = set(picture_steps(self.steps, cfg.pictures))

    def __contains__(self, step: object) -> bool:
        return step in self.steps

    def run(self, step: int, g: torch.nn.Module, recorder: TelemetryRecorder, out: Path) -> None:
        """Evaluate G's samples at `step` into `recorder`; save the picture when `step` is a picture step."""
        fake = generate(g, self.z, self.seed)
        # Evaluations must never draw from training's random stream (a metric that samples, or the MNIST
        # classifier loaded on first use): the run would then depend on what ran before it in the same
        # process, e.g. on whether a suite was resumed.
        with torch.random.fork_rng(devices=[self.z.device] if self.z.device.type == "cuda" else []):
            recorder.record_eval(step, evaluate(fake, self.real, self.dataset))
        if step in self.pictures:
            save_picture(fake, self.real, self.dataset, step, out)


class Progress:
    """Training progress on stderr: a live bar (tqdm) where stderr is a terminal, else (a CI log, a pipe, a
    notebook) a line every PROGRESS_EVERY_S seconds, logged at INFO: step, rate, ETA and the latest losses.

    update() is called where the loop copies its losses to the host anyway (a flush), so the bar costs no
    extra sync; it advances by flush_every steps. The bar is closed, and left on screen, at the last step;
    close() (or `with Progress(...) as bar:`) clears it on any other way out. A bar nobody closed is cleared
    when its Progress is collected, so a loop that returns early (a NaN stop) leaves the terminal clean.
    """

    def __init__(self, total: int, enabled: bool, start: int = 0) -> None:
        self.total, self.enabled, self.start = total, enabled, start  # start: steps done before (a resume)
        self.t0 = self.last = time.perf_counter()
        # INFO enabled: a user who silenced ganlint's progress (its logger at WARNING) gets no bar either.
        self._bar = _bar(total, start) if enabled and log.isEnabledFor(logging.INFO) and _stderr_is_terminal() else None
        # Not a method of self: a finalizer holding self would keep it alive. tqdm's own __del__ is no help,
        # its instance is in a reference cycle (its file wrapper points back at it) and lives until a gc pass.
        self._finalizer = weakref.finalize(self, _close_bar, self._bar, False) if self._bar is not None else None

    def update(self, step: int, loss_d: float, loss_g: float, force: bool = False) -> None:
        now = time.perf_counter()
        if not self.enabled:
            return
        rate = (step - self.start) / max(now - self.t0, 1e-9)
        if self._bar is not None:
            self._bar.set_postfix_str(f"loss_d {loss_d:.3f}  loss_g {loss_g:.3f}  {rate:.1f} steps/s", refresh=False)
            self._bar.update(step - self._bar.n)  # tqdm redraws at most every mininterval
            if step >= self.total:
                self.close(leave=True)
            return
        if not force and now - self.last < PROGRESS_EVERY_S:
            return
        self.last = now
        eta = (self.total - step) / rate if rate > 0 else float("nan")
        log.info("step %d/%d  %.1f steps/s  ETA %.0fs  loss_d %.3f  loss_g %.3f", step, self.total, rate, eta,
                 loss_d, loss_g)

    def close(self, leave: bool = False) -> None:
        """End the bar, if any: kept on screen with `leave`, else erased (the lines above say why it stopped)."""
        if self._finalizer is not None and self._finalizer.alive:
            self._finalizer.detach()
            _close_bar(self._bar, leave)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(leave=exc[0] is None)


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr is not None and sys.stderr.isatty()
    except (AttributeError, ValueError):  # a replaced stderr without isatty, or a closed one
        return False


def _bar(total: int, start: int):
    from tqdm import tqdm  # only where a bar is shown

    # file: the stderr of now, as the log lines (ganlint.logs writes above the bar while it lives); the
    # steps/s is ours, in the postfix (tqdm's own rate turns into "s/it" below one step per second).
    # A terminal that reports no size (a pty nobody sized, some container consoles) says 0x0, which tqdm
    # reads as -1 columns and rows and then draws nothing: then a fixed 80x24.
    try:
        sized = os.get_terminal_size(sys.stderr.fileno()).columns > 0
    except (AttributeError, ValueError, OSError):
        sized = False
    return tqdm(total=total, initial=start, file=sys.stderr, desc="ganlint", dynamic_ncols=sized,
                ncols=None if sized else 80, nrows=None if sized else 24, leave=True,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]")


def _close_bar(bar, leave: bool) -> None:
    try:
        bar.leave = leave
        bar.close()
    except Exception:  # a closed terminal at exit: nothing left to clean
        pass


def non_finite_stop(bad: tuple[int, str] | None) -> tuple[str, int] | None:
    """What a recorder's flush found, as the loop acts on it: (stop reason, last step kept) or None."""
    if bad is None:
        return None
    step, column = bad
    return f"non-finite {column} at step {step}", step


def summary(cfg: TrainConfig, telemetry, stop_reason: str, wall: float, device) -> dict[str, Any]:
    """summary.json of a run: steps done, why it stopped, its speed, the last losses and the last evaluation."""
    steps_done = int(telemetry["step"].max()) if len(telemetry) else 0
    return {
        "steps_requested": cfg.steps,
        "steps_completed": steps_done,
        "stop_reason": stop_reason,
        "wall_time_s": round(wall, 3),
        # Includes evaluations and pictures: the rate a user of `ganlint train` actually gets.
        "steps_per_s": round(steps_done / wall, 3) if wall > 0 else None,
        "device": str(device),
        "final": last_values(telemetry, ("loss_d", "loss_g", "d_real", "d_fake")),
        "final_eval": last_values(telemetry.dropna(subset=list(EVAL_COLUMNS), how="all"), ("step", *EVAL_COLUMNS)),
    }


def last_values(df, columns) -> dict[str, float | int | None]:
    """The last row's values as JSON-friendly numbers (NaN -> None, step -> int)."""
    if not len(df):
        return {}
    row = df.iloc[-1]
    out: dict[str, float | int | None] = {}
    for c in columns:
        v = float(row[c])
        out[c] = int(v) if c == "step" else (v if np.isfinite(v) else None)
    return out
