"""`ganlint check --history`: how the run got to this checkpoint, for the checks that need time.

Accepted:
  * a ganlint run folder or telemetry table (CSV, parquet, JSONL);
  * a training log of the user's in CSV or JSONL (a plain loop's printout saved as a table, a Lightning
    `metrics.csv`): its columns are mapped onto ganlint's by ganlint.ingest;
  * a folder of checkpoints over time (`ckpt_1000.pt`, `ckpt_2000.pt`, ... ordered by the number in the
    name): each is loaded like the main checkpoint and measured on a small sample, which gives the
    evaluation columns (distance, diversity, modes) and D's outputs over time.
The engine's full set of checks then runs on that table; its findings are reported as
`history:<check>` beside the checkpoint's own.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from ganlint.diagnostics.engine import diagnose, load_telemetry
from ganlint.diagnostics.findings import Finding
from ganlint.diagnostics.thresholds import Thresholds
from ganlint.errors import DataError
from ganlint.telemetry import COLUMNS
from ganlint.vocabulary import RECORDED_AS

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".safetensors", ".pt2", ".ckpt", ".bin")
MIN_CHECKPOINTS = 3  # a trend needs at least three points


def _number(path: Path) -> int | None:
    nums = re.findall(r"\d+", path.stem)
    return int(nums[-1]) if nums else None


def checkpoint_series(folder: Path, options: dict[str, Any], ref, samples: int, seed: int,
                      d_output: str | None = None) -> tuple[pd.DataFrame, str | None]:
    """One telemetry row per checkpoint in folder (evaluation columns and D's outputs), and how its
    d_real/d_fake read (a D_OUTPUTS name; None when no checkpoint has a D). `d_output` is what D returns
    (a D_RETURNS name; None: inferred per checkpoint)."""
    from ganlint.check import sample_metrics
    from ganlint.check import snapshot as snap
    from ganlint.loaders import load_checkpoint

    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in CHECKPOINT_SUFFIXES]
    numbered = sorted((n, p) for p in files if (n := _number(p)) is not None)
    if len(numbered) < MIN_CHECKPOINTS:
        raise DataError(f"--history {str(folder)!r}: needs at least {MIN_CHECKPOINTS} checkpoints with a step number "
                        f"in their names (e.g. ckpt_1000.pt), found {len(numbered)}")
    rows = []
    recorded = None
    for i, (step, path) in enumerate(numbered, 1):
        print(f"ganlint: history [{i}/{len(numbered)}] {path.name}", file=sys.stderr, flush=True)
        loaded = load_checkpoint(path, **options)
        fake = loaded.sample(samples, seed=seed).detach().float().cpu()
        row: dict[str, Any] = {"step": step}
        if bool(fake.isfinite().all()):
            metrics, _, _ = sample_metrics(fake, ref, seed)
            row.update({k: v for k, v in metrics.items() if k in COLUMNS})
            row["fake_mean"], row["fake_std"] = float(fake.mean()), float(fake.std())
            if ref is not None and ref.real is not None:
                row["real_mean"], row["real_std"] = float(ref.real.mean()), float(ref.real.std())
            if loaded.discriminator is not None:
                from ganlint.check import _latent_inputs

                dm = snap.discriminator_metrics(loaded.generator, loaded.discriminator,
                                                lambda n, spec=loaded.latent: _latent_inputs(spec, n, seed, options.get("device", "cpu")),
                                                ref.real if ref is not None else None, d_output)
                recorded = RECORDED_AS[str(dm["d_kind"])]
                row["d_fake"] = dm["d_fake"]
                if "d_real" in dm:
                    row["d_real"] = dm["d_real"]
        else:
            row["fake_mean"] = float("nan")
        rows.append(row)
    return pd.DataFrame(rows), recorded


def read_history(path: str | Path, options: dict[str, Any], ref, samples: int, seed: int,
                 d_output: str | None = None) -> tuple[pd.DataFrame, str | None]:
    """A folder of checkpoints is measured checkpoint by checkpoint; anything else (a run folder, a table,
    a Lightning, Hugging Face or TensorBoard log) is read as `ganlint diagnose` reads it. Returns the
    table and how its d_real/d_fake read (None: from the run's config, else inferred by the engine)."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"--history {str(p)!r} does not exist")
    has_telemetry = (p / "telemetry.parquet").is_file() or (p / "telemetry.csv").is_file()  # a run folder
    if p.is_dir() and not has_telemetry and any(f.suffix.lower() in CHECKPOINT_SUFFIXES for f in p.iterdir() if f.is_file()):
        return checkpoint_series(p, options, ref, samples, seed, d_output)
    df, meta = load_telemetry(p)
    return df, meta.get("d_output")


def history_findings(path: str | Path, th: Thresholds, num_modes: int | None, *, loaded_options: dict[str, Any],
                     data, samples: int, seed: int, d_output: str | None = None) -> tuple[list[Finding], list[str]]:
    """The engine's findings on the history, renamed history:<check>, and a note on what was read.
    `d_output` is what D returns (a D_RETURNS name), for a folder of checkpoints."""
    df, recorded = read_history(path, loaded_options, data, samples, seed, d_output)
    # The history's evaluations were measured like `data`'s (a checkpoint folder's by check itself).
    kind = data.dataset.distance_kind if data is not None and data.dataset is not None else None
    d = diagnose(df, d_output=recorded, num_modes=num_modes, thresholds=th, distance_kind=kind)
    renamed = [Finding(f"history:{f.check}", f.label, f.status, f.value, f.threshold, f.message, f.window,
                       f.onset_step, f.severity) for f in d.findings]
    note = f"history: {len(df)} rows from {path} (steps {int(df['step'].min())}-{int(df['step'].max())}); alone it reads {d.label}"
    if len(df) < th.min_rows:
        note += f" (the time-series checks need at least {th.min_rows} logged steps: give a longer history)"
    return renamed, [note]
