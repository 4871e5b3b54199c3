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
    suite_tables,
    write_suite_tables,
    write_table,
)

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
