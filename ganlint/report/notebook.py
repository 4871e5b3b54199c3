"""How ganlint's results show in a notebook: a Diagnosis, Run, CheckResult or SuiteTables as an HTML cell.

    d = ganlint.diagnose("runs/ring8")
    d                       # Jupyter calls d._repr_html_(), that is diagnosis_cell(d)
    d.findings_frame()      # the findings as a DataFrame (ganlint.report.tables.findings_table)

Each class's `_repr_html_` imports this module on first display (importing ganlint.diagnostics stays
light) and calls one function here: a pure function of the object that returns HTML. Their one-line
`__repr__` (label, confidence, onset, counts) is each class's own.

A cell shows what the report page shows, built from the same pieces: the verdict card and the findings
table of ganlint.report.run_report (label badge, confidence, onset, summary, what to record, remedies;
failing findings first, passing ones folded), a run's facts and last values, a suite's scenarios and
labels tables. Its style is the report's stylesheet (ganlint.report.html.CSS) with every rule limited to
the cell's class, so it restyles nothing else in the notebook. A cell is a fragment saved inside the
.ipynb: no script, nothing fetched, no pictures (a run's report.html has them, `ganlint report RUN`);
every string that comes from a run, a log or a user is escaped.

Cost: the first display imports torch, since the verdict card's home (run_report) imports it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pandas as pd

from ganlint.diagnostics.findings import Diagnosis, status_counts
from ganlint.errors import GanlintError
from ganlint.report import html as H
from ganlint.report.run_report import RunInputs, final_values, findings_html, run_facts, verdict_html
from ganlint.report.tables import confusion_frame

if TYPE_CHECKING:
    from ganlint.check.result import CheckResult
    from ganlint.suite.scoring import SuiteTables
    from ganlint.training.run import Run

SCOPE = "ganlint-cell"


def scoped_css(css: str = H.CSS, scope: str = SCOPE) -> str:
    """The page stylesheet with every selector limited to elements inside `.scope`: `body` becomes the cell
    itself and `main` (the page's centred column) is left out."""
    rules = []
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        sels = [" ".join(s.split()) for s in selectors.split(",")]
        sels = [f".{scope}" if s == "body" else f".{scope} {s}" for s in sels if s != "main"]
        if sels:
            rules.append(f"{', '.join(sels)} {{ {' '.join(body.split())} }}")
    rules.append(f".{scope} {{ padding: 4px 14px 8px; border-radius: 6px; }}")
    return "\n".join(rules)


def _cell(title: str, meta: str, body: str) -> str:
    """The cell around `body`: its scoped style, a title and a line of (already escaped) facts."""
    return (f'<div class="{SCOPE}"><style>{scoped_css()}</style><h3>{title}</h3>'
            + (f'<p class="meta">{meta}</p>' if meta else "") + body + "</div>")


def _facts(pairs: list[tuple[str, str]]) -> str:
    return " · ".join(f"{H.esc(k)} <b>{H.esc(v)}</b>" for k, v in pairs)


def _diagnosis_body(d: Diagnosis) -> str:
    return (verdict_html(d) + f"<h3>Findings</h3><p class=\"meta\">{H.esc(status_counts(d.findings))}; as a table: "
            f"<code>.findings_frame()</code></p>" + findings_html(d))


def diagnosis_cell(d: Diagnosis) -> str:
    """A Diagnosis: its verdict card (label, confidence, onset, summary, needs, remedies) and its findings."""
    return _cell("ganlint diagnosis", "", _diagnosis_body(d))


def run_cell(run: Run) -> str:
    """A Run: its facts, its diagnosis (the engine on its telemetry, as `ganlint.diagnose(run.out_dir)`
    gives it) and its last values. A run without telemetry to judge says why instead of a verdict."""
    from ganlint.diagnostics.engine import diagnose

    d: Diagnosis | None = None
    why = ""
    try:
        d = diagnose(run.telemetry, meta=run.meta)
    except GanlintError as e:  # a run killed before its first rows: nothing to judge
        why = str(e)
    inp = RunInputs(run.out_dir.name, run.out_dir, run.telemetry, d, run.meta, run.summary)  # type: ignore[arg-type]
    body = _diagnosis_body(d) if d is not None else f'<div class="banner">No diagnosis: {H.esc(why)}</div>'
    last = final_values(inp)
    if len(last):
        body += f"<details><summary>last values ({len(last)} columns)</summary>{H.table(last)}</details>"
    body += (f'<p class="meta">Curves and samples: <code>ganlint report {H.esc(run.out_dir)}</code> writes its '
             f"report.html.</p>")
    return _cell(f"ganlint run: {H.esc(inp.name)}", _facts([("folder", str(run.out_dir)), *run_facts(inp)]), body)


def check_cell(result: CheckResult) -> str:
    """A CheckResult: the gate's verdict and reasons, the diagnosis, what was skipped, notes and metrics."""
    d = result.diagnosis
    reasons = list(result.policy.reasons(d))
    if not result.checked:
        reasons.append("nothing could be checked (see skipped)")
    gate = (f'<div class="card"><div class="verdict">gate {H.badge("pass" if result.healthy else "fail", big=True)}'
            f"<span>exit code <b>{result.exit_code}</b></span><span><code>--fail-on "
            f"{H.esc(result.policy.to_spec())}</code></span></div>"
            + (f"<ul>{''.join(f'<li>{H.esc(r)}</li>' for r in reasons)}</ul>" if reasons else "") + "</div>")
    body = gate + _diagnosis_body(d)
    for head, items in (("Skipped", result.skipped), ("Notes", result.notes)):
        if items:
            body += f"<h3>{head}</h3><ul>{''.join(f'<li>{H.esc(x)}</li>' for x in items)}</ul>"
    if result.metrics:
        metrics = pd.DataFrame([{"metric": k, "value": v} for k, v in result.metrics.items()])
        body += f"<details><summary>{len(metrics)} metrics</summary>{H.table(metrics)}</details>"
    meta = _facts([("kind", result.kind), ("samples", str(result.samples))])
    return _cell(f"ganlint check: {H.esc(result.source)}", meta, body)


def suite_cell(t: SuiteTables) -> str:
    """SuiteTables: the verdict, the runs that failed for good (if any), the scenarios and labels tables,
    and the confusion counts (folded)."""
    n = t.tally
    body = (f'<div class="card"><div class="verdict">{H.badge("pass" if t.passed else "fail", big=True)}'
            f"<span><b>{n['scenarios_passed']}/{n['scenarios']}</b> scenarios pass</span><span><b>{n['runs_correct']}/"
            f"{n['runs']}</b> runs got their expected label</span></div><p class=\"why\">A scenario passes when its "
            f"expected label is found in a majority of its seeds.</p></div>")
    if len(t.errors):
        body += (f'<div class="banner">{len(t.errors)} run(s) failed after their retries (no label; the suite fails '
                 f"until <code>--resume</code> finishes them):{H.table(t.errors)}</div>")
    sc = t.scenarios.copy()
    sc["result"] = [f'<span class="{"pass" if p else "fail"}">{"pass" if p else "FAIL"} ({a}/{s})</span>'
                    for p, a, s in zip(sc["passed"], sc["agree"], sc["seeds"], strict=True)]
    body += "<h3>Scenarios</h3>" + H.table(
        sc, columns=["scenario", "dataset", "expected", "labels", "mean_confidence", "result"],
        cells={"expected": lambda v: H.badge(v), "result": lambda v: v}, row_class=lambda r: "" if r["passed"] else "bad")
    body += ("<h3>Labels</h3>" + H.table(t.labels) + f"<details><summary>expected (rows) vs found (columns)</summary>"
             f"{H.table(confusion_frame(t.confusion))}</details>")
    return _cell("ganlint suite", _facts([("folder", str(t.out_dir)), ("runs", str(n["runs"]))]), body)
