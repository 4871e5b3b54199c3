"""The report of one run: plots, findings table, report.html and report.md, from what the run saved.

    ganlint report runs/ring8-nonsaturating-...      # or render_run(path) from Python

Inputs, all read back from disk (nothing is retrained): the telemetry table, config.json and
summary.json (when the source is a run folder), the diagnosis (diagnosis.json when the run has one, so
the page agrees with the suite tables that quote it; else diagnosed now), and the fakes saved at a few
steps under samples/. The source may also be a bare telemetry table (CSV/parquet/JSONL): its report has
the curves and the findings, and no samples.

Writes (into the run folder by default, all at once through ganlint.report.staging):
  plots/panels.png   curves over steps, the onset step marked on every panel
  plots/samples.png  the samples at several steps against the real data
  findings.csv/.parquet, diagnosis.json, report.html, report.md

`write_diagnosis` is the one way a diagnosis reaches the disk: `ganlint train`, each run of `ganlint run`
and `ganlint diagnose --report` all call it.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from ganlint.diagnostics.engine import diagnose, validate_table
from ganlint.diagnostics.findings import Diagnosis
from ganlint.errors import DataError, GanlintError
from ganlint.files import write_json
from ganlint.ingest.telemetry import load_telemetry
from ganlint.report import html as H
from ganlint.report.markdown import md_table
from ganlint.report.staging import staged
from ganlint.report.tables import findings_table, write_table
from ganlint.training.run import SAMPLES_DIR, SUMMARY_FILE, TELEMETRY_CSV, TELEMETRY_PARQUET
from ganlint.vocabulary import ERROR, FAIL, INCONCLUSIVE, NOT_ASSESSABLE, PASS, PASSING_LABEL, WARN

log = logging.getLogger(__name__)

PANELS_PNG = "plots/panels.png"
SAMPLES_PNG = "plots/samples.png"
DIAGNOSIS_FILE = "diagnosis.json"
# What render_run writes into a folder (a run's --overwrite removes them with the run's own files).
REPORT_FILES = ("report.html", "report.md", DIAGNOSIS_FILE, "findings.csv", "findings.parquet", PANELS_PNG, SAMPLES_PNG)
STATUS_ORDER = {FAIL: 0, ERROR: 1, WARN: 2, NOT_ASSESSABLE: 3, PASS: 4}


def needs_heading(d: Diagnosis) -> str:
    """The heading of Diagnosis.needs: what decides an inconclusive verdict, or sharpens any other."""
    return "To decide, record" if d.label == INCONCLUSIVE else "To be surer, record"


def shows_remedies(d: Diagnosis) -> bool:
    """Remedies are shown for every label but the passing one (every failure label, and inconclusive
    when the engine gives any)."""
    return bool(d.remedies) and d.label != PASSING_LABEL


@dataclass
class RunInputs:
    """What a run report is made of."""

    name: str
    source: Path
    telemetry: pd.DataFrame
    diagnosis: Diagnosis
    meta: dict[str, Any] = field(default_factory=dict)  # config.json ({} for a bare table)
    summary: dict[str, Any] = field(default_factory=dict)
    fakes: dict[int, torch.Tensor] = field(default_factory=dict)

    @property
    def is_run_folder(self) -> bool:
        return self.source.is_dir()

    @property
    def d_output(self) -> str:
        return self.meta.get("d_output") or _infer_d_output(self.telemetry)


def _infer_d_output(df: pd.DataFrame) -> str:
    from ganlint.ingest.conventions import infer_d_output as infer

    return infer(df)


def load_inputs(source: str | os.PathLike, diagnosis: Diagnosis | None = None) -> RunInputs:
    """Read a run folder or a telemetry table; DataError naming what is missing or wrong."""
    src = Path(source)
    telemetry, meta = load_telemetry(src)
    telemetry = validate_table(telemetry)
    summary: dict[str, Any] = {}
    fakes: dict[int, torch.Tensor] = {}
    if src.is_dir():
        if not meta:
            raise DataError(f"{str(src)!r} has telemetry but no config.json: is it a complete ganlint run folder?")
        if (src / SUMMARY_FILE).is_file():
            summary = _read_json(src / SUMMARY_FILE)
        if diagnosis is None and (src / DIAGNOSIS_FILE).is_file():
            try:
                diagnosis = Diagnosis.from_dict(_read_json(src / DIAGNOSIS_FILE))
            except (KeyError, TypeError, ValueError) as e:
                raise DataError(f"{str(src / DIAGNOSIS_FILE)!r} is not a valid diagnosis: {e}") from None
        fakes = load_fakes(src)
    if diagnosis is None:
        diagnosis = diagnose(telemetry, meta=meta)
    name = src.name if src.is_dir() else src.stem
    return RunInputs(name, src, telemetry, diagnosis, meta, summary, fakes)


def _read_json(path: Path) -> dict[str, Any]:
    from ganlint.jsonfile import read_json_object  # binary, a list, too deep: one DataError naming the file

    return read_json_object(path, "a ganlint run file")


def load_fakes(run_dir: Path) -> dict[int, torch.Tensor]:
    """The fakes the trainer saved at a few steps (samples/step_NNNNNN.safetensors), by step."""
    from safetensors.torch import load_file

    out = {}
    for f in sorted((run_dir / SAMPLES_DIR).glob("step_*.safetensors")):
        try:
            out[int(f.stem.split("_")[1])] = load_file(str(f))["fake"]
        except Exception as e:  # a damaged sample file costs its column of the picture, not the report
            log.warning("skipping %s: %s: %s", f, type(e).__name__, e)
    return out


def reference_reals(meta: dict[str, Any], folder: Path | None = None):
    """(dataset, the run's evaluation reals), drawn again exactly as the trainer drew them; for a folder a
    Monitor saved (no training config), the reals it wrote to samples/real.safetensors. None when the
    dataset cannot be built here (e.g. MNIST's folder is on another machine)."""
    from ganlint.data import get_dataset
    from ganlint.training.config import TrainConfig
    from ganlint.training.skeleton import eval_inputs

    saved = folder / SAMPLES_DIR / "real.safetensors" if folder is not None else None
    if "config" not in meta and saved is not None and saved.is_file():
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        from ganlint.check.reference import from_tensor

        try:
            ref = from_tensor("real", load_file(str(saved))["real"])
        except (GanlintError, KeyError, OSError, SafetensorError) as e:
            log.warning("no real data for the sample pictures: %s: %s", saved, e)
            return None
        return ref.dataset, ref.real
    try:
        cfg = TrainConfig.from_dict(meta["config"])
        dataset = get_dataset(cfg.dataset, cfg.data_root)
        _, _, real = eval_inputs(cfg, dataset)
    except (GanlintError, KeyError, TypeError, OSError) as e:
        log.warning("no real data for the sample pictures: %s", e)
        return None
    return dataset, real


def render_run(source: str | os.PathLike, out: str | os.PathLike | None = None, *,
               diagnosis: Diagnosis | None = None) -> Path:
    """Write the run's report; returns the path of its report.html.

    Args:
        source: a run folder, or a telemetry table (CSV/parquet/JSONL).
        out: where to write; default the run folder itself, or reports/<table name>/ for a table.
        diagnosis: use this diagnosis instead of the saved or recomputed one.
    """
    inp = load_inputs(source, diagnosis)
    if out is None:
        out = inp.source if inp.is_run_folder else Path("reports") / inp.name
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DataError(f"{str(out)!r} exists and is not a folder")
    from ganlint.report import figures, plots

    with staged(out) as stage:
        d = inp.diagnosis
        title = f"{inp.name}"
        figures.run_panels(inp.telemetry, stage / PANELS_PNG, title=title, onset_step=d.onset_step, label=d.label,
                           d_output=inp.d_output, num_modes=(inp.meta.get("dataset") or {}).get("num_modes"))
        has_samples = False
        if inp.fakes:
            ref = reference_reals(inp.meta, inp.source if inp.is_run_folder else None)
            if ref is not None:
                dataset, real = ref
                plots.samples_strip(inp.fakes, real, dataset, stage / SAMPLES_PNG, title=f"{inp.name}: samples over training")
                has_samples = True
        write_table(findings_table(d), stage, "findings")
        write_json(stage / DIAGNOSIS_FILE, d.to_dict())
        (stage / "report.html").write_text(run_html(inp, stage, has_samples), encoding="utf-8")
        (stage / "report.md").write_text(run_markdown(inp, has_samples), encoding="utf-8")
    return out / "report.html"


def is_run_folder(path: Path) -> bool:
    """A folder with a ganlint telemetry table (a trained run's, or a Monitor's)."""
    return path.is_dir() and any((path / n).is_file() for n in (TELEMETRY_PARQUET, TELEMETRY_CSV))


def write_diagnosis(source: str | os.PathLike, diagnosis: Diagnosis | None = None, *, report: bool = True,
                    out: str | os.PathLike | None = None, telemetry: pd.DataFrame | None = None,
                    progress: bool = False) -> tuple[Diagnosis, Path | None]:
    """Diagnose a run (unless `diagnosis` is given) and write the verdict where a person looks for it.

    A run folder: with `report`, its whole report (report.html, report.md, plots/, diagnosis.json and the
    findings table, published at once) into `out`, default the run folder; without, diagnosis.json and the
    findings table into the run folder. Any other source (a log or a table): its report, rendered from
    `telemetry` (the table the diagnosis read, mapped to ganlint's columns; default: read from the source)
    saved under the log's name in a scratch folder, so that it lands in reports/<log name> unless `out`
    says otherwise; without `report` nothing is written for it.

    Args:
        source: a run folder, or a log or telemetry table.
        diagnosis: the diagnosis to write (callers that diagnose with options pass theirs).
        report: also render the report.
        out: where the report goes (see above).
        telemetry: for a source that is not a run folder, the table the diagnosis read.
        progress: log a line before rendering (it takes seconds).

    Returns:
        (the diagnosis, the path of report.html, or None without `report`).
    """
    src = Path(source)
    d = diagnosis if diagnosis is not None else diagnose(telemetry if telemetry is not None else src)
    folder = is_run_folder(src)
    if not report:
        if folder:
            write_json(src / DIAGNOSIS_FILE, d.to_dict())
            write_table(findings_table(d), src, "findings")
        return d, None
    if progress:
        log.info("writing the report")
    if folder:
        return d, render_run(src, out or None, diagnosis=d)
    if telemetry is None:
        telemetry, _ = load_telemetry(src)
    return d, _report_of_log(src, telemetry, d, out)


def _report_of_log(src: Path, telemetry: pd.DataFrame, d: Diagnosis, out: str | os.PathLike | None) -> Path:
    """The report of a log or table, from the telemetry the diagnosis read, saved under the log's name."""
    from ganlint.schema import COLUMNS

    # metrics.csv, trainer_state.json and event files are named by their tool: their folder names the run
    generic = src.name in ("metrics.csv", "trainer_state.json") or src.name.startswith("events.out.tfevents.")
    name = src.resolve().parent.name if generic else src.stem if src.is_file() else src.resolve().name
    with tempfile.TemporaryDirectory(prefix="ganlint-") as tmp:
        table = Path(tmp) / f"{name}.parquet"
        telemetry[[c for c in telemetry.columns if c in COLUMNS]].to_parquet(table, index=False)
        return render_run(table, out or Path("reports") / name, diagnosis=d)


def run_facts(inp: RunInputs) -> list[tuple[str, str]]:
    """The one-line facts about a run shown under its title."""
    cfg = inp.meta.get("config") or {}
    s = inp.summary
    facts = []
    if cfg:
        facts += [("dataset", cfg.get("dataset")), ("loss", cfg.get("loss")), ("model", cfg.get("model")),
                  ("seed", cfg.get("seed"))]
    steps = int(inp.telemetry["step"].max()) if len(inp.telemetry) else 0
    facts.append(("steps", f"{s.get('steps_completed', steps)}" + (f"/{s['steps_requested']}" if "steps_requested" in s else "")))
    if s.get("stop_reason") and s.get("stop_reason") != "completed":
        facts.append(("stopped", s["stop_reason"]))
    elif inp.is_run_folder and not s:
        facts.append(("stopped", unfinished(inp.source)))
    if s.get("steps_per_s"):
        facts.append(("rate", f"{s['steps_per_s']:.1f} steps/s"))
    if inp.meta.get("device_name") or s.get("device"):
        facts.append(("device", inp.meta.get("device_name") or s.get("device")))
    return [(k, str(v)) for k, v in facts if v is not None]


def unfinished(run_dir: Path) -> str:
    """What a run folder without summary.json is: still being trained, or killed (its rows and last
    checkpoint kept)."""
    from ganlint.lock import holder

    who = holder(run_dir)
    if who is not None:
        return f"still training (process {who.get('pid')} on {who.get('host')}): this is the run so far"
    return ("interrupted without a summary (killed): the telemetry is the rows written before; "
            f"continue it with ganlint train --resume {run_dir}")


def sorted_findings(d: Diagnosis) -> pd.DataFrame:
    f = findings_table(d)
    f["_o"] = f["status"].map(STATUS_ORDER).fillna(9)
    return f.sort_values(["_o", "check"]).drop(columns="_o").reset_index(drop=True)


def _window(r: pd.Series) -> str:
    return "" if pd.isna(r["window_start"]) else f"{int(r['window_start'])}-{int(r['window_end'])}"


def findings_html(d: Diagnosis) -> str:
    f = sorted_findings(d)
    f["steps"] = [_window(r) for _, r in f.iterrows()]
    cols = ["status", "check", "message", "value", "threshold", "steps"]
    cells = {"status": lambda v: H.badge(v), "check": lambda v: f"<code>{H.esc(v)}</code>",
             "steps": lambda v: f'<span class="nw">{H.esc(v)}</span>'}
    shown, passing = f[f["status"] != PASS], f[f["status"] == PASS]
    empty = "<p>All checks pass.</p>" if len(f) else "<p>No check ran.</p>"
    out = H.table(shown, columns=cols, cells=cells) if len(shown) else empty
    if len(passing):
        out += (f"<details><summary>{len(passing)} passing checks</summary>"
                f"{H.table(passing, columns=cols, cells=cells)}</details>")
    return out


def verdict_html(d: Diagnosis) -> str:
    onset = f"onset <b>{H.esc(d.onset_text)}</b>" if d.onset_text else ""
    also = f"also holds: {', '.join(H.badge(x) for x in d.other_labels)}" if d.other_labels else ""
    return (f'<div class="card"><div class="verdict">{H.badge(d.label, big=True)}'
            f"<span>confidence <b>{d.confidence:.2f}</b></span><span>{onset}</span><span>{also}</span></div>"
            f'<p class="why">{H.esc(d.summary)}</p>'
            + (f'<b>{needs_heading(d)}</b><ul class="needs">{"".join(f"<li>{H.esc(n)}</li>" for n in d.needs)}</ul>'
               if d.needs else "")
            + (f'<b>Remedies</b><ul class="remedies">{"".join(f"<li>{H.esc(r)}</li>" for r in d.remedies)}</ul>'
               if shows_remedies(d) else "") + "</div>")


def run_html(inp: RunInputs, stage: Path, has_samples: bool) -> str:
    d = inp.diagnosis
    facts = " · ".join(f"{k} <b>{H.esc(v)}</b>" for k, v in run_facts(inp))
    parts = [f"<h1>ganlint run report: {H.esc(inp.name)}</h1>", f'<p class="meta">{facts}</p>', verdict_html(d)]
    parts.append("<h2>Training curves</h2>")
    parts.append('<p class="meta">Losses alone do not tell sample quality: read D(x) against D(G(z)) around the '
                 "equilibrium line, the gradient norms and update ratios, and the sample-based metrics together. "
                 "The dashed line marks the onset step.</p>")
    parts.append(H.image(stage / PANELS_PNG, "training curves"))
    parts.append("<h2>Samples</h2>")
    parts.append(H.image(stage / SAMPLES_PNG, "samples over training") if has_samples
                 else '<p class="meta">No saved samples (a bare telemetry table, or a run without pictures).</p>')
    parts.append("<h2>Findings</h2>")
    parts.append(findings_html(d))
    final = final_values(inp)
    if len(final):
        parts.append("<h2>Final values</h2>")
        parts.append(H.table(final))
    cfg = inp.meta.get("config")
    if cfg:
        rows = pd.DataFrame({"field": list(cfg), "value": [json.dumps(v) if not isinstance(v, str) else v for v in cfg.values()]})
        parts.append(f"<h2>Configuration</h2><details><summary>{len(rows)} fields</summary>{H.table(rows)}</details>")
    parts.append(f'<p class="meta">Source: {H.esc(inp.source)} · tables: telemetry.csv/.parquet, findings.csv/.parquet · '
                 f"{_provenance(inp.meta)}</p>")
    return H.page(f"ganlint: {inp.name} — {d.label}", "\n".join(parts))


def final_values(inp: RunInputs) -> pd.DataFrame:
    """The last recorded value of each telemetry column (the eval columns at their last evaluation)."""
    df = inp.telemetry
    rows = []
    for c in df.columns:
        if c in ("step", "time_s") or not pd.api.types.is_numeric_dtype(df[c]):
            continue
        s = df[["step", c]].dropna()
        if len(s):
            rows.append({"column": c, "value": float(s[c].iloc[-1]), "at step": int(s["step"].iloc[-1])})
    return pd.DataFrame(rows, columns=["column", "value", "at step"])


def _provenance(meta: dict[str, Any]) -> str:
    from ganlint import __version__

    bits = [f"ganlint {meta.get('ganlint_version', __version__)}"]
    if meta.get("torch_version"):
        bits.append(f"torch {meta['torch_version']}")
    bits.append(f"rendered {time.strftime('%Y-%m-%d %H:%M')}")
    return " · ".join(H.esc(b) for b in bits)


def run_markdown(inp: RunInputs, has_samples: bool) -> str:
    d = inp.diagnosis
    lines = [f"# ganlint run report: {inp.name}", ""]
    lines.append(" · ".join(f"{k} **{v}**" for k, v in run_facts(inp)))
    lines.append("")
    onset = f", onset {d.onset_text}" if d.onset_text else ""
    lines.append(f"**Label: `{d.label}`** (confidence {d.confidence:.2f}{onset})")
    lines.append("")
    lines.append(d.summary)
    if d.other_labels:
        lines += ["", f"Also holds: {', '.join(d.other_labels)}"]
    f = sorted_findings(d)
    ran = len(f)
    f = f[f["status"] != PASS].copy()
    if d.needs:
        lines += ["", f"## {needs_heading(d)}", ""] + [f"- {n}" for n in d.needs]
    lines += ["", "## Findings", ""]
    if len(f):
        f["steps"] = [_window(r) for _, r in f.iterrows()]
        lines.append(md_table(f, columns=["status", "check", "message", "value", "threshold", "steps"]))
    else:
        lines.append("All checks pass." if ran else "No check ran.")
    if shows_remedies(d):
        lines += ["", "## Remedies", ""] + [f"- {r}" for r in d.remedies]
    lines += ["", "## Plots", "", f"![training curves]({PANELS_PNG})"]
    if has_samples:
        lines += ["", f"![samples over training]({SAMPLES_PNG})"]
    return "\n".join(lines) + "\n"
