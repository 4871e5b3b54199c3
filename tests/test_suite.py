"""The suite tables: agreement, majority, confusion matrix and per-label precision/recall."""

from __future__ import annotations

import math

import pandas as pd

from ganlint.suite import format_suite, tables


def rows(spec):
    out = []
    for scenario, expected, labels in spec:
        for seed, label in enumerate(labels):
            out.append({"scenario": scenario, "seed": seed, "expected": expected, "label": label,
                        "correct": label == expected})
    return pd.DataFrame(out)


SPEC = [
    ("a", "collapsed", ["collapsed", "collapsed", "stable"]),
    ("b", "stable", ["stable", "collapsed", "collapsed"]),
    ("c", "stalled", ["stalled", "stalled", "stalled"]),
]


def test_majority_and_pass():
    r = tables(rows(SPEC))
    s = r.scenarios.set_index("scenario")
    assert s.loc["a", "passed"] and s.loc["a", "agree"] == 2
    assert not s.loc["b", "passed"] and s.loc["b", "majority_label"] == "collapsed"
    assert s.loc["c", "agreement"] == 1.0
    assert not r.passed


def test_confusion_and_precision_recall_by_hand():
    r = tables(rows(SPEC))
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


def test_text_summary_names_failures():
    text = format_suite(tables(rows(SPEC)))
    assert "FAIL (1/3)" in text and "pass (3/3)" in text
    assert "6/9 runs gave the expected label; 2/3 scenarios pass" in text
