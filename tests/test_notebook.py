"""Results in a notebook: a short repr and a self-contained, escaped HTML cell for Diagnosis, Run, CheckResult
and SuiteTables (ganlint.report.notebook), built the way a user gets them."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from html.parser import HTMLParser

import pandas as pd
import pytest
from report_helpers import rows
from test_diagnostics import collapsed, healthy

import ganlint
import ganlint.check
from ganlint.diagnostics.findings import Diagnosis
from ganlint.report.html import esc
from ganlint.report.tables import SCHEMAS, findings_table
from ganlint.suite.scoring import suite_tables

EVIL = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'
VOID = {"br", "hr", "img", "input", "meta", "link", "wbr", "col", "area", "base", "embed", "source"}


class _Tags(HTMLParser):
    """Checks that every opened element is closed, in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.seen: set[str] = set()
        self.attrs: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.seen.add(tag)
        self.attrs |= {a for a, _ in attrs}
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
        else:
            self.stack.pop()


def well_formed(html: str) -> set[str]:
    """The cell parses with balanced tags, is self-contained and small; returns the tags it uses."""
    p = _Tags()
    p.feed(html)
    p.close()
    assert p.errors == [] and p.stack == [], (p.errors, p.stack)
    # Nothing runs, nothing is fetched, no pictures: no such element or attribute, no URL in the style.
    assert not p.seen & {"script", "iframe", "img", "link", "object", "embed", "svg"}, p.seen
    assert not {a for a in p.attrs if a in ("src", "href", "srcset") or a.startswith("on")}, p.attrs
    style = html.split("<style>", 1)[1].split("</style>", 1)[0]
    assert "url(" not in style and "@import" not in style
    assert len(html) < 60_000
    return p.seen


def short_repr(obj: object, *words: str) -> str:
    r = repr(obj)
    assert len(r) < 300 and "\n" not in r, r
    for w in words:
        assert w in r, (w, r)
    return r


@pytest.fixture(scope="module")
def diagnosis() -> Diagnosis:
    d = ganlint.diagnose(collapsed(healthy()))
    assert d.label == "collapsed" and d.remedies and any(f.status == "fail" for f in d.findings)
    return d


def test_diagnosis_repr_is_one_short_line(diagnosis):
    r = short_repr(diagnosis, "collapsed", f"{diagnosis.confidence:.2f}", f"{len(diagnosis.findings)} findings",
                   f"{len(diagnosis.remedies)} remedies")
    if diagnosis.onset_step is not None:
        assert str(diagnosis.onset_step) in r
    assert len(repr(ganlint.diagnose(healthy()))) < 300


def test_diagnosis_html_shows_label_summary_findings_and_remedies(diagnosis):
    h = diagnosis._repr_html_()
    assert {"table", "div", "style", "details"} <= well_formed(h)
    assert 'class="badge big"' in h and ">collapsed</span>" in h
    assert esc(diagnosis.summary) in h
    for f in diagnosis.findings:
        assert f"<code>{f.check}</code>" in h
    for r in diagnosis.remedies:
        assert esc(r) in h


def test_diagnosis_html_escapes_what_runs_and_users_wrote(diagnosis):
    f0 = dataclasses.replace(diagnosis.findings[0], message=EVIL, check="evil<b>check")
    d = dataclasses.replace(diagnosis, summary=EVIL, findings=[f0, *diagnosis.findings[1:]], remedies=[EVIL],
                            needs=[EVIL], other_labels=["<i>x</i>"])
    h = d._repr_html_()
    well_formed(h)
    assert "<script" not in h and "<img" not in h and "<i>x" not in h and "evil<b>" not in h
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img" in h
    assert "evil&lt;b&gt;check" in h


def test_findings_frame_is_the_findings_table(diagnosis):
    df = diagnosis.findings_frame()
    assert list(df.columns) == list(SCHEMAS["findings"])
    assert list(df["check"]) == [f.check for f in diagnosis.findings]
    assert list(df["status"]) == [f.status for f in diagnosis.findings]
    pd.testing.assert_frame_equal(df, findings_table(diagnosis))
    empty = dataclasses.replace(diagnosis, findings=[]).findings_frame()
    assert len(empty) == 0 and list(empty.columns) == list(SCHEMAS["findings"])


