"""`ganlint check --history`: how the run got to this checkpoint, for the checks that need time.

Accepted:
  * a ganlint run folder or telemetry table (CSV, parquet, JSONL);
  * a training log of the user's in CSV or JSONL (a plain loop's printout saved as a table, a Lightning
    `metrics.csv`): its columns are mapped onto ganlint's by ganlint.ingest;
  * a folder of checkpoints over time (`ckpt_1000.pt`, `ckpt_2000.pt`, ... ordered by the number in the
    name), or a glob of them (`'out/netG_epoch_*.pth'`, quoted so the shell leaves it to ganlint): each is
    loaded like the main checkpoint and measured on a small sample, which gives the evaluation columns
    (distance, diversity, modes) and D's outputs over time.

Scripts that save G and D side by side (pytorch/examples dcgan: netG_epoch_N.pth, netD_epoch_N.pth) are
paired by the number in the name. The rule (ROLE_G, ROLE_D): a file whose name holds netG, G, gen or
generator as a word (split at anything but letters: `netG_epoch_3`, `G_100`, `gen-5`) is a G file; netD,
D, disc, discriminator or critic, a D file; neither (`ckpt_1000.pt`), a checkpoint holding what it holds.
When any G file is named, only G files make the series, each with the D file of the same number (as
--discriminator-file would give it), looked for among the matches and beside the G file; two G (or D)
files with one number, or a name that is both, is ambiguous: one line saying which.
The engine's full set of checks then runs on that table; its findings are reported as
`history:<check>` beside the checkpoint's own.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import pandas as pd

from ganlint.diagnostics.engine import diagnose
from ganlint.diagnostics.findings import Finding
from ganlint.diagnostics.thresholds import Thresholds
from ganlint.errors import DataError
from ganlint.ingest.telemetry import load_telemetry
from ganlint.loaders.errors import naming, option
from ganlint.schema import COLUMNS, TELEMETRY_CSV, TELEMETRY_PARQUET
from ganlint.vocabulary import RECORDED_AS

log = logging.getLogger(__name__)

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".safetensors", ".pt2", ".ckpt", ".bin")
MIN_CHECKPOINTS = 3  # a trend needs at least three points


def _number(path: Path) -> int | None:
    nums = re.findall(r"\d+", path.stem)
    return int(nums[-1]) if nums else None


# Roles by name: a role word stands alone between non-letters (digits, _, -, .), case-insensitive.
ROLE_G = re.compile(r"(?<![a-z])(netg|generator|gen|g)(?![a-z])", re.IGNORECASE)
ROLE_D = re.compile(r"(?<![a-z])(netd|discriminator|disc|critic|d)(?![a-z])", re.IGNORECASE)
GLOB_CHARS = "*?["


def role(path: Path) -> str | None:
    """'G', 'D' or None (a checkpoint that holds what it holds) from the file's name (see ROLE_G, ROLE_D)."""
    g, d = bool(ROLE_G.search(path.stem)), bool(ROLE_D.search(path.stem))
    if g and d:
        raise naming(DataError, f"{option('history')}: {path.name!r} is named both as a G and as a D file; rename it, or give the "
                        "checkpoints without roles in their names")
    return "G" if g else "D" if d else None


def checkpoint_files(spec: str | Path) -> list[Path] | None:
    """The checkpoint files a --history folder or glob names; None when it names a run folder, a table or a
    log (no checkpoint files)."""
    text = str(spec)
    if any(c in text for c in GLOB_CHARS) and not Path(text).exists():
        import glob

        found = [Path(p) for p in sorted(glob.glob(os.path.expanduser(text)))]
        found = [p for p in found if p.is_file() and p.suffix.lower() in CHECKPOINT_SUFFIXES]
        if not found:
            raise naming(DataError, f"{option('history')} {text!r}: the pattern matches no checkpoint files ({', '.join(CHECKPOINT_SUFFIXES)})")
        return found
    p = Path(text)
    if not p.is_dir() or (p / TELEMETRY_PARQUET).is_file() or (p / TELEMETRY_CSV).is_file():
        return None
    files = [f for f in p.iterdir() if f.is_file() and f.suffix.lower() in CHECKPOINT_SUFFIXES]
    return sorted(files) or None


