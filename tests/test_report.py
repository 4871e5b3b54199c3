"""Reports end to end: a tiny suite that mixes every kind of dataset, rendered, re-rendered, resumed after
a kill, compared, and fed bad input. The suite is trained once per module (about 15 s)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from report_helpers import write_scenarios

from ganlint.cli import main
from ganlint.report.tables import TIMING_COLUMNS, read_table
from ganlint.suite.folder import RESULTS_DIR
from ganlint.suite.runner import resume_suite, run_suite
from ganlint.suite.scenarios import load_scenarios

MIXED = ["tiny_gauss", "tiny_mnist", "tiny_reviews", "tiny_ring"]
TABLES = ("results", "scenarios", "labels", "confusion")
VOID = {"meta", "img", "br", "hr", "input", "link", "col", "source", "wbr"}


@pytest.fixture(scope="module")
def suite_dir(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("report")
    scenarios = load_scenarios(write_scenarios(work / "scenarios", MIXED))
    run_suite(scenarios, seeds=1, device="cpu", out_dir=work / "suite", jobs=1, progress=False)
    return work / "suite"


def copy_suite(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


class Checker(HTMLParser):
    """Collects every URL the page refers to and checks that tags are balanced."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.urls: list[str] = []
        self.tags: set[str] = set()
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.urls += [v for k, v in attrs if k in ("src", "href") and v]
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
        else:
            self.stack.pop()


def check_html(path: Path) -> Checker:
    text = path.read_text(encoding="utf-8")
    c = Checker()
    c.feed(text)
    c.close()
    assert text.startswith("<!DOCTYPE html>")
    assert not c.errors and not c.stack, (c.errors, c.stack)
    return c


def test_suite_writes_tables_plots_and_pages(suite_dir):
    for name in TABLES:
        assert (suite_dir / f"{name}.csv").is_file() and (suite_dir / f"{name}.parquet").is_file()
    for png in ("plots/confusion.png", "plots/overview.png"):
        assert (suite_dir / png).read_bytes()[:4] == b"\x89PNG"
    results = read_table(suite_dir, "results")
    assert sorted(results["dataset"]) == ["gaussian1d", "mnist", "reviews", "ring8"]
    for rel in results["run_dir"]:
        run = suite_dir / rel
        for f in ("report.html", "report.md", "plots/panels.png", "plots/samples.png", "findings.parquet", "diagnosis.json"):
            assert (run / f).is_file(), run / f
    assert not list(suite_dir.rglob(".report-staging-*"))


def test_suite_html_is_self_contained_and_parses(suite_dir):
    c = check_html(suite_dir / "report.html")
    assert not {"script", "link", "iframe"} & c.tags
    images = [u for u in c.urls if u.startswith("data:")]
    assert len(images) >= 2 + 2 * len(MIXED)  # confusion, overview, and curves + samples per scenario
    assert all(u.startswith("data:image/png;base64,") for u in images)
    others = [u for u in c.urls if not u.startswith("data:")]
    # the only other links: in-page anchors and each run's own (local, relative) report
    assert all(u.startswith("#") or (u.startswith("runs/") and u.endswith("/report.html")) for u in others), others
    text = (suite_dir / "report.html").read_text()
    assert "http://" not in text and "https://" not in text
    for name in MIXED:
        assert f'id="{name}"' in text


def test_run_html_is_self_contained(suite_dir):
    run = suite_dir / read_table(suite_dir, "results")["run_dir"].iloc[0]
    c = check_html(run / "report.html")
    assert all(u.startswith(("data:image/png;base64,", "#")) for u in c.urls)
    assert sum(u.startswith("data:") for u in c.urls) == 2  # curves and samples


def test_markdown_summary_matches_the_tables(suite_dir):
    md = (suite_dir / "report.md").read_text()
    sc = read_table(suite_dir, "scenarios")
    passed = int(sc["passed"].sum())
    assert f"{passed}/{len(sc)} scenarios pass" in md
    for name in MIXED:
        assert f"| {name} |" in md
    assert "| label | expected | found | correct | precision | recall |" in md


