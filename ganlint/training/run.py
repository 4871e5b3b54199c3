"""The run folder: what a training run leaves behind, and how to load it back without user code.

    RUN/
      config.json                 resolved TrainConfig, dataset description, model spec, versions, device
      summary.json                steps done, why it stopped, wall time, step rate, final evaluation
      telemetry.parquet, .csv     one row per step (schema in ganlint.training.telemetry)
      generator.safetensors       G's weights   } rebuilt from config.json alone:
      discriminator.safetensors   D's weights   } no pickles, no user code
      samples/step_NNNNNN.png     sample pictures at a few steps
      samples/step_NNNNNN.safetensors  the fakes drawn in those pictures (for later reports)
      checkpoint.pt               while training or after an interrupt: what --resume continues from
                                  (ganlint.training.checkpoint); removed when the run ends on its own
      .ganlint.lock               the writer's lock (ganlint.lock): one writer per folder

While a run trains, telemetry.csv grows as rows are flushed (ganlint.training.telemetry.TelemetryJournal) and the
weights are those of the last checkpoint, so every command can read a folder whose run was killed.
summary.json is written when the run ends or is interrupted; a folder without it was killed (or is still
being written: ganlint.lock.holder says which).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from safetensors.torch import load_model, save_model
from torch import nn

from ganlint.errors import DataError
from ganlint.files import (
    atomic_write,
    check_encodable,
    writing,
)
from ganlint.lock import FolderLock
from ganlint.schema import CONFIG_FILE, SUMMARY_FILE, TELEMETRY_CSV, TELEMETRY_PARQUET
from ganlint.training.checkpoint import CHECKPOINT_FILE
from ganlint.training.config import TrainConfig

GENERATOR_FILE = "generator.safetensors"
DISCRIMINATOR_FILE = "discriminator.safetensors"
SAMPLES_DIR = "samples"
# Fakes kept per picture step in samples/ (by the trainer and the Monitor; the reports draw from them).
SAVED_SAMPLES = 512
DEFAULT_RUNS_DIR = "runs"


@dataclass(repr=False)
class Run:
    """A finished (or stopped) run: its folder, config, telemetry, summary and models (in a notebook it
    shows itself with its diagnosis: ganlint.report.notebook)."""

    out_dir: Path
    config: TrainConfig
    telemetry: pd.DataFrame
    summary: dict[str, Any]
    generator: nn.Module
    discriminator: nn.Module
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def paths(self) -> dict[str, Path]:
        d = self.out_dir
        return {
            "config": d / CONFIG_FILE,
            "summary": d / SUMMARY_FILE,
            "telemetry_parquet": d / TELEMETRY_PARQUET,
            "telemetry_csv": d / TELEMETRY_CSV,
            "generator": d / GENERATOR_FILE,
            "discriminator": d / DISCRIMINATOR_FILE,
            "samples": d / SAMPLES_DIR,
        }

    @property
    def stop_reason(self) -> str:
        return self.summary.get("stop_reason", "")

    def __repr__(self) -> str:
        # One line: the dataclass's would print both networks, the config and the telemetry frame.
        steps = self.summary.get("steps_completed")
        if steps is None:  # a killed run: no summary.json, its telemetry so far
            steps = int(self.telemetry["step"].max()) if "step" in self.telemetry and len(self.telemetry) else 0
        of = f"/{self.summary['steps_requested']}" if "steps_requested" in self.summary else ""
        return (f"<Run {self.out_dir}: {self.config.dataset}, {self.config.loss}, {steps}{of} steps, "
                f"{self.stop_reason or 'no summary'}; {len(self.telemetry)} telemetry rows>")

    def _repr_html_(self) -> str:
        # The cell's pieces (the report's; torch) load on first display, not on import.
        from ganlint.report.notebook import run_cell

        return run_cell(self)


def sample_file(out: str | os.PathLike, step: int, suffix: str = ".png") -> Path:
    """A run folder's samples/step_NNNNNN<suffix>: the picture (.png) or the fakes (.safetensors) of `step`."""
    return Path(out) / SAMPLES_DIR / f"step_{step:06d}{suffix}"


