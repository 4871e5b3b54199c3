"""The scenario suite runner: train each scenario for each seed, diagnose it, compare with `expect`.

    ganlint run --suite quick --seeds 3        # every quick scenario, seeds 0, 1, 2
    ganlint run --resume reports/suite-...     # finish a suite that was interrupted

The suite's folder (its layout and how it is read back: ganlint.suite.folder; see reports/README.md):
  suite.json                       what was asked: the scenarios (in full), seeds, device; written first
  runs/<scenario>--seed<k>/        each run's folder, with its diagnosis, findings and report
  results/<scenario>--seed<k>.json each run's result row, written atomically when the run is finished
  results, scenarios, confusion, labels (.csv and .parquet)   the tables (ganlint.suite.scoring)
  report.html, report.md, plots/   the report (ganlint.report.suite_report)

Why this layout: a result file is written last, atomically, so it exists only for a finished run. A kill
at any moment loses at most the runs in flight, and `--resume` runs exactly the (scenario, seed) pairs
that have no result file, from the scenario definitions saved in suite.json (not the files on disk, which
may have changed). The tables are rebuilt from all result files, sorted, so a resumed suite gives the
same tables as an uninterrupted one (apart from the clock columns, wall_s and steps_per_s).

With `batched` (`ganlint run --batched`), the seeds of a scenario that ganlint.training.batched supports train
together as one vmapped model: each copy still gets its own run folder, diagnosis and result file, but
its random numbers differ from a sequential run's (same distribution), so suite.json records the choice
and --resume keeps it.

Runs go to worker processes (`jobs`, ganlint.suite.workers): small GANs on a CPU use one core well, so two
one-thread workers on two cores beat one two-thread process. Each worker trains with torch's global seed set
from the scenario's seed, so the results do not depend on `jobs`. Workers die with the runner: a `kill -9`
of `ganlint run` leaves no process behind, and `--resume` finishes the suite.

With `executor` a ganlint.suite.ray_executor.RayExecutor (`ganlint run --executor ray`), the same calls
run as Ray tasks on a cluster: each task trains in a temporary folder on its node and returns its run
folder, which is published here (folder.publish_run) before its result row, so the suite folder is the same.
A run that fails for good there becomes an error row (errors/) instead of stopping the suite.

The runner calls the report; the report reads what the runner wrote (the suite folder) and never the runner.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ganlint.errors import ConfigError, DataError
from ganlint.files import write_json
from ganlint.report.tables import write_suite_tables
from ganlint.suite.folder import (
    RESULTS_DIR,
    RUNS_DIR,
    SPEC_FILE,
    clear_error,
    failed_runs,
    finished_results,
    make_spec,
    publish_run,
    read_spec,
    remove_staging,
    run_folder,
    run_key,
    suite_subdir,
    write_error,
)
from ganlint.suite.scenarios import OBSERVE
from ganlint.suite.scoring import SuiteTables, suite_tables
from ganlint.suite.workers import Starts, announced, stop_workers, worker_pool

if TYPE_CHECKING:
    from ganlint.suite.ray_executor import RayExecutor

log = logging.getLogger(__name__)

# Seconds between two looks at which runs the workers have started: how late a "started" line may come.
STARTS_POLL_S = 0.25


def run_one(scenario: dict[str, Any], seed: int, device: str, out_dir: str, threads: int | None,
            report: bool = True) -> dict[str, Any]:
    """Train, diagnose and (optionally) report one scenario for one seed, in a worker process; then
    write its result file (last, atomically) and return the row."""
    import torch

    import ganlint

    if threads:
        torch.set_num_threads(threads)
    run_dir = run_folder(out_dir, scenario["name"], seed)  # checked again here, right before the overwrite
    t0 = time.perf_counter()
    config = {**scenario["train"], "seed": seed, "device": device, "out": str(run_dir)}
    run = ganlint.resume(run_dir) if _resumable(run_dir, config) else ganlint.train(config, overwrite=True)
    return _finish(scenario, run, out_dir, time.perf_counter() - t0, report)


def _resumable(run_dir: Path, config: dict[str, Any]) -> bool:
    """Whether a run folder holds an interrupted run of exactly this config (a suite interrupted while it
    trained): then --resume continues it from its checkpoint, with the same result as training it anew
    (ganlint.training.checkpoint), instead of starting over."""
    from ganlint.errors import GanlintError
    from ganlint.jsonfile import read_json_object
    from ganlint.training.checkpoint import CHECKPOINT_FILE
    from ganlint.training.config import TrainConfig
    from ganlint.training.run import CONFIG_FILE, SUMMARY_FILE

    if not (run_dir / CHECKPOINT_FILE).is_file() or not (run_dir / CONFIG_FILE).is_file():
        return False
    try:
        if (run_dir / SUMMARY_FILE).is_file():
            reason = read_json_object(run_dir / SUMMARY_FILE).get("stop_reason", "")
            if not str(reason).startswith("interrupted"):
                return False
        saved = read_json_object(run_dir / CONFIG_FILE).get("config")
        wanted = TrainConfig.from_dict(config).resolve().to_dict()
    except GanlintError:
        return False
    return isinstance(saved, dict) and {**saved, "out": None} == {**wanted, "out": None}


def run_group(scenario: dict[str, Any], seeds: list[int], device: str, out_dir: str, threads: int | None,
              report: bool = True) -> list[dict[str, Any]]:
    """Train one scenario's seeds together as one batched model (ganlint.training.batched), then diagnose and report
    each copy as run_one does; one result file per seed. Each row's wall_s is its share of the batch's."""
    import torch

    from ganlint.training.batched import train_batched

    if threads:
        torch.set_num_threads(threads)
    t0 = time.perf_counter()
    dirs = [run_folder(out_dir, scenario["name"], s) for s in seeds]
    runs = train_batched({**scenario["train"], "device": device}, seeds, out_dirs=dirs, overwrite=True)
    share = (time.perf_counter() - t0) / len(runs)
    return [_finish(scenario, run, out_dir, share, report) for run in runs]


def _finish(scenario: dict[str, Any], run, out_dir: str, train_s: float, report: bool) -> dict[str, Any]:
    """Diagnose (and report) a trained run, then write its result file (last, atomically); return the row.
    Its wall_s is `train_s` plus the diagnosis."""
    from ganlint.report.run_report import write_diagnosis

    seed = run.config.seed
    key = run_key(scenario["name"], seed)
    rel_dir = Path(RUNS_DIR) / key
    t0 = time.perf_counter()
    diag = diagnose_as_observed(run.out_dir, scenario.get("observe", "all"))
    wall = train_s + time.perf_counter() - t0
    write_diagnosis(run.out_dir, diag, report=report)
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
        "final_coverage": ev.get("coverage"),
        "final_diversity": ev.get("diversity"),
        "final_d_real": fin.get("d_real"),
        "final_d_fake": fin.get("d_fake"),
        "steps": run.summary.get("steps_completed"),
        "steps_per_s": run.summary.get("steps_per_s"),
        "wall_s": round(wall, 2),
        "device": run.summary.get("device"),
        "run_dir": rel_dir.as_posix(),
    }
    write_json(Path(out_dir) / RESULTS_DIR / f"{key}.json", row)
    return row


def diagnose_as_observed(run_dir: str | os.PathLike, observe: str):
    """The run's diagnosis from what the scenario lets it see (ganlint.suite.scenarios.OBSERVE): all of its
    telemetry, or only a loss-only log's columns (with how D's outputs read, as a user would pass it)."""
    import ganlint
    from ganlint.diagnostics import load_telemetry

    columns = OBSERVE[observe]
    if columns is None:
        return ganlint.diagnose(run_dir)
    df, meta = load_telemetry(run_dir)
    return ganlint.diagnose(df[[c for c in columns if c in df.columns]], d_output=meta.get("d_output"))


def run_suite(scenarios: Sequence, seeds: int | Sequence[int] = 1, device: str = "auto", out_dir: str | Path = "reports/suite",
              jobs: int | None = None, progress: bool = True, report: bool = True, suite: str | None = None,
              batched: bool = False, fast: bool = False, executor: str | RayExecutor = "local",
              loggers: Sequence[Any] = ()) -> SuiteTables:
    """Run every scenario for every seed, write the tables (and the report), and return the tables.

    `fast` turns on the trainer's fast path (ganlint.training.fast) in every run that trains sequentially.
    `executor`: "local" (worker processes here), "ray" or a ganlint.suite.ray_executor.RayExecutor (Ray
    tasks on a cluster); how the runs are placed, not what they compute.
    `loggers`: ganlint.integrations.sinks Targets or their spellings ("tensorboard:DIR", "wandb", "mlflow"):
    each finished run is sent there from this process, as one logger run named after it (see _send_run).

    Raises:
        DataError: out_dir already holds a suite (resume it with `resume_suite`, or choose another folder).
        ConfigError: a bad device or executor option, Ray missing or its cluster unreachable.
    """
    out = Path(out_dir)
    if (out / SPEC_FILE).exists():
        raise DataError(f"{str(out)!r} already holds a suite; resume it with --resume {out}, or choose another folder")
    ray = _executor(executor, device)  # before any folder or training
    out.mkdir(parents=True, exist_ok=True)
    spec = make_spec(scenarios, seeds, device, suite, batched, fast)
    write_json(out / SPEC_FILE, spec)
    return _execute(spec, out, jobs, progress, report, ray=ray, loggers=loggers)


def resume_suite(out_dir: str | Path, jobs: int | None = None, progress: bool = True, report: bool = True,
                 executor: str | RayExecutor = "local", loggers: Sequence[Any] = ()) -> SuiteTables:
    """Run the (scenario, seed) pairs of a suite folder that have no result yet (error rows included),
    with either executor whichever started the suite, then rebuild its tables."""
    out = Path(out_dir)
    spec = read_spec(out)
    ray = _executor(executor, spec["device"])  # the machine may have changed since (no CUDA here any more)
    return _execute(spec, out, jobs, progress, report, resuming=True, ray=ray, loggers=loggers)


def _executor(executor: str | RayExecutor, device: str) -> RayExecutor | None:
    """The Ray executor, checked (and Ray importable), or None for the local one after checking that the
    device exists here. On Ray the device is the nodes' business: only its name is checked here."""
    from ganlint.suite.ray_executor import RayExecutor, import_ray, reachable
    from ganlint.training.config import valid_device_name

    if executor == "local":
        from ganlint.training.device import resolve_device

        resolve_device(device)  # a bad name, or CUDA asked for where there is none
        return None
    if executor == "ray":
        executor = RayExecutor()
    if not isinstance(executor, RayExecutor):
        raise ConfigError(f"executor must be 'local', 'ray' or a RayExecutor, got {executor!r}")
    if not valid_device_name(device):
        raise ConfigError(f"device must be auto, cpu, cuda or cuda:N, got {device!r}")
    executor.check(device)
    import_ray()
    reachable(executor)
    return executor


