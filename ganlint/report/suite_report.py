"""The report of a scenario suite: its tables, a confusion matrix, an overview of every run, and a
section per scenario, as report.html and report.md in the suite's folder.

    ganlint report reports/quick          # or render_suite("reports/quick") from Python

Everything comes from what the suite saved: the results table (or the per-run result files, for a
suite that was interrupted before its tables were written), suite.json for the scenarios' descriptions,
and each run's folder for its curves and samples. The aggregate tables are recomputed from the results,
so they always agree with them. Each run's own report (plots and page) lives in its run folder; the
suite page embeds the pictures of one representative seed per scenario (the first seed that got the
majority label) and of every seed whose label differs from the expectation, since those are the
runs a person wants to look at.

What is read back is checked before it is used (ganlint.suite.folder's read_spec and result_run_dir):
every result row, from the results table or a result file, must name a run folder inside the suite's
runs/ that is no link and holds no link, since re-rendering a run's report writes into its folder. A
row that fails is a DataError naming the file and the value (the report stops rather than skip it: only a
hand-edited or crafted suite holds one, and a report that silently leaves out runs would mislead).

This module reads the suite folder (ganlint.suite.folder) and scores it (ganlint.suite.scoring); it never
imports the runner, which calls it.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import pandas as pd

from ganlint.errors import DataError
from ganlint.ingest.telemetry import load_telemetry
from ganlint.report import html as H
from ganlint.report.markdown import md_table
from ganlint.report.run_report import DIAGNOSIS_FILE, PANELS_PNG, SAMPLES_PNG, render_run
from ganlint.report.staging import staged
from ganlint.report.tables import confusion_frame, read_table, write_suite_tables
from ganlint.suite.folder import RESULTS_DIR, failed_runs, finished_results, read_spec, result_run_dir
from ganlint.suite.scoring import SuiteTables, suite_tables
from ganlint.training.run import CONFIG_FILE
from ganlint.vocabulary import ERROR, FAIL, INCONCLUSIVE, WARN

log = logging.getLogger(__name__)

CONFUSION_PNG = "plots/confusion.png"
OVERVIEW_PNG = "plots/overview.png"
# Pictures of disagreeing seeds shown per scenario beyond the representative one (the rest are in the
# seeds table and their own reports): enough to see a pattern, few enough to keep the page light.
MAX_DISAGREEING = 2


def load_suite(folder: str | os.PathLike) -> tuple[SuiteTables, dict[str, Any]]:
    """The suite's tables and spec. Results come from the results table, or, when the suite was
    interrupted before writing it, from the per-run result files; error rows from errors/."""
    folder = Path(folder)
    spec = read_spec(folder)
    errors = list(failed_runs(folder).values())
    table = next((folder / f for f in ("results.parquet", "results.csv") if (folder / f).is_file()), None)
    if table is not None:
        results = read_table(folder, "results")  # parquet, else CSV: the file named in `table`
        for _, row in results.iterrows():
            result_run_dir(folder, row, table)
        tables = suite_tables(results, errors)
    else:
        rows = list(finished_results(folder).values())
        if not rows:
            raise DataError(f"the suite in {str(folder)!r} has no finished runs yet (no results table, nothing in "
                            f"{RESULTS_DIR}/); finish it with: ganlint run --resume {folder}")
        tables = suite_tables(pd.DataFrame(rows), errors)
    tables.out_dir = folder
    return tables, spec


def _run_dir(folder: Path, row: pd.Series) -> Path:
    """The checked run folder of a result row. Re-rendering its report writes into it, so a link in it
    (plots/, report.html) is refused rather than followed out of the suite."""
    d = result_run_dir(folder, row, folder / "results")
    if not (d / CONFIG_FILE).is_file():
        raise DataError(f"the run folder {str(d)!r} named in the results table is missing or incomplete")
    links = sorted(c.name for c in d.iterdir() if c.is_symlink())
    if links:
        raise DataError(f"the run folder {str(d)!r} holds link(s) {', '.join(links)}; refusing to write its report")
    return d


def render_suite(folder: str | os.PathLike, out: str | os.PathLike | None = None, *, tables: SuiteTables | None = None,
                 rerender_runs: bool = False, jobs: int | None = None) -> Path:
    """Write the suite's report (and the tables, when out is another folder); returns report.html's path.

    Args:
        folder: the suite's folder (with suite.json, results and runs/).
        out: where to write the report; default the suite's folder.
        tables: the tables already in memory (from the runner), else read from the folder.
        rerender_runs: also re-render every run's own report (default: only the runs that have none).
        jobs: worker processes for re-rendering run reports (default: CPU cores).
    """
    folder = Path(folder)
    if tables is None:
        tables, spec = load_suite(folder)
    else:
        spec = read_spec(folder)
    out = Path(out) if out is not None else folder
    if out.exists() and not out.is_dir():
        raise DataError(f"{str(out)!r} exists and is not a folder")
    if (out / "plots").is_symlink():
        raise DataError(f"{str(out / 'plots')!r} is a link; refusing to write the report's pictures through it")
    res = tables.results
    run_dirs = {r["run_dir"]: _run_dir(folder, r) for _, r in res.iterrows()}
    todo = [d for d in run_dirs.values() if rerender_runs or not (d / PANELS_PNG).is_file() or not (d / "report.html").is_file()]
    _render_runs(todo, jobs)

    from ganlint.report import figures

    telemetry, d_outputs = {}, {}
    for rel, d in run_dirs.items():
        df, meta = load_telemetry(d)
        telemetry[rel], d_outputs[rel] = df, meta.get("d_output", "probability")
    with staged(out) as stage:
        if out.resolve() != folder.resolve():
            write_suite_tables(tables, stage)
        figures.confusion_png(tables.confusion, stage / CONFUSION_PNG, title="expected vs found (all runs)")
        items = [{"scenario": r["scenario"], "seed": int(r["seed"]), "expected": r["expected"], "label": r["label"],
                  "telemetry": telemetry[r["run_dir"]], "d_output": d_outputs[r["run_dir"]],
                  "onset_step": None if pd.isna(r["onset_step"]) else int(r["onset_step"])} for _, r in res.iterrows()]
        figures.overview_png(items, stage / OVERVIEW_PNG, title="every run: D(x) and D(G(z)) over steps")
        (stage / "report.html").write_text(suite_html(tables, spec, folder, out, stage), encoding="utf-8")
        (stage / "report.md").write_text(suite_markdown(tables, spec, folder, out), encoding="utf-8")
    return out / "report.html"


def _render_runs(run_dirs: list[Path], jobs: int | None) -> None:
    if not run_dirs:
        return
    jobs = jobs or min(os.cpu_count() or 1, len(run_dirs))
    log.info("rendering %d run report(s)", len(run_dirs))
    if jobs <= 1 or len(run_dirs) == 1:
        for d in run_dirs:
            render_run(d)
        return
    from ganlint.suite.workers import worker_pool

    with worker_pool(jobs) as pool:  # spawned workers that die with this process
        for _ in pool.map(render_run, run_dirs):
            pass


def representatives(res: pd.DataFrame, scenarios: pd.DataFrame) -> dict[str, list[pd.Series]]:
    """Per scenario, the runs whose pictures the page shows: the first seed with the majority label,
    then every seed that got a label other than the expected one."""
    majority = scenarios.set_index("scenario")["majority_label"]
    out: dict[str, list[pd.Series]] = {}
    for name, g in res.groupby("scenario", sort=True):
        g = g.sort_values("seed")
        first = g[g["label"] == majority[name]].iloc[0]
        others = [r for _, r in g.iterrows() if not r["correct"] and r["seed"] != first["seed"]]
        out[name] = [first, *others[:MAX_DISAGREEING]]
    return out


def _summary_counts(t: SuiteTables) -> tuple[int, int, int, int]:
    return (int(t.scenarios["passed"].sum()), len(t.scenarios), int(t.results["correct"].sum()), len(t.results))


def _incomplete(t: SuiteTables, spec: dict[str, Any]) -> int:
    """Runs asked for in suite.json that have no result."""
    return len(spec["scenarios"]) * len(spec["seeds"]) - len(t.results)


def _why(spec: dict[str, Any]) -> dict[str, str]:
    return {s["name"]: s.get("why", "") for s in spec["scenarios"]}


# The scenario files a report names before "and N more": the meta line stays one line.
FILES_SHOWN = 3


def _ran(spec: dict[str, Any]) -> str:
    """What the suite ran, for the meta lines: "suite quick" when it was chosen by its name, else the scenario
    files suite.json records ("2 files: a.toml, b.toml": their names, or their paths when two share a name),
    else "custom" (a spec from the Python API without files). An older suite.json that recorded "quick" for
    files given on the command line still reads as "suite quick"."""
    if spec.get("suite"):
        return f"suite {spec['suite']}"
    files = list(dict.fromkeys(sc["file"] for sc in spec["scenarios"] if sc.get("file")))
    if not files:
        return "custom"
    names = [Path(f).name for f in files]
    if len(set(names)) < len(names):
        names = files
    shown = ", ".join(names[:FILES_SHOWN]) + (f" and {len(names) - FILES_SHOWN} more" if len(names) > FILES_SHOWN else "")
    return f"{len(names)} file{'s' if len(names) > 1 else ''}: {shown}"


def suite_html(t: SuiteTables, spec: dict[str, Any], folder: Path, out: Path, stage: Path) -> str:
    passed, n_sc, correct, n_runs = _summary_counts(t)
    name = folder.resolve().name
    ok = t.passed
    res = t.results
    parts = [f"<h1>ganlint suite report: {H.esc(name)}</h1>"]
    meta = [("scenarios", _ran(spec)), ("seeds", ", ".join(map(str, spec["seeds"]))),
            ("device", ", ".join(sorted(set(res["device"])))), ("runs", str(n_runs)),
            ("wall time", f"{res['wall_s'].sum() / 60:.1f} min of runs"), ("started", spec.get("created", "?"))]
    parts.append('<p class="meta">' + " · ".join(f"{k} <b>{H.esc(v)}</b>" for k, v in meta) + "</p>")
    missing = _incomplete(t, spec)
    if missing > 0:
        parts.append(f'<div class="banner">Incomplete: {missing} of {missing + n_runs} runs have no result yet. '
                     f"Finish them with <code>ganlint run --resume {H.esc(folder)}</code>.</div>")
    if len(t.errors):
        parts.append(f'<div class="banner">{len(t.errors)} run(s) failed after their retries (no label; the suite '
                     f'fails until <code>--resume</code> finishes them):<ul>'
                     + "".join(f"<li><code>{H.esc(r['scenario'])}</code> seed {int(r['seed'])}: {H.esc(r['error'])} "
                               f"({int(r['attempts'])} attempt(s))</li>" for _, r in t.errors.iterrows())
                     + "</ul></div>")
    parts.append(f'<div class="card"><div class="verdict">{H.badge("pass" if ok else "fail", big=True)}'
                 f"<span><b>{passed}/{n_sc}</b> scenarios pass</span><span><b>{correct}/{n_runs}</b> runs got their "
                 f"expected label</span></div><p class=\"why\">A scenario passes when its expected label is found in a "
                 f"majority of its seeds. Each scenario's expected label comes from how it is built and from its "
                 f"samples, never from the engine.</p></div>")
    parts.append("<h2>Scenarios</h2>")
    sc = t.scenarios.copy()
    sc["result"] = [f'<span class="{"pass" if p else "fail"}">{"pass" if p else "FAIL"} ({a}/{s})</span>'
                    for p, a, s in zip(sc["passed"], sc["agree"], sc["seeds"], strict=True)]
    parts.append(H.table(sc, columns=["scenario", "dataset", "expected", "labels", "mean_confidence", "result"],
                         cells={"scenario": lambda v: f'<a href="#{H.esc(v)}">{H.esc(v)}</a>',
                                "expected": lambda v: H.badge(v), "result": lambda v: v},
                         row_class=lambda r: "" if r["passed"] else "bad"))
    parts.append("<h2>Labels</h2>")
    parts.append('<div class="grid2"><div>' + H.table(t.labels) +
                 '<p class="meta">precision: of the runs given a label, the share that expected it; recall: of the runs '
                 "that expected a label, the share that got it.</p></div><div>"
                 + H.image(stage / CONFUSION_PNG, "confusion matrix", slot=H.HALF_WIDTH_PX) + "</div></div>")
    parts.append("<h2>Every run</h2>")
    parts.append('<p class="meta">D(x) (blue) and D(G(z)) (red) over the steps of each run; the frame is green where '
                 "the label matches the expectation, red where it does not.</p>")
    parts.append(H.image(stage / OVERVIEW_PNG, "overview of every run"))
    why = _why(spec)
    picks = representatives(res, t.scenarios)
    for _, s in t.scenarios.iterrows():
        sname = s["scenario"]
        g = res[res["scenario"] == sname]
        parts.append(f'<h2 id="{H.esc(sname)}">{H.esc(sname)} {H.badge(s["expected"])} '
                     f'<span class="{"pass" if s["passed"] else "fail"}">{"pass" if s["passed"] else "FAIL"}</span></h2>')
        if why.get(sname):
            parts.append(f'<p class="why">{H.esc(why[sname])}</p>')
        parts.append(H.table(g, columns=["seed", "label", "confidence", "onset_step", "final_distance", "modes_covered",
                                         "final_coverage", "final_d_real", "final_d_fake", "steps_per_s", "wall_s", "run_dir"],
                             cells={"label": lambda v: H.badge(v)}, row_class=lambda r: "" if r["correct"] else "bad"))
        for i, r in enumerate(picks[sname]):
            run_dir = folder / r["run_dir"]
            diag = _diagnosis(run_dir)
            role = "representative: the first seed with the majority label" if i == 0 else "disagrees with the expectation"
            parts.append(f"<h3>seed {int(r['seed'])} ({role}): {H.badge(r['label'])}</h3>")
            if diag:
                parts.append(f'<p class="why">{H.esc(diag.get("summary", ""))}</p>')
                if diag.get("needs"):
                    head = "To decide, record" if diag.get("label") == INCONCLUSIVE else "To be surer, record"
                    parts.append(f'<p class="meta">{head}: {H.esc("; ".join(map(str, diag["needs"])))}</p>')
                bad = [f for f in diag.get("findings", []) if f["status"] in (FAIL, WARN, ERROR)]
                if bad:
                    parts.append("<ul>" + "".join(f"<li>{H.badge(f['status'])} <code>{H.esc(f['check'])}</code> "
                                                  f"{H.esc(f['message'])}</li>" for f in bad[:6]) + "</ul>")
            parts.append('<div class="pics">' + H.image(run_dir / PANELS_PNG, f"{sname} seed {r['seed']} curves")
                         + H.image(run_dir / SAMPLES_PNG, f"{sname} seed {r['seed']} samples") + "</div>")
            rel = os.path.relpath(run_dir / "report.html", out)
            parts.append(f'<p class="meta">This run\'s full report: <a href="{H.esc(Path(rel).as_posix())}">'
                         f"{H.esc(r['run_dir'])}/report.html</a></p>")
    parts.append(f'<p class="meta">Tables beside this page: results, scenarios, labels, confusion (.csv and .parquet). '
                 f"ganlint {H.esc(spec.get('ganlint', '?'))} · rendered {time.strftime('%Y-%m-%d %H:%M')}</p>")
    return H.page(f"ganlint suite: {name} — {passed}/{n_sc} pass", "\n".join(parts))


def _diagnosis(run_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((run_dir / DIAGNOSIS_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def suite_markdown(t: SuiteTables, spec: dict[str, Any], folder: Path, out: Path) -> str:
    passed, n_sc, correct, n_runs = _summary_counts(t)
    name = folder.resolve().name
    lines = [f"# ganlint suite report: {name}", ""]
    verdict = "PASS" if t.passed else "FAIL"
    lines.append(f"**{verdict}: {passed}/{n_sc} scenarios pass; {correct}/{n_runs} runs got their expected label.** "
                 f"Seeds {', '.join(map(str, spec['seeds']))} on {', '.join(sorted(set(t.results['device'])))}. "
                 f"Scenarios: {_ran(spec)}.")
    missing = _incomplete(t, spec)
    if missing > 0:
        lines += ["", f"> Incomplete: {missing} of {missing + n_runs} runs have no result yet; "
                      f"finish them with `ganlint run --resume {folder}`."]
    for _, r in t.errors.iterrows():
        lines += ["", f"> Failed after {int(r['attempts'])} attempt(s): `{r['scenario']}` seed {int(r['seed'])}: {r['error']}"]
    sc = t.scenarios.copy()
    sc["result"] = [f"{'pass' if p else '**FAIL**'} ({a}/{s})" for p, a, s in zip(sc["passed"], sc["agree"], sc["seeds"], strict=True)]
    lines += ["", "## Scenarios", "", md_table(sc, columns=["scenario", "dataset", "expected", "labels", "result"],
                                                cells={"result": lambda v: v})]
    lines += ["", "## Labels", "", md_table(t.labels), ""]
    lines += ["Expected (rows) vs found (columns):", "", md_table(confusion_frame(t.confusion))]
    wrong = t.results[~t.results["correct"]]
    if len(wrong):
        lines += ["", "## Runs that disagree with their expectation", ""]
        for _, r in wrong.iterrows():
            diag = _diagnosis(folder / r["run_dir"]) or {}
            needs = f" (to decide, record: {'; '.join(map(str, diag['needs']))})" if (
                r["label"] == INCONCLUSIVE and diag.get("needs")) else ""
            lines.append(f"- `{r['scenario']}` seed {int(r['seed'])}: expected `{r['expected']}`, found `{r['label']}` "
                         f"(confidence {r['confidence']:.2f}). {diag.get('summary', '')}{needs}")
    lines += ["", f"![confusion matrix]({CONFUSION_PNG})", "", f"![every run]({OVERVIEW_PNG})"]
    return "\n".join(lines) + "\n"


def format_suite(result: SuiteTables) -> str:
    """The text summary (`ganlint run`'s stdout): scenarios expected vs found, then per-label precision and recall."""
    lines = []
    w = max([len(s) for s in result.scenarios["scenario"]] + [8])
    lines.append(f"{'scenario':<{w}}  {'expected':<18}  {'found (per seed)':<40}  result")
    for _, r in result.scenarios.iterrows():
        lines.append(f"{r['scenario']:<{w}}  {r['expected']:<18}  {r['labels']:<40}  "
                     f"{'pass' if r['passed'] else 'FAIL'} ({r['agree']}/{r['seeds']})")
    lines.append("")
    lines.append(f"{'label':<18}  {'precision':>9}  {'recall':>6}  {'expected':>8}  {'found':>5}")
    for _, r in result.labels.iterrows():
        p = "-" if pd.isna(r["precision"]) else f"{r['precision']:.2f}"
        rc = "-" if pd.isna(r["recall"]) else f"{r['recall']:.2f}"
        lines.append(f"{r['label']:<18}  {p:>9}  {rc:>6}  {r['expected']:>8}  {r['found']:>5}")
    n, ok = len(result.results), int(result.results["correct"].sum())
    passed = int(result.scenarios["passed"].sum())
    lines.append("")
    lines.append(f"{ok}/{n} runs gave the expected label; {passed}/{len(result.scenarios)} scenarios pass")
    for _, r in result.errors.iterrows():
        lines.append(f"ERROR {r['scenario']} seed {int(r['seed'])}: failed after {int(r['attempts'])} attempt(s): "
                     f"{r['error']}")
    return "\n".join(lines)


__all__ = ["format_suite", "load_suite", "render_suite"]