def default_out_dir(cfg: TrainConfig) -> Path:
    """runs/<dataset>-<loss>-<time>, with -2, -3... when a run started in the same second holds it."""
    base = Path(DEFAULT_RUNS_DIR) / f"{cfg.dataset}-{cfg.loss}-{time.strftime('%Y%m%d-%H%M%S')}"
    out, n = base, 1
    while out.exists():
        n += 1
        out = base.with_name(f"{base.name}-{n}")
    return out


def prepare_out_dir(cfg: TrainConfig, overwrite: bool = False) -> FolderLock:
    """Create the run folder and take its write lock; refuse to mix a new run into an old one unless
    `overwrite`, which first removes every file an earlier run of ganlint wrote there.

    Returns:
        The held lock (its `.folder` is the run folder); release it when the run is written.

    Raises:
        DataError: the folder is a file, is not writable, is not UTF-8, holds a run (without `overwrite`), or
            another process is writing it.
    """
    out = Path(cfg.out) if cfg.out else default_out_dir(cfg)
    check_encodable(out, "--out")
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {str(out)!r} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot write the run folder {str(out)!r}: {e.strerror or e}") from None
    lock = FolderLock(out).acquire()  # before looking at what is there: another writer may be mid-run
    try:
        if (out / CONFIG_FILE).exists():
            if not overwrite:
                raise DataError(f"--out {str(out)!r} already holds a run; choose another folder, continue it with "
                                f"ganlint train --resume {out}, or pass --overwrite")
            _remove_run_files(out)
        probe = out / ".ganlint-write-test"
        with writing(out):
            probe.touch()
            probe.unlink()
    except BaseException:
        lock.release()
        raise
    return lock


def run_files() -> tuple[str, ...]:
    """Every file a run folder may hold that ganlint wrote: the run's, then its diagnosis and report's."""
    from ganlint.report.run_report import REPORT_FILES

    return (CONFIG_FILE, SUMMARY_FILE, TELEMETRY_PARQUET, TELEMETRY_CSV, GENERATOR_FILE, DISCRIMINATOR_FILE,
            CHECKPOINT_FILE, *REPORT_FILES)


def _remove_run_files(out: Path) -> None:
    """Delete what an earlier run and its report wrote (only ganlint's own files, never a folder or a file
    of the user's), so that no stale sample, plot or diagnosis outlives it beside the new run."""
    with writing(out):
        for name in run_files():
            (out / name).unlink(missing_ok=True)
        for folder in (SAMPLES_DIR, "plots"):
            if (out / folder).is_dir() and not (out / folder).is_symlink():
                for f in (out / folder).glob("*.png" if folder == "plots" else "step_*"):
                    f.unlink()


def save_telemetry(df: pd.DataFrame, out: Path) -> None:
    """telemetry.parquet and telemetry.csv, each written atomically."""
    atomic_write(out / TELEMETRY_PARQUET, lambda tmp: df.to_parquet(tmp, index=False))
    atomic_write(out / TELEMETRY_CSV, lambda tmp: df.to_csv(tmp, index=False))


def save_models(g: nn.Module, d: nn.Module, out: Path) -> None:
    """G's and D's weights as safetensors, each written atomically."""
    atomic_write(out / GENERATOR_FILE, lambda tmp: save_model(g, tmp))
    atomic_write(out / DISCRIMINATOR_FILE, lambda tmp: save_model(d, tmp))


def read_run_config(path: str | os.PathLike) -> dict[str, Any]:
    """A run folder's config.json (the trainer's record: versions, device, dataset, "config": the resolved
    TrainConfig fields); DataError naming the file when it is missing or not a run's record."""
    from ganlint.jsonfile import read_json_object

    out = Path(path)
    cfg_path = out / CONFIG_FILE
    if not cfg_path.is_file():
        raise DataError(f"{str(out)!r} is not a ganlint run folder (no {CONFIG_FILE})")
    meta = read_json_object(cfg_path, "a ganlint run config")
    if not isinstance(meta.get("config"), dict):
        raise DataError(f"{str(cfg_path)!r} is not a ganlint run config: it has no config object")
    return meta


