"""CheckResult: the verdict of `ganlint check` on one checkpoint, as the library returns it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganlint.diagnostics.findings import Diagnosis, status_counts
from ganlint.vocabulary import ERROR, FAIL, INCONCLUSIVE, NOT_ASSESSABLE, WARN


@dataclass(repr=False)
class CheckResult:
    """The verdict on one checkpoint (in a notebook it shows itself: ganlint.report.notebook)."""

    diagnosis: Diagnosis
    source: Path
    kind: str
    samples: int
    metrics: dict[str, Any]
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    class_histogram: list[int] | None = None
    fail_on: Any = None  # a ganlint.gating.FailPolicy; None means the default policy

    @property
    def policy(self):
        from ganlint.gating import parse_fail_on

        return self.fail_on if self.fail_on is not None else parse_fail_on(None)

    @property
    def label(self) -> str:
        return self.diagnosis.label

    @property
    def healthy(self) -> bool:
        """True unless the fail-on policy fails the diagnosis."""
        return not self.policy.fails(self.diagnosis)

    @property
    def checked(self) -> bool:
        """Whether any check could run at all (else the exit code is 3)."""
        return any(f.status != NOT_ASSESSABLE for f in self.diagnosis.findings)

    @property
    def inconclusive(self) -> bool:
        """Whether nothing decisive could be judged: the verdict is inconclusive, or no check could run."""
        return self.diagnosis.label == INCONCLUSIVE or not self.checked

    @property
    def exit_code(self) -> int:
        """What `ganlint check` exits with: 3 when no check could run, else the gate's
        FailPolicy.exit_code (0 passes, 1 fails, 3 inconclusive)."""
        from ganlint.gating import EXIT_INCONCLUSIVE

        return self.policy.exit_code(self.diagnosis) if self.checked else EXIT_INCONCLUSIVE

    def __repr__(self) -> str:
        # One line: the dataclass's would print the whole diagnosis and every metric.
        d = self.diagnosis
        gate = "passes" if self.healthy else "fails"
        return (f"<CheckResult {self.source}: {d.label} (confidence {d.confidence:.2f}), gate {gate} "
                f"(exit {self.exit_code}); {len(d.findings)} findings ({status_counts(d.findings)}), "
                f"{len(self.skipped)} skipped>")

    def _repr_html_(self) -> str:
        # The cell's pieces (pandas, the report's; torch) load on first display, not on import.
        from ganlint.report.notebook import check_cell

        return check_cell(self)

    def explain(self) -> str:
        """A readable account of the verdict: label, reasons, what to record to decide, failing findings,
        skipped checks."""
        d = self.diagnosis
        lines = [f"{self.source}: {d.label} (confidence {d.confidence:.2f}) - {d.summary}"]
        lines += [f"  gate: {r}" for r in self.policy.reasons(d)]
        if not self.checked:
            lines.append("  gate: nothing could be checked (see skipped)")
        if d.needs and d.label != INCONCLUSIVE:  # an inconclusive reason above already names them
            lines.append(f"  to be surer, record: {'; '.join(d.needs)}")
        if self.policy.passed_without_evidence(d):
            lines.append(f"  gate: passed without evidence ({INCONCLUSIVE}, and --fail-on {self.policy.to_spec()} "
                         f"lets it through){'; to decide, record: ' + '; '.join(d.needs) if d.needs else ''}")
        for f in d.findings:
            if f.status in (FAIL, WARN, ERROR):
                lines.append(f"  {f.status.upper():<5} {f.check}: {f.message}")
        lines += [f"  skipped: {s}" for s in self.skipped]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"source": str(self.source), "kind": self.kind, "samples": self.samples, "metrics": _clean(self.metrics),
                "class_histogram": self.class_histogram, "skipped": self.skipped, "notes": self.notes,
                **self.diagnosis.to_dict()}


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}

