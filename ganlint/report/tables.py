"""The report tables: their schemas, how a frame is brought to its schema, and how tables are written and read.

Every table is written twice, as CSV (for people, diffs and CI logs) and parquet (for notebooks), and
each has a schema here, so reading it back gives the same dtypes:

    pd.read_parquet("reports/quick/results.parquet")                       # dtypes kept by parquet
    pd.read_csv("reports/quick/results.csv", dtype=ganlint.report.dtypes("results"))
    ganlint.report.read_table("reports/quick", "results")                  # either, checked

Why a schema and not CSV's inference: a column with a missing value (onset_step of a stable run)
would come back as float, and an all-missing one as float where a string was meant.

Tables of a suite: results, scenarios, confusion and labels, computed from the per-run results by
ganlint.suite.scoring; of a comparison of two suites: compare_scenarios, compare_runs, compare_labels.
Tables of a run: its telemetry (ganlint.training.telemetry's schema) and `findings` (one row per finding).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ganlint.diagnostics.findings import Diagnosis
from ganlint.errors import DataError

if TYPE_CHECKING:  # the suite's scoring builds its tables with conform() from here
    from ganlint.suite.scoring import SuiteTables

STR, INT, NINT, FLOAT, BOOL, NBOOL = "str", "int64", "Int64", "float64", "bool", "boolean"

SCHEMAS: dict[str, dict[str, str]] = {
    "results": {
        "scenario": STR, "seed": INT, "dataset": STR, "loss": STR, "expected": STR, "label": STR,
        "confidence": FLOAT, "onset_step": NINT, "correct": BOOL, "final_distance": FLOAT,
        "modes_covered": FLOAT, "final_coverage": FLOAT, "final_diversity": FLOAT, "final_d_real": FLOAT,
        "final_d_fake": FLOAT, "steps": INT, "steps_per_s": FLOAT, "wall_s": FLOAT, "device": STR, "run_dir": STR,
    },
    "scenarios": {
        "scenario": STR, "dataset": STR, "expected": STR, "majority_label": STR, "agree": INT, "seeds": INT,
        "agreement": FLOAT, "passed": BOOL, "labels": STR, "mean_confidence": FLOAT,
        "median_final_distance": FLOAT, "median_steps_per_s": FLOAT,
    },
    "labels": {"label": STR, "expected": INT, "found": INT, "correct": INT, "precision": FLOAT, "recall": FLOAT},
    # Runs an executor gave up on after its retries (written only when there are any).
    "errors": {"scenario": STR, "seed": INT, "expected": STR, "error": STR, "attempts": INT},
    "compare_scenarios": {
        "scenario": STR, "expected": STR, "label_a": STR, "label_b": STR, "agreement_a": FLOAT, "agreement_b": FLOAT,
        "passed_a": "boolean", "passed_b": "boolean", "change": STR, "distance_a": FLOAT, "distance_b": FLOAT,
        "distance_change": FLOAT, "steps_per_s_a": FLOAT, "steps_per_s_b": FLOAT, "speed_ratio": FLOAT,
    },
    "compare_runs": {"scenario": STR, "seed": INT, "expected": STR, "label_a": STR, "label_b": STR, "changed": BOOL,
                     "distance_a": FLOAT, "distance_b": FLOAT, "modes_a": FLOAT, "modes_b": FLOAT},
    "compare_labels": {"label": STR, "precision_a": FLOAT, "precision_b": FLOAT, "recall_a": FLOAT, "recall_b": FLOAT},
    # The confusion table's label columns depend on the labels seen; all of them are counts (int64).
    "confusion": {"expected": STR},
    "findings": {
        "check": STR, "label": STR, "status": STR, "value": FLOAT, "threshold": FLOAT, "window_start": NINT,
        "window_end": NINT, "onset_step": NINT, "severity": FLOAT, "message": STR,
    },
}
# Columns whose values vary from one identical run to the next (clocks), left out when comparing runs.
TIMING_COLUMNS = ("steps_per_s", "wall_s")


def dtypes(name: str, columns: list[str] | None = None) -> dict[str, str]:
    """The dtype of each column of table `name` (for `pd.read_csv(..., dtype=...)`)."""
    schema = dict(SCHEMAS[name])
    if name == "confusion" and columns is not None:
        schema.update({c: INT for c in columns if c != "expected"})
    return schema


def conform(df: pd.DataFrame, name: str) -> pd.DataFrame:
    """The table with exactly its schema's columns (in order) and dtypes; DataError naming what is wrong."""
    schema = dtypes(name, list(df.columns))
    missing = [c for c in schema if c not in df.columns]
    if missing:
        raise DataError(f"the {name} table lacks the column(s) {', '.join(missing)}")
    cols = list(schema) if name != "confusion" else list(df.columns)
    out = df[cols].copy()
    for c in cols:
        try:
            out[c] = _cast(out[c], schema[c])
        except (ValueError, TypeError) as e:
            raise DataError(f"the {name} table's column {c!r} is not {schema[c]}: {e}") from None
    return out.reset_index(drop=True)