def pair(files: list[Path], where: str) -> list[tuple[int, Path, Path | None]]:
    """(step, G file, its D file or None) in step order (see the module docstring's rule)."""
    roles = {f: role(f) for f in files}
    g_files = [f for f in files if roles[f] == "G"]
    if not g_files:
        if any(r == "D" for r in roles.values()) and not any(r is None for r in roles.values()):
            raise naming(DataError, f"{option('history')} {where}: only D files (netD, D_, disc, critic in their names); give G's "
                            "checkpoints (netG_epoch_*.pth)")
        g_files = [f for f in files if roles[f] is None]
    d_pool = {f for f in files if roles[f] == "D"}
    for folder in {f.parent for f in g_files if f.parent.is_dir()}:  # a glob of G files: their D files lie beside them
        d_pool |= {f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in CHECKPOINT_SUFFIXES and role(f) == "D"}
    by_step: dict[int, list[Path]] = {}
    for f in g_files:
        if (n := _number(f)) is not None:
            by_step.setdefault(n, []).append(f)
    d_by_step: dict[int, list[Path]] = {}
    for f in d_pool:
        if (n := _number(f)) is not None:
            d_by_step.setdefault(n, []).append(f)
    for table, what in ((by_step, "G"), (d_by_step, "D")):
        for n, fs in table.items():
            if len(fs) > 1:
                raise naming(DataError, f"{option('history')} {where}: {len(fs)} {what} files for step {n} "
                                f"({', '.join(sorted(f.name for f in fs))}): ambiguous; keep one per step")
    return [(n, fs[0], d_by_step.get(n, [None])[0]) for n, fs in sorted(by_step.items())]


def checkpoint_series(spec: str | Path, options: dict[str, Any], ref, samples: int, seed: int,
                      d_output: str | None = None,
                      files: list[Path] | None = None) -> tuple[pd.DataFrame, str | None, list[str]]:
    """One telemetry row per G checkpoint of a folder or glob (evaluation columns and D's outputs), how its
    d_real/d_fake read (a D_OUTPUTS name; None when no checkpoint has a D) and notes. `d_output` is what D
    returns (a D_RETURNS name; None: inferred per checkpoint)."""
    from ganlint.check import snapshot as snap
    from ganlint.check.reference import match
    from ganlint.check.run import latent_inputs, sample_metrics
    from ganlint.loaders import load_checkpoint

    files = files if files is not None else (checkpoint_files(spec) or [])
    series = pair(files, repr(str(spec)))
    if len(series) < MIN_CHECKPOINTS:
        raise naming(DataError, f"{option('history')} {str(spec)!r}: needs at least {MIN_CHECKPOINTS} G checkpoints with a step number "
                        f"in their names (e.g. ckpt_1000.pt, netG_epoch_3.pth), found {len(series)}")
    notes = []
    paired = sum(d is not None for _, _, d in series)
    main_d_file = options.get("discriminator_path")
    if paired:
        notes.append(f"history: {paired} of {len(series)} G checkpoints paired with their D file by step number")
    rows = []
    recorded = None
    for i, (step, path, d_file) in enumerate(series, 1):
        log.info("history [%d/%d] %s%s", i, len(series), path.name, f" + {d_file.name}" if d_file else "")
        opts = dict(options)
        if d_file is not None:
            opts["discriminator_path"] = d_file
        elif main_d_file is not None or role(path) == "G":
            # The main check's D file belongs to its own step: reading every step's G with it would mix times;
            # and a G file holds no D for a factory to fill.
            opts["discriminator_path"] = None
            if role(path) == "G":
                opts["discriminator"] = None
        loaded = load_checkpoint(path, **opts)
        raw = loaded.sample(samples, seed=seed).detach().float().cpu()
        row: dict[str, Any] = {"step": step}
        if bool(raw.isfinite().all()):
            matched = match(ref, tuple(raw.shape[1:]))
            metrics, _, _ = sample_metrics(matched.samples(raw), matched.ref, seed)
            row.update({k: v for k, v in metrics.items() if k in COLUMNS})
            row["fake_mean"], row["fake_std"] = float(raw.mean()), float(raw.std())
            if matched.d_real is not None:
                row["real_mean"], row["real_std"] = float(matched.d_real.mean()), float(matched.d_real.std())
            if loaded.discriminator is not None:
                dm = snap.discriminator_metrics(loaded.generator, loaded.discriminator,
                                                lambda n, spec=loaded.latent: latent_inputs(spec, n, seed, options.get("device", "cpu")),
                                                matched.d_real, d_output)
                recorded = RECORDED_AS[str(dm["d_kind"])]
                row["d_fake"] = dm["d_fake"]
                if "d_real" in dm:
                    row["d_real"] = dm["d_real"]
        else:
            row["fake_mean"] = float("nan")
        rows.append(row)
    wanted = main_d_file is not None or options.get("discriminator") is not None
    if wanted and paired < len(series) and any(role(p) == "G" for _, p, _ in series):
        notes.append("history: D's outputs over time need each step's D file beside its G file (netD_epoch_N.pth "
                     "beside netG_epoch_N.pth); the history has G's samples only")
    return pd.DataFrame(rows), recorded, notes


