"""Worker processes for the suite: spawned, and ending with the process that made them.

    with worker_pool(2) as pool:
        rows = list(pool.map(render_run, run_dirs))

Used by the runner (one run per worker) and by the suite's report (re-rendering run reports).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

# Seconds the workers get to save the runs they train after an interrupt (a checkpoint takes well under one).
WORKER_STOP_S = 60.0


def worker_pool(jobs: int) -> ProcessPoolExecutor:
    """A pool of `jobs` spawned worker processes that die with the process that made them.

    spawn, not fork: forking a process that has touched torch's thread pools can deadlock. Without
    `_die_with_parent`, a `kill -9` of the runner left its workers running: they finished the queued
    runs, then blocked forever on the dead parent's queue, about 1 GB each with torch loaded; and they
    kept multiprocessing's resource tracker alive, which only exits when every holder of its pipe is gone.
    """
    return ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn"), initializer=_die_with_parent,
                               initargs=(os.getpid(),))


def stop_workers(pool: ProcessPoolExecutor) -> None:
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
