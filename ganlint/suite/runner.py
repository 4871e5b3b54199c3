"""The scenario suite runner: train each scenario for each seed, diagnose it, compare with `expect`.

    ganlint run --suite quick --seeds 3        # every quick scenario, seeds 0, 1, 2
    ganlint run --resume reports/suite-...     # finish a suite that was interrupted

The suite's folder (see reports/README.md):
  suite.json                       what was asked: the scenarios (in full), seeds, device; written first
  runs/<scenario>--seed<k>/        each run's folder, with its diagnosis, findings and report
  results/<scenario>--seed<k>.json each run's result row, written atomically when the run is finished
  results, scenarios, confusion, labels (.csv and .parquet)   the tables (ganlint.report.tables)
  report.html, report.md, plots/   the report (ganlint.report)

Why this layout: a result file is written last, atomically, so it exists only for a finished run. A kill
at any moment loses at most the runs in flight, and `--resume` runs exactly the (scenario, seed) pairs
that have no result file, from the scenario definitions saved in suite.json (not the files on disk, which
may have changed). The tables are rebuilt from all result files, sorted, so a resumed suite gives the
same tables as an uninterrupted one (apart from the clock columns, wall_s and steps_per_s).

With `batched` (`ganlint run --batched`), the seeds of a scenario that ganlint.training.batched supports train
together as one vmapped model: each copy still gets its own run folder, diagnosis and result file, but
its random numbers differ from a sequential run's (same distribution), so suite.json records the choice
and --resume keeps it.

Runs go to worker processes (`jobs`): small GANs on a CPU use one core well, so two one-thread
workers on two cores beat one two-thread process. Each worker trains with torch's global seed set from
the scenario's seed, so the results do not depend on `jobs`. Workers die with the runner (see
`worker_pool`): a `kill -9` of `ganlint run` leaves no process behind, and `--resume` finishes the suite.

What is read back from a suite folder (suite.json, result rows) is validated as strictly as the command
line and the scenario files: scenario names follow the scenario files' rule, a row's run_dir must be a
folder in the suite's runs/, and nothing is ever written, trained into or overwritten outside the suite's
own runs/ and results/ folders (links there are refused, not followed). Each violation is a DataError
naming the file and the value.
"""

from __future__ import annotations

import contextlib
import json
import numbers
import os
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from ganlint.errors import ConfigError, DataError
from ganlint.files import write_json
from ganlint.report.tables import SuiteTables, suite_tables, write_suite_tables
from ganlint.suite.scenarios import NAME_PATTERN, OBSERVE, RUNNER_KEYS
from ganlint.training.config import MAX_SEED, TrainConfig
from ganlint.vocabulary import LABELS

SPEC_FILE = "suite.json"
RESULTS_DIR = "results"
RUNS_DIR = "runs"
SPEC_VERSION = 1

# Kept for callers of the earlier API: SuiteResult is the tables plus the folder.
SuiteResult = SuiteTables


def run_key(scenario: str, seed: int) -> str:
    return f"{scenario}--seed{seed}"


def _is_seed(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool) and 0 <= v <= MAX_SEED


def _suite_subdir(out: Path, name: str) -> Path:
    """out/name (runs/ or results/), refused when it is a link or resolves outside the suite folder: the
    runner writes there, and a link would carry its writes (and an overwrite's deletions) elsewhere."""
    d = out / name
    if d.is_symlink() or (d.exists() and d.resolve() != out.resolve() / name):
        raise DataError(f"{str(d)!r} is a link or lies outside the suite folder {str(out)!r}; refusing to write there")
    return d


