"""What the engine returns: findings (the proof) and the diagnosis (the summary)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

# The labels (in priority order) and the statuses live in ganlint.vocabulary; re-exported here for the
# modules that read findings.
from ganlint.vocabulary import ERROR, FAIL, LABELS, NOT_ASSESSABLE, PASS, STATUSES, WARN  # noqa: F401

if TYPE_CHECKING:  # findings_frame's type only: importing this module stays pandas-free
    import pandas as pd


def onset_words(step: int | None, from_start: bool) -> str | None:
    """An onset as every output writes it: "at step N", "from the start (step N)", or None without one."""
    if step is None:
        return None
    return f"from the start (step {step})" if from_start else f"at step {step}"


def _clean(v: Any) -> Any:
    """JSON-safe numbers: NaN and inf become None."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


@dataclass(frozen=True)
class Finding:
    """One check's verdict.

    Attributes:
        check: the check's name (its module under ganlint/diagnostics/checks/).
        label: the label a failure of this check supports ("stable" for the positive-evidence checks).
        status: pass, warn, fail, not-assessable or error.
        value: the measured value (None when not assessable).
        threshold: the threshold it was compared with.
        window: (first step, last step) the value was measured over, or None.
        onset_step: the step from which the condition held to the end, on the measure's own steps
            (fail/warn only), or None.
        onset_from_start: the condition held from the measure's first step: the run was never healthy
            by this measure (onset_step is then that first step, not a step where something changed).
        message: one sentence a person understands.
        severity: how far past its threshold the value is, 0 (at it) to 1 (far past); feeds confidence.
    """

    check: str
    label: str
    status: str
    value: float | None
    threshold: float | None
    message: str
    window: tuple[int, int] | None = None
    onset_step: int | None = None
    severity: float = 0.0
    onset_from_start: bool = False

    @property
    def onset_text(self) -> str | None:
        """The onset in words (see `onset_words`), or None."""
        return onset_words(self.onset_step, self.onset_from_start)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["value"], d["threshold"] = _clean(d["value"]), _clean(d["threshold"])
        d["window"] = list(self.window) if self.window else None
        d["severity"] = round(self.severity, 3)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        """The inverse of to_dict (None for a missing value stays None)."""
        window = d.get("window")
        return cls(check=d["check"], label=d["label"], status=d["status"], value=d.get("value"),
                   threshold=d.get("threshold"), message=d["message"], window=tuple(window) if window else None,
                   onset_step=d.get("onset_step"), severity=float(d.get("severity") or 0.0),
                   onset_from_start=bool(d.get("onset_from_start", False)))


def status_counts(findings: list[Finding]) -> str:
    """How many findings have each status, in STATUSES order: "18 pass, 1 warn, 2 fail" ("no findings")."""
    counts = [(s, sum(f.status == s for f in findings)) for s in STATUSES]
    return ", ".join(f"{n} {s}" for s, n in counts if n) or "no findings"


@dataclass(frozen=True, repr=False)
class Diagnosis:
    """The engine's answer for one run.

    In a notebook it shows itself (`_repr_html_`: label, summary, findings, remedies; see
    ganlint.report.notebook) and its findings are a table: `d.findings_frame()`.
    """

    label: str
    confidence: float
    onset_step: int | None
    findings: list[Finding]
    remedies: list[str]
    summary: str
    other_labels: list[str] = field(default_factory=list)  # labels that also hold, lower in the order
    # What to record or provide to decide (inconclusive: never empty; otherwise what would sharpen it).
    needs: list[str] = field(default_factory=list)
    onset_from_start: bool = False  # see Finding.onset_from_start

    @property
    def onset_text(self) -> str | None:
        """The onset in words (see `onset_words`), or None."""
        return onset_words(self.onset_step, self.onset_from_start)

    def __repr__(self) -> str:
        # One line, not the dataclass's (every finding's every field: thousands of characters).
        onset = f", onset {self.onset_text}" if self.onset_text else ""
        also = f", also {', '.join(self.other_labels)}" if self.other_labels else ""
        return (f"<Diagnosis {self.label} (confidence {self.confidence:.2f}{onset}{also}): {len(self.findings)} "
                f"findings ({status_counts(self.findings)}), {len(self.remedies)} remedies>")

    def _repr_html_(self) -> str:
        # The cell's pieces (pandas, the report's; torch) load on first display, not on import.
        from ganlint.report.notebook import diagnosis_cell

        return diagnosis_cell(self)

    def findings_frame(self) -> pd.DataFrame:
        """The findings as a DataFrame, one row per finding (the `findings` table of
        ganlint.report.tables, with its schema)."""
        from ganlint.report.tables import findings_table

        return findings_table(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "confidence": round(self.confidence, 3),
            "onset_step": self.onset_step,
            "onset_from_start": self.onset_from_start,
            "summary": self.summary,
            "other_labels": list(self.other_labels),
            "remedies": list(self.remedies),
            "needs": list(self.needs),
            "findings": [f.to_dict() for f in self.findings],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Diagnosis:
        """The inverse of to_dict: a diagnosis saved as diagnosis.json, read back."""
        return cls(label=d["label"], confidence=float(d["confidence"]), onset_step=d.get("onset_step"),
                   findings=[Finding.from_dict(f) for f in d.get("findings", [])], remedies=list(d.get("remedies", [])),
                   summary=d.get("summary", ""), other_labels=list(d.get("other_labels", [])),
                   needs=list(d.get("needs", [])), onset_from_start=bool(d.get("onset_from_start", False)))
