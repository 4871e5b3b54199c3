"""Reading telemetry from a path: a ganlint run folder, a table, or another tool's training log, by name and content.

    df, meta = load_telemetry("runs/ring8")            # a run folder: its table and its config.json
    df, meta = load_telemetry("lightning_logs/version_0", mapping={"loss_d": "D_total"})

The file side of `ganlint diagnose` (the engine, ganlint.diagnostics.engine, judges the DataFrame this returns):
which reader a path needs (a run folder's table, a CSV/parquet/JSONL table, Lightning's metrics.csv, Hugging
Face's trainer_state.json, TensorBoard, a script's printed stdout), the run folder's config.json, and every
"empty" or "unreadable" turned into one DataError naming the file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ganlint.errors import ConfigError, DataError
from ganlint.ingest.formats import event_files, is_event_file, read_json_log, read_tensorboard
from ganlint.ingest.names import check_mapping, needs_mapping, to_telemetry
from ganlint.ingest.stdout import TEXT_LOG_SUFFIXES, parse_stdout, sniff_text
from ganlint.schema import CONFIG_FILE, TELEMETRY_CSV, TELEMETRY_PARQUET
from ganlint.vocabulary import D_OUTPUTS

# A folder that is not a ganlint run folder may hold one of these logs (Lightning's CSVLogger version
# folder, a Hugging Face checkpoint folder), else TensorBoard event files.
FOLDER_LOGS = ("metrics.csv", "trainer_state.json")
TABLE_SUFFIXES = (".parquet", ".pq", ".jsonl", ".ndjson", ".csv", ".tsv")


def load_telemetry(path: str | os.PathLike, mapping: Mapping[str, str] | None = None,
                   regex: str | None = None) -> tuple[pd.DataFrame, dict]:
    """Read telemetry from a file or folder, with a foreign log's columns mapped onto ganlint's schema.

    Accepted, recognised by name and content:
      * a ganlint run folder (telemetry.parquet or telemetry.csv; its config.json is returned as meta);
      * a table: .csv/.tsv/.txt, .parquet/.pq, .jsonl/.ndjson (one JSON object per step);
      * a Lightning `metrics.csv` (sparse rows, merged per step), or the folder holding it;
      * a .json file: Hugging Face's `trainer_state.json` (its `log_history`) or a list of records; also
        a Hugging Face checkpoint folder, or an output folder of `checkpoint-N/` folders (the last one);
      * TensorBoard: an events.out.tfevents.* file, or a folder holding them (needs the tensorboard
        package, imported only then);
      * a training script's printed stdout (ganlint.ingest.stdout: pytorch/examples dcgan, PyTorch-GAN,
        `key: value` lines with a step), or any text log read with `regex`.
    .log, .txt, .out and files of any other name are read by content (ganlint.ingest.stdout.sniff_text):
    lines of a known printed format, else JSON when the text starts with '{' or '[', else a CSV/TSV
    table when a header and the next rows have as many separators, else printed lines (refused, with
    the formats looked for, when none matches).
    A table in ganlint's schema is returned as it is read. Any other table (no `step` column, a step
    repeated, or a column whose name maps onto a ganlint column the table lacks: `D_loss`, `errD`,
    `train/d_loss_step`), and every JSON and TensorBoard log, goes through ganlint.ingest.to_telemetry.

    Args:
        path: the file or folder.
        mapping: {ganlint column: log column}, e.g. {"loss_d": "D_loss"}; applied first, and the table is
            then always mapped (unnamed columns by their guessed names).
        regex: read the file as printed lines with this Python regex (named groups; see
            ganlint.ingest.stdout), whatever its name.

    Returns:
        (the table, meta): meta is the run folder's config.json; for printed lines {"log": {format,
        d_loss_reduction, lines, skipped, ...}}; {} for anything else.

    Raises:
        DataError: the path does not exist or cannot be read, the log is empty (0 bytes, a header only,
            an empty log_history, no scalars), tensorboard is not installed, or the mapping names a column
            the log does not have (the message lists those it has).
        ConfigError: a mapping key that is not a ganlint telemetry column; a regex that does not compile,
            has no named groups or no step, or is given for a folder or a binary log.
    """
    if mapping:
        check_mapping(mapping)  # before reading: a typo in a key needs no file to be found
    p = Path(path)
    if not p.exists():
        raise DataError(f"{str(p)!r} does not exist")
    if regex is not None and (p.is_dir() or is_event_file(p) or p.suffix.lower() in (".parquet", ".pq")):
        raise ConfigError(f"--regex reads a text log of printed lines; {str(p)!r} is a "
                          f"{'folder' if p.is_dir() else 'binary log'}")
    if p.is_dir():
        for name in (TELEMETRY_PARQUET, TELEMETRY_CSV):
            if (p / name).is_file():
                return _as_telemetry(_read_table(p / name), p / name, mapping), _read_config(p / CONFIG_FILE)
        p = _log_in_folder(p)
    df, src, always, meta = _read_log(p, regex)
    return _as_telemetry(df, src, mapping, always), meta


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


def _read_log(p: Path, regex: str | None = None) -> tuple[pd.DataFrame, Path, bool, dict]:
    """(the raw log, its path, whether it must be mapped whatever its columns, meta)."""
    if p.is_dir() or is_event_file(p):
        return read_tensorboard(p), p, True, {}
    suffix = p.suffix.lower()
    if regex is None and suffix == ".json":
        return read_json_log(p), p, True, {}
    if regex is None and suffix in TABLE_SUFFIXES:
        return _read_table(p), p, False, {}
    text = _read_text(p)
    kind = "stdout" if regex is not None else sniff_text(text)
    if kind == "json":
        return read_json_log(p), p, True, {}
    if kind in ("csv", "tsv"):
        return _read_table(p, sep="\t" if kind == "tsv" else ","), p, False, {}
    try:
        log = parse_stdout(text, regex, name=f"the log {str(p)!r}")
    except DataError as e:
        if regex is not None or suffix in TEXT_LOG_SUFFIXES:
            raise
        raise DataError(f"{str(p)!r}: unsupported format ({suffix or 'no extension'}): not a table (.csv, .parquet, "
                        f".jsonl), JSON or TensorBoard log, and {e}") from None
    return log.table, p, True, {"log": log.info}


def _read_text(p: Path) -> str:
    """A text log's text (undecodable bytes replaced); DataError for a 0-byte or blank file."""
    if p.stat().st_size == 0:
        raise DataError(f"the log {str(p)!r} is empty (0 bytes)")
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise DataError(f"cannot read {str(p)!r}: {e.strerror or e}") from None
    if not text.strip():
        raise DataError(f"the log {str(p)!r} is empty (blank lines only)")
    return text


