"""Seed 002's 1D lab (tests/userland/seed_lab.py: `tiny_gan_1d.py` as the seed writes it, plus the
Monitor's three lines) and its exercises, watched by ganlint.Monitor.

The truth for each run comes from the lab's OWN printed lines (fake_mean and fake_std of 256 fresh
samples), never from ganlint: the rule is `printed_verdict` below, with its reasons. Every run prints
fake_std every 25 steps (the seed's exercise 4), except "as given", which prints at steps 1, 100, 200
and 300 exactly as the seed does (its lines are the ones the issue quotes).
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
from pathlib import Path

import pytest

from ganlint.vocabulary import DIVERGED, FAILURE_LABELS, PASSING_LABEL

sys.path.insert(0, str(Path(__file__).parent / "userland"))
import seed_lab

REAL_STD = 0.2  # the lab's real_batch: torch.randn(n, 1) * 0.2 + center
# The lab as given and the seed's exercises (1: real centre -1.0, 2: lr 0.001, 3: hidden size 64,
# 4: print fake_std every 25 steps), and the issue's 3,000 steps (as given, and with exercise 2's slow lr).
RUNS = {
    "as given": {},
    "exercise 4 (prints every 25 steps)": {"print_every": 25},
    "exercise 1 (real centre -1.0)": {"center": -1.0, "print_every": 25},
    "exercise 2 (lr 0.001)": {"lr": 1e-3, "print_every": 25},
    "exercise 3 (hidden size 64)": {"hidden": 64, "print_every": 25},
    "3,000 steps": {"steps": 3000, "print_every": 25},
    "exercise 2 for 3,000 steps": {"lr": 1e-3, "steps": 3000, "print_every": 25},
}
LINE = re.compile(r"step=(\d+) loss_d=\S+ loss_g=\S+ fake_mean=(\S+) fake_std=(\S+)")
_cache: dict[tuple[str, bool], tuple[list[str], object]] = {}


def lab(name: str, monitor: bool) -> tuple[list[str], object]:
    """The lab's printed lines and, with the Monitor, its diagnosis (each run once per session)."""
    key = (name, monitor)
    if key not in _cache:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            diagnosis = seed_lab.main(monitor=monitor, **RUNS[name])
        _cache[key] = (out.getvalue().splitlines(), diagnosis)
    return _cache[key]


def printed_verdict(lines: list[str], center: float, steps: int) -> str:
    """'healthy', 'unhealthy' or 'unclear', from the prints of the run's last quarter.

    Scale: the real data's own std (0.2). A print's statistics come from 256 fresh samples, so their
    noise is small against the bands below (standard error ~0.06 std for the mean, ~4.4% for the std).
      * unhealthy: some late print's fake_mean is more than 1 real std from the centre (the generator
        is not at the data: still on its way, or swinging around the target without settling), or its
        fake_std is under half or over twice the real std (far too little or too much diversity; the
        seed: "fake_std becoming very small is a warning sign for low diversity").
      * healthy: every late print has fake_mean within 0.5 real std of the centre and fake_std within
        2/3 to 3/2 of the real std: the printed distribution sits on the data's.
      * unclear: in between (no claim is made either way).
    """
    late = [(int(s), float(m), float(sd)) for s, m, sd in (LINE.match(x).groups() for x in lines)]
    late = [(m, sd) for s, m, sd in late if s > 0.75 * steps]
    assert late, lines
    if any(abs(m - center) > REAL_STD or not 0.5 <= sd / REAL_STD <= 2.0 for m, sd in late):
        return "unhealthy"
    if all(abs(m - center) <= 0.5 * REAL_STD and 2 / 3 <= sd / REAL_STD <= 1.5 for m, sd in late):
        return "healthy"
    return "unclear"


@pytest.mark.parametrize("name", list(RUNS))
def test_the_monitor_changes_nothing_the_lab_prints(name):
    plain, _ = lab(name, monitor=False)
    watched, diagnosis = lab(name, monitor=True)
    assert plain == watched  # same RNG draws, same weights, same printed numbers
    assert diagnosis is not None and len(plain) == (4 if name == "as given" else RUNS[name].get("steps", 300) // 25 + 1)


def test_the_lab_as_given_is_not_stable():
    """The issue's report: fake_mean swings around 2.0 (1.09 -> 2.99 -> 1.38 on this CPU; 1.1 -> 4.5 -> 1.6
    in the issue) while fake_std ends at a quarter of the real 0.2, and the Monitor said stable (0.3)."""
    lines, d = lab("as given", monitor=True)
    assert printed_verdict(lines, 2.0, 300) == "unhealthy", lines
    assert d.label != PASSING_LABEL, d.summary


@pytest.mark.parametrize("name", list(RUNS))
def test_each_run_gets_the_label_its_prints_support(name):
    kw = RUNS[name]
    lines, d = lab(name, monitor=True)
    verdict = printed_verdict(lines, kw.get("center", 2.0), kw.get("steps", 300))
    why = f"{name}: prints say {verdict}; Monitor says {d.label} ({d.confidence:.2f}): {d.summary}\n" + "\n".join(lines[-6:])
    if verdict == "unhealthy":
        # Given the fakes and the reals, the Monitor has sample evidence: it must name a failure, not pass
        # the run or call it inconclusive; and nothing in the prints is NaN, so never diverged.
        assert d.label in FAILURE_LABELS and d.label != DIVERGED, why
    elif verdict == "healthy":
        assert d.label not in FAILURE_LABELS, why