def run_folder(out: str | os.PathLike, name: str, seed: int) -> Path:
    """The folder a scenario's seed trains into: always out/runs/<name>--seed<k>, checked to lie inside
    the suite folder before anything trains into (or overwrites) it.

    Raises:
        DataError: an invalid name or seed, or runs/ or the run folder (or a subfolder of it) is a link or
            resolves outside the suite folder.
    """
    out = Path(out)
    if not (isinstance(name, str) and NAME_PATTERN.fullmatch(name)) or not _is_seed(seed):
        raise DataError(f"invalid scenario name or seed for a run folder: {name!r}, {seed!r}")
    runs = _suite_subdir(out, RUNS_DIR)
    d = runs / run_key(name, int(seed))
    if d.is_symlink() or (d.exists() and d.resolve() != out.resolve() / RUNS_DIR / d.name):
        raise DataError(f"the run folder {str(d)!r} is a link or lies outside the suite folder; refusing to train into it")
    # An overwrite deletes the old run's files, samples/ included: a link in the folder would aim that elsewhere.
    links = sorted(c.name for c in d.iterdir() if c.is_symlink()) if d.is_dir() else []
    if links:
        raise DataError(f"the run folder {str(d)!r} holds link(s) {', '.join(links)}; refusing to overwrite it")
    return d


def result_run_dir(folder: str | os.PathLike, row: Mapping[str, Any], source: str | os.PathLike) -> Path:
    """The run folder a result row names, after checking the row's scenario, seed and run_dir: run_dir must
    be runs/<one folder> of the suite, not a link, and resolve inside the suite's runs/.

    Raises:
        DataError: naming `source` (the file the row came from) and the bad value.
    """
    name, seed, rel = row.get("scenario"), row.get("seed"), row.get("run_dir")
    if not (isinstance(name, str) and NAME_PATTERN.fullmatch(name)):
        raise DataError(f"{str(source)!r}: scenario must be lower-case letters, digits, '_' or '-', got {name!r}")
    if not _is_seed(seed):
        raise DataError(f"{str(source)!r}: seed must be an integer from 0 to {MAX_SEED}, got {seed!r}")
    parts = PurePosixPath(rel).parts if isinstance(rel, str) and "\\" not in rel else ()
    if len(parts) != 2 or parts[0] != RUNS_DIR or parts[1] in ("..", "."):
        raise DataError(f"{str(source)!r}: run_dir must be a folder in the suite's {RUNS_DIR}/, got {rel!r}")
    folder = Path(folder)
    d = folder / RUNS_DIR / parts[1]
    if (folder / RUNS_DIR).is_symlink() or d.is_symlink() or d.resolve() != folder.resolve() / RUNS_DIR / parts[1]:
        raise DataError(f"{str(source)!r}: run_dir {rel!r} is a link or lies outside the suite's {RUNS_DIR}/")
    return d


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
    from ganlint.report.tables import findings_table, write_table

    seed = run.config.seed
    key = run_key(scenario["name"], seed)
    rel_dir = Path(RUNS_DIR) / key
    t0 = time.perf_counter()
    diag = diagnose_as_observed(run.out_dir, scenario.get("observe", "all"))
    wall = train_s + time.perf_counter() - t0
    write_json(run.out_dir / "diagnosis.json", diag.to_dict())
    write_table(findings_table(diag), run.out_dir, "findings")
    if report:
        from ganlint.report.run_report import render_run

        render_run(run.out_dir, diagnosis=diag)
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


def make_spec(scenarios: Sequence, seeds: int | Sequence[int], device: str, suite: str | None = None,
              batched: bool = False, fast: bool = False) -> dict[str, Any]:
    """What a suite run is asked to do, in full (suite.json)."""
    from ganlint import __version__

    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    return {
        "version": SPEC_VERSION,
        "ganlint": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "suite": suite,
        "seeds": seed_list,
        "device": device,
        # Batched copies draw their data from per-copy generators: same distribution, other numbers than
        # sequential runs, so a resumed suite must keep the choice.
        "batched": batched,
        # How fast, not what: recorded in each scenario's config, so a resumed suite keeps it.
        "fast": fast,
        "scenarios": [{"name": s.name, "expect": s.expect, "why": s.why, "file": str(s.path), "observe": s.observe,
                       "train": {**s.train, **({"fast": True} if fast else {})}} for s in scenarios],
    }