def _cast(s: pd.Series, dtype: str) -> pd.Series:
    if dtype == STR:
        return s.astype(object).where(s.notna(), None).astype("str")
    if dtype == BOOL:
        if s.isna().any():
            raise ValueError("missing values")
        if s.dtype == object or pd.api.types.is_string_dtype(s):
            low = s.astype(str).str.lower()
            if not low.isin(("true", "false")).all():
                raise ValueError(f"not true/false: {s[~low.isin(('true', 'false'))].iloc[0]!r}")
            return low.eq("true")
        return s.astype(bool)
    if dtype == NBOOL:  # nullable: a scenario present in only one of two compared suites
        if s.dtype == object or pd.api.types.is_string_dtype(s):
            return s.map(lambda v: None if pd.isna(v) else str(v).lower() == "true").astype(NBOOL)
        return s.astype(NBOOL)
    if dtype in (INT, NINT):
        num = pd.to_numeric(s, errors="raise")
        if dtype == INT and num.isna().any():
            raise ValueError("missing values")
        if (num.dropna() % 1 != 0).any():
            raise ValueError("not whole numbers")
        return num.astype(dtype)
    return pd.to_numeric(s, errors="raise").astype(np.float64)


def write_table(df: pd.DataFrame, folder: str | os.PathLike, name: str) -> None:
    """Write `name`.csv and `name`.parquet into folder, each atomically (temp file + rename)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    df = conform(df, name)
    for suffix, write in ((".csv", lambda p: df.to_csv(p, index=False)), (".parquet", lambda p: df.to_parquet(p, index=False))):
        tmp = folder / f".{name}{suffix}.tmp"
        tmp.unlink(missing_ok=True)  # a stale tmp, or a planted link that the write would follow out of the folder
        write(tmp)
        os.replace(tmp, folder / f"{name}{suffix}")


def read_table(folder: str | os.PathLike, name: str) -> pd.DataFrame:
    """Read `name` from folder (parquet, else CSV) into its schema's dtypes; DataError when it cannot."""
    folder = Path(folder)
    pq, csv = folder / f"{name}.parquet", folder / f"{name}.csv"
    try:
        if pq.is_file():
            df = pd.read_parquet(pq)
        elif csv.is_file():
            head = pd.read_csv(csv, nrows=0)
            df = pd.read_csv(csv, dtype={k: v for k, v in dtypes(name, list(head.columns)).items()
                                         if k in head.columns and v not in (BOOL, NBOOL)})
        else:
            raise DataError(f"{str(folder)!r} has no {name}.parquet or {name}.csv")
    except DataError:
        raise
    except Exception as e:  # pandas/pyarrow raise many types for a broken file
        raise DataError(f"cannot read the {name} table in {str(folder)!r}: {type(e).__name__}: {e}") from None
    return conform(df, name)


def findings_table(diagnosis: Diagnosis) -> pd.DataFrame:
    """One row per finding of a diagnosis."""
    rows = [{
        "check": f.check, "label": f.label, "status": f.status, "value": f.value, "threshold": f.threshold,
        "window_start": f.window[0] if f.window else None, "window_end": f.window[1] if f.window else None,
        "onset_step": f.onset_step, "severity": f.severity, "message": f.message,
    } for f in diagnosis.findings]
    return conform(pd.DataFrame(rows, columns=list(SCHEMAS["findings"])), "findings")


def confusion_frame(confusion: pd.DataFrame) -> pd.DataFrame:
    """The confusion matrix as a flat table (an `expected` column, then one count column per label)."""
    flat = confusion.reset_index()
    flat.columns = [str(c) for c in flat.columns]
    flat.columns.name = None
    return flat


def write_suite_tables(t: SuiteTables, folder: str | os.PathLike) -> None:
    """A suite's four tables (ganlint.suite.scoring) into folder: results, scenarios, labels, confusion;
    and errors when runs failed for good (an errors table of an earlier attempt is removed once none are)."""
    write_table(t.results, folder, "results")
    write_table(t.scenarios, folder, "scenarios")
    write_table(t.labels, folder, "labels")
    write_table(confusion_frame(t.confusion), folder, "confusion")
    if len(t.errors):
        write_table(t.errors, folder, "errors")
    else:
        for f in ("errors.csv", "errors.parquet"):
            path = Path(folder) / f
            if path.is_file() and not path.is_symlink():
                path.unlink()
