"""The GAN trainer: reproduces each classic pathology on purpose and records health telemetry.

    import ganlint
    run = ganlint.train({"dataset": "ring8", "steps": 300, "out": "runs/ring8"})
    run.telemetry.tail()

One step = `n_critic` discriminator updates, then one generator update (ganlint.training.step.TrainStep, which
ganlint.training.fast may capture as a CUDA graph or run with compiled networks); what the loop does around it
(evaluations, pictures, progress, the stop on NaN, the summary) is ganlint.training.skeleton's, shared with
ganlint.training.batched. The loop never calls `.item()`
or prints from the device: per-step scalars stay on the device (TelemetryRecorder) and are copied every
`flush_every` steps, which is also where a NaN/inf run is caught and stopped.

Randomness: `seed` seeds torch's global generator, which drives initialisation, data batches, z, dropout
and Gumbel noise, so a CPU run is reproducible. Evaluations use their own generator and a fixed z, so
how often one evaluates never changes the training trajectory.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ganlint.data import get_dataset
from ganlint.errors import DataError
from ganlint.files import write_json
from ganlint.lock import FolderLock
from ganlint.logs import NOTICE
from ganlint.nets import build_models
from ganlint.training.checkpoint import (
    CHECKPOINT_FILE,
    TrainState,
    load_checkpoint,
    restore,
    restore_rng,
    save_checkpoint,
)
from ganlint.training.config import TrainConfig
from ganlint.training.device import resolve_device
from ganlint.training.fast import build_step, choose
from ganlint.training.losses import get_loss
from ganlint.training.run import (
    CONFIG_FILE,
    SUMMARY_FILE,
    TELEMETRY_CSV,
    Run,
    prepare_out_dir,
    read_run_config,
    sample_file,
    save_models,
    save_telemetry,
)
from ganlint.training.skeleton import (
    Evaluations,
    Progress,
    as_config,
    non_finite_stop,
    run_meta,
    summary,
)
from ganlint.training.telemetry import TelemetryJournal, TelemetryRecorder, read_journal, rows_frame

log = logging.getLogger(__name__)


def train(config: TrainConfig | Mapping[str, Any] | None = None, *, overwrite: bool = False,
          progress: bool = False, loggers: Sequence[Any] | None = None, **overrides: Any) -> Run:
    """Train one GAN and write its run folder.

    The run is written as it trains: telemetry rows as they are flushed, a checkpoint every
    `checkpoint_every` steps, and on SIGINT or SIGTERM a checkpoint, the telemetry and a summary before
    it stops (then `resume(out)` continues it). The run folder has one writer at a time (ganlint.lock).

    Args:
        config: a TrainConfig, a dict of its fields, or None for the defaults.
        overwrite: allow writing into a folder that already holds a run (its files are removed first).
        progress: print progress lines on stderr.
        loggers: where else the run is written as it trains (ganlint.integrations.sinks.Loggers.open's items:
            "tensorboard:DIR", "wandb", "mlflow", or a SummaryWriter, wandb run, mlflow run of your own): each
            flushed telemetry row, each sample picture, and at the end the run's diagnosis. A logger that
            fails is switched off with a warning; the run goes on.
        **overrides: TrainConfig fields that replace those in `config`.

    Returns:
        The Run: folder, resolved config, telemetry DataFrame, summary and the trained models.

    Raises:
        ganlint.errors.GanlintError: for invalid names or values, unreadable data, a folder that holds a run
            or is being written, or a write that fails (exit code 2 in the CLI).
        TrainingInterrupted: SIGINT or SIGTERM arrived; the run was saved and can be resumed.
    """
    cfg = as_config(config, overrides).resolve()
    parts = _Parts.build(cfg)  # before the folder: a model error leaves no folder
    sinks = _open_loggers(loggers, cfg)  # so does a logger that cannot be opened
    try:
        lock = prepare_out_dir(cfg, overwrite)
        try:
            return _train(cfg.replace(out=str(lock.folder)), parts, lock.folder, progress, None, sinks=sinks)
        finally:
            lock.release()
    finally:
        if sinks is not None:
            sinks.close()


def resume(run_dir: str | os.PathLike, *, progress: bool = False, loggers: Sequence[Any] | None = None) -> Run:
    """Continue an interrupted run from its last checkpoint (`ganlint train --resume RUN`).

    The config comes from the folder's config.json; the weights, optimizer states, random states, step
    and telemetry from its checkpoint (ganlint.training.checkpoint says what is reproduced bit for bit). Telemetry
    rows after the checkpoint's step are dropped and trained again. `loggers` as for train(): the rows
    from the checkpoint's step on are sent (a logger run resumed under the run folder's name).

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
        sinks = _open_loggers(loggers, cfg)
        try:
            return _train(cfg, parts, out, progress, state, meta, sinks=sinks)
        finally:
            if sinks is not None:
                sinks.close()
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


