"""The GAN trainer: reproduces each classic pathology on purpose and records health telemetry.

    import ganlint
    run = ganlint.train({"dataset": "ring8", "steps": 300, "out": "runs/ring8"})
    run.telemetry.tail()

One step = `n_critic` discriminator updates, then one generator update (ganlint.training.step.TrainStep, which
ganlint.training.fast may capture as a CUDA graph or run with compiled networks). The loop never calls `.item()`
or prints from the device: per-step scalars stay on the device (TelemetryRecorder) and are copied every
`flush_every` steps, which is also where a NaN/inf run is caught and stopped.

Randomness: `seed` seeds torch's global generator, which drives initialisation, data batches, z, dropout
and Gumbel noise, so a CPU run is reproducible. Evaluations use their own generator and a fixed z, so
how often one evaluates never changes the training trajectory.
"""

from __future__ import annotations

import contextlib
import os
import platform
import signal
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

import ganlint
from ganlint.data import get_dataset
from ganlint.errors import DataError
from ganlint.files import write_json
from ganlint.lock import FolderLock
from ganlint.nets import build_models
from ganlint.training.checkpoint import (
    CHECKPOINT_FILE,
    TrainState,
    load_checkpoint,
    restore,
    restore_rng,
    save_checkpoint,
)
from ganlint.training.config import MAX_SEED, TrainConfig
from ganlint.training.device import describe, resolve_device
from ganlint.training.evaluation import evaluate
from ganlint.training.fast import build_step, choose
from ganlint.training.losses import get_loss
from ganlint.training.run import (
    CONFIG_FILE,
    SAMPLES_DIR,
    SUMMARY_FILE,
    TELEMETRY_CSV,
    Run,
    prepare_out_dir,
    read_run_config,
    save_models,
    save_telemetry,
)
from ganlint.training.telemetry import EVAL_COLUMNS, TelemetryJournal, TelemetryRecorder, read_journal

# Seconds between progress lines on stderr.
PROGRESS_EVERY_S = 2.0
# Fakes kept per picture step for later reports (the pictures draw from them).
SAVED_SAMPLES = 512


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
    eval_seed = (cfg.seed + 10_007) % (MAX_SEED + 1)
    eval_gen = torch.Generator().manual_seed(eval_seed)
    z_eval = torch.randn(cfg.eval_samples, cfg.z_dim, generator=eval_gen)
    real_eval = dataset.sample(cfg.eval_samples, eval_gen, "cpu")
    return eval_seed, z_eval, real_eval


def _as_config(config: TrainConfig | Mapping[str, Any] | None, overrides: dict[str, Any]) -> TrainConfig:
    if config is None:
        cfg = TrainConfig()
    elif isinstance(config, TrainConfig):
        cfg = config
    else:
        cfg = TrainConfig.from_dict(dict(config))
    return cfg.replace(**overrides) if overrides else cfg


class _Progress:
    """One line on stderr every few seconds: step, rate, ETA and the latest losses."""

    def __init__(self, total: int, enabled: bool, start: int = 0) -> None:
        self.total, self.enabled, self.start = total, enabled, start  # start: steps done before (a resume)
        self.t0 = self.last = time.perf_counter()

    def update(self, step: int, loss_d: float, loss_g: float, force: bool = False) -> None:
        now = time.perf_counter()
        if not self.enabled or (not force and now - self.last < PROGRESS_EVERY_S):
            return
        self.last = now
        rate = (step - self.start) / max(now - self.t0, 1e-9)
        eta = (self.total - step) / rate if rate > 0 else float("nan")
        print(f"ganlint: step {step}/{self.total}  {rate:.1f} steps/s  ETA {eta:.0f}s  "
              f"loss_d {loss_d:.3f}  loss_g {loss_g:.3f}", file=sys.stderr, flush=True)