def read_spec(out_dir: str | os.PathLike) -> dict[str, Any]:
    """The suite.json of a suite folder, validated like the command line and the scenario files it came
    from (see `check_spec`); DataError naming the file and what is wrong."""
    out = Path(out_dir)
    if not out.is_dir():
        raise DataError(f"{str(out)!r} is not a folder")
    path = out / SPEC_FILE
    if not path.is_file():
        raise DataError(f"{str(out)!r} is not a ganlint suite folder (no {SPEC_FILE})")
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{str(path)!r} is not a valid suite spec: {e}") from None
    check_spec(spec, path)
    return spec


def check_spec(spec: Any, path: str | os.PathLike) -> None:
    """Check a suite spec read back from disk: a hand-edited or crafted suite.json must not name run
    folders outside the suite, nor set what the runner sets (out, seed, device) in a scenario's train.

    Raises:
        DataError: naming `path` and the bad key or value.
    """
    def fail(msg: str) -> DataError:
        return DataError(f"{str(path)!r} is not a valid suite spec: {msg}")

    if not isinstance(spec, dict) or not {"scenarios", "seeds", "device"} <= set(spec):
        raise fail("needs scenarios, seeds and device")
    seeds, device, scenarios = spec["seeds"], spec["device"], spec["scenarios"]
    if not isinstance(seeds, list) or not seeds or not all(_is_seed(s) for s in seeds) or len(set(seeds)) != len(seeds):
        raise fail(f"seeds must be a non-empty list of distinct integers from 0 to {MAX_SEED}, got {seeds!r}")
    try:
        TrainConfig(device=device).resolve()  # the device rule of the command line
    except (ConfigError, TypeError) as e:
        raise fail(f"device: {e}") from None
    for key in ("batched", "fast"):
        if not isinstance(spec.get(key, False), bool):
            raise fail(f"{key} must be true or false, got {spec[key]!r}")
    if not isinstance(scenarios, list) or not scenarios:
        raise fail("scenarios must be a non-empty list")
    names: set[str] = set()
    for sc in scenarios:
        if not isinstance(sc, dict) or not {"name", "expect", "train"} <= set(sc):
            raise fail("each scenario needs name, expect and train")
        name, train = sc["name"], sc["train"]
        # The scenario files' rule: the name becomes part of a folder name, so no '/', '..' or absolute path.
        if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
            raise fail(f"scenario name must be lower-case letters, digits, '_' or '-', got {name!r}")
        if name in names:
            raise fail(f"scenario name {name!r} appears twice")
        names.add(name)
        if sc["expect"] not in LABELS:
            raise fail(f"scenario {name!r}: expect must be one of {', '.join(LABELS)}, got {sc['expect']!r}")
        for key in ("why", "file"):
            if not isinstance(sc.get(key, ""), str):
                raise fail(f"scenario {name!r}: {key} must be a string, got {sc[key]!r}")
        if sc.get("observe", "all") not in OBSERVE:
            raise fail(f"scenario {name!r}: observe must be one of {', '.join(OBSERVE)}, got {sc['observe']!r}"[:400])
        if not isinstance(train, dict):
            raise fail(f"scenario {name!r}: train must be an object of TrainConfig fields")
        reserved = sorted(set(train) & set(RUNNER_KEYS))
        if reserved:
            raise fail(f"scenario {name!r}: train must not set {', '.join(reserved)} "
                       f"(the runner sets {', '.join(RUNNER_KEYS)} for each run)")
        try:
            TrainConfig.from_dict(train).resolve()
        except ConfigError as e:
            raise fail(f"scenario {name!r}: train: {e}") from None
        except (TypeError, ValueError) as e:  # a value of the wrong type fails a comparison
            raise fail(f"scenario {name!r}: train: invalid value: {e}") from None


