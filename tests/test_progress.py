"""Progress where users look: a live bar on a terminal, plain lines in a CI log, ganlint's log lines above a
user's own tqdm bar, and `ganlint run` naming each run as it starts. Run as a user runs them: subprocesses,
under a pseudo-terminal (pty) or plain pipes."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")

TRAIN = ["--dataset", "ring8", "--steps", "40", "--batch-size", "32", "--g-width", "16", "--d-width", "16",
         "--eval-every", "20", "--eval-samples", "200", "--pictures", "0", "--flush-every", "8", "--device", "cpu",
         "--no-report"]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "GANLINT_DATA"}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", COLUMNS="100")
    return env


def in_terminal(args: list[str], cwd: Path, timeout: float = 120) -> tuple[int, str]:
    """Run `args` with stdin, stdout and stderr on a pty of 100x30, as in a terminal; (exit code, output)."""
    main, sub = pty.openpty()
    fcntl.ioctl(sub, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    proc = subprocess.Popen(args, stdin=sub, stdout=sub, stderr=sub, cwd=cwd, env=_env(), close_fds=True)
    os.close(sub)
    out = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        out += chunk
    os.close(main)
    return proc.wait(timeout=timeout), out.decode("utf-8", "replace").replace("\r\n", "\n")


def test_train_shows_a_bar_on_a_terminal_and_plain_lines_in_a_log(tmp_path: Path) -> None:
    code, out = in_terminal([sys.executable, "-m", "ganlint", "train", *TRAIN, "--out", "tty"], tmp_path)
    assert code == 0, out
    assert "\rganlint: 100%|" in out and "40/40 [" in out and "steps/s]" in out, out
    assert "ganlint: step " not in out  # the bar instead of the lines
    # The bar is closed (its line ended) before the summary, which starts on a line of its own.
    assert "\nrun:    " in out and "steps:  40/40 (completed)" in out, out

    p = subprocess.run([sys.executable, "-m", "ganlint", "train", *TRAIN, "--out", "log"], cwd=tmp_path, env=_env(),
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "ganlint: step 40/40  " in p.stderr and "loss_d" in p.stderr
    assert "\r" not in p.stderr and "%|" not in p.stderr
    assert "steps:  40/40 (completed)" in p.stdout


USER_LOOP = """
import logging, time
from tqdm import tqdm
for i in tqdm(range(6), mininterval=0):
    time.sleep(0.05)
    if i == 3:
        logging.getLogger("ganlint.training.monitor").warning("no optimizer for G")
print("loop done")
"""


def test_a_ganlint_warning_inside_a_users_tqdm_loop_goes_above_the_bar(tmp_path: Path) -> None:
    code, out = in_terminal([sys.executable, "-c", "import ganlint\n" + USER_LOOP], tmp_path)
    assert code == 0, out
    [line] = [ln for ln in out.split("\n") if "no optimizer for G" in ln]
    # What is left on screen of that line after its last carriage return: the warning alone, no bar before it.
    assert line.split("\r")[-1].strip() == "ganlint: warning: no optimizer for G", repr(line)
    after = out.split("no optimizer for G", 1)[1]
    assert "6/6" in after and "loop done" in after  # the bar was redrawn below it and finished


def test_without_bars_the_log_line_is_a_plain_write(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    from ganlint.logs import cli_stderr

    with cli_stderr():  # the CLI's handler (pytest's log capture would take the record from the last resort)
        logging.getLogger("ganlint.x").warning("plain")
    assert capsys.readouterr().err == "ganlint: warning: plain\n"


SCENARIO = """name = "{name}"
expect = "still-weak"
suites = ["quick"]
why = "a tiny run, for the progress lines"

[train]
dataset = "ring8"
steps = 20
batch_size = 32
g_width = 16
d_width = 16
eval_every = 10
eval_samples = 200
pictures = 0
"""


def test_run_says_which_run_started_before_it_finishes(tmp_path: Path) -> None:
    for name in ("tiny_a", "tiny_b"):
        (tmp_path / f"{name}.toml").write_text(SCENARIO.format(name=name))
    p = subprocess.run([sys.executable, "-m", "ganlint", "run", "tiny_a.toml", "tiny_b.toml", "--jobs", "2", "--out",
                        "suite", "--no-report"], cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    assert p.returncode in (0, 1), p.stderr
    lines = p.stderr.splitlines()
    started = [i for i, ln in enumerate(lines) if " started tiny_" in ln]
    finished = [i for i, ln in enumerate(lines) if ln.startswith("ganlint: [") and " started " not in ln]
    assert len(started) == 2 and len(finished) == 2, p.stderr
    assert min(started) < min(finished), p.stderr
    for name in ("tiny_a", "tiny_b"):
        [s] = [i for i in started if f"started {name} seed 0" in lines[i]]
        [f] = [i for i in finished if f"] {name} seed 0: " in lines[i]]
        assert s < f, p.stderr
    assert {lines[i].split("]")[0] for i in started} == {"ganlint: [1/2", "ganlint: [2/2"}
    assert "\r" not in p.stderr
