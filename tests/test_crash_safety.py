"""Never lose a run: signals and kill -9 during `ganlint train`, `--resume`, one writer per folder, full
and read-only disks. Every case runs `python -m ganlint` in a subprocess, as a user does.

The truth for "bit-identical" is an uninterrupted run of the same config, trained in the same way.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from ganlint.training.skeleton import EvalSchedule

# Small and quick, but long enough (a few seconds) to be signalled in the middle: 0.1 s would end first.
RUN = ["--dataset", "ring8", "--steps", "1500", "--batch-size", "16", "--g-width", "16", "--d-width", "16",
       "--eval-every", "250", "--eval-samples", "100", "--pictures", "2", "--flush-every", "10",
       "--checkpoint-every", "100", "--device", "cpu"]
WEIGHTS = ("generator.safetensors", "discriminator.safetensors")


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def ganlint(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ganlint", *args], cwd=cwd, env=_env(), capture_output=True,
                          text=True, timeout=600)


def start(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ganlint", *args], cwd=cwd, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def rows(run: Path) -> int:
    """Telemetry rows on disk so far (the journal's lines after the header)."""
    try:
        return max(0, len((run / "telemetry.csv").read_text().splitlines()) - 1)
    except OSError:
        return 0


def wait_for(proc: subprocess.Popen, run: Path, min_rows: int, timeout: float = 300) -> None:
    t0 = time.monotonic()
    while rows(run) < min_rows:
        if proc.poll() is not None:
            _out, err = proc.communicate()
            pytest.fail(f"the run ended before it could be interrupted (rc {proc.returncode}): {err[-2000:]}")
        if time.monotonic() - t0 > timeout:
            proc.kill()
            pytest.fail("the run made no progress")
        time.sleep(0.05)


def no_traceback(*texts: str) -> None:
    for t in texts:
        assert "Traceback" not in t, t


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The uninterrupted run: what every resumed run must equal."""
    work = tmp_path_factory.mktemp("reference")
    proc = ganlint("train", *RUN, "--out", "ref", "--no-report", "--quiet", cwd=work)
    assert proc.returncode == 0, proc.stderr
    return work / "ref"


def readable(work: Path, stopped: str) -> None:
    """diagnose, check and report all read the interrupted folder work/run, and the report says how it stopped."""
    diag = ganlint("diagnose", "run", "--format", "json", cwd=work)
    assert diag.returncode in (0, 1, 3), diag.stderr
    assert json.loads(diag.stdout)["label"]
    check = ganlint("check", "run", "--samples", "500", cwd=work)
    assert check.returncode in (0, 1, 3), check.stderr
    report = ganlint("report", "run", "--out", "rep", cwd=work)
    assert report.returncode == 0, report.stderr
    assert stopped in (work / "rep" / "report.html").read_text()
    no_traceback(diag.stderr, check.stderr, report.stderr)


def same_run(a: Path, b: Path) -> None:
    """Telemetry equal except the clock column, weights equal bit for bit."""
    ta, tb = pd.read_parquet(a / "telemetry.parquet"), pd.read_parquet(b / "telemetry.parquet")
    cols = [c for c in ta.columns if c != "time_s"]
    pd.testing.assert_frame_equal(ta[cols], tb[cols], check_exact=True)
    for name in WEIGHTS:
        wa, wb = load_file(str(a / name)), load_file(str(b / name))
        assert wa.keys() == wb.keys()
        for k in wa:
            assert torch.equal(wa[k], wb[k]), (name, k)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_saves_the_run_and_resume_is_bit_identical(tmp_path: Path, reference: Path, sig: int) -> None:
    proc = start("train", *RUN, "--out", "run", "--no-report", cwd=tmp_path)
    run = tmp_path / "run"
    wait_for(proc, run, 450)
    os.kill(proc.pid, sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, err
    no_traceback(out, err)
    assert f"ganlint train --resume {run.name}" in err.strip().splitlines()[-1]
    summary = json.loads((run / "summary.json").read_text())
    name = signal.Signals(sig).name
    assert summary["stop_reason"].startswith(f"interrupted by {name} at step ")
    stopped = summary["steps_completed"]
    assert 450 <= stopped < 1500
    assert (run / "checkpoint.pt").is_file()
    assert len(pd.read_parquet(run / "telemetry.parquet")) == stopped

    readable(tmp_path, "interrupted by")

    resumed = ganlint("train", "--resume", "run", "--no-report", "--quiet", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stop_reason"] == "completed" and summary["steps_completed"] == 1500
    assert not (run / "checkpoint.pt").exists()  # a finished run has nothing to resume
    meta = json.loads((run / "config.json").read_text())
    assert [r["step"] for r in meta["resumed"]] == [stopped]
    same_run(reference, run)


@pytest.mark.slow
def test_kill_9_keeps_telemetry_and_weights_and_resumes_bit_identical(tmp_path: Path, reference: Path) -> None:
    proc = start("train", *RUN, "--out", "run", "--no-report", "--quiet", cwd=tmp_path)
    run = tmp_path / "run"
    wait_for(proc, run, 650)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    assert not (run / "summary.json").exists()
    kept = rows(run)
    assert kept >= 600  # rows reach the disk at least every flush_every (10) steps
    for name in (*WEIGHTS, "checkpoint.pt", "config.json"):
        assert (run / name).is_file(), name
    assert not list(run.glob(".*.tmp"))

    readable(tmp_path, "interrupted without a summary (killed)")

    # The lock of a killed writer is stale: resuming takes it.
    resumed = ganlint("train", "--resume", "run", "--no-report", "--quiet", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    same_run(reference, run)


@pytest.mark.slow
def test_one_writer_per_folder(tmp_path: Path) -> None:
    long = [*RUN[:2], "--steps", "10000000", *RUN[4:]]  # still training while the others try
    first = start("train", *long, "--out", "run", "--no-report", "--quiet", cwd=tmp_path)
    run = tmp_path / "run"
    try:
        wait_for(first, run, 20)
        before = {p.name: p.stat().st_mtime_ns for p in run.iterdir() if p.name == "config.json"}
        for extra in ([], ["--overwrite"]):
            second = ganlint("train", *RUN, "--out", "run", "--no-report", *extra, cwd=tmp_path)
            assert second.returncode == 2
            lines = second.stderr.strip().splitlines()
            assert len(lines) == 1, second.stderr
            assert "'run'" in lines[0] and f"process {first.pid}" in lines[0] and "one writer" in lines[0]
        resume = ganlint("train", "--resume", "run", cwd=tmp_path)
        assert resume.returncode == 2 and f"process {first.pid}" in resume.stderr
        assert {p.name: p.stat().st_mtime_ns for p in run.iterdir() if p.name == "config.json"} == before
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(first.pid, signal.SIGTERM)
        first.communicate(timeout=120)
    assert json.loads((run / "summary.json").read_text())["stop_reason"].startswith("interrupted by SIGTERM")


def test_resume_refuses_what_it_cannot_continue(tmp_path: Path) -> None:
    tiny = ["--dataset", "ring8", "--steps", "12", "--batch-size", "16", "--g-width", "8", "--d-width", "8",
            "--eval-samples", "50", "--pictures", "0", "--device", "cpu", "--no-report", "--quiet"]
    done = ganlint("train", *tiny, "--out", "done", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    cases = {
        "finished": (["--resume", "done"], "ended on its own (completed)"),
        "flags": (["--resume", "done", "--steps", "50"], "drop --steps"),
        "missing": (["--resume", "nowhere"], "is not a folder"),
        "not a run": (["--resume", "."], "not a ganlint run folder"),
    }
    for why, (args, message) in cases.items():
        proc = ganlint("train", *args, cwd=tmp_path)
        assert proc.returncode == 2, why
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (why, proc.stderr)
    # A folder without a checkpoint (killed before its first one): one line, nothing changed.
    (tmp_path / "early").mkdir()
    (tmp_path / "early" / "config.json").write_text((tmp_path / "done" / "config.json").read_text())
    proc = ganlint("train", "--resume", "early", cwd=tmp_path)
    assert proc.returncode == 2 and "no checkpoint.pt" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_overwrite_leaves_nothing_of_the_old_run(tmp_path: Path) -> None:
    tiny = ["--dataset", "ring8", "--steps", "12", "--batch-size", "16", "--g-width", "8", "--d-width", "8",
            "--eval-every", "4", "--eval-samples", "50", "--device", "cpu", "--quiet"]
    old = ganlint("train", *tiny, "--pictures", "3", "--out", "run", cwd=tmp_path)
    assert old.returncode == 0, old.stderr
    run = tmp_path / "run"
    (run / "notes.txt").write_text("mine")  # the user's file: never removed
    assert len(list((run / "samples").glob("step_*.png"))) == 3 and (run / "report.html").is_file()
    new = ganlint("train", *tiny, "--pictures", "0", "--no-report", "--overwrite", "--out", "run", cwd=tmp_path)
    assert new.returncode == 0, new.stderr
    left = sorted(p.relative_to(run).as_posix() for p in run.rglob("*") if p.is_file())
    assert left == [".ganlint.lock", "config.json", "discriminator.safetensors", "generator.safetensors",
                    "notes.txt", "summary.json", "telemetry.csv", "telemetry.parquet"]


def test_non_utf8_out_is_refused_before_training(tmp_path: Path) -> None:
    out = os.fsdecode(b"run-\xff")
    proc = subprocess.run([sys.executable, "-m", "ganlint", "train", "--dataset", "ring8", "--steps", "5",
                           "--out", out], cwd=tmp_path, env=_env(), capture_output=True, timeout=300)
    assert proc.returncode == 2
    err = proc.stderr.decode(errors="replace").strip().splitlines()
    assert len(err) == 1 and "UTF-8" in err[0]
    assert not any(tmp_path.iterdir())


def _mount_tmpfs(path: Path, size: str, readonly: bool = False) -> bool:
    path.mkdir()
    opts = f"size={size}" + (",ro" if readonly else "")
    try:
        return subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True,
                              timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture
def small_disk(tmp_path: Path):
    """mount(size) -> a folder on a tmpfs of that size; skips where this machine cannot mount one."""
    mounts: list[Path] = []

    def mount(size: str, readonly: bool = False) -> Path:
        p = tmp_path / f"disk{len(mounts)}"
        if not _mount_tmpfs(p, size, readonly):
            pytest.skip("cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN)")
        mounts.append(p)
        return p

    yield mount
    for p in mounts:
        subprocess.run(["umount", "-l", str(p)], capture_output=True, timeout=30)


# Sizes that run out at different writes: config.json, the telemetry journal, a picture, a checkpoint,
# the final telemetry and weights, the report.
@pytest.mark.parametrize("size", ["4k", "40k", "120k", "250k", "400k", "700k"])
def test_full_disk_is_one_line_and_nothing_looks_complete(small_disk, tmp_path: Path, size: str) -> None:
    disk = small_disk(size)
    args = ["--dataset", "ring8", "--steps", "400", "--batch-size", "16", "--g-width", "16", "--d-width", "16",
            "--eval-every", "100", "--eval-samples", "100", "--pictures", "2", "--checkpoint-every", "100",
            "--device", "cpu", "--quiet"]
    proc = ganlint("train", *args, "--out", str(disk / "run"), cwd=tmp_path)
    no_traceback(proc.stdout, proc.stderr)
    run = disk / "run"
    if proc.returncode == 0:  # it fitted: then it is complete
        assert (run / "summary.json").is_file() and (run / "report.html").is_file()
        return
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ganlint: error: ") and "No space left on device" in lines[0]
    assert not list(run.glob(".*.tmp")) if run.exists() else True
    if run.exists() and (run / "summary.json").is_file():
        # Only a run whose files were all written says it completed; its report is what failed.
        summary = json.loads((run / "summary.json").read_text())
        assert summary["stop_reason"] == "completed"
        for name in ("telemetry.parquet", "telemetry.csv", *WEIGHTS):
            assert (run / name).is_file()
    if run.exists() and (run / "telemetry.csv").is_file():
        text = (run / "telemetry.csv").read_text()
        assert text.endswith("\n")  # never half a row


def test_read_only_folder_is_one_line(small_disk, tmp_path: Path) -> None:
    disk = small_disk("1m", readonly=True)
    proc = ganlint("train", "--dataset", "ring8", "--steps", "5", "--out", str(disk / "run"), cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Read-only file system" in lines[0] and str(disk / "run") in lines[0]


@pytest.mark.parametrize("steps,every", [(1, 1), (1, 7), (7, 7), (10, 3), (100, 10), (101, 10), (5, 100), (12, 1)])
def test_eval_schedule_is_the_set_it_replaced(steps: int, every: int) -> None:
    expected = sorted({1, steps, *range(every, steps + 1, every)})
    s = EvalSchedule(steps, every)
    assert list(s) == expected and len(s) == len(expected)
    assert [s[i] for i in range(-len(s), 0)] == expected
    assert [k for k in range(0, steps + 3) if k in s] == expected


def test_eval_schedule_of_a_huge_run_is_not_built() -> None:
    s = EvalSchedule(10**8, 1)
    assert len(s) == 10**8 and s[-1] == 10**8 and 12345 in s


SCENARIO = """name = "{name}"
expect = "stable"
suites = ["quick"]
why = "a run long enough to be interrupted while it trains"

[train]
dataset = "ring8"
steps = 3000
batch_size = 16
g_width = 16
d_width = 16
eval_every = 1000
eval_samples = 100
pictures = 0
flush_every = 10
checkpoint_every = 50
"""


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_suite_saves_runs_in_training_and_resume_continues_them(tmp_path: Path, sig: int) -> None:
    for name in ("first", "second"):
        (tmp_path / f"{name}.toml").write_text(SCENARIO.format(name=name))
    proc = start("run", "first.toml", "second.toml", "--jobs", "2", "--out", "suite", "--no-report", cwd=tmp_path)
    runs = [tmp_path / "suite" / "runs" / f"{n}--seed0" for n in ("first", "second")]
    for run in runs:
        wait_for(proc, run, 120)
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)  # Ctrl-C in a terminal reaches the whole process group
    else:
        os.kill(proc.pid, sig)  # `kill PID` or a CI timeout reaches the runner only
    _out, err = proc.communicate(timeout=180)
    assert proc.returncode == 128 + sig, err
    no_traceback(err)
    assert "ganlint run --resume suite" in err.strip().splitlines()[-1]
    stopped = {}
    for run in runs:
        assert (run / "summary.json").is_file(), (run.name, err)
        summary = json.loads((run / "summary.json").read_text())
        assert summary["stop_reason"].startswith("interrupted by SIGTERM" if sig == signal.SIGTERM else "interrupted by")
        assert (run / "checkpoint.pt").is_file()
        stopped[run.name] = summary["steps_completed"]
    # Nothing of the suite runs on.
    time.sleep(1.0)
    assert all(rows(run) == stopped[run.name] for run in runs)

    resumed = ganlint("run", "--resume", "suite", "--no-report", "--quiet", cwd=tmp_path)
    assert resumed.returncode in (0, 1), resumed.stderr
    results = pd.read_csv(tmp_path / "suite" / "results.csv")
    assert sorted(results["scenario"]) == ["first", "second"] and set(results["steps"]) == {3000}
    for run in runs:  # continued from the checkpoint, not trained again
        meta = json.loads((run / "config.json").read_text())
        assert meta["resumed"][0]["step"] <= stopped[run.name]


def test_full_disk_in_report_and_suite_is_one_line(small_disk, tmp_path: Path) -> None:
    tiny = ["--dataset", "ring8", "--steps", "30", "--batch-size", "16", "--g-width", "8", "--d-width", "8",
            "--eval-every", "10", "--eval-samples", "50", "--device", "cpu", "--quiet", "--no-report"]
    assert ganlint("train", *tiny, "--out", "run", cwd=tmp_path).returncode == 0
    (tmp_path / "small.toml").write_text(SCENARIO.format(name="small").replace("steps = 3000", "steps = 30"))
    disk = small_disk("48k")
    for args in (["report", "run", "--out", str(disk / "rep")],
                 ["diagnose", "run", "--report", str(disk / "rep2")],
                 ["run", "small.toml", "--out", str(disk / "suite"), "--quiet"]):
        proc = ganlint(*args, cwd=tmp_path)
        no_traceback(proc.stdout, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1, (args, proc.stderr)
        assert "No space left on device" in lines[0] and str(disk) in lines[0], (args, lines)
        assert not list(disk.rglob("*.tmp")), args
    assert not (disk / "rep" / "report.html").exists()


def test_training_interrupted_crosses_a_process_boundary() -> None:
    """A suite worker sends it to the runner: it must unpickle (a failure there breaks the pool, which then
    kills the other workers while they save their runs), without shipping the models."""
    import pickle

    from ganlint.training.loop import TrainingInterrupted

    e = pickle.loads(pickle.dumps(TrainingInterrupted(None, signal.SIGTERM, "interrupted by SIGTERM at step 7")))
    assert isinstance(e, KeyboardInterrupt) and e.signal == signal.SIGTERM and e.run is None
    assert str(e) == "interrupted by SIGTERM at step 7"
