"""The GAN trainer: reproduces each classic pathology on purpose and records health telemetry.

    import ganlint
    run = ganlint.train({"dataset": "ring8", "steps": 300, "out": "runs/ring8"})
    run.telemetry.tail()

One step = `n_critic` discriminator updates, then one generator update (ganlint.step.TrainStep, which
ganlint.fast may capture as a CUDA graph or run with compiled networks). The loop never calls `.item()`
or prints from the device: per-step scalars stay on the device (TelemetryRecorder) and are copied every
`flush_every` steps, which is also where a NaN/inf run is caught and stopped.

Randomness: `seed` seeds torch's global generator, which drives initialisation, data batches, z, dropout
and Gumbel noise, so a CPU run is reproducible. Evaluations use their own generator and a fixed z, so
how often one evaluates never changes the training trajectory.
"""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

import ganlint
from ganlint.config import MAX_SEED, TrainConfig
from ganlint.data import get_dataset
from ganlint.device import describe, resolve_device
from ganlint.evaluation import evaluate
from ganlint.fast import build_step, choose
from ganlint.losses import get_loss
from ganlint.nets import build_models
from ganlint.run import (
    CONFIG_FILE,
    SAMPLES_DIR,
    SUMMARY_FILE,
    Run,
    prepare_out_dir,
    save_models,
    save_telemetry,
    write_json,
)
from ganlint.telemetry import EVAL_COLUMNS, TelemetryRecorder

# Seconds between progress lines on stderr.
PROGRESS_EVERY_S = 2.0
# Fakes kept per picture step for later reports (the pictures draw from them).
SAVED_SAMPLES = 512


def eval_steps(steps: int, every: int) -> list[int]:
    """Steps evaluated: the first (an early baseline), every `every`-th, and the last."""
    return sorted({1, steps, *range(every, steps + 1, every)})


def picture_steps(evals: list[int], count: int) -> list[int]:
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

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.enabled = total, enabled
        self.t0 = self.last = time.perf_counter()

    def update(self, step: int, loss_d: float, loss_g: float, force: bool = False) -> None:
        now = time.perf_counter()
        if not self.enabled or (not force and now - self.last < PROGRESS_EVERY_S):
            return
        self.last = now
        rate = step / max(now - self.t0, 1e-9)
        eta = (self.total - step) / rate if rate > 0 else float("nan")
        print(f"ganlint: step {step}/{self.total}  {rate:.1f} steps/s  ETA {eta:.0f}s  "
              f"loss_d {loss_d:.3f}  loss_g {loss_g:.3f}", file=sys.stderr, flush=True)


def train(config: TrainConfig | Mapping[str, Any] | None = None, *, overwrite: bool = False,
          progress: bool = False, **overrides: Any) -> Run:
    """Train one GAN and write its run folder.

    Args:
        config: a TrainConfig, a dict of its fields, or None for the defaults.
        overwrite: allow writing into a folder that already holds a run.
        progress: print progress lines on stderr.
        **overrides: TrainConfig fields that replace those in `config`.

    Returns:
        The Run: folder, resolved config, telemetry DataFrame, summary and the trained models.

    Raises:
        ganlint.errors.GanlintError: for invalid names or values and unreadable data (exit code 2 in the CLI).
    """
    cfg = _as_config(config, overrides).resolve()
    device = resolve_device(cfg.device)
    dataset = get_dataset(cfg.dataset, cfg.data_root)
    loss = get_loss(cfg.loss)
    torch.manual_seed(cfg.seed)
    g, d = build_models(cfg, dataset.model_spec())  # before the folder: a model error leaves no folder
    fast = choose(cfg, device)  # likewise: a switch this device cannot run
    out = prepare_out_dir(cfg, overwrite)
    cfg = cfg.replace(out=str(out))
    g.to(device).train()
    d.to(device).train()
    g_params = [p for p in g.parameters() if p.requires_grad]
    d_params = [p for p in d.parameters() if p.requires_grad]
    for note in fast.notes:
        print(f"ganlint: {note}", file=sys.stderr)
    one_step = build_step(cfg, fast, g, d, loss, dataset, device)

    eval_seed, z_eval, real_eval = eval_inputs(cfg, dataset)
    z_eval, real_eval = z_eval.to(device), real_eval.to(device)

    meta = {**run_meta(cfg, device, loss, dataset, g_params, d_params), "fast_path": fast.to_dict()}
    write_json(out / CONFIG_FILE, meta)

    evals = eval_steps(cfg.steps, cfg.eval_every)
    eval_set = set(evals)
    pictures = set(picture_steps(evals, cfg.pictures))
    recorder = TelemetryRecorder(device, cfg.flush_every)
    bar = _Progress(cfg.steps, progress)
    stop_reason, last_step = "completed", 0
    t0 = time.perf_counter()

    for step in range(1, cfg.steps + 1):
        row = one_step()
        recorder.record_row(step, time.perf_counter() - t0, row)
        last_step = step

        if step in eval_set:
            fake_eval = _generate(g, z_eval, eval_seed)
            # Evaluations must never draw from training's random stream (a metric that samples, or the
            # MNIST classifier loaded on first use): the run would then depend on what ran before it in
            # the same process, e.g. on whether a suite was resumed.
            with torch.random.fork_rng(devices=[z_eval.device] if z_eval.device.type == "cuda" else []):
                recorder.record_eval(step, evaluate(fake_eval, real_eval, dataset))
            if step in pictures:
                _save_picture(fake_eval, real_eval, dataset, step, out)

        if recorder.full or step == cfg.steps:
            bad = recorder.flush()  # host sync: the only one in the loop apart from evaluations
            if bad is not None:
                bad_step, column = bad
                stop_reason, last_step = f"non-finite {column} at step {bad_step}", bad_step
                print(f"ganlint: stopping: {stop_reason}", file=sys.stderr)
                break
            last = recorder.latest()
            bar.update(step, float(last[0]), float(last[1]), force=step == cfg.steps)

    wall = time.perf_counter() - t0
    telemetry = recorder.frame(last_step)
    save_telemetry(telemetry, out)
    save_models(g, d, out)
    steps_done = int(telemetry["step"].max()) if len(telemetry) else 0
    summary = {
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
    write_json(out / SUMMARY_FILE, summary)
    g.eval()
    d.eval()
    return Run(out, cfg, telemetry, summary, g, d, meta)


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

    from ganlint.plots import plot_samples

    samples = out / SAMPLES_DIR
    samples.mkdir(exist_ok=True)
    save_file({"fake": fake[:SAVED_SAMPLES].detach().float().cpu().contiguous()}, str(samples / f"step_{step:06d}.safetensors"))
    if torch.isfinite(fake).all():
        plot_samples(fake[:1000], real[:1000], dataset, f"{dataset.name}: samples at step {step}", samples / f"step_{step:06d}.png")
