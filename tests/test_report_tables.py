"""Report tables round-trip through CSV and parquet with their dtypes; bad tables get one clear error."""

from __future__ import annotations

import pandas as pd
import pytest
from report_helpers import rows

from ganlint.diagnostics.findings import Diagnosis, Finding
from ganlint.errors import DataError
from ganlint.report.tables import (
    conform,
    confusion_frame,
    dtypes,
    findings_table,
    read_table,
    write_suite_tables,
    write_table,
)
from ganlint.suite.scoring import suite_tables

SPEC = [("a", "collapsed", ["collapsed", "stable"]), ("b", "stable", ["stable", "stable"])]


def diagnosis() -> Diagnosis:
    return Diagnosis("collapsed", 0.8, 120, [
        Finding("collapse", "collapsed", "fail", 0.1, 0.3, "diversity fell to 0.1", (100, 500), 120, 0.7),
        Finding("oscillation", "oscillating", "pass", 0.02, 0.1, "no swing"),
        Finding("collapse.modes", "collapsed", "not-assessable", None, None, "no modes known"),
    ], ["use minibatch stddev"], "collapsed at step 120")


def test_every_suite_table_round_trips_through_csv_and_parquet(tmp_path):
    t = suite_tables(rows(SPEC))
    write_suite_tables(t, tmp_path)
    for name, df in (("results", t.results), ("scenarios", t.scenarios), ("labels", t.labels),
                     ("confusion", confusion_frame(t.confusion))):
        pq = pd.read_parquet(tmp_path / f"{name}.parquet")
        pd.testing.assert_frame_equal(pq, df, check_dtype=True)
        head = pd.read_csv(tmp_path / f"{name}.csv", nrows=0)
        csv = pd.read_csv(tmp_path / f"{name}.csv", dtype=dtypes(name, list(head.columns)))
        pd.testing.assert_frame_equal(csv, df, check_dtype=True)
        pd.testing.assert_frame_equal(read_table(tmp_path, name), df, check_dtype=True)


def test_results_dtypes_survive_missing_values(tmp_path):
    t = suite_tables(rows(SPEC))
    assert str(t.results["onset_step"].dtype) == "Int64" and t.results["onset_step"].isna().any()
    assert t.results["correct"].dtype == bool and t.results["seed"].dtype == "int64"
    write_table(t.results, tmp_path, "results")
    (tmp_path / "results.parquet").unlink()  # read the CSV
    back = read_table(tmp_path, "results")
    assert str(back["onset_step"].dtype) == "Int64" and back["onset_step"].isna().sum() == t.results["onset_step"].isna().sum()


def test_findings_table_round_trips(tmp_path):
    f = findings_table(diagnosis())
    assert list(f["status"]) == ["fail", "pass", "not-assessable"]
    assert f.loc[0, "window_start"] == 100 and pd.isna(f.loc[1, "window_start"])
    write_table(f, tmp_path, "findings")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "findings.parquet"), f)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "findings.csv", dtype=dtypes("findings")), f)


def test_diagnosis_round_trips_through_its_dict():
    d = diagnosis()
    assert Diagnosis.from_dict(d.to_dict()).to_dict() == d.to_dict()


def test_missing_column_is_named(tmp_path):
    df = rows(SPEC).drop(columns=["confidence", "device"])
    with pytest.raises(DataError, match=r"results table lacks the column.s. confidence, device"):
        conform(df, "results")


def test_wrong_type_is_named(tmp_path):
    df = rows(SPEC)
    df["seed"] = ["zero", "one", "two", "three"]
    with pytest.raises(DataError, match="column 'seed' is not int64"):
        conform(df, "results")
    df = rows(SPEC)
    df["correct"] = ["yes", "no", "yes", "no"]
    with pytest.raises(DataError, match="column 'correct' is not bool"):
        conform(df, "results")


def test_unreadable_or_absent_table(tmp_path):
    with pytest.raises(DataError, match=r"no results.parquet or results.csv"):
        read_table(tmp_path, "results")
    (tmp_path / "results.parquet").write_bytes(b"not parquet")
    with pytest.raises(DataError, match="cannot read the results table"):
        read_table(tmp_path, "results")


def test_write_is_atomic_on_a_bad_table(tmp_path):
    t = suite_tables(rows(SPEC))
    write_table(t.results, tmp_path, "results")
    before = (tmp_path / "results.csv").read_bytes()
    with pytest.raises(DataError):
        write_table(t.results.drop(columns=["label"]), tmp_path, "results")
    assert (tmp_path / "results.csv").read_bytes() == before
    assert not list(tmp_path.glob(".*tmp"))