def _open_loggers(items: Sequence[Any] | None, cfg: TrainConfig) -> Any:
    """The run's Loggers (named after its folder, with its config), or None without any."""
    if not items:
        return None
    from ganlint.integrations.sinks import Loggers

    return Loggers.open(items, run_name=Path(cfg.out).name, config=cfg.to_dict())


def _send_diagnosis(sinks: Any, out: Path, step: int) -> None:
    """The finished run's diagnosis to its loggers, at its last step. Best effort: the run is saved already,
    and a diagnosis that fails here is the report's to show, not a reason to lose the run."""
    from ganlint.diagnostics import diagnose

    try:
        sinks.diagnosis(step, diagnose(out))
    except Exception as e:
        log.warning("could not send the diagnosis to the loggers: %s: %s", type(e).__name__, e)


def _train(cfg: TrainConfig, parts: _Parts, out: Path, progress: bool, state: TrainState | None,
           old_meta: dict[str, Any] | None = None, sinks: Any = None) -> Run:
    device, dataset, loss, g, d, fast = parts.device, parts.dataset, parts.loss, parts.g, parts.d, parts.fast
    g.to(device).train()
    d.to(device).train()
    g_params = [p for p in g.parameters() if p.requires_grad]
    d_params = [p for p in d.parameters() if p.requires_grad]
    for note in fast.notes:  # a switch asked for that this run cannot use, and why
        log.log(NOTICE, "%s", note)
    one_step = build_step(cfg, fast, g, d, loss, dataset, device)
    ts = getattr(one_step, "step", one_step)  # the TrainStep (inside a GraphedStep): its optimizers

    evals = Evaluations(cfg, dataset, device)
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
            log.log(NOTICE, "resuming on %s, trained on %s so far: the rest of the run will not be bit-identical to "
                        "an uninterrupted one", device, old_meta["device"])
        write_json(out / CONFIG_FILE, meta)
        restore_rng(state, device)  # last: building the networks above drew from the random streams

    bar = Progress(cfg.steps, progress, first - 1)
    stop_reason, last_step = "completed", first - 1
    signum = None
    t0 = time.perf_counter()

    def wall() -> float:
        return wall0 + time.perf_counter() - t0

    def checkpoint(step: int) -> None:
        save_checkpoint(out, step, wall(), g, d, ts.opt_g, ts.opt_d, device)
        save_models(g, d, out)  # the weights beside it, for ganlint check on an unfinished run

    with _StopRequest() as stop, bar:  # the bar is closed on every way out (a terminal's is left clean)
        try:
            for step in range(first, cfg.steps + 1):
                row = one_step()
                recorder.record_row(step, wall(), row)
                last_step = step
                evaluated = step in evals
                if evaluated:
                    evals.run(step, g, recorder, out)
                due = step % cfg.checkpoint_every == 0 and step < cfg.steps
                if recorder.full or step == cfg.steps or evaluated or due or stop.signum:
                    # A host sync, as the evaluations: the only ones in the loop. Flushing more often than
                    # every flush_every steps changes no number, only when rows reach the disk.
                    bad = non_finite_stop(recorder.flush())
                    rows = recorder.take_unwritten()
                    journal.append(rows, sync=evaluated or due)
                    if sinks:
                        sinks.telemetry(rows_frame(rows))
                        if evaluated and step in evals.pictures and sample_file(out, step).is_file():
                            sinks.picture(step, sample_file(out, step))
                    if bad is not None:
                        stop_reason, last_step = bad
                        log.log(NOTICE, "stopping: %s", stop_reason)
                        break
                    last = recorder.latest()
                    bar.update(step, float(last[0]), float(last[1]), force=step == cfg.steps)
                if stop.signum and step < cfg.steps:
                    signum = stop.signum
                    stop_reason = f"interrupted by {stop.name} at step {step}"
                    log.log(NOTICE, "%s: saving the run at step %d", stop.name, step)
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
        ended = summary(cfg, telemetry, stop_reason, wall(), device)
        write_json(out / SUMMARY_FILE, ended)
    if sinks and signum is None and len(telemetry):  # an interrupted run is diagnosed when it ends
        _send_diagnosis(sinks, out, int(telemetry["step"].iloc[-1]))
    g.eval()
    d.eval()
    run = Run(out, cfg, telemetry, ended, g, d, meta)
    if signum is not None:
        raise TrainingInterrupted(run, signum)
    return run


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
        write_json(out / SUMMARY_FILE, summary(cfg, telemetry, reason, wall, device))


def _read_summary(out: Path) -> dict[str, Any]:
    from ganlint.jsonfile import read_json_object

    path = out / SUMMARY_FILE
    return read_json_object(path, "a ganlint run summary") if path.is_file() else {}
