"""`ganlint run --executor ray` against a real Ray cluster on loopback, run as a user runs it.

The cluster is started by the tests (tests/ray_cluster.py): a head node and a second worker node, one CPU
each, as `ray start` makes them. Every case is the `ganlint` command in a subprocess, compared with the same
suite run by the local executor:
- the same seeds give the same labels, the same tables (clock columns aside) and the same files per run;
- a task killed with SIGKILL is retried, and the suite is complete;
- with no retries left, a killed task is an error row (exit 1, errors.csv, the report says so), and
  `--resume` on Ray finishes it;
- Ctrl-C on the driver cancels the tasks in flight, keeps the finished runs, and `--resume` (with the local
  executor) finishes the suite.
Without Ray, `--executor ray` is one line saying how to install it, exit 2. Skipped where Ray cannot start.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from ray_cluster import ClusterUnavailable, LoopbackCluster, kill_a_task, task_pids

ROOT = Path(__file__).resolve().parents[1]
# Quick scenarios of the suite, a few seconds each on a CPU; their labels come from how they are built.
SCENARIOS = [ROOT / "scenarios" / f"{n}.toml" for n in ("low_learning_rate", "exploding_critic")]
CLOCKS = ["wall_s", "steps_per_s"]


def ganlint(*args: str | Path, cwd: Path, timeout: float = 600, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess:
    """The command as a user runs it; `env`: a cluster's client environment (its token), else this one's
    without any RAY_ variable."""
    env = env or {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    return subprocess.run([sys.executable, "-m", "ganlint", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, env=env)


def start(*args: str | Path, cwd: Path, env: dict[str, str], **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ganlint", *map(str, args)], cwd=cwd, text=True, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def results(folder: Path) -> pd.DataFrame:
    df = pd.read_csv(folder / "results.csv")
    return df.drop(columns=CLOCKS).sort_values(["scenario", "seed"]).reset_index(drop=True)


def layout(folder: Path) -> set[str]:
    """Every file of a suite folder, by relative path (the clock columns do not show in names)."""
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def no_traceback(*texts: str) -> None:
    for t in texts:
        assert "Traceback" not in t, t


@pytest.fixture(scope="module")
def cluster():
    try:
        c = LoopbackCluster(workers=1, cpus=1).start()
    except ClusterUnavailable as e:
        pytest.skip(f"Ray cannot start here: {e}")
    try:
        yield c
    finally:
        c.stop()
        assert not task_pids(), "a Ray task of ganlint outlived its cluster"


@pytest.fixture(scope="module")
def local_suite(tmp_path_factory) -> Path:
    """The reference: the same scenarios over 2 seeds with the local executor (two one-thread workers)."""
    cwd = tmp_path_factory.mktemp("local")
    p = ganlint("run", *SCENARIOS, "--seeds", "2", "--jobs", "2", "--out", "suite", "--quiet", cwd=cwd)
    assert p.returncode in (0, 1), p.stderr
    return cwd / "suite"


@pytest.mark.slow
def test_ray_suite_matches_the_local_one(cluster, local_suite, tmp_path: Path) -> None:
    p = ganlint("run", *SCENARIOS, "--seeds", "2", "--out", "suite", "--executor", "ray", "--address", cluster.address,
                cwd=tmp_path, env=cluster.client_env())
    no_traceback(p.stdout, p.stderr)
    assert p.returncode in (0, 1), p.stderr
    ray_suite = tmp_path / "suite"
    pd.testing.assert_frame_equal(results(ray_suite), results(local_suite))
    for table in ("scenarios", "labels", "confusion"):
        a, b = pd.read_csv(ray_suite / f"{table}.csv"), pd.read_csv(local_suite / f"{table}.csv")
        pd.testing.assert_frame_equal(a.drop(columns=["median_steps_per_s"], errors="ignore"),
                                      b.drop(columns=["median_steps_per_s"], errors="ignore"))
    assert layout(ray_suite) == layout(local_suite)
    assert not (ray_suite / "errors").exists() and not (ray_suite / "errors.csv").exists()
    # The weights a node trained are the local run's, bit for bit (one thread each, same seed).
    for run in (ray_suite / "runs").iterdir():
        assert (run / "generator.safetensors").read_bytes() == (local_suite / "runs" / run.name / "generator.safetensors").read_bytes()
    # Progress names each run as it starts and says how many are done, running and queued.
    assert "started low_learning_rate--seed0" in p.stderr and "running" in p.stderr and "queued" in p.stderr
    assert (ray_suite / "report.html").is_file() and "tables: suite" in p.stdout


@pytest.mark.slow
def test_a_killed_task_is_retried(cluster, local_suite, tmp_path: Path) -> None:
    proc = start("run", SCENARIOS[0], "--out", "suite", "--no-report", "--executor", "ray", "--address", cluster.address,
                 cwd=tmp_path, env=cluster.client_env())
    kill_a_task()
    out, err = proc.communicate(timeout=300)
    no_traceback(out, err)
    assert proc.returncode in (0, 1), err
    assert "retrying low_learning_rate--seed0 (attempt 2 of 3)" in err
    got = results(tmp_path / "suite")
    want = results(local_suite)
    pd.testing.assert_frame_equal(got, want[(want["scenario"] == "low_learning_rate") & (want["seed"] == 0)]
                                  .reset_index(drop=True))


@pytest.mark.slow
def test_a_task_out_of_retries_is_an_error_row_until_resume_finishes_it(cluster, local_suite, tmp_path: Path) -> None:
    proc = start("run", SCENARIOS[0], "--seeds", "2", "--out", "suite", "--executor", "ray", "--address", cluster.address,
                 "--retries", "0", cwd=tmp_path, env=cluster.client_env())
    kill_a_task()
    out, err = proc.communicate(timeout=300)
    no_traceback(out, err)
    assert proc.returncode == 1, err  # a run that never finished fails the suite: evidence missing, not a pass
    suite = tmp_path / "suite"
    errors = pd.read_csv(suite / "errors.csv")
    assert len(errors) == 1 and errors["attempts"].tolist() == [1] and errors["scenario"].tolist() == ["low_learning_rate"]
    failed = int(errors["seed"].iloc[0])
    assert "died" in errors["error"].iloc[0].lower() or "crash" in errors["error"].iloc[0].lower(), errors["error"].iloc[0]
    assert f"ERROR low_learning_rate seed {failed}: failed after 1 attempt(s)" in out
    assert "failed after their retries" in (suite / "report.html").read_text()
    assert len(pd.read_csv(suite / "results.csv")) == 1 and not (suite / "runs" / f"low_learning_rate--seed{failed}").exists()

    resumed = ganlint("run", "--resume", "suite", "--executor", "ray", "--address", cluster.address, "--quiet",
                      cwd=tmp_path, env=cluster.client_env())
    assert resumed.returncode in (0, 1), resumed.stderr
    assert not (suite / "errors.csv").exists() and not list((suite / "errors").glob("*.json"))
    want = results(local_suite)
    pd.testing.assert_frame_equal(results(suite), want[want["scenario"] == "low_learning_rate"].reset_index(drop=True))
    assert "ERROR" not in resumed.stdout


@pytest.mark.slow
def test_ctrl_c_cancels_the_tasks_in_flight_and_resume_finishes_locally(cluster, local_suite, tmp_path: Path) -> None:
    # Started with SIGINT ignored, as a script's background job (and some CI runners) start it: ganlint must
    # still stop on it.
    proc = start("run", *SCENARIOS, "--seeds", "2", "--out", "suite", "--no-report", "--executor", "ray", "--address",
                 cluster.address, cwd=tmp_path, env=cluster.client_env(), start_new_session=True,
                 preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    results_dir = tmp_path / "suite" / "results"
    deadline = time.monotonic() + 300
    while not (results_dir.is_dir() and list(results_dir.glob("*.json"))):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1]
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in the terminal the driver runs in
    out, err = proc.communicate(timeout=120)
    no_traceback(out, err)
    assert proc.returncode == 128 + signal.SIGINT, err
    assert "ganlint run --resume suite" in err.strip().splitlines()[-1]
    finished = sorted(p.stem for p in results_dir.glob("*.json"))
    assert 1 <= len(finished) < 4
    for key in finished:  # every finished run is whole: its folder was published before its result
        assert (tmp_path / "suite" / "runs" / key / "summary.json").is_file()
    time.sleep(3.0)
    assert not task_pids(), "a cancelled task is still training"

    resumed = ganlint("run", "--resume", "suite", "--quiet", "--no-report", cwd=tmp_path)
    assert resumed.returncode in (0, 1), resumed.stderr
    pd.testing.assert_frame_equal(results(tmp_path / "suite"), results(local_suite))


def test_without_ray_the_executor_is_one_line_and_exit_2(tmp_path: Path) -> None:
    fake = tmp_path / "noray" / "ray"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError(\"No module named 'ray'\")\n")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("RAY_")}, "PYTHONPATH": str(tmp_path / "noray")}
    p = subprocess.run([sys.executable, "-m", "ganlint", "run", str(SCENARIOS[0]), "--executor", "ray", "--out", "suite"],
                       capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'ganlint[ray]'" in lines[0], p.stderr
    assert not (tmp_path / "suite").exists()


@pytest.mark.parametrize("args, message", [
    (["--retries", "1"], "--retries only apply with --executor ray"),
    (["--executor", "ray", "--gpus-per-run", "0.5", "--device", "cpu"], "--gpus-per-run reserves GPUs"),
    (["--executor", "ray", "--device", "cuda"], "needs --gpus-per-run above 0"),
    (["--executor", "ray", "--cpus-per-run", "0"], "--cpus-per-run must be above 0"),
    (["--executor", "ray", "--gpus-per-run", "1.5"], "--gpus-per-run above 1 must be a whole number"),
    (["--executor", "ray", "--address", "127.0.0.1:1", "--jobs", "2"], "--jobs sets the CPUs of a local Ray instance"),
])
def test_executor_options_are_checked_before_anything_runs(tmp_path: Path, args: list[str], message: str) -> None:
    p = ganlint("run", SCENARIOS[0], "--out", "suite", *args, cwd=tmp_path)
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(lines) == 1 and message in lines[0], p.stderr
    assert not (tmp_path / "suite").exists()


def test_an_unreachable_cluster_is_one_line(tmp_path: Path) -> None:
    from ray_cluster import free_port, ray_cli

    if not ray_cli().is_file():
        pytest.skip("ray is not installed")
    p = ganlint("run", SCENARIOS[0], "--out", "suite", "--executor", "ray", "--address", f"127.0.0.1:{free_port()}",
                cwd=tmp_path, timeout=300)
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(lines) == 1, p.stderr
    assert "cannot reach the Ray cluster at 127.0.0.1:" in lines[0] and "refused" in lines[0], p.stderr
    assert not (tmp_path / "suite").exists()


@pytest.mark.slow
def test_a_local_ray_instance_matches_and_leaves_the_home_folder_alone(local_suite, tmp_path: Path) -> None:
    """Without --address (and no RAY_ADDRESS) the suite starts its own Ray instance and ends it. Ray would
    write a token to ~/.ray/auth_token for it, which breaks the user's later `ray start` clusters."""
    from ray_cluster import ray_cli

    if not ray_cli().is_file():
        pytest.skip("ray is not installed")
    home = tmp_path / "home"
    home.mkdir()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("RAY_")}, "HOME": str(home)}
    p = ganlint("run", SCENARIOS[1], "--out", "suite", "--no-report", "--executor", "ray", "--jobs", "1",
                cwd=tmp_path, env=env)
    no_traceback(p.stderr)
    assert p.returncode in (0, 1), p.stderr
    assert "local instance, 1 node(s), 1 CPU(s)" in p.stderr
    want = results(local_suite)
    pd.testing.assert_frame_equal(results(tmp_path / "suite"),
                                  want[(want["scenario"] == "exploding_critic") & (want["seed"] == 0)].reset_index(drop=True))
    assert not (home / ".ray").exists(), sorted(p.name for p in home.iterdir())
    assert not task_pids()