def load_run(path: str | os.PathLike, device: str | torch.device = "cpu") -> Run:
    """Rebuild a run from its folder: config, telemetry, summary, and G and D with their weights.

    A run that was interrupted may have no summary.json or telemetry yet: those come back empty. Anything
    present but unreadable (config.json that is not a JSON object or whose config is invalid, a damaged
    weights file, a telemetry table that is not parquet) is a DataError naming the file: one line, exit 2.
    """
    from ganlint.errors import GanlintError
    from ganlint.jsonfile import read_json_object
    from ganlint.nets import build_models
    from ganlint.training.config import check_network_size

    out = Path(path)
    cfg_path = out / CONFIG_FILE
    if not cfg_path.is_file():
        raise DataError(f"{str(out)!r} is not a ganlint run folder (no {CONFIG_FILE})")
    meta = read_json_object(cfg_path, "a ganlint run config")

    def is_count(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and v >= 1

    try:
        dataset = meta["dataset"]
        spec = dataset["model_spec"] if isinstance(dataset, dict) else None
        if not isinstance(spec, dict):
            raise ValueError(f"dataset.model_spec must be an object, got {spec!r}"[:300])
        shape, blocks = spec["shape"], spec.get("blocks", [])
        if not (isinstance(shape, list) and 1 <= len(shape) <= 4 and all(map(is_count, shape))):
            raise ValueError(f"dataset.model_spec.shape must be a list of 1 to 4 positive integers, got {shape!r}"[:300])
        if not isinstance(spec["bounded"], bool):
            raise ValueError(f"dataset.model_spec.bounded must be true or false, got {spec['bounded']!r}"[:300])
        if not (isinstance(blocks, list) and all(isinstance(b, list) and len(b) == 2 and isinstance(b[0], str)
                                                 and is_count(b[1]) for b in blocks)):
            raise ValueError(f"dataset.model_spec.blocks must be a list of [kind, size] pairs, got {blocks!r}"[:300])
        # resolve() checks every type and range (a g_width of 4e9 is refused here, not by a MemoryError in
        # build_models); the config the trainer wrote is already resolved, so it changes nothing.
        cfg = TrainConfig.from_dict(meta["config"]).resolve()
        check_network_size(cfg, shape)
        g, d = build_models(cfg, spec)
    except KeyError as e:
        raise DataError(f"{str(cfg_path)!r} is not a ganlint run config: it has no {e} entry") from None
    except (ValueError, GanlintError) as e:
        raise DataError(f"{str(cfg_path)!r} is not a valid ganlint run config: {e}") from None
    for model, name in ((g, GENERATOR_FILE), (d, DISCRIMINATOR_FILE)):
        file = out / name
        if not file.is_file():
            raise DataError(f"{str(out)!r} has no {name}")
        try:
            load_model(model, str(file), device=str(device))
        except Exception as e:  # safetensors and torch raise several types for a truncated or foreign file
            detail = (str(e).strip().splitlines() or [""])[0][:300]
            raise DataError(f"cannot load {str(file)!r} into the networks config.json describes: "
                            f"{type(e).__name__}: {detail}") from None
        model.to(device).eval()
    summary_path = out / SUMMARY_FILE
    summary = read_json_object(summary_path, "a ganlint run summary") if summary_path.is_file() else {}
    tel_path = out / TELEMETRY_PARQUET
    telemetry = pd.DataFrame()
    if not tel_path.is_file() and (out / TELEMETRY_CSV).is_file():
        # A run killed while it trained: the rows its journal holds (ganlint.training.telemetry.TelemetryJournal).
        from ganlint.training.telemetry import read_journal

        try:
            telemetry = read_journal(out / TELEMETRY_CSV)
        except (OSError, ValueError, pd.errors.ParserError) as e:
            raise DataError(f"cannot read {str(out / TELEMETRY_CSV)!r}: {e}") from None
    elif tel_path.is_file():
        try:
            telemetry = pd.read_parquet(tel_path)
        except Exception as e:  # pyarrow raises several types for a damaged file
            detail = (str(e).strip().splitlines() or [""])[0][:300]
            raise DataError(f"cannot read {str(tel_path)!r} as a parquet table: {type(e).__name__}: {detail}") from None
    return Run(out, cfg, telemetry, summary, g, d, meta)
