"""The diagnostics engine: telemetry in, a labelled Diagnosis with its evidence out.

    import ganlint
    d = ganlint.diagnose("runs/ring8")          # a run folder, a CSV/parquet table, or a DataFrame
    d.label, d.confidence, d.onset_step
    for f in d.findings: print(f.status, f.check, f.message)

Pure: it reads the table (and a run folder's config.json for how D's outputs read and how many modes
the data has), runs every check, and never trains, plots or prints.

When several labels hold, the primary one is the first in LABELS:
  diverged > vanishing-gradient > stalled > oscillating > collapsed > stable.
Why this order: a NaN makes every other number meaningless; a dead gradient or a stalled optimizer
is the cause of whatever the samples look like (a generator that cannot learn also looks collapsed,
since it is still near its initial, narrow output); oscillation is a dynamic that collapse snapshots
can catch mid-swing (mode hopping), so the dynamic is named first. The other labels that hold are
kept in `other_labels` and in the findings.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ganlint.diagnostics.checks import all_checks
from ganlint.diagnostics.findings import ERROR, FAIL, LABELS, NOT_ASSESSABLE, PASS, Diagnosis, Finding
from ganlint.diagnostics.remedies import remedies_for
from ganlint.diagnostics.series import Context, Series
from ganlint.diagnostics.thresholds import DEFAULT_THRESHOLDS, Thresholds
from ganlint.errors import ConfigError, DataError
from ganlint.ingest import (
    check_mapping,
    event_files,
    is_event_file,
    needs_mapping,
    read_json_log,
    read_tensorboard,
    to_telemetry,
)
from ganlint.telemetry import COLUMNS

# At least one of these must be there for anything to be assessed.
SIGNAL_COLUMNS = ("loss_d", "loss_g", "d_real", "d_fake", "grad_norm_g", "grad_norm_d", "distance")
D_OUTPUTS = ("probability", "ls-score", "critic")


def diagnose(
    telemetry: pd.DataFrame | str | os.PathLike,
    *,
    d_output: str | None = None,
    num_modes: int | None = None,
    config: dict | None = None,
    thresholds: Thresholds | None = None,
) -> Diagnosis:
    """Label a run from its telemetry.

    Args:
        telemetry: a DataFrame in ganlint's telemetry schema (optional columns may be missing), or a path
            that `load_telemetry` reads: a run folder, a CSV/parquet/JSONL table, or a training log of
            another tool (Lightning, Hugging Face, TensorBoard), its columns recognised by their names.
        d_output: how d_real/d_fake read: 'probability', 'ls-score' or 'critic'. Default: from the run
            folder's config.json, else 'probability' when all values lie in [0, 1], else 'critic'.
        num_modes: known modes of the data (default: from config.json, else unknown).
        config: the run's config fields (default: from config.json), used to tailor remedies.
        thresholds: override the defaults in ganlint.diagnostics.thresholds.

    Raises:
        ganlint.errors.DataError: unreadable input or a table without a step column or any signal.
        ganlint.errors.ConfigError: num_modes that is not a positive integer.
    """
    if num_modes is not None and (isinstance(num_modes, bool) or not isinstance(num_modes, int) or num_modes < 1):
        raise ConfigError(f"num_modes must be a positive integer (the data's known modes), got {num_modes!r}")
    th = thresholds or DEFAULT_THRESHOLDS
    df, meta = load_telemetry(telemetry) if not isinstance(telemetry, pd.DataFrame) else (telemetry, {})
    df = validate_table(df)
    ctx = Context(
        d_output=d_output or meta.get("d_output") or _infer_d_output(df),
        num_modes=num_modes if num_modes is not None else (meta.get("dataset") or {}).get("num_modes"),
        config=config if config is not None else meta.get("config"),
    )
    if ctx.d_output not in D_OUTPUTS:
        raise DataError(f"d_output must be one of {', '.join(D_OUTPUTS)}, got {ctx.d_output!r}")
    series = Series(df, th)
    findings: list[Finding] = []
    for name, check in all_checks():
        try:
            findings.extend(check(series, ctx))
        except Exception as e:  # a crashing check is a ganlint bug: report it, never hide it as a pass
            findings.append(Finding(name, "stable", ERROR, None, None, f"check crashed: {type(e).__name__}: {e}"))
    return conclude(findings, ctx)


def conclude(findings: list[Finding], ctx: Context) -> Diagnosis:
    """The Diagnosis from a list of findings: primary label by LABELS order, confidence, remedies."""
    # The summary finding of each pathology carries the check's bare name (e.g. "collapse").
    failing = {f.label: f for f in findings if f.status == FAIL and "." not in f.check}
    failing.update({f.label: f for f in findings if f.status == FAIL and f.check == "divergence.non_finite"})
    for f in findings:  # any failing divergence finding is a divergence
        if f.status == FAIL and f.label == "diverged" and "diverged" not in failing:
            failing["diverged"] = f
    held = [label for label in LABELS if label in failing]
    if held:
        label = held[0]
        primary = failing[label]
        confidence = 0.55 + 0.4 * primary.severity + (0.05 if len(held) == 1 else 0.0)
        onset_step = primary.onset_step
        summary = primary.message
    else:
        label, onset_step = "stable", None
        evidence = [f for f in findings if f.label in ("stable", "collapsed") and "." in f.check]
        assessed = [f for f in evidence if f.status not in (NOT_ASSESSABLE, ERROR)]
        passed = [f for f in assessed if f.status == PASS]
        sample_based = [f for f in assessed if f.check.startswith(("collapse.", "progress.distance"))]
        if not sample_based:
            # D near 0.5 and calm losses alone never make a run convincingly stable.
            confidence = 0.3
            summary = "no pathology found, but there is no sample-based evidence (distance, diversity, modes): stable only by absence of failures"
        else:
            confidence = 0.5 + 0.45 * len(passed) / len(assessed)
            warned = [f for f in assessed if f.status != PASS]
            summary = "no pathology found"
            if passed:
                summary += "; " + "; ".join(f.message for f in passed[:3])
            if warned:
                summary += ("; but " if passed else ", but ") + "; ".join(f.message for f in warned[:2])
    if any(f.status == ERROR for f in findings):
        confidence *= 0.5
    return Diagnosis(
        label=label,
        confidence=float(min(confidence, 0.99)),
        onset_step=onset_step,
        findings=findings,
        remedies=remedies_for(label, ctx.config),
        summary=summary,
        other_labels=[x for x in LABELS if x in failing and x != label],
    )


def _infer_d_output(df: pd.DataFrame) -> str:
    vals = pd.concat([df[c] for c in ("d_real", "d_fake") if c in df.columns]) if any(
        c in df.columns for c in ("d_real", "d_fake")) else pd.Series(dtype=float)
    v = vals.to_numpy(dtype=np.float64)
    v = v[np.isfinite(v)]
    return "probability" if len(v) == 0 or ((v >= 0) & (v <= 1)).all() else "critic"


def validate_table(df: pd.DataFrame) -> pd.DataFrame:
    """A clean numeric copy, or a DataError naming what is wrong."""
    if "step" not in df.columns:
        raise DataError(f"the telemetry has no 'step' column (columns: {', '.join(map(str, df.columns)) or 'none'})")
    present = [c for c in SIGNAL_COLUMNS if c in df.columns]
    if not present:
        raise DataError(f"the telemetry has none of the columns {', '.join(SIGNAL_COLUMNS)}; nothing can be assessed")
    if not len(df):
        raise DataError("the telemetry table is empty")
    out = df.copy()
    for c in out.columns:
        if c in COLUMNS:  # the telemetry schema's columns are numeric; others are passed through
            conv = pd.to_numeric(out[c], errors="coerce")
            bad = conv.isna() & out[c].notna() & ~out[c].astype(str).str.strip().str.lower().isin(("nan", "inf", "-inf", ""))
            if bad.any():
                raise DataError(f"column {c!r} is not numeric (e.g. {out.loc[bad, c].iloc[0]!r} at row {int(bad.idxmax())})")
            out[c] = conv.astype(np.float64)
    if out["step"].isna().any():
        raise DataError("column 'step' has missing values")
    out["step"] = out["step"].astype(np.int64)
    return out



# A folder that is not a ganlint run folder may hold one of these logs (Lightning's CSVLogger version
# folder, a Hugging Face checkpoint folder), else TensorBoard event files.
FOLDER_LOGS = ("metrics.csv", "trainer_state.json")
TABLE_SUFFIXES = (".parquet", ".pq", ".jsonl", ".ndjson", ".csv", ".tsv", ".txt")


def load_telemetry(path: str | os.PathLike, mapping: Mapping[str, str] | None = None) -> tuple[pd.DataFrame, dict]:
    """Read telemetry from a file or folder, with a foreign log's columns mapped onto ganlint's schema.

    Accepted, recognised by name and content:
      * a ganlint run folder (telemetry.parquet or telemetry.csv; its config.json is returned as meta);
      * a table: .csv/.tsv/.txt, .parquet/.pq, .jsonl/.ndjson (one JSON object per step);
      * a Lightning `metrics.csv` (sparse rows, merged per step), or the folder holding it;
      * a .json file: Hugging Face's `trainer_state.json` (its `log_history`) or a list of records; also
        a Hugging Face checkpoint folder, or an output folder of `checkpoint-N/` folders (the last one);
      * TensorBoard: an events.out.tfevents.* file, or a folder holding them (needs the tensorboard
        package, imported only then).
    A table in ganlint's schema is returned as it is read. Any other table (no `step` column, a step
    repeated, or a column whose name maps onto a ganlint column the table lacks: `D_loss`, `errD`,
    `train/d_loss_step`), and every JSON and TensorBoard log, goes through ganlint.ingest.to_telemetry.

    Args:
        path: the file or folder.
        mapping: {ganlint column: log column}, e.g. {"loss_d": "D_loss"}; applied first, and the table is
            then always mapped (unnamed columns by their guessed names).

    Returns:
        (the table, meta): meta is the run folder's config.json, {} for anything else.

    Raises:
        DataError: the path does not exist or cannot be read, the log is empty (0 bytes, a header only,
            an empty log_history, no scalars), tensorboard is not installed, or the mapping names a column
            the log does not have (the message lists those it has).
        ConfigError: a mapping key that is not a ganlint telemetry column.
    """
    if mapping:
        check_mapping(mapping)  # before reading: a typo in a key needs no file to be found
    p = Path(path)
    if not p.exists():
        raise DataError(f"{str(p)!r} does not exist")
    if p.is_dir():
        for name in ("telemetry.parquet", "telemetry.csv"):
            if (p / name).is_file():
                return _as_telemetry(_read_table(p / name), p / name, mapping), _read_config(p / "config.json")
        p = _log_in_folder(p)
    df, src, always = _read_log(p)
    return _as_telemetry(df, src, mapping, always), {}


def _read_config(cfg: Path) -> dict:
    """A run folder's config.json ({} when there is none, as in an interrupted run), with the entries the
    engine and the report read checked: d_output, dataset.num_modes, config. DataError naming the file."""
    from ganlint.jsonfile import read_json_object

    if not cfg.is_file():
        return {}
    meta = read_json_object(cfg, "a ganlint run config")

    def bad(entry: str, expected: str, value: object) -> DataError:
        return DataError(f"{str(cfg)!r}: {entry} must be {expected}, got {value!r}"[:400])

    if meta.get("d_output") is not None and meta["d_output"] not in D_OUTPUTS:
        raise bad("d_output", f"one of {', '.join(D_OUTPUTS)}", meta["d_output"])
    dataset = meta.get("dataset")
    if dataset is not None and not isinstance(dataset, dict):
        raise bad("dataset", "an object", dataset)
    modes = (dataset or {}).get("num_modes")
    if modes is not None and not (isinstance(modes, int) and not isinstance(modes, bool) and modes >= 1):
        raise bad("dataset.num_modes", "a positive integer or null", modes)
    if meta.get("config") is not None and not isinstance(meta["config"], dict):
        raise bad("config", "an object", meta["config"])
    return meta


def _log_in_folder(p: Path) -> Path:
    """The log a folder that is not a ganlint run folder holds; DataError naming what was looked for."""
    for name in FOLDER_LOGS:
        if (p / name).is_file():
            return p / name
    states = sorted(p.glob("checkpoint-*/trainer_state.json"), key=lambda f: (len(f.parent.name), f.parent.name))
    if states:  # a Hugging Face output folder: the last checkpoint's state holds the whole history
        return states[-1]
    if event_files(p):
        return p
    raise DataError(f"{str(p)!r} holds no telemetry.parquet or telemetry.csv (is it a ganlint run folder?), "
                    f"nor a training log: {', '.join(FOLDER_LOGS)} or TensorBoard event files")


def _read_log(p: Path) -> tuple[pd.DataFrame, Path, bool]:
    """(the raw log, its path, whether it must be mapped whatever its columns)."""
    if p.is_dir() or is_event_file(p):
        return read_tensorboard(p), p, True
    if p.suffix.lower() == ".json":
        return read_json_log(p), p, True
    return _read_table(p), p, False


def _as_telemetry(df: pd.DataFrame, p: Path, mapping: Mapping[str, str] | None, always: bool = False) -> pd.DataFrame:
    if not len(df):
        raise DataError(f"the log {str(p)!r} is empty (column names, no rows)")
    if mapping or always or needs_mapping(df):
        return to_telemetry(df, mapping, name=f"the log {str(p)!r}")
    return df


def _read_table(p: Path) -> pd.DataFrame:
    """A CSV/TSV, parquet or JSONL table as pandas reads it; DataError when it cannot, or for a 0-byte file."""
    suffix = p.suffix.lower()
    if suffix in TABLE_SUFFIXES and p.is_file():
        if p.stat().st_size == 0:
            raise DataError(f"the log {str(p)!r} is empty (0 bytes)")
        if suffix not in (".parquet", ".pq") and p.stat().st_size < 4096 and not p.read_bytes().strip():
            raise DataError(f"the log {str(p)!r} is empty (blank lines only)")
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(p)
        if suffix in (".jsonl", ".ndjson"):
            return pd.read_json(p, lines=True)
        if suffix in (".csv", ".tsv", ".txt"):
            return pd.read_csv(p, sep="\t" if suffix == ".tsv" else ",")
    except pd.errors.EmptyDataError:
        raise DataError(f"the log {str(p)!r} is empty") from None
    except Exception as e:  # pandas/pyarrow raise many types for a broken file
        raise DataError(f"cannot read {str(p)!r} as a {suffix[1:]} table: {type(e).__name__}: {e}") from None
    raise DataError(f"{str(p)!r}: unsupported table format {suffix or '(no extension)'}; use .csv, .parquet or "
                    f".jsonl, a trainer_state.json, or a TensorBoard events file or folder")

