"""A suite's folder: its layout, what the runner asked for (suite.json), and reading it back safely.

    suite.json                       what was asked: the scenarios (in full), seeds, device; written first
    runs/<scenario>--seed<k>/        each run's folder, with its diagnosis, findings and report
    results/<scenario>--seed<k>.json each run's result row, written atomically when the run is finished
    errors/<scenario>--seed<k>.json  a run that failed for good (an executor gave up after its retries):
                                     an error row, until a later --resume finishes the run

The runner (ganlint.suite.runner) writes a suite folder; the report (ganlint.report.suite_report) and
`--resume` read it back. What is read back (suite.json, result rows) is validated as strictly as the
command line and the scenario files: scenario names follow the scenario files' rule, a row's run_dir must
be a folder in the suite's runs/, and nothing is ever written, trained into or overwritten outside the
suite's own runs/ and results/ folders (links there are refused, not followed). Each violation is a
DataError naming the file and the value.
"""

from __future__ import annotations

import json
import logging
import numbers
import os
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from ganlint.errors import ConfigError, DataError
from ganlint.suite.scenarios import NAME_PATTERN, OBSERVE, RUNNER_KEYS
from ganlint.training.config import MAX_SEED, TrainConfig
from ganlint.vocabulary import LABELS

log = logging.getLogger(__name__)

SPEC_FILE = "suite.json"
RESULTS_DIR = "results"
RUNS_DIR = "runs"
ERRORS_DIR = "errors"
# A run folder being published (publish_run) is first written under runs/ with this prefix: a name no
# scenario can have (NAME_PATTERN starts with a letter or digit), so no reader takes it for a run.
STAGING_PREFIX = ".incoming-"
SPEC_VERSION = 1


def run_key(scenario: str, seed: int) -> str:
    return f"{scenario}--seed{seed}"


def _is_seed(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool) and 0 <= v <= MAX_SEED


def suite_subdir(out: Path, name: str) -> Path:
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
    runs = suite_subdir(out, RUNS_DIR)
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


def make_spec(scenarios: Sequence, seeds: int | Sequence[int], device: str, suite: str | None = None,
              batched: bool = False, fast: bool = False) -> dict[str, Any]:
    """What a suite run is asked to do, in full (suite.json). `suite` is the suite's name when the scenarios
    were chosen by it (`ganlint run --suite quick`), None when they came from files given (each scenario's
    "file" names them, and the report lists those instead)."""
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
            log.warning("ignoring unreadable result file %s", f)
            continue
        result_run_dir(out, row, f)
        rows[run_key(row["scenario"], row["seed"])] = row
    return rows


def publish_run(out: str | os.PathLike, name: str, seed: int, files: Mapping[str, bytes]) -> Path:
    """Write a run folder trained elsewhere (an executor's worker on another machine) into the suite as
    out/runs/<name>--seed<k>, whole or not at all: the files go into a staging folder beside it, which then
    takes the run folder's place (an older folder there, from an interrupted run, is removed first). The
    result row is written after this, as for a run trained in place, so a kill at any moment leaves either
    no result or a complete run.

    Raises:
        DataError: an unsafe run folder (see `run_folder`) or a file name that is absolute, climbs out with
            '..' or is empty: a worker's answer is checked like anything else read from outside.
    """
    final = run_folder(out, name, seed)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{final.name}.", dir=final.parent))
    try:
        for rel, data in files.items():
            parts = PurePosixPath(rel).parts if isinstance(rel, str) and "\\" not in rel else ()
            if not parts or parts[0] == "/" or any(p in ("..", ".", "") for p in parts):
                raise DataError(f"refusing the file name {rel!r} returned for {final.name}")
            dest = staging.joinpath(*parts)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
        if final.exists():
            old = final.rename(final.parent / f"{STAGING_PREFIX}{final.name}.old-{os.getpid()}")
            shutil.rmtree(old)
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


def remove_staging(out: str | os.PathLike) -> None:
    """Remove what a killed publish_run left in out/runs/ (folders named STAGING_PREFIX..., never links)."""
    runs = Path(out) / RUNS_DIR
    for d in sorted(runs.glob(f"{STAGING_PREFIX}*")) if runs.is_dir() and not runs.is_symlink() else []:
        if d.is_dir() and not d.is_symlink():
            shutil.rmtree(d, ignore_errors=True)


def write_error(out: str | os.PathLike, row: Mapping[str, Any]) -> None:
    """Record a run that failed for good as an error row (errors/<key>.json, atomic): the suite's tables
    list it, its verdict fails, and --resume runs it again."""
    from ganlint.files import write_json

    folder = suite_subdir(Path(out), ERRORS_DIR)
    folder.mkdir(exist_ok=True)
    write_json(folder / f"{run_key(row['scenario'], row['seed'])}.json", dict(row))


def clear_error(out: str | os.PathLike, name: str, seed: int) -> None:
    """Forget a run's error row once the run has finished."""
    path = Path(out) / ERRORS_DIR / f"{run_key(name, seed)}.json"
    if path.is_file() and not path.is_symlink():
        path.unlink()


def failed_runs(out_dir: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """The error rows on disk, by run key (unreadable files skipped with a warning, as result files are)."""
    rows = {}
    folder = Path(out_dir) / ERRORS_DIR
    for f in sorted(folder.glob("*.json")) if folder.is_dir() and not folder.is_symlink() else []:
        try:
            row = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            row = None
        if not isinstance(row, dict) or not _is_seed(row.get("seed")) or not isinstance(row.get("scenario"), str):
            log.warning("ignoring unreadable error file %s", f)
            continue
        rows[run_key(row["scenario"], row["seed"])] = row
    return rows