def read_history(path: str | Path, options: dict[str, Any], ref, samples: int, seed: int,
                 d_output: str | None = None) -> tuple[pd.DataFrame, str | None, list[str]]:
    """A folder or glob of checkpoints is measured checkpoint by checkpoint; anything else (a run folder, a
    table, a Lightning, Hugging Face or TensorBoard log) is read as `ganlint diagnose` reads it. Returns the
    table, how its d_real/d_fake read (None: from the run's config, else inferred by the engine) and notes."""
    p = Path(path)
    is_glob = any(c in str(path) for c in GLOB_CHARS) and not p.exists()
    if not p.exists() and not is_glob:
        raise naming(DataError, f"{option('history')} {str(p)!r} does not exist")
    files = checkpoint_files(path)
    if files:
        return checkpoint_series(path, options, ref, samples, seed, d_output, files)
    df, meta = load_telemetry(p)
    return df, meta.get("d_output"), []


def history_findings(path: str | Path, th: Thresholds, num_modes: int | None, *, loaded_options: dict[str, Any],
                     data, samples: int, seed: int, d_output: str | None = None) -> tuple[list[Finding], list[str]]:
    """The engine's findings on the history, renamed history:<check>, and a note on what was read.
    `d_output` is what D returns (a D_RETURNS name), for a folder of checkpoints."""
    df, recorded, notes = read_history(path, loaded_options, data, samples, seed, d_output)
    # The history's evaluations were measured like `data`'s (a checkpoint folder's by check itself).
    kind = data.dataset.distance_kind if data is not None and data.dataset is not None else None
    d = diagnose(df, d_output=recorded, num_modes=num_modes, thresholds=th, distance_kind=kind)
    renamed = [Finding(f"history:{f.check}", f.label, f.status, f.value, f.threshold, f.message, f.window,
                       f.onset_step, f.severity) for f in d.findings]
    note = f"history: {len(df)} rows from {path} (steps {int(df['step'].min())}-{int(df['step'].max())}); alone it reads {d.label}"
    if len(df) < th.min_rows:
        note += f" (the time-series checks need at least {th.min_rows} logged steps: give a longer history)"
    return renamed, [*notes, note]
