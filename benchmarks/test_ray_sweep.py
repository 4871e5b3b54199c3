"""Sweep throughput of `ganlint run --executor ray` on a loopback Ray cluster, and its per-run overhead.

    pytest benchmarks/test_ray_sweep.py --benchmark-enable -s

One sweep (a quick scenario over N seeds, no report) is run end to end as a user runs it (`ganlint run`
in a fresh process, start-up and connection included):
- on the local executor with two one-thread workers (--jobs 2);
- on a one-node Ray cluster (the head, 1 CPU);
- on a two-node Ray cluster (the head and a worker node, 1 CPU each).
Figures: runs per minute on each; the two-node/one-node throughput ratio (ideal 2 on two free cores,
less the fixed costs: the driver's start-up and each node's first worker importing torch); Ray's per-run
overhead against the local executor at the same parallelism, (two-node wall - local wall) / N: what a
task costs beyond its training (scheduling, shipping the run folder back and publishing it). The smoke
run (benchmarks disabled) uses 2 seeds and one round; in full, 8 seeds, the median of 2.
No time is asserted; the labels of the three sweeps must agree (same seeds, same results).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from ray_cluster import ClusterUnavailable, LoopbackCluster

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "low_learning_rate.toml"


def _sweep(out: Path, seeds: int, *extra: str, env: dict[str, str] | None = None) -> tuple[float, pd.DataFrame]:
    env = env or {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "ganlint", "run", str(SCENARIO), "--seeds", str(seeds), "--out", str(out),
                        "--no-report", "--quiet", *extra], capture_output=True, text=True, env=env, timeout=1800)
    wall = time.perf_counter() - t
    assert p.returncode in (0, 1), p.stderr
    res = pd.read_csv(out / "results.csv")
    return wall, res[["scenario", "seed", "label", "final_distance"]]


def test_ray_sweep_throughput_and_overhead(benchmark, tmp_path) -> None:
    seeds = 2 if benchmark.disabled else 8
    n = 1 if benchmark.disabled else 2
    walls: dict[str, list[float]] = {"local": [], "ray 1 node": [], "ray 2 nodes": []}
    tables: dict[str, pd.DataFrame] = {}
    k = 0

    def run(name: str, *extra: str, env=None) -> None:
        nonlocal k
        k += 1
        wall, table = _sweep(tmp_path / f"s{k}", seeds, *extra, env=env)
        walls[name].append(wall)
        tables[name] = table

    for _ in range(n):
        run("local", "--jobs", "2")
    for name, workers in (("ray 1 node", 0), ("ray 2 nodes", 1)):
        try:
            cluster = LoopbackCluster(workers=workers, cpus=1).start()
        except ClusterUnavailable as e:
            pytest.skip(f"Ray cannot start here: {e}")
        try:
            for _ in range(n):
                run(name, "--executor", "ray", "--address", cluster.address, env=cluster.client_env())
        finally:
            cluster.stop()
    for name in walls:
        pd.testing.assert_frame_equal(tables[name], tables["local"])
    median = {name: statistics.median(w) for name, w in walls.items()}
    per_min = {name: seeds / s * 60 for name, s in median.items()}
    scaling = per_min["ray 2 nodes"] / per_min["ray 1 node"]
    overhead = (median["ray 2 nodes"] - median["local"]) / seeds
    benchmark.extra_info.update({f"{name.replace(' ', '_')}_runs_per_min": round(v, 2) for name, v in per_min.items()})
    benchmark.extra_info.update({"two_to_one_node_ratio": round(scaling, 2), "ray_overhead_s_per_run": round(overhead, 2),
                                 "runs": seeds})
    print(f"\nSweep of {seeds} runs ({SCENARIO.stem}), end to end, median of {n}:\n"
          + "\n".join(f"  {name:<12} {median[name]:6.1f} s  {per_min[name]:5.1f} runs/min" for name in walls)
          + f"\n  two nodes / one node: {scaling:.2f}x throughput; Ray overhead {overhead:+.1f} s per run vs local")
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
