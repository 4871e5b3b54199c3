"""The scenario suite runner: train each scenario for each seed, diagnose it, compare with `expect`.

    ganlint run --suite quick --seeds 3        # every quick scenario, seeds 0, 1, 2

Each (scenario, seed) result is written atomically to OUT/results/<scenario>--seed<k>.json as soon as
it finishes, so the tables can always be rebuilt from what is on disk. The tables (CSV and parquet):
  results     one row per scenario and seed
  scenarios   per scenario: seeds that agree with the expectation, majority label, passed
  confusion   expected label (rows) vs found label (columns), counted over all runs
  labels      per-label precision and recall over all runs
A scenario passes when its expected label is found in a majority of its seeds.

Runs go to worker processes (`jobs`): small GANs on a CPU use one core well, so two one-thread
workers on two cores beat one two-thread process. Each worker trains with torch's global seed set from
the scenario's seed, so the results do not depend on `jobs`.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import pandas as pd

from ganlint.diagnostics.findings import LABELS
from ganlint.run import write_json

RESULTS_DIR = "results"
RESULT_COLUMNS = (
    "scenario", "seed", "dataset", "loss", "expected", "label", "confidence", "onset_step", "correct",
    "final_distance", "modes_covered", "final_d_real", "final_d_fake", "steps_per_s", "wall_s", "device", "run_dir",
)


@dataclass
class SuiteResult:
    out_dir: Path
    results: pd.DataFrame
    scenarios: pd.DataFrame
    confusion: pd.DataFrame
    labels: pd.DataFrame

    @property
    def passed(self) -> bool:
        return bool(len(self.scenarios)) and bool(self.scenarios["passed"].all())


def run_one(scenario: dict[str, Any], seed: int, device: str, out_dir: str, threads: int | None) -> dict[str, Any]:
    """Train and diagnose one scenario for one seed (in a worker process); returns the result row."""
    import torch

    import ganlint

    if threads:
        torch.set_num_threads(threads)
    run_dir = Path(out_dir) / "runs" / f"{scenario['name']}--seed{seed}"
    t0 = time.perf_counter()
    run = ganlint.train({**scenario["train"], "seed": seed, "device": device, "out": str(run_dir)}, overwrite=True)
    diag = ganlint.diagnose(run.out_dir)
    wall = time.perf_counter() - t0
    write_json(run.out_dir / "diagnosis.json", diag.to_dict())
    fin, ev = run.summary.get("final", {}), run.summary.get("final_eval", {})
    row = {
        "scenario": scenario["name"],
        "seed": seed,
        "dataset": run.config.dataset,
        "loss": run.config.loss,
        "expected": scenario["expect"],
        "label": diag.label,
        "confidence": round(diag.confidence, 3),
        "onset_step": diag.onset_step,
        "correct": diag.label == scenario["expect"],
        "final_distance": ev.get("distance"),
        "modes_covered": ev.get("modes_covered"),
        "final_d_real": fin.get("d_real"),
        "final_d_fake": fin.get("d_fake"),
        "steps_per_s": run.summary.get("steps_per_s"),
        "wall_s": round(wall, 2),
        "device": run.summary.get("device"),
        "run_dir": str(run.out_dir),
    }
    write_json(Path(out_dir) / RESULTS_DIR / f"{scenario['name']}--seed{seed}.json", row)
    return row


def run_suite(scenarios: Sequence, seeds: int | Sequence[int] = 1, device: str = "auto", out_dir: str | Path = "reports/suite",
              jobs: int | None = None, progress: bool = True) -> SuiteResult:
    """Run every scenario for every seed and build the result tables (also written under out_dir)."""
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    out = Path(out_dir)
    (out / RESULTS_DIR).mkdir(parents=True, exist_ok=True)
    tasks = [({"name": s.name, "expect": s.expect, "train": dict(s.train)}, seed) for s in scenarios for seed in seed_list]
    if jobs is None:
        jobs = 1 if device.startswith("cuda") else max(1, min(os.cpu_count() or 1, len(tasks)))
    threads = 1 if jobs > 1 else None
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()

    def report(row: dict[str, Any]) -> None:
        rows.append(row)
        if progress:
            mark = "ok" if row["correct"] else f"MISMATCH (expected {row['expected']})"
            elapsed = time.perf_counter() - t0
            eta = elapsed / len(rows) * (len(tasks) - len(rows))
            print(f"ganlint: [{len(rows)}/{len(tasks)}] {row['scenario']} seed {row['seed']}: {row['label']} {mark} "
                  f"({row['wall_s']:.1f}s; ETA {eta:.0f}s)", file=sys.stderr, flush=True)

    if jobs == 1:
        for sc, seed in tasks:
            report(run_one(sc, seed, device, str(out), threads))
    else:
        # spawn, not fork: forking a process that has touched torch's thread pools can deadlock.
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(run_one, sc, seed, device, str(out), threads) for sc, seed in tasks]
            for fut in as_completed(futures):
                report(fut.result())
    result = tables(pd.DataFrame(rows))
    write_tables(result, out)
    return result


def tables(results: pd.DataFrame) -> SuiteResult:
    """The suite tables from the per-run rows."""
    results = results.reindex(columns=list(RESULT_COLUMNS)).sort_values(["scenario", "seed"]).reset_index(drop=True)
    per = []
    for name, g in results.groupby("scenario", sort=True):
        counts = g["label"].value_counts()
        agree = int(g["correct"].sum())
        per.append({
            "scenario": name,
            "expected": g["expected"].iloc[0],
            "majority_label": counts.index[0],
            "agree": agree,
            "seeds": len(g),
            "agreement": agree / len(g),
            "passed": agree * 2 > len(g),
            "labels": ", ".join(f"{k} x{v}" for k, v in counts.items()),
        })
    scen = pd.DataFrame(per, columns=["scenario", "expected", "majority_label", "agree", "seeds", "agreement", "passed", "labels"])
    used = [x for x in LABELS if x in set(results["expected"]) | set(results["label"])]
    confusion = pd.crosstab(pd.Categorical(results["expected"], used), pd.Categorical(results["label"], used),
                            rownames=["expected"], colnames=["found"], dropna=False)
    lab = []
    for x in used:
        tp = int(((results["expected"] == x) & (results["label"] == x)).sum())
        found, truth = int((results["label"] == x).sum()), int((results["expected"] == x).sum())
        lab.append({"label": x, "expected": truth, "found": found, "correct": tp,
                    "precision": tp / found if found else float("nan"), "recall": tp / truth if truth else float("nan")})
    labels = pd.DataFrame(lab, columns=["label", "expected", "found", "correct", "precision", "recall"])
    return SuiteResult(Path("."), results, scen, confusion, labels)


def write_tables(result: SuiteResult, out: Path) -> None:
    result.out_dir = out
    for name, df in (("results", result.results), ("scenarios", result.scenarios), ("labels", result.labels)):
        df.to_csv(out / f"{name}.csv", index=False)
        df.to_parquet(out / f"{name}.parquet", index=False)
    result.confusion.to_csv(out / "confusion.csv")


def format_suite(result: SuiteResult) -> str:
    """The text summary: scenarios expected vs found, then per-label precision and recall."""
    lines = []
    w = max([len(s) for s in result.scenarios["scenario"]] + [8])
    lines.append(f"{'scenario':<{w}}  {'expected':<18}  {'found (per seed)':<40}  result")
    for _, r in result.scenarios.iterrows():
        lines.append(f"{r['scenario']:<{w}}  {r['expected']:<18}  {r['labels']:<40}  "
                     f"{'pass' if r['passed'] else 'FAIL'} ({r['agree']}/{r['seeds']})")
    lines.append("")
    lines.append(f"{'label':<18}  {'precision':>9}  {'recall':>6}  {'expected':>8}  {'found':>5}")
    for _, r in result.labels.iterrows():
        p = "-" if pd.isna(r["precision"]) else f"{r['precision']:.2f}"
        rc = "-" if pd.isna(r["recall"]) else f"{r['recall']:.2f}"
        lines.append(f"{r['label']:<18}  {p:>9}  {rc:>6}  {r['expected']:>8}  {r['found']:>5}")
    n, ok = len(result.results), int(result.results["correct"].sum())
    passed = int(result.scenarios["passed"].sum())
    lines.append("")
    lines.append(f"{ok}/{n} runs gave the expected label; {passed}/{len(result.scenarios)} scenarios pass")
    return "\n".join(lines)