def _execute(spec: dict[str, Any], out: Path, jobs: int | None, progress: bool, report: bool,
             resuming: bool = False, ray: RayExecutor | None = None, loggers: Sequence[Any] = ()) -> SuiteTables:
    device = spec["device"]
    all_tasks = [(sc, seed) for sc in spec["scenarios"] for seed in spec["seeds"]]
    # Before any training: every run folder is out/runs/<name>--seed<k> and no link leads out of the suite.
    suite_subdir(out, RESULTS_DIR)
    for sc, seed in all_tasks:
        run_folder(out, sc["name"], seed)
    remove_staging(out)  # what a killed publish left
    done = finished_results(out)
    wanted = {run_key(sc["name"], seed) for sc, seed in all_tasks}
    errors = {k: row for k, row in failed_runs(out).items() if k in wanted and k not in done}
    tasks = [(sc, seed) for sc, seed in all_tasks if run_key(sc["name"], seed) not in done]
    if resuming and progress:
        log.info("resuming %s: %d of %d runs done, %d to go", out, len(all_tasks) - len(tasks), len(all_tasks), len(tasks))
    if ray is not None and jobs is not None and ray.local_cpus is None:
        ray = replace(ray, local_cpus=jobs)  # the CPUs of a local Ray instance, as many as local workers
    if jobs is None:
        jobs = 1 if device.startswith("cuda") else max(1, min(os.cpu_count() or 1, len(tasks) or 1))
    threads = 1 if jobs > 1 else None
    t0 = time.perf_counter()
    new = 0

    def note(row: dict[str, Any]) -> None:
        nonlocal new
        new += 1
        done[run_key(row["scenario"], row["seed"])] = row
        if errors.pop(run_key(row["scenario"], row["seed"]), None) is not None:
            clear_error(out, row["scenario"], row["seed"])  # an error row of an earlier attempt: finished now
        if loggers:
            _send_run(loggers, out, row)
        if progress:
            mark = "ok" if row["correct"] else f"MISMATCH (expected {row['expected']})"
            elapsed = time.perf_counter() - t0
            rate = new / elapsed * 60
            eta = elapsed / new * (len(tasks) - new)
            log.info("[%d/%d] %s seed %s: %s %s (%.1fs) | %.1f runs/min | ETA %s", len(done), len(all_tasks),
                     row["scenario"], row["seed"], row["label"], mark, row["wall_s"], rate, _clock(eta))

    begun = len(all_tasks) - len(tasks)

    def started(name: str, seeds: Any) -> None:  # a run began: numbered as the finished lines, among all runs
        nonlocal begun
        for seed in seeds if isinstance(seeds, list) else [seeds]:
            begun += 1
            if progress:
                log.info("[%d/%d] started %s seed %s", begun, len(all_tasks), name, seed)

    calls = _calls(tasks, spec.get("batched", False))
    if calls and ray is not None:
        from ganlint.suite.ray_executor import run_calls

        def publish(row: dict[str, Any], files: dict[str, bytes]) -> None:
            publish_run(out, row["scenario"], row["seed"], files)
            write_json(out / RESULTS_DIR / f"{run_key(row['scenario'], row['seed'])}.json", row)  # last: see above
            note(row)

        def fail(sc: dict[str, Any], seed: int, error: str, attempts: int) -> None:
            row = {"scenario": sc["name"], "seed": seed, "expected": sc["expect"], "error": error, "attempts": attempts}
            write_error(out, row)
            errors[run_key(sc["name"], seed)] = row
            log.warning("%s seed %s failed after %d attempt(s): %s", sc["name"], seed, attempts, error)

        run_calls(ray, calls, device, report, publish, fail, progress)
    elif calls and jobs == 1:
        for kind, sc, seed in calls:
            started(sc["name"], seed)
            for row in _rows(_LOCAL[kind](sc, seed, device, str(out), threads, report)):
                note(row)
    elif calls:
        starts = Starts()  # each worker says which call it picks up, as it picks it up
        with worker_pool(jobs, starts) as pool:
            futures = [pool.submit(announced, (sc["name"], seed), _LOCAL[kind], sc, seed, device, str(out), threads,
                                   report) for kind, sc, seed in calls]
            tags = {fut: (sc["name"], seed) for fut, (_, sc, seed) in zip(futures, calls, strict=True)}
            order = {fut: i for i, fut in enumerate(futures)}
            try:
                pending = set(futures)
                while pending:
                    ended, pending = wait(pending, timeout=STARTS_POLL_S, return_when=FIRST_COMPLETED)
                    # A worker takes its next run once it has finished one, so the starts read in the same poll
                    # as some results are mostly of the runs after them: the ended runs' own starts (always
                    # queued before their results) first, then the results, then the other starts.
                    taken, ending = starts.taken(), [tags[f] for f in ended]
                    for name, seeds in (t for t in taken if t in ending):
                        started(name, seeds)
                    for fut in sorted(ended, key=order.__getitem__):
                        for row in _rows(fut.result()):
                            note(row)
                    for name, seeds in (t for t in taken if t not in ending):
                        started(name, seeds)
            except BaseException:
                for f in futures:  # do not start more runs after an interrupt or a crash
                    f.cancel()
                stop_workers(pool)
                raise
        starts.close()
    rows = [done[k] for k in sorted(done) if k in wanted]
    if not rows and errors:
        first = errors[min(errors)]
        raise DataError(f"every run of the suite failed; the first, {first['scenario']} seed {first['seed']}: "
                        f"{first['error']} (see {out / 'errors'}; run them again with --resume {out})")
    result = suite_tables(pd.DataFrame(rows), list(errors.values()))
    write_suite_tables(result, out)
    result.out_dir = out
    if report:
        from ganlint.report.suite_report import render_suite

        render_suite(out, tables=result)
    return result


