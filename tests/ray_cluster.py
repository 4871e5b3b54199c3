"""A real Ray cluster on loopback for the tests and benchmarks of `ganlint run --executor ray`.

    with LoopbackCluster(workers=1) as cluster:      # a head node and one worker node, 1 CPU each
        subprocess.run([..., "--executor", "ray", "--address", cluster.address], env=cluster.client_env())

Each node is `ray start --block` in its own process group (started as an operator would, from the Ray
command-line tool next to this Python), so stopping the group stops every process of that node: raylet,
GCS, the workers that ran ganlint's tasks. Nothing is left running, whatever the test did. Where Ray is
not installed or a node does not come up in time, `start()` raises `ClusterUnavailable` and the caller
skips.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

START_S = 90.0
TASK_TITLE = "ray::train_task"  # a Ray worker's process title while it runs ganlint's task


class ClusterUnavailable(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_cli() -> Path:
    return Path(sys.executable).parent / "ray"


class LoopbackCluster:
    """A head node plus `workers` worker nodes, each with `cpus` CPUs, on 127.0.0.1."""

    def __init__(self, workers: int = 1, cpus: int = 1, head_cpus: int | None = None) -> None:
        self.workers, self.cpus = workers, cpus
        self.head_cpus = cpus if head_cpus is None else head_cpus
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        # A short path: Ray's unix sockets live under it (a socket path has at most 107 bytes).
        self.temp = tempfile.mkdtemp(prefix="glray")
        self.nodes: list[subprocess.Popen] = []
        # Token authentication, as a cluster on a shared network should have it: the nodes and every client
        # (ganlint's driver) share the token through the environment, and no ~/.ray/auth_token is involved.
        import secrets

        self.env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
        self.env.update(RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32))

    def start(self) -> LoopbackCluster:
        if importlib.util.find_spec("ray") is None or not ray_cli().is_file():
            raise ClusterUnavailable("ray is not installed")
        common = ["--block", "--node-ip-address", "127.0.0.1", "--disable-usage-stats"]
        head = [str(ray_cli()), "start", "--head", "--port", str(self.port), "--num-cpus", str(self.head_cpus),
                "--include-dashboard=false", "--temp-dir", self.temp, "--ray-client-server-port", str(free_port()),
                *common]
        try:
            self._node(head)
            for _ in range(self.workers):
                self._node([str(ray_cli()), "start", "--address", self.address, "--num-cpus", str(self.cpus), *common])
        except BaseException:
            self.stop()
            raise
        return self

    def _node(self, argv: list[str]) -> None:
        log = Path(self.temp) / f"node{len(self.nodes)}.log"
        with open(log, "w") as f:
            proc = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, start_new_session=True, env=self.env)
        self.nodes.append(proc)
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            if "Ray runtime started" in log.read_text(errors="replace"):
                return
            if proc.poll() is not None:
                break
            time.sleep(0.2)
        raise ClusterUnavailable(f"a Ray node did not start: {log.read_text(errors='replace')[-800:]}")

    def stop(self) -> None:
        """Stop every node (workers first), then anything of this cluster still alive."""
        for proc in reversed(self.nodes):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in reversed(self.nodes):
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        for proc in self.nodes:  # a worker that left its node's group (none should) is still named by its group
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        self.nodes = []
        import shutil

        shutil.rmtree(self.temp, ignore_errors=True)

    def client_env(self) -> dict[str, str]:
        """The environment of a process that uses this cluster (its token), without RAY_ADDRESS."""
        return dict(self.env)

    def __enter__(self) -> LoopbackCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def task_pids() -> list[int]:
    """The processes running ganlint's Ray task now (by their process title)."""
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cmd.startswith(TASK_TITLE):
            pids.append(int(d.name))
    return pids


def kill_a_task(running_s: float = 2.0, timeout: float = 120.0) -> int:
    """Kill -9 a process running ganlint's task once it has run `running_s` seconds (past its start-up, into
    training), as an out-of-memory killer would; its pid."""
    deadline = time.monotonic() + timeout
    first_seen: dict[int, float] = {}
    while time.monotonic() < deadline:
        now = time.monotonic()
        for pid in task_pids():
            if now - first_seen.setdefault(pid, now) >= running_s:
                os.kill(pid, signal.SIGKILL)
                return pid
        time.sleep(0.05)
    raise AssertionError("no Ray task of ganlint ran long enough in time")