def test_equality_is_unchanged(diagnosis):
    assert dataclasses.replace(diagnosis) == diagnosis
    assert dataclasses.replace(diagnosis, label="stable") != diagnosis
    assert Diagnosis.from_dict(json.loads(json.dumps(diagnosis.to_dict()))).to_dict() == diagnosis.to_dict()


def test_repr_of_a_diagnosis_stays_light():
    """repr imports nothing (logs, debuggers and the pytest plugin call it); only _repr_html_ loads the
    report's pieces."""
    code = ("import sys, json\nfrom ganlint.diagnostics.findings import Diagnosis, Finding\n"
            "f = Finding('collapse.modes', 'collapsed', 'fail', 1.0, 4.0, 'few modes', (1, 9), 5, 0.5)\n"
            "before = set(sys.modules)\n"
            "r = repr(Diagnosis('collapsed', 0.9, 5, [f], ['train longer'], 'collapsed'))\n"
            "print(json.dumps([r, sorted(set(sys.modules) - before), 'torch' in sys.modules]))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    r, new, torch = json.loads(p.stdout)
    assert r == "<Diagnosis collapsed (confidence 0.90, onset at step 5): 1 findings (1 fail), 1 remedies>"
    assert new == [] and not torch


@pytest.fixture
def run(tiny, tmp_path):
    # conftest's `tiny` fixture, not `from conftest import TINY`: with benchmarks/ collected too, the module
    # named conftest can be benchmarks/conftest.py.
    return ganlint.train({**tiny, "out": str(tmp_path / "run")})


def test_run_repr_and_html(run):
    short_repr(run, "Run", "ring8", "20/20 steps")
    d = ganlint.diagnose(run.out_dir)  # what the cell shows: the engine on the run, as from its folder
    h = run._repr_html_()
    assert {"table", "div"} <= well_formed(h)
    assert f">{d.label}</span>" in h and esc(d.summary) in h
    for f in d.findings:
        assert f"<code>{f.check}</code>" in h
    for r in d.remedies:
        assert esc(r) in h
    assert "dataset <b>ring8</b>" in h


def test_run_without_telemetry_says_why_instead_of_a_verdict(run):
    h = dataclasses.replace(run, telemetry=pd.DataFrame(), summary={"stop_reason": EVIL})._repr_html_()
    well_formed(h)
    assert "No diagnosis" in h and "<script" not in h
    short_repr(dataclasses.replace(run, telemetry=pd.DataFrame(), summary={}), "0 steps, no summary")


def test_check_result_repr_and_html(run):
    res = ganlint.check.check(run.out_dir, samples=256)
    d = res.diagnosis
    short_repr(res, d.label, f"{d.confidence:.2f}", f"exit {res.exit_code}")
    h = res._repr_html_()
    assert {"table", "div"} <= well_formed(h)
    assert f">{d.label}</span>" in h and esc(d.summary) in h
    for f in d.findings:
        assert f"<code>{f.check}</code>" in h
    for r in d.remedies:
        assert esc(r) in h
    for s in res.skipped:
        assert esc(s) in h
    evil = dataclasses.replace(res, skipped=[EVIL], notes=[EVIL], metrics={EVIL: 1.0})._repr_html_()
    well_formed(evil)
    assert "<script" not in evil


def test_suite_tables_repr_and_html():
    t = suite_tables(rows([(EVIL, "collapsed", ["collapsed", "stable", "collapsed"]),
                           ("ring", "stable", ["stable", "stable"])]),
                     [{"scenario": "ring", "seed": 7, "expected": "stable", "error": f"boom {EVIL}", "attempts": 3}])
    short_repr(t, "fail", "2/2 scenarios pass", "4/5 runs", "1 errors")
    h = t._repr_html_()
    assert {"table", "div", "details"} <= well_formed(h)
    assert ">fail</span>" in h and "<b>2/2</b> scenarios pass" in h
    assert "<script" not in h and "&lt;script&gt;" in h
    assert "failed after their retries" in h and "boom &lt;script&gt;" in h
    for label in t.labels["label"]:
        assert f"<td>{label}</td>" in h
    assert "pass (2/3)" in h and "pass (2/2)" in h

    ok = suite_tables(rows([("ring", "stable", ["stable"])]))
    short_repr(ok, "pass", "1/1 scenarios pass", "0 errors")
    h = ok._repr_html_()
    well_formed(h)
    assert ">pass</span>" in h and "failed after their retries" not in h