def _as_telemetry(df: pd.DataFrame, p: Path, mapping: Mapping[str, str] | None, always: bool = False) -> pd.DataFrame:
    if not len(df):
        raise DataError(f"the log {str(p)!r} is empty (column names, no rows)")
    if mapping or always or needs_mapping(df):
        return to_telemetry(df, mapping, name=f"the log {str(p)!r}")
    return df


def _read_table(p: Path, sep: str | None = None) -> pd.DataFrame:
    """A CSV/TSV, parquet or JSONL table as pandas reads it; DataError when it cannot, or for a 0-byte file.
    `sep` reads any other name as a delimited table (a .txt or .log found to hold one)."""
    suffix = ".tsv" if sep == "\t" else ".csv" if sep else p.suffix.lower()
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
        if suffix in (".csv", ".tsv"):
            return pd.read_csv(p, sep="\t" if suffix == ".tsv" else ",")
    except pd.errors.EmptyDataError:
        raise DataError(f"the log {str(p)!r} is empty") from None
    except Exception as e:  # pandas/pyarrow raise many types for a broken file
        raise DataError(f"cannot read {str(p)!r} as a {suffix[1:]} table: {type(e).__name__}: {e}") from None
    raise DataError(f"{str(p)!r}: unsupported table format {suffix or '(no extension)'}; use .csv, .parquet or "
                    f".jsonl, a trainer_state.json, or a TensorBoard events file or folder")