def finished_results(out_dir: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """The result rows on disk, by run key. A result file is only ever complete (atomic writes).

    A file that is not a result row (not JSON, no scenario or seed) is skipped with a warning, as before;
    a row whose scenario, seed or run_dir is unsafe (see `result_run_dir`) is a DataError, since only a
    hand-edited or crafted file can hold one and the report must not follow it.
    """
    rows = {}
    out = Path(out_dir)
    folder = out / RESULTS_DIR
    for f in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            row = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            row = None
        if not isinstance(row, dict) or not {"scenario", "seed"} <= set(row):
            print(f"ganlint: warning: ignoring unreadable result file {f}", file=sys.stderr)
            continue
        result_run_dir(out, row, f)
        rows[run_key(row["scenario"], row["seed"])] = row
    return rows


def run_suite(scenarios: Sequence, seeds: int | Sequence[int] = 1, device: str = "auto", out_dir: str | Path = "reports/suite",
              jobs: int | None = None, progress: bool = True, report: bool = True, suite: str | None = None,
              batched: bool = False, fast: bool = False) -> SuiteTables:
    """Run every scenario for every seed, write the tables (and the report), and return the tables.

    `fast` turns on the trainer's fast path (ganlint.training.fast) in every run that trains sequentially.

    Raises:
        DataError: out_dir already holds a suite (resume it with `resume_suite`, or choose another folder).
    """
    out = Path(out_dir)
    if (out / SPEC_FILE).exists():
        raise DataError(f"{str(out)!r} already holds a suite; resume it with --resume {out}, or choose another folder")
    out.mkdir(parents=True, exist_ok=True)
    spec = make_spec(scenarios, seeds, device, suite, batched, fast)
    write_json(out / SPEC_FILE, spec)
    return _execute(spec, out, jobs, progress, report)


def resume_suite(out_dir: str | Path, jobs: int | None = None, progress: bool = True, report: bool = True) -> SuiteTables:
    """Run the (scenario, seed) pairs of a suite folder that have no result yet, then rebuild its tables."""
    out = Path(out_dir)
    spec = read_spec(out)
    return _execute(spec, out, jobs, progress, report, resuming=True)


def _execute(spec: dict[str, Any], out: Path, jobs: int | None, progress: bool, report: bool,
             resuming: bool = False) -> SuiteTables:
    device = spec["device"]
    all_tasks = [(sc, seed) for sc in spec["scenarios"] for seed in spec["seeds"]]
    # Before any training: every run folder is out/runs/<name>--seed<k> and no link leads out of the suite.
    _suite_subdir(out, RESULTS_DIR)
    for sc, seed in all_tasks:
        run_folder(out, sc["name"], seed)
    done = finished_results(out)
    wanted = {run_key(sc["name"], seed) for sc, seed in all_tasks}
    tasks = [(sc, seed) for sc, seed in all_tasks if run_key(sc["name"], seed) not in done]
    if resuming and progress:
        print(f"ganlint: resuming {out}: {len(all_tasks) - len(tasks)} of {len(all_tasks)} runs done, {len(tasks)} to go",
              file=sys.stderr, flush=True)
    if jobs is None:
        jobs = 1 if device.startswith("cuda") else max(1, min(os.cpu_count() or 1, len(tasks) or 1))
    threads = 1 if jobs > 1 else None
    t0 = time.perf_counter()
    new = 0

    def note(row: dict[str, Any]) -> None:
        nonlocal new
        new += 1
        done[run_key(row["scenario"], row["seed"])] = row
        if progress:
            mark = "ok" if row["correct"] else f"MISMATCH (expected {row['expected']})"
            elapsed = time.perf_counter() - t0
            rate = new / elapsed * 60
            eta = elapsed / new * (len(tasks) - new)
            print(f"ganlint: [{len(done)}/{len(all_tasks)}] {row['scenario']} seed {row['seed']}: {row['label']} {mark} "
                  f"({row['wall_s']:.1f}s) | {rate:.1f} runs/min | ETA {_clock(eta)}", file=sys.stderr, flush=True)

    calls = _calls(tasks, spec.get("batched", False))
    if calls and jobs == 1:
        for fn, sc, seed in calls:
            for row in _rows(fn(sc, seed, device, str(out), threads, report)):
                note(row)
    elif calls:
        with worker_pool(jobs) as pool:
            futures = [pool.submit(fn, sc, seed, device, str(out), threads, report) for fn, sc, seed in calls]
            try:
                for fut in as_completed(futures):
                    for row in _rows(fut.result()):
                        note(row)
            except BaseException:
                for f in futures:  # do not start more runs after an interrupt or a crash
                    f.cancel()
                _stop_workers(pool)
                raise
    rows = [done[k] for k in sorted(done) if k in wanted]
    result = suite_tables(pd.DataFrame(rows))
    write_suite_tables(result, out)
    result.out_dir = out
    if report:
        from ganlint.report.suite_report import render_suite

        render_suite(out, tables=result)
    return result


def worker_pool(jobs: int) -> ProcessPoolExecutor:
    """A pool of `jobs` spawned worker processes that die with the process that made them.

    spawn, not fork: forking a process that has touched torch's thread pools can deadlock. Without
    `_die_with_parent`, a `kill -9` of the runner left its workers running: they finished the queued
    runs, then blocked forever on the dead parent's queue, about 1 GB each with torch loaded; and they
    kept multiprocessing's resource tracker alive, which only exits when every holder of its pipe is gone.
    """
    return ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn"), initializer=_die_with_parent,
                               initargs=(os.getpid(),))


