"""The diagnostics engine: telemetry in, a labelled Diagnosis with its evidence out.

    import ganlint
    d = ganlint.diagnose("runs/ring8")          # a run folder, a CSV/parquet table, or a DataFrame
    d.label, d.confidence, d.onset_step
    for f in d.findings: print(f.status, f.check, f.message)

Pure: a function of the telemetry table (and the run's config.json, for how D's outputs read and how many
modes the data has), which runs every check and never trains, plots or prints. Given a path, it has
ganlint.ingest.telemetry.load_telemetry read the file; all reading lives there.

When several labels hold, the primary one is the first in ganlint.vocabulary.LABELS (the order and its
reasons are there):
  diverged > vanishing-gradient > stalled > oscillating > collapsed > still-weak > stable > inconclusive.
The other labels that hold are kept in `other_labels` and in the findings.

No verdict without evidence: `stable` needs positive evidence from the samples (a sample measure that
passes: the distance fell, diversity, modes, precision near the data's). D near 0.5 and calm losses never
suffice (seed 001: D's loss alone says nothing of sample quality). When no failure is found and no
sample measure passes (a log of losses only, too few steps), the label is `inconclusive`, and
`Diagnosis.needs` lists what to record to decide.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ganlint.diagnostics.checks import all_checks
from ganlint.diagnostics.findings import Diagnosis, Finding
from ganlint.diagnostics.remedies import remedies_for
from ganlint.diagnostics.series import Context, Series
from ganlint.diagnostics.thresholds import DEFAULT_THRESHOLDS, Thresholds
from ganlint.errors import ConfigError, DataError
from ganlint.ingest.conventions import infer_d_output
from ganlint.ingest.conventions import resolve as resolve_conventions
from ganlint.ingest.telemetry import load_telemetry
from ganlint.schema import COLUMNS, EVAL_COLUMNS
from ganlint.vocabulary import (
    D_LOSS_REDUCTIONS,
    D_OUTPUTS,
    DIVERGED,
    ERROR,
    FAIL,
    FAILURE_LABELS,
    INCONCLUSIVE,
    NOT_ASSESSABLE,
    PASS,
    STABLE,
    g_loss_choices,
)
from ganlint.vocabulary import g_loss as canonical_g_loss

# At least one of these must be there for anything to be assessed.
SIGNAL_COLUMNS = ("loss_d", "loss_g", "d_real", "d_fake", "grad_norm_g", "grad_norm_d", "distance")
# The sample measures whose pass is positive evidence for `stable` (one is enough; see conclude).
SAMPLE_EVIDENCE = ("collapse.diversity", "collapse.modes", "collapse.mode_kl", "collapse.categories", "collapse.coverage",
                   "progress.distance", "still_weak.precision", "still_weak.high_quality")


def diagnose(
    telemetry: pd.DataFrame | str | os.PathLike,
    *,
    d_output: str | None = None,
    num_modes: int | None = None,
    config: dict | None = None,
    thresholds: Thresholds | None = None,
    distance_kind: str | None = None,
    meta: Mapping | None = None,
    g_loss: str | None = None,
    d_loss_reduction: str | None = None,
    regex: str | None = None,
) -> Diagnosis:
    """Label a run from its telemetry.

    Args:
        telemetry: a DataFrame in ganlint's telemetry schema (optional columns may be missing), or a path
            that `load_telemetry` reads: a run folder, a CSV/parquet/JSONL table, or a training log of
            another tool (Lightning, Hugging Face, TensorBoard), its columns recognised by their names.
        d_output: how d_real/d_fake read: 'probability', 'ls-score' or 'critic'. Default: from the run
            folder's config.json, else 'probability' when all values lie in [0, 1], else 'critic'.
        num_modes: known modes of the data (default: from config.json, else unknown).
        config: the run's config fields (default: from config.json), used to tailor remedies.
        thresholds: override the defaults in ganlint.diagnostics.thresholds.
        distance_kind: the dataset's distance (ganlint.training.evaluation's kinds; "classifier_frechet" when the
            evaluation columns come from the MNIST classifier's features). Default: from config.json.
        meta: a run folder's config.json, for a DataFrame its caller read with `load_telemetry`: the
            defaults above come from it as they would from the folder (the explicit arguments win).
        g_loss: the G loss trained with (ganlint.vocabulary.G_LOSSES or an alias: minimax, hinge, ...);
            the vanishing gradient is judged under it. Default: config.json's loss, else inferred from
            the log (ganlint.ingest.conventions), else unknown.
        d_loss_reduction: 'sum' or 'mean', how loss_d combines a BCE D's two terms (scales D's loss per
            term). Default: the printed log's format, config.json, else inferred from the values.
        regex: for a text log path, a Python regex with named groups that reads its lines
            (ganlint.ingest.stdout).

    Raises:
        ganlint.errors.DataError: unreadable input or a table without a step column or any signal.
        ganlint.errors.ConfigError: num_modes that is not a positive integer, an unknown g_loss or
            d_loss_reduction, a bad regex (or one given with a DataFrame).
    """
    if num_modes is not None and (isinstance(num_modes, bool) or not isinstance(num_modes, int) or num_modes < 1):
        raise ConfigError(f"num_modes must be a positive integer (the data's known modes), got {num_modes!r}")
    if g_loss is not None and canonical_g_loss(g_loss) is None:
        raise ConfigError(f"g_loss must be one of {g_loss_choices()}, "
                          f"got {g_loss!r}")
    if d_loss_reduction is not None and d_loss_reduction not in D_LOSS_REDUCTIONS:
        raise ConfigError(f"d_loss_reduction must be one of {', '.join(D_LOSS_REDUCTIONS)}, got {d_loss_reduction!r}")
    if regex is not None and isinstance(telemetry, pd.DataFrame):
        raise ConfigError("regex reads a text log: give the log's path, not a DataFrame")
    th = thresholds or DEFAULT_THRESHOLDS
    df, meta = (load_telemetry(telemetry, regex=regex) if not isinstance(telemetry, pd.DataFrame)
                else (telemetry, meta or {}))
    df = validate_table(df)
    d_out = d_output or meta.get("d_output") or infer_d_output(df)
    if d_out not in D_OUTPUTS:
        raise DataError(f"d_output must be one of {', '.join(D_OUTPUTS)}, got {d_out!r}")
    loss, loss_why, reduction, reduction_why = resolve_conventions(
        df, d_out, g_loss_given=g_loss, d_loss_reduction_given=d_loss_reduction,
        meta={**meta, "config": config if config is not None else meta.get("config")})
    ctx = Context(
        d_output=d_out,
        num_modes=num_modes if num_modes is not None else (meta.get("dataset") or {}).get("num_modes"),
        config=config if config is not None else meta.get("config"),
        distance_kind=distance_kind or (meta.get("dataset") or {}).get("distance_kind"),
        g_loss=loss, g_loss_reason=loss_why, d_loss_reduction=reduction, d_loss_reduction_reason=reduction_why,
    )
    series = Series(df, th)
    findings: list[Finding] = []
    for name, label, check in all_checks():
        if series.n < th.min_rows and label != DIVERGED:  # too few rows: only a non-finite value is decisive
            findings.append(Finding(name, label, NOT_ASSESSABLE, None, None,
                                    f"not assessable: needs at least {th.min_rows} logged steps (got {series.n})"))
            continue
        try:
            findings.extend(check(series, ctx))
        except Exception as e:  # a crashing check is a ganlint bug: report it, never hide it as a pass
            findings.append(Finding(name, label, ERROR, None, None, f"check crashed: {type(e).__name__}: {e}"))
    return conclude(findings, ctx, needs=_needs(series, ctx))


def conclude(findings: list[Finding], ctx: Context, needs: list[str] | None = None) -> Diagnosis:
    """The Diagnosis from a list of findings: the primary label by priority, confidence, remedies.

    A label holds when its summary finding (the check's bare name, e.g. "collapse") fails, or for
    diverged any failing divergence finding. With none, `stable` needs a passing sample measure
    (SAMPLE_EVIDENCE); else the run is `inconclusive`, and `needs` (what to record to decide; the
    engine derives it from the table, `ganlint check` passes its own) goes into the diagnosis.
    """
    failing: dict[str, Finding] = {}
    for f in findings:
        if f.status == FAIL and f.label in FAILURE_LABELS and ("." not in f.check or f.label == DIVERGED):
            failing.setdefault(f.label, f)
    held = [label for label in FAILURE_LABELS if label in failing]
    onset_from_start = False
    if held:
        label = held[0]
        primary = failing[label]
        confidence = 0.55 + 0.4 * primary.severity + (0.05 if len(held) == 1 else 0.0)
        onset_step, onset_from_start = primary.onset_step, primary.onset_from_start
        summary = primary.message
        findings = _label_first(findings, label)
    else:
        onset_step = None
        evidence = [f for f in findings if f.check in SAMPLE_EVIDENCE and f.status not in (NOT_ASSESSABLE, ERROR)]
        passed = [f for f in evidence if f.status == PASS]
        if passed:
            label = STABLE
            confidence = 0.5 + 0.45 * len(passed) / len(evidence)
            warned = [f for f in evidence if f.status != PASS]
            summary = "no pathology found; " + "; ".join(f.message for f in passed[:3])
            if warned:
                summary += "; but " + "; ".join(f.message for f in warned[:2])
        else:
            label, confidence = INCONCLUSIVE, 0.0
            summary = ("no pathology found, but no sample measure passed either: " +
                       ("; ".join(f.message for f in evidence[:2]) if evidence else
                        "nothing decisive was recorded (losses and D's outputs alone never show a healthy run)"))
            needs = needs or ["samples: evaluation columns (distance, diversity, modes_covered, precision)"]
    if label != INCONCLUSIVE and any(f.status == ERROR for f in findings):
        confidence *= 0.5
    return Diagnosis(
        label=label,
        confidence=float(min(confidence, 0.99)),
        onset_step=onset_step,
        onset_from_start=onset_from_start,
        findings=findings,
        remedies=remedies_for(label, ctx.config, g_loss=ctx.g_loss),
        summary=summary,
        other_labels=[x for x in held if x != label],
        needs=list(needs or []) if label == INCONCLUSIVE else [],
    )


def _label_first(findings: list[Finding], label: str) -> list[Finding]:
    """The findings with those behind the label first (its summary, then its failing measures), so that
    the first failing finding a reader meets is the one the label rests on; the rest keep their order."""
    def rank(f: Finding) -> int:
        if f.label != label:
            return 2
        return 0 if "." not in f.check else 1 if f.status == FAIL else 2
    return sorted(findings, key=rank)  # sorted is stable


def _needs(s: Series, ctx: Context) -> list[str]:
    """What to record to reach a verdict, from what the table lacks (for an inconclusive diagnosis)."""
    out = []
    if s.n < s.th.min_rows:
        out.append(f"more steps: at least {s.th.min_rows} logged steps (the table has {s.n})")
    if not any(s.has(c) for c in EVAL_COLUMNS):
        out.append("samples: evaluation columns (distance, diversity, modes_covered, precision) from G's samples "
                   "against real data; in your own loop, ganlint.Monitor(..., real=real_batch) with "
                   "mon.step(..., fake=fake_batch) records them; for a saved model, `ganlint check CHECKPOINT --data ...`")
    elif len(s.evals("distance")) < 2 and not any(len(s.evals(c)) >= 1 for c in ("diversity", "modes_covered", "precision")):
        out.append("more evaluations of the samples (two or more)")
    if not out:
        out.append("sample measures that pass: the recorded ones are all borderline (see the warnings); "
                   "a longer run or more evaluation samples")
    return out


def validate_table(df: pd.DataFrame) -> pd.DataFrame:
    """A clean numeric copy, or a DataError naming what is wrong."""
    if "step" not in df.columns:
        raise DataError(f"the telemetry has no 'step' column (columns: {', '.join(map(str, df.columns)) or 'none'})")
    present = [c for c in SIGNAL_COLUMNS if c in df.columns]
    if not present:
        raise DataError(f"the telemetry has none of the columns {', '.join(SIGNAL_COLUMNS)}; nothing can be assessed")
    if not len(df):
        raise DataError("the telemetry table is empty")
    out = df.copy()
    for c in out.columns:
        if c in COLUMNS:  # the telemetry schema's columns are numeric; others are passed through
            conv = pd.to_numeric(out[c], errors="coerce")
            bad = conv.isna() & out[c].notna() & ~out[c].astype(str).str.strip().str.lower().isin(("nan", "inf", "-inf", ""))
            if bad.any():
                raise DataError(f"column {c!r} is not numeric (e.g. {out.loc[bad, c].iloc[0]!r} at row {int(bad.idxmax())})")
            out[c] = conv.astype(np.float64)
    if out["step"].isna().any():
        raise DataError("column 'step' has missing values")
    out["step"] = out["step"].astype(np.int64)
    return out