def train(config: TrainConfig | Mapping[str, Any] | None = None, *, overwrite: bool = False,
          progress: bool = False, **overrides: Any) -> Run:
    """Train one GAN and write its run folder.

    The run is written as it trains: telemetry rows as they are flushed, a checkpoint every
    `checkpoint_every` steps, and on SIGINT or SIGTERM a checkpoint, the telemetry and a summary before
    it stops (then `resume(out)` continues it). The run folder has one writer at a time (ganlint.lock).

    Args:
        config: a TrainConfig, a dict of its fields, or None for the defaults.
        overwrite: allow writing into a folder that already holds a run (its files are removed first).
        progress: print progress lines on stderr.
        **overrides: TrainConfig fields that replace those in `config`.

    Returns:
        The Run: folder, resolved config, telemetry DataFrame, summary and the trained models.

    Raises:
        ganlint.errors.GanlintError: for invalid names or values, unreadable data, a folder that holds a run
            or is being written, or a write that fails (exit code 2 in the CLI).
        TrainingInterrupted: SIGINT or SIGTERM arrived; the run was saved and can be resumed.
    """
    cfg = _as_config(config, overrides).resolve()
    parts = _Parts.build(cfg)  # before the folder: a model error leaves no folder
    lock = prepare_out_dir(cfg, overwrite)
    try:
        return _train(cfg.replace(out=str(lock.folder)), parts, lock.folder, progress, None)
    finally:
        lock.release()


def resume(run_dir: str | os.PathLike, *, progress: bool = False) -> Run:
    """Continue an interrupted run from its last checkpoint (`ganlint train --resume RUN`).

    The config comes from the folder's config.json; the weights, optimizer states, random states, step
    and telemetry from its checkpoint (ganlint.training.checkpoint says what is reproduced bit for bit). Telemetry
    rows after the checkpoint's step are dropped and trained again.

    Raises:
        ganlint.errors.DataError: not a run folder, a finished run, no or a damaged checkpoint, or a folder
            another process is writing.
    """
    out = Path(run_dir)
    if not out.is_dir():
        raise DataError(f"{str(out)!r} is not a folder")
    lock = FolderLock(out).acquire()
    try:
        meta = read_run_config(out)
        summary = _read_summary(out)
        reason = summary.get("stop_reason", "")
        if summary and not str(reason).startswith("interrupted"):
            raise DataError(f"{str(out)!r} holds a run that ended on its own ({reason}); there is nothing to resume")
        cfg = TrainConfig.from_dict(meta["config"]).replace(out=str(out)).resolve()
        state = load_checkpoint(out)
        if state.step >= cfg.steps:
            raise DataError(f"the checkpoint of {str(out)!r} is at the run's last step ({state.step}); nothing to resume")
        parts = _Parts.build(cfg)
        return _train(cfg, parts, out, progress, state, meta)
    finally:
        lock.release()


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped a run after it was saved (checkpoint, telemetry, summary).

    A KeyboardInterrupt, so that code catching Exception does not swallow a Ctrl-C. `run` is the run as
    saved; `signal` the signal's number (the CLI exits with 128 + it, as a shell does).
    """

    def __init__(self, run: Run | None, signum: int, message: str | None = None) -> None:
        super().__init__(message or f"{run.stop_reason}; continue with: ganlint train --resume {run.out_dir}")
        self.run, self.signal = run, signum

    def __reduce__(self):
        # Across a process boundary (a suite's worker sends it to the runner): the message and the signal,
        # not the models. The default would pickle the Run and fail to rebuild the exception on the other
        # side, which breaks the worker pool and kills the other workers while they save their runs.
        return (TrainingInterrupted, (None, self.signal, str(self)))


class _StopRequest:
    """SIGINT/SIGTERM handlers for the length of a run: the first signal asks the loop to stop after the
    step it is in (then the run is saved); the same signal again interrupts at once, as Ctrl-C always does.

    Only the main thread may set signal handlers; elsewhere (a run in a thread) signals keep their
    handlers, and a Ctrl-C interrupts as usual, leaving the last periodic checkpoint.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum == signum:  # the same signal twice: Ctrl-C pressed again
            raise KeyboardInterrupt
        if self.signum is None:  # another one while stopping (a runner's SIGTERM after the Ctrl-C) changes nothing
            self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""

    def __enter__(self) -> _StopRequest:
        if threading.current_thread() is threading.main_thread():
            for s in self.SIGNALS:
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for s, h in self._previous.items():
            signal.signal(s, h)


@dataclass
class _Parts:
    """What a run is built from, made before its folder is touched (a bad name or device leaves no folder)."""

    device: torch.device
    dataset: Any
    loss: Any
    g: torch.nn.Module
    d: torch.nn.Module
    fast: Any

    @classmethod
    def build(cls, cfg: TrainConfig) -> _Parts:
        device = resolve_device(cfg.device)
        dataset = get_dataset(cfg.dataset, cfg.data_root)
        loss = get_loss(cfg.loss)
        torch.manual_seed(cfg.seed)
        g, d = build_models(cfg, dataset.model_spec())
        return cls(device, dataset, loss, g, d, choose(cfg, device))  # choose: a switch this device cannot run


