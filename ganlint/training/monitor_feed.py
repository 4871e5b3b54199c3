"""What a Monitor sends to the user's loggers (ganlint.integrations.sinks.Loggers), and when: the Monitor's
side of `Monitor(..., loggers=...)`, kept apart from what the Monitor records.

    feed = LoggerFeed.open(items, config={...}, say=monitor._say)   # in the Monitor's constructor
    feed.rows(recorder)                  # at each flush: the rows the recorder has not handed out yet
    feed.diagnosis(step, d)              # at each decision and at diagnose()
    feed.picture(step, fake, real)       # at evaluations whose samples are kept for pictures
    feed.close()

Everything runs on the host, on data the Monitor has already copied there: no host sync of its own. A
failure here is said once through `say` and never reaches the Monitor's own error path (which would
disable it): Loggers switches a failing sink off by itself, and this guards the Monitor's part of the
work (building the rows, drawing a picture).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from ganlint.schema import COLUMNS, EVAL_COLUMNS
from ganlint.training.telemetry import rows_frame

# A picture waits this many times the last one's drawing time: drawing (matplotlib, 0.5-1.3 s on a CPU,
# 50-100 steps of a small GAN) stays under ~5% of the run.
PICTURE_SHARE = 20


class LoggerFeed:
    """The loggers of one Monitor and what was sent to them (each row, diagnosis and picture once)."""

    def __init__(self, loggers: Any, say: Callable[[str], None]) -> None:
        self.loggers, self.say = loggers, say
        self.sent_step = 0  # the last step whose row went out
        self._sent_diagnosis: tuple[int, str, float] | None = None  # (step, label, confidence) last sent
        self._pictured: set[int] = set()  # steps whose samples went out as a picture
        self._next_picture = 0.0  # perf_counter time before which no picture is drawn (PICTURE_SHARE)

    @classmethod
    def open(cls, items: Any, *, config: Mapping[str, Any], say: Callable[[str], None]) -> LoggerFeed:
        """Open `items` (one item or a list/tuple of what Loggers.open takes). Raises ConfigError for an
        unknown item or a logger that cannot be opened: in the Monitor's constructor, before any step."""
        from ganlint.integrations.sinks import Loggers

        items = list(items) if isinstance(items, list | tuple) else [items]
        return cls(Loggers.open(items, run_name="ganlint", config=config), say)

    def __bool__(self) -> bool:
        return bool(self.loggers)

    def _guard(self, what: str, send: Callable[[], None]) -> None:
        try:
            send()
        except Exception as e:
            self.say(f"{what} not sent to the loggers ({type(e).__name__}: {e})")

    def rows(self, recorder: Any) -> None:
        """The rows flushed since the last call (a TelemetryRecorder hands each out once)."""

        def send() -> None:
            rows = recorder.take_unwritten()
            if rows:
                self.loggers.telemetry(rows_frame(rows))
                self.sent_step = int(rows[-1][0])

        self._guard("telemetry rows", send)

    def late_evaluation(self, step: int, metrics: Mapping[str, float] | None) -> None:
        """An evaluation recorded at a step whose row went out already (the Monitor evaluating the last batch
        at the end): its columns alone, at that step."""
        if not metrics or step > self.sent_step:
            return  # not sent yet: it goes with its row
        row = {c: float("nan") for c in COLUMNS} | {"step": step} | {c: float(metrics.get(c, float("nan")))
                                                                    for c in EVAL_COLUMNS}
        self._guard("the last evaluation", lambda: self.loggers.telemetry(rows_frame([row])))

    def diagnosis(self, step: int, d: Any) -> None:
        """`d` at `step`, unless that same verdict went out at that step already (diagnose() called twice)."""
        key = (step, d.label, float(d.confidence))
        if key != self._sent_diagnosis:
            self._sent_diagnosis = key
            self._guard("the diagnosis", lambda: self.loggers.diagnosis(step, d))

    def picture(self, step: int, fake: torch.Tensor | None, real: torch.Tensor | None, force: bool = False) -> None:
        """Draw `fake` against `real` as the saved pictures are drawn (ganlint.report.plots.plot_samples) and
        send the PNG: the first one, then one whenever PICTURE_SHARE times the last drawing's time has passed,
        or with `force` (the Monitor's close(): the last batch kept)."""
        now = time.perf_counter()
        if fake is None or real is None or step in self._pictured or (not force and now < self._next_picture):
            return
        self._pictured.add(step)
        if not torch.isfinite(fake).all():
            return

        def send() -> None:
            import tempfile

            from ganlint.check.reference import from_tensor
            from ganlint.report.plots import plot_samples

            with tempfile.TemporaryDirectory(prefix="ganlint-") as tmp:
                png = plot_samples(fake, real, from_tensor("real", real).dataset,
                                   f"samples at step {step} (ganlint.Monitor)", Path(tmp) / f"step_{step:06d}.png")
                self.loggers.picture(step, png)

        self._guard("a sample picture", send)
        self._next_picture = time.perf_counter() + PICTURE_SHARE * (time.perf_counter() - now)

    def close(self) -> None:
        """Finish what ganlint opened, flush what the user passed (Loggers.close)."""
        self._guard("the end of the run", self.loggers.close)