# -- still-weak and inconclusive: labels like any other in every suite table -------------------------------

NEW_SPEC = [("weak", "still-weak", ["still-weak", "inconclusive", "still-weak"]),
            ("ring", "stable", ["stable", "inconclusive", "stable"]),
            ("logs", "inconclusive", ["inconclusive", "collapsed"])]


def test_suite_tables_take_still_weak_and_inconclusive_in_vocabulary_order(tmp_path):
    from ganlint.vocabulary import LABELS

    t = suite_tables(rows(NEW_SPEC))
    used = ["collapsed", "still-weak", "stable", "inconclusive"]
    assert used == [x for x in LABELS if x in used]  # the vocabulary's priority order
    assert list(t.confusion.index) == used and list(t.confusion.columns) == used
    assert t.confusion.loc["still-weak", "still-weak"] == 2 and t.confusion.loc["still-weak", "inconclusive"] == 1
    assert t.confusion.loc["stable", "inconclusive"] == 1 and t.confusion.loc["inconclusive", "collapsed"] == 1
    labels = t.labels.set_index("label")
    assert labels.loc["inconclusive", "found"] == 3 and labels.loc["inconclusive", "correct"] == 1
    assert labels.loc["inconclusive", "precision"] == pytest.approx(1 / 3)
    assert labels.loc["still-weak", "recall"] == pytest.approx(2 / 3)
    sc = t.scenarios.set_index("scenario")
    assert sc.loc["weak", "majority_label"] == "still-weak" and bool(sc.loc["weak", "passed"])
    # a tie (1 inconclusive, 1 collapsed) goes to the label first in the vocabulary's order
    assert sc.loc["logs", "majority_label"] == "collapsed" and not sc.loc["logs", "passed"]
    write_suite_tables(t, tmp_path)
    back = read_table(tmp_path, "confusion")
    assert list(back.columns) == ["expected", *used] and list(back["expected"]) == used


def test_compare_and_confusion_picture_show_the_new_labels(tmp_path):
    from ganlint.report.compare import compare_tables
    from ganlint.report.figures import confusion_png

    before = suite_tables(rows([("weak", "still-weak", ["still-weak", "still-weak"]), ("ring", "stable", ["stable", "stable"])]))
    after = suite_tables(rows([("weak", "still-weak", ["inconclusive", "inconclusive"]), ("ring", "stable", ["stable", "stable"])]))
    scenarios, runs, labels = compare_tables(before, after)
    weak = scenarios.set_index("scenario").loc["weak"]
    assert weak["label_a"] == "still-weak" and weak["label_b"] == "inconclusive" and weak["change"] == "regressed"
    assert runs["changed"].sum() == 2
    assert set(labels["label"]) == {"still-weak", "stable", "inconclusive"}
    png = confusion_png(after.confusion, tmp_path / "confusion.png")
    assert png.stat().st_size > 1000


def test_every_label_and_status_has_a_colour():
    from ganlint.report.html import LABEL_COLOURS, STATUS_COLOURS, badge
    from ganlint.vocabulary import LABELS, STATUSES

    assert list(LABEL_COLOURS) == list(LABELS) and list(STATUS_COLOURS) == list(STATUSES)
    assert len(set(LABEL_COLOURS.values())) == len(LABELS)  # each label told apart at a glance
    assert badge("still-weak") == '<span class="badge" style="background:#00838f">still-weak</span>'
    assert "#6d4c41" in badge("inconclusive", big=True)


def test_suite_markdown_says_what_an_inconclusive_run_needs(tmp_path):
    import json

    from ganlint.report.suite_report import suite_markdown

    t = suite_tables(rows([("logs", "stable", ["inconclusive"])]))
    run = tmp_path / "runs" / "logs--seed0"
    run.mkdir(parents=True)
    d = Diagnosis("inconclusive", 0.0, None, [], [], "nothing decisive was recorded", needs=["distance", "d_real"])
    (run / "diagnosis.json").write_text(json.dumps(d.to_dict()))
    md = suite_markdown(t, {"seeds": [0], "scenarios": [{"name": "logs"}]}, tmp_path, tmp_path)
    assert ("- `logs` seed 0: expected `stable`, found `inconclusive` (confidence 0.80). nothing decisive was "
            "recorded (to decide, record: distance; d_real)") in md
    assert "| inconclusive |" in md