def _train(cfg: TrainConfig, parts: _Parts, out: Path, progress: bool, state: TrainState | None,
           old_meta: dict[str, Any] | None = None) -> Run:
    device, dataset, loss, g, d, fast = parts.device, parts.dataset, parts.loss, parts.g, parts.d, parts.fast
    g.to(device).train()
    d.to(device).train()
    g_params = [p for p in g.parameters() if p.requires_grad]
    d_params = [p for p in d.parameters() if p.requires_grad]
    for note in fast.notes:
        print(f"ganlint: {note}", file=sys.stderr)
    one_step = build_step(cfg, fast, g, d, loss, dataset, device)
    ts = getattr(one_step, "step", one_step)  # the TrainStep (inside a GraphedStep): its optimizers

    eval_seed, z_eval, real_eval = eval_inputs(cfg, dataset)
    z_eval, real_eval = z_eval.to(device), real_eval.to(device)
    evals = eval_steps(cfg.steps, cfg.eval_every)
    pictures = set(picture_steps(evals, cfg.pictures))
    recorder = TelemetryRecorder(device, cfg.flush_every)
    journal = TelemetryJournal(out / TELEMETRY_CSV)
    meta = {**run_meta(cfg, device, loss, dataset, g_params, d_params), "fast_path": fast.to_dict()}
    first, wall0 = 1, 0.0
    if state is None:
        write_json(out / CONFIG_FILE, meta)
        journal.start()
    else:
        restore(state, g, d, ts.opt_g, ts.opt_d, device)
        kept = read_journal(out / TELEMETRY_CSV, up_to=state.step) if (out / TELEMETRY_CSV).is_file() else None
        if kept is None or (len(kept) and int(kept["step"].iloc[-1]) != state.step) or len(kept) != state.step:
            raise DataError(f"the telemetry of {str(out)!r} does not reach its checkpoint's step {state.step}; "
                            "it cannot be resumed")
        recorder.restore(kept)
        journal.start(recorder.take_unwritten())
        first, wall0 = state.step + 1, state.wall_s
        resumed = {"step": state.step, "device": str(device), "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        meta = {**(old_meta or {}), "resumed": [*(old_meta or {}).get("resumed", []), resumed]}
        if (old_meta or {}).get("device") not in (None, str(device)):
            print(f"ganlint: resuming on {device}, trained on {old_meta['device']} so far: the rest of the run "
                  "will not be bit-identical to an uninterrupted one", file=sys.stderr)
        write_json(out / CONFIG_FILE, meta)
        restore_rng(state, device)  # last: building the networks above drew from the random streams

    bar = _Progress(cfg.steps, progress, first - 1)
    stop_reason, last_step = "completed", first - 1
    signum = None
    t0 = time.perf_counter()

    def wall() -> float:
        return wall0 + time.perf_counter() - t0

    def checkpoint(step: int) -> None:
        save_checkpoint(out, step, wall(), g, d, ts.opt_g, ts.opt_d, device)
        save_models(g, d, out)  # the weights beside it, for ganlint check on an unfinished run

    with _StopRequest() as stop:
        try:
            for step in range(first, cfg.steps + 1):
                row = one_step()
                recorder.record_row(step, wall(), row)
                last_step = step
                evaluated = step in evals
                if evaluated:
                    fake_eval = _generate(g, z_eval, eval_seed)
                    # Evaluations must never draw from training's random stream (a metric that samples, or
                    # the MNIST classifier loaded on first use): the run would then depend on what ran before
                    # it in the same process, e.g. on whether a suite was resumed.
                    with torch.random.fork_rng(devices=[z_eval.device] if z_eval.device.type == "cuda" else []):
                        recorder.record_eval(step, evaluate(fake_eval, real_eval, dataset))
                    if step in pictures:
                        _save_picture(fake_eval, real_eval, dataset, step, out)
                due = step % cfg.checkpoint_every == 0 and step < cfg.steps
                if recorder.full or step == cfg.steps or evaluated or due or stop.signum:
                    # A host sync, as the evaluations: the only ones in the loop. Flushing more often than
                    # every flush_every steps changes no number, only when rows reach the disk.
                    bad = recorder.flush()
                    journal.append(recorder.take_unwritten(), sync=evaluated or due)
                    if bad is not None:
                        bad_step, column = bad
                        stop_reason, last_step = f"non-finite {column} at step {bad_step}", bad_step
                        print(f"ganlint: stopping: {stop_reason}", file=sys.stderr)
                        break
                    last = recorder.latest()
                    bar.update(step, float(last[0]), float(last[1]), force=step == cfg.steps)
                if stop.signum and step < cfg.steps:
                    signum = stop.signum
                    stop_reason = f"interrupted by {stop.name} at step {step}"
                    print(f"ganlint: {stop.name}: saving the run at step {step}", file=sys.stderr, flush=True)
                    checkpoint(step)
                    break
                if due:
                    checkpoint(step)
        except KeyboardInterrupt:
            # A second signal, or a Ctrl-C where no handler could be set: the step in flight is lost (its
            # updates may be half applied), the rows flushed so far and the last checkpoint are kept.
            _save_interrupted(out, cfg, recorder, journal, wall(), device)
            raise
        # Still under the handlers: a signal now (a runner stopping its workers) must not kill the process
        # between the checkpoint and the summary that says how the run ended.
        telemetry = recorder.frame(last_step)
        save_telemetry(telemetry, out)
        if signum is None:
            save_models(g, d, out)
            (out / CHECKPOINT_FILE).unlink(missing_ok=True)  # a run that ended on its own has nothing to resume
        summary = _summary(cfg, telemetry, stop_reason, wall(), device)
        write_json(out / SUMMARY_FILE, summary)
    g.eval()
    d.eval()
    run = Run(out, cfg, telemetry, summary, g, d, meta)
    if signum is not None:
        raise TrainingInterrupted(run, signum)
    return run


def _summary(cfg: TrainConfig, telemetry, stop_reason: str, wall: float, device) -> dict[str, Any]:
    steps_done = int(telemetry["step"].max()) if len(telemetry) else 0
    return {
        "steps_requested": cfg.steps,
        "steps_completed": steps_done,
        "stop_reason": stop_reason,
        "wall_time_s": round(wall, 3),
        # Includes evaluations and pictures: the rate a user of `ganlint train` actually gets.
        "steps_per_s": round(steps_done / wall, 3) if wall > 0 else None,
        "device": str(device),
        "final": _last_values(telemetry, ("loss_d", "loss_g", "d_real", "d_fake")),
        "final_eval": _last_values(telemetry.dropna(subset=list(EVAL_COLUMNS), how="all"), ("step", *EVAL_COLUMNS)),
    }


def _save_interrupted(out: Path, cfg: TrainConfig, recorder: TelemetryRecorder, journal: TelemetryJournal,
                      wall: float, device: torch.device) -> None:
    """After an abrupt interrupt: the rows of finished steps on disk, and a summary saying where the run
    can be resumed from. Best effort: an error here must not hide the interrupt."""
    with contextlib.suppress(Exception):
        recorder.flush()
        journal.append(recorder.take_unwritten())
    with contextlib.suppress(Exception):
        telemetry = recorder.frame()
        ckpt = load_checkpoint(out).step if (out / CHECKPOINT_FILE).is_file() else None
        last = int(telemetry["step"].max()) if len(telemetry) else 0
        reason = (f"interrupted at step {last}" + (f"; resumable from the checkpoint at step {ckpt}" if ckpt
                                                   else "; no checkpoint yet, so it cannot be resumed"))
        write_json(out / SUMMARY_FILE, _summary(cfg, telemetry, reason, wall, device))


def _read_summary(out: Path) -> dict[str, Any]:
    from ganlint.jsonfile import read_json_object

    path = out / SUMMARY_FILE
    return read_json_object(path, "a ganlint run summary") if path.is_file() else {}


def _last_values(df, columns) -> dict[str, float | int | None]:
    """The last row's values as JSON-friendly numbers (NaN -> None, step -> int)."""
    if not len(df):
        return {}
    row = df.iloc[-1]
    out: dict[str, float | int | None] = {}
    for c in columns:
        v = float(row[c])
        out[c] = int(v) if c == "step" else (v if np.isfinite(v) else None)
    return out


def _generate(g: torch.nn.Module, z: torch.Tensor, seed: int, chunk: int = 1024) -> torch.Tensor:
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


def _save_picture(fake, real, dataset, step: int, out) -> None:
    from safetensors.torch import save_file

    from ganlint.report.plots import plot_samples

    samples = out / SAMPLES_DIR
    samples.mkdir(exist_ok=True)
    save_file({"fake": fake[:SAVED_SAMPLES].detach().float().cpu().contiguous()}, str(samples / f"step_{step:06d}.safetensors"))
    if torch.isfinite(fake).all():
        plot_samples(fake[:1000], real[:1000], dataset, f"{dataset.name}: samples at step {step}", samples / f"step_{step:06d}.png")
