"""Running a suite's runs as Ray tasks (`ganlint run --executor ray`): sweeps that outgrow one machine.

    ganlint run --suite full --seeds 10 --executor ray                           # a local Ray instance
    ganlint run my_sweep/ --executor ray --address 10.0.0.5:6379 --gpus-per-run 0.25   # an existing cluster

Ray places the tasks; ganlint does not schedule. Each scenario x seed (or, with --batched, each group of
seeds trained together) is one Ray task declaring what it needs: `cpus_per_run` CPUs and, on GPU clusters,
`gpus_per_run` of a GPU, so that several small runs share a device (Ray sets CUDA_VISIBLE_DEVICES).

No shared filesystem is assumed. A task trains into a temporary folder on its node, diagnoses and reports
there exactly as a local worker does (ganlint.suite.runner.run_one and run_group), and returns the run
folder's files with its result row; the driver publishes them into the suite folder (folder.publish_run:
whole or not at all) and then writes the result row, so a suite made on Ray has the layout, tables and
report of a local one, and `--resume` finishes it with either executor.

Determinism: a run's numbers depend on its seed and on how many threads torch uses. A task sets torch's
threads to its CPUs (one by default), as the local executor does with several workers, so the same seeds
give the same labels and tables on both.

Failures: a task whose worker or node dies, or that raises, is retried up to `retries` times by Ray; after
that the run becomes an error row (errors/, the errors table) and the suite fails until `--resume` finishes
it. Nothing is dropped silently. Ctrl-C (or SIGTERM) on the driver cancels the tasks still queued or
running and keeps every finished run.

Every node needs ganlint (the same version as the driver; a task checks it) and torch installed, and the
data a scenario reads from disk (data_root) at the same path; the embedded datasets need nothing.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganlint.errors import ConfigError
from ganlint.loaders.errors import naming, option

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'ganlint[ray]'"
# Attempts after the first for a task that fails (its worker or node died, or it raised).
DEFAULT_RETRIES = 2
# How often the driver wakes to report progress while no task finishes (seconds).
POLL_S = 5.0
# Seconds to wait for the cluster's address to accept a connection.
CONNECT_S = 10.0
# The longest error text kept in an error row (a remote traceback would drown the table).
MAX_ERROR = 300


@dataclass(frozen=True)
class RayExecutor:
    """How a suite runs on Ray. `address`: a cluster to connect to (host:port or ray://host:port); None
    means RAY_ADDRESS, else a local Ray instance started for the suite with `local_cpus` CPUs (default:
    all of this machine's)."""

    address: str | None = None
    cpus_per_run: float = 1.0
    gpus_per_run: float = 0.0
    retries: int = DEFAULT_RETRIES
    local_cpus: int | None = None

    def check(self, device: str) -> None:
        """The options, and the device they are used with: ConfigError naming what is wrong (the options
        marked for the CLI to respell as its flags, ganlint.loaders.errors.naming)."""
        cpus, gpus, retries = option("cpus_per_run"), option("gpus_per_run"), option("retries")
        if not 0 < self.cpus_per_run <= 1024:
            raise naming(ConfigError, f"{cpus} must be above 0 and at most 1024, got {self.cpus_per_run:g}")
        if not 0 <= self.gpus_per_run <= 64:
            raise naming(ConfigError, f"{gpus} must be from 0 to 64, got {self.gpus_per_run:g}")
        if self.gpus_per_run > 1 and self.gpus_per_run != int(self.gpus_per_run):
            raise naming(ConfigError, f"{gpus} above 1 must be a whole number (Ray's rule), got {self.gpus_per_run:g}")
        if not 0 <= self.retries <= 100:
            raise naming(ConfigError, f"{retries} must be from 0 to 100, got {self.retries}")
        if device.startswith("cuda") and self.gpus_per_run == 0:
            raise naming(ConfigError, f"device {device!r} on Ray needs {gpus} above 0: a task Ray gives no GPU "
                         "must not take one")
        if device == "cpu" and self.gpus_per_run > 0:
            raise naming(ConfigError, f"{gpus} reserves GPUs for runs on device 'cpu'; use device auto or cuda")

    def task_device(self, device: str) -> str:
        """The device a task trains on: 'auto' becomes cuda where Ray gave the task a GPU, else cpu (never a
        GPU it did not reserve)."""
        if device == "auto":
            return "cuda" if self.gpus_per_run > 0 else "cpu"
        return device

    @property
    def threads(self) -> int:
        return max(1, int(self.cpus_per_run))


def reachable(executor: RayExecutor) -> None:
    """ConfigError unless the cluster's address (the option, else RAY_ADDRESS) accepts a connection within
    CONNECT_S. Ray itself would retry an unreachable address for minutes, printing warnings; this says so in
    one line before any folder is made. A local instance (no address) and 'auto' need no check."""
    import socket

    address = executor.address or os.environ.get("RAY_ADDRESS") or None
    if address is None or address in ("auto", "local"):
        return
    where = address.split("://", 1)[-1]
    host, sep, port = where.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise naming(ConfigError, f"{option('address')} must be host:port or ray://host:port, got {address!r}")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_S).close()
    except OSError as e:
        raise ConfigError(f"cannot reach the Ray cluster at {address}: {e.strerror or e}") from None


def import_ray():
    """The ray module, or ConfigError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(f"the ray executor needs Ray, which is not installed here: {INSTALL_HINT}") from None
    return ray


# -- on a worker node ---------------------------------------------------------------------------------

def train_task(kind: str, scenario: dict[str, Any], seeds: Any, device: str, threads: int, report: bool,
               version: str, tracker: Any, call_id: str) -> list[tuple[dict[str, Any], dict[str, bytes]]]:
    """One Ray task: train `scenario` for `seeds` (one seed, or a list trained together when kind is
    "group") in a temporary folder, diagnose and report as a local worker does, and return, per seed, its
    result row and its run folder's files (relative path -> bytes). The folder is removed afterwards."""
    import ganlint
    from ganlint.suite.folder import RUNS_DIR, run_key
    from ganlint.suite.runner import run_group, run_one

    tracker.started.remote(call_id)
    if ganlint.__version__ != version:
        raise RuntimeError(f"this node runs ganlint {ganlint.__version__}, the driver {version}: install the "
                           "driver's version on every node")
    tmp = tempfile.mkdtemp(prefix="ganlint-ray-")
    try:
        if kind == "group":
            rows = run_group(scenario, list(seeds), device, tmp, threads, report)
        else:
            rows = [run_one(scenario, seeds, device, tmp, threads, report)]
        out = []
        for row in rows:
            folder = Path(tmp) / RUNS_DIR / run_key(row["scenario"], row["seed"])
            files = {p.relative_to(folder).as_posix(): p.read_bytes()
                     for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}
            out.append((row, files))
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class Tracker:
    """A tiny Ray actor the tasks tell when they start (once per attempt): the driver's view of which runs
    are running, which are still queued, and which were retried. It reserves no CPU."""

    def __init__(self) -> None:
        self.starts: dict[str, int] = {}

    def started(self, call_id: str) -> None:
        self.starts[call_id] = self.starts.get(call_id, 0) + 1

    def snapshot(self) -> dict[str, int]:
        return dict(self.starts)


# -- on the driver -------------------------------------------------------------------------------------

Publish = Callable[[dict[str, Any], dict[str, bytes]], None]
Fail = Callable[[dict[str, Any], int, str, int], None]


def run_calls(executor: RayExecutor, calls: Sequence[tuple[str, dict[str, Any], Any]], device: str, report: bool,
              publish: Publish, fail: Fail, progress: bool = True) -> None:
    """Run the suite's calls ((kind, scenario, seed or seeds), kind "one" or "group") as Ray tasks; hand
    each finished run to `publish(row, files)` as it arrives, and each run that failed for good to
    `fail(scenario, seed, error, attempts)`. Raises KeyboardInterrupt after cancelling the outstanding
    tasks when interrupted; ConfigError when Ray is missing or the cluster cannot be reached."""
    ray = import_ray()
    import ganlint

    started_here = not ray.is_initialized()  # a library user's own ray.init() is theirs to end
    changed = _init(ray, executor) if started_here else {}
    tracker = None
    pending: dict[Any, tuple[str, tuple[str, dict[str, Any], Any]]] = {}
    try:
        tracker = ray.remote(num_cpus=0)(Tracker).remote()
        task = ray.remote(train_task).options(num_cpus=executor.cpus_per_run, num_gpus=executor.gpus_per_run,
                                              max_retries=executor.retries, retry_exceptions=True)
        task_device = executor.task_device(device)
        for i, (kind, sc, seeds) in enumerate(calls):
            call_id = f"{sc['name']}--seed{seeds}" if kind == "one" else f"{sc['name']}--seeds{','.join(map(str, seeds))}"
            call_id = f"{i}:{call_id}"
            ref = task.remote(kind, sc, seeds, task_device, executor.threads, report, ganlint.__version__, tracker, call_id)
            pending[ref] = (call_id, (kind, sc, seeds))
        _drive(ray, pending, tracker, executor, publish, fail, progress)
    except BaseException as stop:  # Ctrl-C, SIGTERM, or a run that could not be published (a full disk)
        for ref in list(pending):
            try:
                ray.cancel(ref, force=True)
            except Exception as e:  # a task that just finished cannot be cancelled; go on
                log.debug("cancel: %s", e)
        if isinstance(stop, KeyboardInterrupt):
            log.log(25, "cancelled %d Ray task(s) still queued or running; finished runs are kept", len(pending))
        raise
    finally:
        if tracker is not None:
            try:
                ray.kill(tracker)
            except Exception as e:  # the cluster may already be gone
                log.debug("kill tracker: %s", e)
        if started_here:
            ray.shutdown()
            _restore_env(changed)


def _init(ray, executor: RayExecutor) -> dict[str, str | None]:
    """Connect to the cluster, or start a local instance; returns the environment variables this changed,
    with their earlier values, for `_restore_env` after ray.shutdown()."""
    address = executor.address or os.environ.get("RAY_ADDRESS") or None
    changed = {k: os.environ.get(k) for k in ("RAY_USAGE_STATS_ENABLED", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no reporting home from a machine offline
    kwargs: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.ERROR, "configure_logging": True}
    if address is None:
        # "local": always a new instance for this suite, never some other cluster found on the machine.
        kwargs.update(address="local", num_cpus=executor.local_cpus or os.cpu_count() or 1, include_dashboard=False)
        if not os.environ.get("RAY_AUTH_TOKEN") and not os.environ.get("RAY_AUTH_TOKEN_PATH"):
            # Ray (2.5x and later) protects a new local instance with a token, which it would otherwise write
            # to ~/.ray/auth_token, where later `ray start` nodes of the user's own clusters pick it up and
            # fail to join ("InvalidAuthToken"). A token of this instance's own, in the environment its
            # processes inherit, keeps the protection and leaves the home folder as it was.
            import secrets

            os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
    else:
        kwargs["address"] = address
    try:
        ray.init(**kwargs)
    except Exception as e:  # ConnectionError, RuntimeError, ValueError: all say "cannot start or reach"
        _restore_env(changed)
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConfigError(f"cannot start or reach {where}: {first[:MAX_ERROR]}") from None
    res = ray.cluster_resources()
    log.info("Ray: %s, %d node(s), %g CPU(s), %g GPU(s)", address or "local instance", len(ray.nodes()),
             res.get("CPU", 0), res.get("GPU", 0))
    if res.get("CPU", 0) < executor.cpus_per_run or res.get("GPU", 0) < executor.gpus_per_run:
        ray.shutdown()
        _restore_env(changed)
        raise naming(ConfigError, f"the Ray cluster has {res.get('CPU', 0):g} CPU(s) and {res.get('GPU', 0):g} "
                     f"GPU(s); a run asks for {executor.cpus_per_run:g} ({option('cpus_per_run')}) and "
                     f"{executor.gpus_per_run:g} ({option('gpus_per_run')})")
    return changed


def _restore_env(changed: dict[str, str | None]) -> None:
    for k, v in changed.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _drive(ray, pending: dict, tracker, executor: RayExecutor, publish: Publish, fail: Fail, progress: bool) -> None:
    total = len(pending)
    done = 0
    seen: dict[str, int] = {}
    last = ""
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_S)
        for ref in ready:
            call_id, (kind, sc, seeds) = pending.pop(ref)
            done += 1
            try:
                results = ray.get(ref)
            except ray.exceptions.RayError as e:
                attempts = _starts(ray, tracker).get(call_id, 0) or executor.retries + 1
                for seed in seeds if kind == "group" else [seeds]:
                    fail(sc, seed, _describe(e), attempts)
                continue
            for row, files in results:
                publish(row, files)
        starts = _starts(ray, tracker)
        if progress:
            for call_id, n in sorted(starts.items()):
                key = call_id.split(":", 1)[1]
                for attempt in range(seen.get(call_id, 0) + 1, n + 1):  # a fast retry can fall between two polls
                    if attempt == 1:
                        log.info("started %s", key)
                    else:
                        log.log(25, "retrying %s (attempt %d of %d)", key, attempt, executor.retries + 1)
            running = sum(1 for ref in pending if pending[ref][0] in starts)
            line = f"Ray: {done}/{total} done, {running} running, {len(pending) - running} queued"
            if line != last:
                log.info("%s", line)
                last = line
        seen = starts


def _starts(ray, tracker) -> dict[str, int]:
    try:
        return ray.get(tracker.snapshot.remote(), timeout=30)
    except Exception as e:  # progress is best effort; the results are not
        log.debug("tracker: %s", e)
        return {}


def _describe(e: BaseException) -> str:
    """One line for an error row: the task's own exception (type and first line) where it raised, else
    what Ray says happened (a worker or node that died, a cancelled task)."""
    cause = getattr(e, "cause", None)
    if isinstance(cause, BaseException):
        text = str(cause).strip().splitlines()
        return f"{type(cause).__name__}: {text[0] if text else ''}"[:MAX_ERROR]
    text = [ln for ln in str(e).strip().splitlines() if ln.strip()]
    return f"{type(e).__name__}: {text[0] if text else ''}"[:MAX_ERROR]