# Seconds the workers get to save the runs they train after an interrupt (a checkpoint takes well under one).
WORKER_STOP_S = 60.0


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """After an interrupt or a crash of the runner: no queued run starts, each worker is asked to stop
    (SIGTERM: a training worker checkpoints its run and stops, so --resume continues it instead of
    starting over; one that is diagnosing ends), and any worker still alive after WORKER_STOP_S is killed."""
    import signal

    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            if p.pid and p.is_alive():
                os.kill(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + WORKER_STOP_S
    for p in procs:
        with contextlib.suppress(OSError, ValueError, AssertionError):
            p.join(max(0.0, deadline - time.monotonic()))
            if p.is_alive():
                p.kill()


def _die_with_parent(parent: int) -> None:
    """Worker initializer: end this process when `parent` ends.

    On Linux the kernel does it (prctl PR_SET_PDEATHSIG: SIGKILL when the parent dies). The signal is tied to
    the parent *thread* that started the worker; ProcessPoolExecutor starts spawn workers from the thread
    that calls submit() (its manager thread only replaces workers under max_tasks_per_child, not used here),
    the runner's main thread, which lives as long as the pool. Elsewhere, and as a
    fallback, a daemon thread polls the parent pid once a second: an orphan is re-parented (to init or a
    subreaper), so its getppid() changes.
    """
    import contextlib
    import ctypes
    import signal
    import threading

    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # no libc or no prctl: the thread below still works
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1: PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died while this worker was starting (before the prctl)
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="ganlint-parent-watch", daemon=True).start()


def _calls(tasks: list[tuple[dict[str, Any], int]], batched: bool) -> list[tuple[Any, dict[str, Any], Any]]:
    """The worker calls: one run_one per (scenario, seed), or with `batched` one run_group per scenario whose
    config ganlint.training.batched supports (its seeds still to run, two or more), run_one for the others."""
    if not batched:
        return [(run_one, sc, seed) for sc, seed in tasks]
    from ganlint.training.batched import supported

    by_name: dict[str, tuple[dict[str, Any], list[int]]] = {}
    for sc, seed in tasks:
        by_name.setdefault(sc["name"], (sc, []))[1].append(seed)
    calls: list[tuple[Any, dict[str, Any], Any]] = []
    for sc, seeds in by_name.values():
        if len(seeds) > 1 and supported(sc["train"])[0]:
            calls.append((run_group, sc, seeds))
        else:
            calls.extend((run_one, sc, seed) for seed in seeds)
    return calls


def _rows(result: dict[str, Any] | list[dict[str, Any]]) -> list[dict[str, Any]]:
    return result if isinstance(result, list) else [result]


def _clock(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def format_suite(result: SuiteTables) -> str:
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


def tables(rows: pd.DataFrame | list[dict]) -> SuiteTables:
    """The suite tables from result rows (see ganlint.report.tables.suite_tables)."""
    return suite_tables(rows)
