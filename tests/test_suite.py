"""The suite tables: agreement, majority, confusion matrix and per-label precision/recall, by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from report_helpers import rows

from ganlint.errors import DataError
from ganlint.report.suite_report import format_suite
from ganlint.suite.scoring import suite_tables

SPEC = [
    ("a", "collapsed", ["collapsed", "collapsed", "stable"]),
    ("b", "stable", ["stable", "collapsed", "collapsed"]),
    ("c", "stalled", ["stalled", "stalled", "stalled"]),
]


def test_majority_and_pass():
    r = suite_tables(rows(SPEC))
    s = r.scenarios.set_index("scenario")
    assert s.loc["a", "passed"] and s.loc["a", "agree"] == 2
    assert not s.loc["b", "passed"] and s.loc["b", "majority_label"] == "collapsed"
    assert s.loc["c", "agreement"] == 1.0
    assert not r.passed


def test_majority_tie_is_broken_by_label_order_not_row_order():
    spec = [("t", "stable", ["stable", "collapsed"])]
    forward = suite_tables(rows(spec)).scenarios.iloc[0]
    backward = suite_tables(rows(spec).iloc[::-1]).scenarios.iloc[0]
    # collapsed comes before stable in the label order; a 1-1 tie is not a majority, so it fails
    assert forward["majority_label"] == backward["majority_label"] == "collapsed"
    assert not forward["passed"]


def test_confusion_and_precision_recall_by_hand():
    r = suite_tables(rows(SPEC))
    assert r.confusion.loc["collapsed", "collapsed"] == 2
    assert r.confusion.loc["stable", "collapsed"] == 2
    assert int(r.confusion.to_numpy().sum()) == 9
    lab = r.labels.set_index("label")
    # collapsed: found 4 times, 2 right; expected 3 times, 2 found
    assert math.isclose(lab.loc["collapsed", "precision"], 2 / 4)
    assert math.isclose(lab.loc["collapsed", "recall"], 2 / 3)
    # stable: found twice (a seed 2, b seed 0), 1 right; expected 3 times
    assert math.isclose(lab.loc["stable", "precision"], 1 / 2)
    assert math.isclose(lab.loc["stable", "recall"], 1 / 3)
    assert lab.loc["stalled", "precision"] == 1.0 and lab.loc["stalled", "recall"] == 1.0


def test_label_never_found_has_nan_precision():
    r = suite_tables(rows([("x", "oscillating", ["stable", "stable"])]))
    lab = r.labels.set_index("label")
    assert math.isnan(lab.loc["oscillating", "precision"]) and lab.loc["oscillating", "recall"] == 0.0
    assert lab.loc["stable", "precision"] == 0.0 and math.isnan(lab.loc["stable", "recall"])


def test_aggregates_are_medians_over_seeds():
    r = suite_tables(rows([("m", "stable", ["stable", "stable", "stable"])]))
    s = r.scenarios.iloc[0]
    assert s["median_final_distance"] == pytest.approx(1.1)  # 0.1, 1.1, 2.1
    assert s["dataset"] == "ring8"


def test_empty_and_incomplete_results_are_errors():
    with pytest.raises(DataError, match="no results"):
        suite_tables(rows([]).reindex(columns=list(rows(SPEC).columns)))
    with pytest.raises(DataError, match=r"lacks the column.*label"):
        suite_tables(rows(SPEC).drop(columns=["label"]))


def test_text_summary_names_failures():
    text = format_suite(suite_tables(rows(SPEC)))
    assert "FAIL (1/3)" in text and "pass (3/3)" in text
    assert "6/9 runs gave the expected label; 2/3 scenarios pass" in text


def test_rows_helper_matches_runner_columns():
    from ganlint.report.tables import SCHEMAS

    assert list(rows(SPEC).columns) == list(SCHEMAS["results"])
    assert isinstance(rows(SPEC), pd.DataFrame)


def test_an_error_row_fails_the_suite_and_is_written_only_while_there_is_one(tmp_path):
    from ganlint.report.tables import read_table, write_suite_tables

    passing = rows([("c", "stalled", ["stalled", "stalled"])])
    assert suite_tables(passing).passed
    error = {"scenario": "d", "seed": 1, "expected": "stable", "error": "WorkerCrashedError: died", "attempts": 3}
    t = suite_tables(passing, [error])
    assert not t.passed  # a run that never finished is evidence missing, not a pass
    assert "ERROR d seed 1: failed after 3 attempt(s): WorkerCrashedError: died" in format_suite(t)
    write_suite_tables(t, tmp_path)
    back = read_table(tmp_path, "errors")
    assert back.to_dict("records") == [error]
    write_suite_tables(suite_tables(passing), tmp_path)  # finished by --resume: the table goes
    assert not (tmp_path / "errors.csv").exists() and not (tmp_path / "errors.parquet").exists()


def test_a_published_run_is_whole_or_absent(tmp_path):
    from ganlint.suite.folder import publish_run

    run = publish_run(tmp_path, "a", 0, {"config.json": b"{}", "samples/step_1.png": b"png"})
    assert run == tmp_path / "runs" / "a--seed0" and (run / "samples" / "step_1.png").read_bytes() == b"png"
    publish_run(tmp_path, "a", 0, {"config.json": b"{\"new\": 1}"})  # replaces an older folder whole
    assert sorted(p.name for p in run.iterdir()) == ["config.json"]
    for bad in ("../escape", "/abs", "a/../../b", ""):
        with pytest.raises(DataError, match="refusing the file name"):
            publish_run(tmp_path, "b", 0, {"ok": b"1", bad: b"x"})
        assert not (tmp_path / "runs" / "b--seed0").exists()
    assert not (tmp_path / "escape").exists() and sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["a--seed0"]