def test_report_command_rerenders_from_saved_tables(suite_dir, tmp_path, capsys):
    suite = copy_suite(suite_dir, tmp_path / "suite")
    for p in [suite / "report.html", *suite.glob("runs/*/report.html"), *suite.glob("runs/*/plots/*.png")]:
        p.unlink()
    (suite / "report.md").write_text("stale")
    assert main(["report", str(suite), "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert f"report: {suite / 'report.html'}" in out
    assert (suite / "report.md").read_text() != "stale"
    assert all((d / "report.html").is_file() and (d / "plots/panels.png").is_file() for d in suite.glob("runs/*"))
    check_html(suite / "report.html")
    # elsewhere: the tables travel with the report
    assert main(["report", str(suite), "--out", str(tmp_path / "elsewhere"), "--format", "json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["kind"] == "suite" and Path(info["report"]).is_file()
    pd.testing.assert_frame_equal(read_table(tmp_path / "elsewhere", "results"), read_table(suite, "results"))


def test_diagnose_report_for_a_bare_table(suite_dir, tmp_path, capsys):
    run = suite_dir / read_table(suite_dir, "results")["run_dir"].iloc[0]
    bare = pd.read_parquet(run / "telemetry.parquet")[["step", "loss_d", "loss_g", "d_real", "d_fake"]]
    bare.to_csv(tmp_path / "mine.csv", index=False)
    rc = main(["diagnose", str(tmp_path / "mine.csv"), "--no-config", "--report", str(tmp_path / "rep")])
    # Losses and D's outputs, no sample measure: nothing decisive (exit 3), and the page says what to record.
    assert rc == 3
    assert f"report: {tmp_path / 'rep' / 'report.html'}" in capsys.readouterr().out
    c = check_html(tmp_path / "rep" / "report.html")
    assert sum(u.startswith("data:") for u in c.urls) == 1  # curves only: a table has no samples
    page = (tmp_path / "rep" / "report.html").read_text()
    assert "No saved samples" in page and ">inconclusive</span>" in page and "<b>To decide, record</b>" in page
    assert read_table(tmp_path / "rep", "findings")["status"].isin(["not-assessable"]).any()


def test_resume_after_losing_runs_gives_identical_tables(suite_dir, tmp_path):
    suite = copy_suite(suite_dir, tmp_path / "suite")
    before = {name: read_table(suite, name) for name in TABLES}
    # As if killed: two runs never finished (one left a partial folder), no tables, no report yet.
    lost = sorted((suite / RESULTS_DIR).glob("*.json"))[:2]
    for f in lost:
        f.unlink()
    (suite / "runs" / lost[0].stem / "telemetry.parquet").unlink()
    shutil.rmtree(suite / "runs" / lost[1].stem)
    for name in TABLES:
        for suffix in (".csv", ".parquet"):
            (suite / f"{name}{suffix}").unlink()
    (suite / "report.html").unlink()
    resume_suite(suite, jobs=1, progress=False)
    for name in TABLES:
        after = read_table(suite, name)
        assert_same_apart_from_clocks(after, before[name])
    assert (suite / "report.html").is_file()


def assert_same_apart_from_clocks(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Equal tables, except the columns that time the runs (they differ between identical runs)."""
    clocks = [c for c in (*TIMING_COLUMNS, "median_steps_per_s") if c in a.columns]
    assert len(a) and list(a.columns) == list(b.columns)
    pd.testing.assert_frame_equal(a.drop(columns=clocks), b.drop(columns=clocks), check_exact=True)


def _run(args, **kw):
    return subprocess.run([sys.executable, "-m", "ganlint", *args], capture_output=True, text=True, timeout=300, **kw)


@pytest.mark.slow
def test_resume_after_a_real_kill(tmp_path):
    """Kill `ganlint run` mid-suite with SIGKILL, resume it, and get the tables of an uninterrupted run."""
    sc = write_scenarios(tmp_path / "sc", ["tiny_gauss", "tiny_ring"])
    ref = _run(["run", str(sc), "--seeds", "2", "--device", "cpu", "--jobs", "1", "--out", str(tmp_path / "ref"),
                "--no-report", "--quiet"])
    assert ref.returncode in (0, 1), ref.stderr
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "ganlint", "run", str(sc), "--seeds", "2", "--device", "cpu",
                             "--jobs", "1", "--out", str(killed), "--no-report", "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(list((killed / RESULTS_DIR).glob("*.json"))) < 1:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(list((killed / RESULTS_DIR).glob("*.json")))
    assert 1 <= done < 4, done
    assert not (killed / "results.parquet").exists()
    res = _run(["run", "--resume", str(killed), "--no-report", "--jobs", "1"])
    assert res.returncode == ref.returncode, res.stderr
    assert f"{done} of 4 runs done, {4 - done} to go" in res.stderr
    for name in TABLES:
        assert_same_apart_from_clocks(read_table(killed, name), read_table(tmp_path / "ref", name))


def test_compare_same_suite_and_a_regression(suite_dir, tmp_path, capsys):
    a = suite_dir
    b = copy_suite(suite_dir, tmp_path / "after")
    assert main(["report", "--compare", str(a), str(b), "--out", str(tmp_path / "cmp")]) == 0
    out = capsys.readouterr().out
    assert f"0/{len(MIXED)} runs changed label" in out
    check_html(tmp_path / "cmp" / "report.html")
    # B: the first scenario that passes in A now gets a wrong label in B
    res = read_table(b, "results")
    sc = read_table(a, "scenarios")
    name = sc.loc[sc["passed"], "scenario"].iloc[0]
    wrong = "oscillating" if res.loc[res["scenario"] == name, "expected"].iloc[0] != "oscillating" else "stable"
    res.loc[res["scenario"] == name, "label"] = wrong
    res.loc[res["scenario"] == name, "correct"] = False
    res.loc[res["scenario"] == name, "final_distance"] *= 2
    res.to_parquet(b / "results.parquet", index=False)
    res.to_csv(b / "results.csv", index=False)
    assert main(["report", "--compare", str(a), str(b), "--out", str(tmp_path / "cmp2"), "--format", "json"]) == 1
    info = json.loads(capsys.readouterr().out)
    assert info["regressions"] == [name]
    row = next(r for r in info["scenarios"] if r["scenario"] == name)
    assert row["change"] == "regressed" and row["label_b"] == wrong
    assert row["distance_change"] == pytest.approx(1.0)
    runs = read_table(tmp_path / "cmp2", "compare_runs")
    assert runs["changed"].sum() == 1
    assert f"`{name}`" in (tmp_path / "cmp2" / "report.md").read_text()


BAD = {
    "missing folder": (lambda t, s: ["report", str(t / "nope")], "does not exist"),
    "empty folder": (lambda t, s: ["report", str(t / "empty")], "holds no telemetry"),
    "neither path nor compare": (lambda t, s: ["report"], "name a run or suite folder"),
    "path and compare": (lambda t, s: ["report", str(s), "--compare", str(s), str(s)], "not both"),
    "compare a missing suite": (lambda t, s: ["report", "--compare", str(s), str(t / "nope")], "does not exist"),
    "resume a non-suite": (lambda t, s: ["run", "--resume", str(t / "empty")], "not a ganlint suite folder"),
    "resume with seeds": (lambda t, s: ["run", "--resume", str(s), "--seeds", "3"], "drop --seeds"),
    "run into a suite": (lambda t, s: ["run", "--out", str(s), "--device", "cpu"], "already holds a suite"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_and_exit_2(case, suite_dir, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    args, message = BAD[case]
    assert main(args(tmp_path, suite_dir)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_damaged_suite_keeps_its_good_report(suite_dir, tmp_path, capsys):
    suite = copy_suite(suite_dir, tmp_path / "suite")
    good = (suite / "report.html").read_bytes()
    res = pd.read_csv(suite / "results.csv").drop(columns=["label"])
    (suite / "results.parquet").unlink()
    res.to_csv(suite / "results.csv", index=False)
    assert main(["report", str(suite)]) == 2
    assert "lacks the column(s) label" in capsys.readouterr().err
    assert (suite / "report.html").read_bytes() == good
    assert not list(suite.rglob(".report-staging-*"))
    # a run folder the results name has gone missing
    suite2 = copy_suite(suite_dir, tmp_path / "suite2")
    shutil.rmtree(next((suite2 / "runs").iterdir()))
    assert main(["report", str(suite2)]) == 2
    assert "missing or incomplete" in capsys.readouterr().err
    assert (suite2 / "report.html").read_bytes() == good


def test_empty_suite_is_an_error(suite_dir, tmp_path, capsys):
    suite = tmp_path / "empty_suite"
    suite.mkdir()
    shutil.copy(suite_dir / "suite.json", suite / "suite.json")
    assert main(["report", str(suite)]) == 2
    err = capsys.readouterr().err
    assert "no finished runs yet" in err and "--resume" in err


def test_incomplete_suite_renders_with_a_banner(suite_dir, tmp_path):
    suite = copy_suite(suite_dir, tmp_path / "suite")
    for name in TABLES:
        for suffix in (".csv", ".parquet"):
            (suite / f"{name}{suffix}").unlink()
    next((suite / RESULTS_DIR).glob("*.json")).unlink()
    assert main(["report", str(suite), "--jobs", "1"]) == 0
    text = (suite / "report.html").read_text()
    assert "Incomplete: 1 of 4 runs have no result yet" in text


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="Debian's chromium is not installed")
def test_report_renders_in_headless_chromium(suite_dir, tmp_path):
    shot = tmp_path / "report.png"
    cmd = ["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
           f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1280,2400",
           (suite_dir / "report.html").resolve().as_uri()]
    subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    assert shot.is_file() and shot.read_bytes()[:4] == b"\x89PNG"
    import matplotlib.image

    img = matplotlib.image.imread(str(shot))
    assert img.shape[1] == 1280 and img.std() > 0.05  # a rendered page, not a blank one
    if os.environ.get("GANLINT_KEEP_SCREENSHOT"):
        shutil.copy(shot, os.environ["GANLINT_KEEP_SCREENSHOT"])


@pytest.mark.slow
def test_ctrl_c_says_how_to_resume(tmp_path):
    sc = write_scenarios(tmp_path / "sc", ["tiny_gauss", "tiny_ring"])
    out = tmp_path / "suite"
    proc = subprocess.Popen([sys.executable, "-m", "ganlint", "run", str(sc), "--seeds", "3", "--device", "cpu",
                             "--jobs", "1", "--out", str(out), "--no-report", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not list((out / RESULTS_DIR).glob("*.json")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == (f"ganlint: interrupted by SIGINT; the finished runs are kept, and runs in "
                                               f"training were saved: continue with  ganlint run --resume {out}")
    assert "Traceback" not in stderr and stdout == ""


def test_batched_suite_runs_seeds_together_and_resumes(tmp_path, capsys):
    """--batched: a supported scenario's seeds train as one batched model (ganlint.training.batched), the others one
    by one; the tables are the same shape, and suite.json keeps the choice for --resume."""
    sc = write_scenarios(tmp_path / "sc", ["tiny_gauss", "tiny_reviews"])  # mlp (batched) and tabular (not)
    out = tmp_path / "suite"
    rc = main(["run", str(sc), "--seeds", "2", "--device", "cpu", "--jobs", "1", "--out", str(out), "--batched",
               "--no-report", "--quiet", "--format", "json"])
    assert rc in (0, 1)
    info = json.loads(capsys.readouterr().out)
    assert len(info["results"]) == 4
    spec = json.loads((out / "suite.json").read_text())
    assert spec["batched"] is True
    configs = {r: json.loads((out / "runs" / r / "config.json").read_text()) for r in
               ("tiny_gauss--seed0", "tiny_gauss--seed1", "tiny_reviews--seed0")}
    assert "batched" in configs["tiny_gauss--seed0"] and "batched" in configs["tiny_gauss--seed1"]
    assert "batched" not in configs["tiny_reviews--seed0"]  # tabular models are not batched
    before = read_table(out, "results")
    (out / RESULTS_DIR / "tiny_gauss--seed1.json").unlink()
    (out / RESULTS_DIR / "tiny_gauss--seed0.json").unlink()
    assert main(["run", "--resume", str(out), "--no-report", "--quiet", "--jobs", "1"]) in (0, 1)
    capsys.readouterr()
    assert_same_apart_from_clocks(read_table(out, "results"), before)
    assert main(["run", "--resume", str(out), "--batched"]) == 2
    assert "drop --batched" in capsys.readouterr().err
