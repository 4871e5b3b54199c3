"""The run folder: what a training run leaves behind, and how to load it back without user code.

    RUN/
      config.json                 resolved TrainConfig, dataset description, model spec, versions, device
      summary.json                steps done, why it stopped, wall time, step rate, final evaluation
      telemetry.parquet, .csv     one row per step (schema in ganlint.telemetry)
      generator.safetensors       G's weights   } rebuilt from config.json alone:
      discriminator.safetensors   D's weights   } no pickles, no user code
      samples/step_NNNNNN.png     sample pictures at a few steps
      samples/step_NNNNNN.safetensors  the fakes drawn in those pictures (for later reports)
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from safetensors.torch import load_model, save_model
from torch import nn

from ganlint.config import TrainConfig
from ganlint.errors import DataError

CONFIG_FILE = "config.json"
SUMMARY_FILE = "summary.json"
TELEMETRY_PARQUET = "telemetry.parquet"
TELEMETRY_CSV = "telemetry.csv"
GENERATOR_FILE = "generator.safetensors"
DISCRIMINATOR_FILE = "discriminator.safetensors"
SAMPLES_DIR = "samples"
DEFAULT_RUNS_DIR = "runs"


@dataclass
class Run:
    """A finished (or stopped) run: its folder, config, telemetry, summary and models."""

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


def write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically (temp file + rename), so a kill never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    if hasattr(os, "fchmod"):  # mkstemp's 0600 would hide the file from the user's colleagues and CI readers
        os.fchmod(fd, 0o644)
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=2, default=str)
        f.write("\n")
    os.replace(tmp, path)


def default_out_dir(cfg: TrainConfig) -> Path:
    """runs/<dataset>-<loss>-<time>, with -2, -3... when a run started in the same second holds it."""
    base = Path(DEFAULT_RUNS_DIR) / f"{cfg.dataset}-{cfg.loss}-{time.strftime('%Y%m%d-%H%M%S')}"
    out, n = base, 1
    while out.exists():
        n += 1
        out = base.with_name(f"{base.name}-{n}")
    return out


def prepare_out_dir(cfg: TrainConfig, overwrite: bool = False) -> Path:
    """Create the run folder; refuse to mix a new run into an old one unless `overwrite`."""
    out = Path(cfg.out) if cfg.out else default_out_dir(cfg)
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {str(out)!r} exists and is not a folder")
    if (out / CONFIG_FILE).exists():
        if not overwrite:
            raise DataError(f"--out {str(out)!r} already holds a run; choose another folder or pass --overwrite")
        _remove_run_files(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".ganlint-write-test"
        probe.touch()
        probe.unlink()
    except OSError as e:
        raise DataError(f"cannot write the run folder {str(out)!r}: {e.strerror or e}") from None
    return out


def _remove_run_files(out: Path) -> None:
    """Delete what an earlier run wrote (only ganlint's own files), so no stale sample outlives it."""
    for name in (CONFIG_FILE, SUMMARY_FILE, TELEMETRY_PARQUET, TELEMETRY_CSV, GENERATOR_FILE, DISCRIMINATOR_FILE):
        (out / name).unlink(missing_ok=True)
    samples = out / SAMPLES_DIR
    if samples.is_dir():
        for f in samples.glob("step_*"):
            f.unlink()


def save_telemetry(df: pd.DataFrame, out: Path) -> None:
    for name, write in ((TELEMETRY_PARQUET, lambda p: df.to_parquet(p, index=False)),
                        (TELEMETRY_CSV, lambda p: df.to_csv(p, index=False))):
        tmp = out / f".{name}.tmp"
        write(tmp)
        os.replace(tmp, out / name)


def save_models(g: nn.Module, d: nn.Module, out: Path) -> None:
    save_model(g, str(out / GENERATOR_FILE))
    save_model(d, str(out / DISCRIMINATOR_FILE))


def load_run(path: str | os.PathLike, device: str | torch.device = "cpu") -> Run:
    """Rebuild a run from its folder: config, telemetry, summary, and G and D with their weights."""
    from ganlint.nets import build_models

    out = Path(path)
    cfg_path = out / CONFIG_FILE
    if not cfg_path.is_file():
        raise DataError(f"{str(out)!r} is not a ganlint run folder (no {CONFIG_FILE})")
    try:
        meta = json.loads(cfg_path.read_text())
        cfg = TrainConfig.from_dict(meta["config"])
        spec = meta["dataset"]["model_spec"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise DataError(f"{str(cfg_path)!r} is not a valid ganlint config: {e}") from None
    g, d = build_models(cfg, spec)
    for model, name in ((g, GENERATOR_FILE), (d, DISCRIMINATOR_FILE)):
        file = out / name
        if not file.is_file():
            raise DataError(f"{str(out)!r} has no {name}")
        load_model(model, str(file), device=str(device))
        model.to(device).eval()
    summary_path = out / SUMMARY_FILE
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    tel_path = out / TELEMETRY_PARQUET
    telemetry = pd.read_parquet(tel_path) if tel_path.is_file() else pd.DataFrame()
    return Run(out, cfg, telemetry, summary, g, d, meta)
