"""Worker processes for the suite: spawned, and ending with the process that made them.

    with worker_pool(2) as pool:
        rows = list(pool.map(render_run, run_dirs))

Used by the runner (one run per worker) and by the suite's report (re-rendering run reports). The runner
learns when a worker picks a run up (not when it was queued) from a Starts it gives the pool:

    starts = Starts()
    with worker_pool(2, starts) as pool:
        fut = pool.submit(announced, ("ring8", 0), train_it, ...)   # ("ring8", 0) goes to starts first
        starts.taken()                                               # [("ring8", 0)] once a worker began it
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any

# Seconds the workers get to save the runs they train after an interrupt (a checkpoint takes well under one).
WORKER_STOP_S = 60.0


class Starts:
    """The tags of the calls the workers have begun (announced), in the order they began them.

    A SimpleQueue: a worker's put() is written to the pipe before it returns (no feeder thread), so a call's
    tag is always there before its result, and the reader sees its start before its end.
    """

    def __init__(self) -> None:
        self._queue = get_context("spawn").SimpleQueue()

    def taken(self) -> list[Any]:
        """The tags put since the last call, without waiting."""
        got = []
        while not self._queue.empty():
            got.append(self._queue.get())
        return got

    def close(self) -> None:
        self._queue.close()


_starts: Any = None  # in a worker: the pool's Starts queue, set by _die_with_parent


def announced(tag: Any, fn: Any, *args: Any) -> Any:
    """In a worker: say that the call `tag` begins (to the pool's Starts, if any), then return fn(*args)."""
    if _starts is not None:
        _starts.put(tag)
    return fn(*args)


def worker_pool(jobs: int, starts: Starts | None = None) -> ProcessPoolExecutor:
    """A pool of `jobs` spawned worker processes that die with the process that made them.

    spawn, not fork: forking a process that has touched torch's thread pools can deadlock. Without
    `_die_with_parent`, a `kill -9` of the runner left its workers running: they finished the queued
    runs, then blocked forever on the dead parent's queue, about 1 GB each with torch loaded; and they
    kept multiprocessing's resource tracker alive, which only exits when every holder of its pipe is gone.
    """
    return ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn"), initializer=_die_with_parent,
                               initargs=(os.getpid(), starts._queue if starts is not None else None))


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


def _die_with_parent(parent: int, starts: Any = None) -> None:
    """Worker initializer: end this process when `parent` ends (and keep the pool's Starts queue, if any).

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

    global _starts
    _starts = starts
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
