"""The trainer's checkpoint: everything `ganlint train --resume` needs to go on as if never stopped.

    RUN/checkpoint.pt    step, wall time, G and D (weights and buffers: batch-norm statistics, spectral
                         norm's vectors), both Adam states, and the random number generators' states

Written by the trainer every `checkpoint_every` steps and when it is asked to stop (SIGINT, SIGTERM), with
G's and D's weights also as generator/discriminator.safetensors, so that `ganlint check` works on an
interrupted run. One file, written to a temporary name, synced and renamed: a kill at any moment leaves
either the previous checkpoint or the new one. It is deleted when the run ends on its own (completed, or
stopped on a non-finite value): a finished run has nothing to resume.

Safety: a checkpoint holds tensors, numbers and strings only, and is read back with
torch.load(weights_only=True), which builds nothing else: a checkpoint file cannot run code.

What resuming reproduces exactly (CPU): the weights, the optimizer states and the random streams, hence
every later batch, z and update, so the telemetry and the final weights equal those of an uninterrupted
run bit for bit; `time_s`, `wall_time_s` and `steps_per_s` are clock readings and differ. On CUDA the
same holds for deterministic kernels; with nondeterministic ones (atomics in some backward kernels) a
run is not reproducible even uninterrupted.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ganlint.errors import DataError
from ganlint.files import atomic_write

CHECKPOINT_FILE = "checkpoint.pt"
CHECKPOINT_VERSION = 1


@dataclass
class TrainState:
    """A checkpoint read back: the step it was taken after, and the states to restore."""

    step: int
    wall_s: float
    state: dict[str, Any]


def save_checkpoint(out: Path, step: int, wall_s: float, g: torch.nn.Module, d: torch.nn.Module,
                    opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer, device: torch.device) -> None:
    """Write RUN/checkpoint.pt (atomic, synced). Raises DataError when the folder cannot be written."""
    state = {
        "version": CHECKPOINT_VERSION,
        "step": int(step),
        "wall_s": float(wall_s),
        "generator": g.state_dict(),
        "discriminator": d.state_dict(),
        "opt_g": opt_g.state_dict(),
        "opt_d": opt_d.state_dict(),
        "rng_cpu": torch.get_rng_state(),
        "rng_cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
    }
    # Serialised in memory, written by Python: torch's own file writer reports a full disk as "enforce
    # fail at inline_container.cc ... unexpected pos", which tells a user nothing.
    buf = io.BytesIO()
    torch.save(state, buf)
    data = buf.getvalue()
    atomic_write(out / CHECKPOINT_FILE, lambda tmp: Path(tmp).write_bytes(data), fsync=True)


def load_checkpoint(out: Path) -> TrainState:
    """RUN/checkpoint.pt, validated; DataError naming the file when it is missing or damaged."""
    path = out / CHECKPOINT_FILE
    if not path.is_file():
        raise DataError(f"{str(out)!r} has no {CHECKPOINT_FILE}: nothing to resume from (the run was stopped before "
                        "its first checkpoint, or it finished)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a truncated or foreign file: torch raises several types
        lines = str(e).strip().splitlines()
        raise DataError(f"cannot read {str(path)!r}: {type(e).__name__}: {lines[0] if lines else ''}") from None
    keys = {"version", "step", "wall_s", "generator", "discriminator", "opt_g", "opt_d", "rng_cpu"}
    if not isinstance(state, dict) or not keys <= set(state) or state["version"] != CHECKPOINT_VERSION \
            or not isinstance(state["step"], int) or state["step"] < 1:
        raise DataError(f"{str(path)!r} is not a ganlint checkpoint of version {CHECKPOINT_VERSION}")
    return TrainState(state["step"], float(state["wall_s"]), state)


def restore(ts: TrainState, g: torch.nn.Module, d: torch.nn.Module, opt_g: torch.optim.Optimizer,
            opt_d: torch.optim.Optimizer, device: torch.device) -> None:
    """Put the checkpoint's weights and optimizer states into the freshly built networks and optimizers
    (DataError when they do not fit: the config.json beside it was changed)."""
    s = ts.state
    try:
        g.load_state_dict(s["generator"])
        d.load_state_dict(s["discriminator"])
        opt_g.load_state_dict(s["opt_g"])
        opt_d.load_state_dict(s["opt_d"])
    except (RuntimeError, ValueError, KeyError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(f"the checkpoint does not fit the networks of its config.json: {first[:300]}") from None


def restore_rng(ts: TrainState, device: torch.device) -> None:
    """The random streams as they were after the checkpoint's step: set last, right before training goes
    on, because building the networks draws from them."""
    torch.set_rng_state(ts.state["rng_cpu"])
    if device.type == "cuda" and ts.state.get("rng_cuda") is not None:
        torch.cuda.set_rng_state(ts.state["rng_cuda"], device)