def _send_run(targets: Sequence[Any], out: Path, row: dict[str, Any]) -> None:
    """A finished run to the loggers, from the driver (its telemetry, pictures and diagnosis as its run folder
    holds them), so that workers and Ray nodes need neither the logger libraries nor the loggers' folders or
    credentials. Named <scenario>--seed<k>, grouped under the suite folder's name. A logger that fails costs
    a warning, never the suite."""
    from ganlint.diagnostics.findings import Diagnosis
    from ganlint.integrations.sinks import Loggers, publish_run_folder
    from ganlint.jsonfile import read_json_object
    from ganlint.report.run_report import DIAGNOSIS_FILE

    run_dir = out / row["run_dir"]
    try:
        diag_file = run_dir / DIAGNOSIS_FILE
        diag = Diagnosis.from_dict(read_json_object(diag_file)) if diag_file.is_file() else None
        config = {k: row[k] for k in ("scenario", "seed", "expected", "dataset", "loss")}
        sinks = Loggers.open(targets, run_name=run_key(row["scenario"], row["seed"]), config=config, group=out.name)
        try:
            publish_run_folder(sinks, run_dir, diag)
        finally:
            sinks.close()
    except Exception as e:
        log.warning("%s seed %s: not sent to the loggers: %s: %s", row["scenario"], row["seed"], type(e).__name__, e)


