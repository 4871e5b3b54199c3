"""The diagnostics engine: label a run stable / oscillating / collapsed / vanishing-gradient /
stalled / diverged, with the findings behind the label. See ganlint.diagnostics.engine."""

from ganlint.diagnostics.engine import diagnose
from ganlint.diagnostics.findings import LABELS, STATUSES, Diagnosis, Finding
from ganlint.diagnostics.thresholds import DEFAULT_THRESHOLDS, Thresholds
from ganlint.ingest.telemetry import load_telemetry

__all__ = ["DEFAULT_THRESHOLDS", "LABELS", "STATUSES", "Diagnosis", "Finding", "Thresholds", "diagnose", "load_telemetry"]
