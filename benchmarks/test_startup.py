"""Start-up of the light paths, against `import torch`: each command timed in a fresh Python process, in
interleaved rounds in one run, reported as a ratio to `python -c "import torch"` (targets: `ganlint --help`
at most 0.25x; `ganlint diagnose` of a CSV and the pytest plugin import no torch, which
tests/test_architecture.py checks without timing). Interleaving matters: a busy machine slows every
command alike, so the ratios hold where absolute times drift.

    pytest benchmarks/test_startup.py --benchmark-enable -s

Each figure is the median wall time of its process (interpreter start included) over the rounds, printed
and stored in extra_info with its ratio and the process's peak resident memory.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

import pytest

PY = sys.executable
# name -> argv; the CSV's path is filled in by the test.
COMMANDS = {
    "import torch": [PY, "-c", "import torch"],
    "ganlint --help": [PY, "-m", "ganlint", "--help"],
    "ganlint diagnose log.csv": [PY, "-m", "ganlint", "diagnose", "{csv}", "--no-config"],
    "import ganlint.integrations.pytest_plugin": [PY, "-c", "import ganlint.integrations.pytest_plugin"],
}


def _write_log(path) -> None:
    """A loss-only log of 200 steps: every check runs, the label is inconclusive (exit 3)."""
    rows = ["step,loss_d,loss_g,d_real,d_fake"]
    rows += [f"{i},{1.3 + 0.01 * (i % 7)},{0.7 + 0.01 * (i % 5)},{0.5 + 0.001 * (i % 3)},{0.5 - 0.001 * (i % 3)}"
             for i in range(1, 201)]
    path.write_text("\n".join(rows) + "\n")


def _timed(argv: list[str]) -> float:
    """Wall seconds of one fresh process."""
    t = time.perf_counter()
    p = subprocess.run(argv, capture_output=True, text=True)
    wall = time.perf_counter() - t
    assert p.returncode in (0, 3), f"{argv}: exit {p.returncode}\n{p.stderr}"
    return wall


def _peak_mb(argv: list[str]) -> float:
    """Peak resident MB of one process: ru_maxrss over a wrapper's children, so no other child's peak hides it."""
    code = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], capture_output=True); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([PY, "-c", code, *argv], capture_output=True, text=True, check=True).stdout
    return int(out) / 1024


def test_startup_ratios_to_import_torch(benchmark, tmp_path, rounds):
    csv = tmp_path / "log.csv"
    _write_log(csv)
    commands = {name: [a.format(csv=csv) for a in argv] for name, argv in COMMANDS.items()}
    for argv in commands.values():  # warm-up: the file system cache and .pyc files
        _timed(argv)
    walls: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(rounds if benchmark.disabled else 2 * rounds + 1):  # full: 11 rounds
        for name, argv in commands.items():
            walls[name].append(_timed(argv))
    median = {name: statistics.median(w) for name, w in walls.items()}
    torch_s = median["import torch"]
    lines = []
    for name, argv in commands.items():
        ratio, mb = median[name] / torch_s, _peak_mb(argv)
        key = name.replace(" ", "_").replace(".", "_")
        benchmark.extra_info.update({f"{key}_s": round(median[name], 3), f"{key}_ratio": round(ratio, 3),
                                     f"{key}_peak_mb": round(mb)})
        lines.append(f"  {name:<42} {median[name]:6.2f} s  {ratio:5.2f}x  {mb:5.0f} MB")
    print(f"\nStart-up, fresh processes, median of {len(walls['import torch'])} interleaved rounds "
          f"(ratio to import torch):\n" + "\n".join(lines))
    benchmark.pedantic(subprocess.run, args=(commands["ganlint --help"],), kwargs={"capture_output": True},
                       rounds=1 if benchmark.disabled else 3, iterations=1)


@pytest.mark.parametrize("name", ["ganlint --help", "import ganlint.integrations.pytest_plugin"])
def test_light_paths_import_time(name, tmp_path):
    """`python -X importtime` of a light path: its slowest imports, printed (a regression shows its culprit)."""
    argv = [a.format(csv=tmp_path / "x.csv") for a in COMMANDS[name]]
    p = subprocess.run([argv[0], "-X", "importtime", *argv[1:]], capture_output=True, text=True)
    rows = []
    for line in p.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, module = line[len("import time:"):].split("|")
            if cumulative.strip().isdigit():
                rows.append((int(cumulative), module.strip()))
    top = sorted(rows, reverse=True)[:8]
    print(f"\n{name}: slowest imports (cumulative ms): " + ", ".join(f"{m} {us / 1e3:.0f}" for us, m in top))
    assert rows, p.stderr  # that torch stays out is tests/test_architecture.py's to check