def _calls(tasks: list[tuple[dict[str, Any], int]], batched: bool) -> list[tuple[str, dict[str, Any], Any]]:
    """The worker calls, by kind (_LOCAL): one run_one per (scenario, seed), or with `batched` one run_group
    per scenario whose config ganlint.training.batched supports (its seeds still to run, two or more),
    run_one for the others."""
    if not batched:
        return [("one", sc, seed) for sc, seed in tasks]
    from ganlint.training.batched import supported

    by_name: dict[str, tuple[dict[str, Any], list[int]]] = {}
    for sc, seed in tasks:
        by_name.setdefault(sc["name"], (sc, []))[1].append(seed)
    calls: list[tuple[str, dict[str, Any], Any]] = []
    for sc, seeds in by_name.values():
        if len(seeds) > 1 and supported(sc["train"])[0]:
            calls.append(("group", sc, seeds))
        else:
            calls.extend(("one", sc, seed) for seed in seeds)
    return calls


# What each kind of call runs (a Ray task looks its kind up the same way, by name: ray_executor.train_task).
_LOCAL = {"one": run_one, "group": run_group}


def _rows(result: dict[str, Any] | list[dict[str, Any]]) -> list[dict[str, Any]]:
    return result if isinstance(result, list) else [result]


def _clock(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"
