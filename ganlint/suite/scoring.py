"""Scoring a suite: how its per-run results become the verdict per scenario and per label.

    t = suite_tables(rows)      # rows: one result per scenario and seed (ganlint.suite.runner writes them)
    t.scenarios                 # per scenario: majority label, agreement, passed
    t.confusion, t.labels       # expected vs found counts; per-label precision and recall
    t.passed                    # every scenario passes

Pure functions of the rows; the tables' schemas and their writing are ganlint.report.tables', the pages
that show them ganlint.report.suite_report's.

  results    one row per scenario and seed
  scenarios  per scenario over its seeds: agreement with the expected label, majority label, passed
  confusion  expected label (rows) vs found label (columns), counted over all runs
  labels     per-label precision and recall over all runs
  errors     runs that failed for good (an executor gave up after its retries); empty when none did
The labels of confusion and labels are those seen (expected or found), in ganlint.vocabulary.LABELS
order, so still-weak and inconclusive get their own rows and columns like any other label.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ganlint.errors import DataError
from ganlint.report.tables import conform
from ganlint.vocabulary import LABELS


@dataclass(repr=False)
class SuiteTables:
    """The tables of a suite (see the module docstring), and the folder they belong to (in a notebook they
    show themselves: ganlint.report.notebook)."""

    results: pd.DataFrame
    scenarios: pd.DataFrame
    confusion: pd.DataFrame
    labels: pd.DataFrame
    out_dir: Path = field(default_factory=lambda: Path("."))
    errors: pd.DataFrame = field(default_factory=lambda: error_table([]))

    @property
    def passed(self) -> bool:
        """Every scenario passes (and there is at least one), and no run failed: a run that never finished
        is evidence missing, not a pass."""
        return bool(len(self.scenarios)) and bool(self.scenarios["passed"].all()) and not len(self.errors)

    @property
    def tally(self) -> dict[str, int]:
        """The verdict's counts: scenarios that pass of all, runs that got their expected label of all, errors."""
        return {"scenarios_passed": int(self.scenarios["passed"].sum()), "scenarios": len(self.scenarios),
                "runs_correct": int(self.results["correct"].sum()), "runs": len(self.results), "errors": len(self.errors)}

    def __repr__(self) -> str:
        # One line: the dataclass's would print five DataFrames.
        t = self.tally
        return (f"<SuiteTables {'pass' if self.passed else 'fail'}: {t['scenarios_passed']}/{t['scenarios']} scenarios "
                f"pass, {t['runs_correct']}/{t['runs']} runs got their expected label, {t['errors']} errors "
                f"({self.out_dir})>")

    def _repr_html_(self) -> str:
        # The cell's pieces (the report's; torch) load on first display, not on import.
        from ganlint.report.notebook import suite_cell

        return suite_cell(self)


def error_table(rows: pd.DataFrame | list[dict]) -> pd.DataFrame:
    """The errors table from error rows (scenario, seed, expected, error, attempts), sorted."""
    df = pd.DataFrame(rows, columns=["scenario", "seed", "expected", "error", "attempts"])
    return conform(df, "errors").sort_values(["scenario", "seed"]).reset_index(drop=True)


def majority_label(labels: pd.Series) -> str:
    """The most frequent label; ties broken by the label order (LABELS), so it does not depend on row order."""
    counts = labels.value_counts()
    top = counts[counts == counts.max()].index
    return min(top, key=lambda x: LABELS.index(x) if x in LABELS else len(LABELS))


def scenario_table(results: pd.DataFrame) -> pd.DataFrame:
    """Per scenario over its seeds. A scenario passes when its expected label is found in a strict
    majority of its seeds."""
    per = []
    for name, g in results.groupby("scenario", sort=True):
        counts = g["label"].value_counts()
        agree = int(g["correct"].sum())
        per.append({
            "scenario": name,
            "dataset": g["dataset"].iloc[0],
            "expected": g["expected"].iloc[0],
            "majority_label": majority_label(g["label"]),
            "agree": agree,
            "seeds": len(g),
            "agreement": agree / len(g),
            "passed": agree * 2 > len(g),
            "labels": ", ".join(f"{k} x{v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
            "mean_confidence": float(g["confidence"].mean()),
            "median_final_distance": float(g["final_distance"].median()),
            "median_steps_per_s": float(g["steps_per_s"].median()),
        })
    return conform(pd.DataFrame(per), "scenarios")


def labels_seen(results: pd.DataFrame) -> list[str]:
    """The labels expected or found, in LABELS order (any unknown one after, sorted)."""
    seen = set(results["expected"]) | set(results["label"])
    used = [x for x in LABELS if x in seen]
    return used + sorted(seen - set(used))


def confusion_matrix(results: pd.DataFrame, used: list[str]) -> pd.DataFrame:
    """Runs counted by expected label (rows) and found label (columns), over the labels `used`."""
    confusion = pd.crosstab(pd.Categorical(results["expected"], used), pd.Categorical(results["label"], used),
                            rownames=["expected"], colnames=["found"], dropna=False).astype(np.int64)
    confusion.index = confusion.index.astype(str)
    confusion.columns = confusion.columns.astype(str)
    confusion.index.name, confusion.columns.name = "expected", "found"
    return confusion


def label_table(results: pd.DataFrame, used: list[str]) -> pd.DataFrame:
    """Per label: precision (of the runs given it, the share that expected it) and recall (of the runs
    that expected it, the share that got it); NaN where nothing was given or expected."""
    lab = []
    for x in used:
        tp = int(((results["expected"] == x) & (results["label"] == x)).sum())
        found, truth = int((results["label"] == x).sum()), int((results["expected"] == x).sum())
        lab.append({"label": x, "expected": truth, "found": found, "correct": tp,
                    "precision": tp / found if found else np.nan, "recall": tp / truth if truth else np.nan})
    return conform(pd.DataFrame(lab), "labels")


def suite_tables(rows: pd.DataFrame | list[dict], errors: pd.DataFrame | list[dict] = ()) -> SuiteTables:
    """The suite tables from the per-run result rows (and the error rows of runs that failed for good);
    DataError when there are no results."""
    results = conform(pd.DataFrame(rows), "results").sort_values(["scenario", "seed"]).reset_index(drop=True)
    if not len(results):
        raise DataError("the suite has no results")
    used = labels_seen(results)
    return SuiteTables(results, scenario_table(results), confusion_matrix(results, used), label_table(results, used),
                       errors=error_table(list(errors) if not isinstance(errors, pd.DataFrame) else errors))
