"""Two suites side by side: which labels changed and which metrics moved, so a person sees what a change
to their training code (or to ganlint) did.

    ganlint report --compare reports/before reports/after

Per scenario: the majority label and agreement in A and B, and what changed:
  regressed      passes in A, fails in B (the exit code is 1 when any scenario regressed)
  fixed          fails in A, passes in B
  label changed  the majority label differs, pass/fail does not
  same           nothing of the above
  only in A / only in B
Metrics are medians over a scenario's seeds; a relative change beyond MOVED (20%) is called a move,
because runs of one scenario with different seeds already differ by about that much (see
scenarios/README.md), so smaller changes are not evidence of anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ganlint.errors import DataError
from ganlint.report import html as H
from ganlint.report.markdown import md_table
from ganlint.report.staging import staged
from ganlint.report.tables import conform, write_table
from ganlint.suite.scoring import SuiteTables

MOVED = 0.2


@dataclass
class Comparison:
    a: Path
    b: Path
    page: Path
    scenarios: pd.DataFrame
    runs: pd.DataFrame
    labels: pd.DataFrame

    @property
    def regressions(self) -> list[str]:
        return list(self.scenarios.loc[self.scenarios["change"] == "regressed", "scenario"])

    def to_dict(self) -> dict[str, Any]:
        import json

        def records(df: pd.DataFrame) -> list[dict[str, Any]]:
            return json.loads(df.to_json(orient="records"))

        return {"a": str(self.a), "b": str(self.b), "report": str(self.page), "regressions": self.regressions,
                "scenarios": records(self.scenarios), "runs": records(self.runs), "labels": records(self.labels)}


def _rel(a: float, b: float) -> float:
    if pd.isna(a) or pd.isna(b) or a == 0:
        return np.nan
    return (b - a) / abs(a)


def compare_tables(ta: SuiteTables, tb: SuiteTables) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(scenarios, runs, labels) comparison tables of two suites' tables: pure."""
    sa, sb = ta.scenarios.set_index("scenario"), tb.scenarios.set_index("scenario")
    rows = []
    for name in sorted(set(sa.index) | set(sb.index)):
        ra = sa.loc[name] if name in sa.index else None
        rb = sb.loc[name] if name in sb.index else None
        if ra is None:
            change = "only in B"
        elif rb is None:
            change = "only in A"
        elif ra["passed"] and not rb["passed"]:
            change = "regressed"
        elif rb["passed"] and not ra["passed"]:
            change = "fixed"
        elif ra["majority_label"] != rb["majority_label"]:
            change = "label changed"
        else:
            change = "same"
        da = ra["median_final_distance"] if ra is not None else np.nan
        db = rb["median_final_distance"] if rb is not None else np.nan
        va = ra["median_steps_per_s"] if ra is not None else np.nan
        vb = rb["median_steps_per_s"] if rb is not None else np.nan
        rows.append({
            "scenario": name, "expected": (ra if ra is not None else rb)["expected"],
            "label_a": None if ra is None else ra["majority_label"], "label_b": None if rb is None else rb["majority_label"],
            "agreement_a": np.nan if ra is None else ra["agreement"], "agreement_b": np.nan if rb is None else rb["agreement"],
            "passed_a": None if ra is None else bool(ra["passed"]), "passed_b": None if rb is None else bool(rb["passed"]),
            "change": change, "distance_a": da, "distance_b": db, "distance_change": _rel(da, db),
            "steps_per_s_a": va, "steps_per_s_b": vb, "speed_ratio": vb / va if va and not pd.isna(va) and not pd.isna(vb) else np.nan,
        })
    scenarios = conform(pd.DataFrame(rows), "compare_scenarios")
    keys = ["scenario", "seed"]
    ra_ = ta.results[[*keys, "expected", "label", "final_distance", "modes_covered"]]
    rb_ = tb.results[[*keys, "expected", "label", "final_distance", "modes_covered"]]
    m = ra_.merge(rb_, on=keys, how="outer", suffixes=("_a", "_b"))
    runs = pd.DataFrame({
        "scenario": m["scenario"], "seed": m["seed"], "expected": m["expected_a"].fillna(m["expected_b"]),
        "label_a": m["label_a"], "label_b": m["label_b"], "changed": m["label_a"].astype(object) != m["label_b"].astype(object),
        "distance_a": m["final_distance_a"], "distance_b": m["final_distance_b"],
        "modes_a": m["modes_covered_a"], "modes_b": m["modes_covered_b"],
    })
    runs = conform(runs, "compare_runs").sort_values(keys).reset_index(drop=True)
    la, lb = ta.labels.set_index("label"), tb.labels.set_index("label")
    lab = [{"label": x, "precision_a": la["precision"].get(x, np.nan), "precision_b": lb["precision"].get(x, np.nan),
            "recall_a": la["recall"].get(x, np.nan), "recall_b": lb["recall"].get(x, np.nan)}
           for x in [*la.index, *[y for y in lb.index if y not in la.index]]]
    labels = conform(pd.DataFrame(lab, columns=["label", "precision_a", "precision_b", "recall_a", "recall_b"]), "compare_labels")
    return scenarios, runs, labels


def compare_suites(a: str | os.PathLike, b: str | os.PathLike, out: str | os.PathLike | None = None) -> Comparison:
    """Compare suite folders A (before) and B (after); write the tables and report.html/report.md into out
    (default reports/compare-<A>-vs-<B>)."""
    from ganlint.report.suite_report import load_suite

    a, b = Path(a), Path(b)
    for p in (a, b):
        if not p.exists():
            raise DataError(f"{str(p)!r} does not exist")
    ta, _ = load_suite(a)
    tb, _ = load_suite(b)
    scenarios, runs, labels = compare_tables(ta, tb)
    out = Path(out) if out is not None else Path("reports") / f"compare-{a.resolve().name}-vs-{b.resolve().name}"
    if out.exists() and not out.is_dir():
        raise DataError(f"{str(out)!r} exists and is not a folder")
    cmp = Comparison(a, b, out / "report.html", scenarios, runs, labels)
    with staged(out) as stage:
        write_table(scenarios, stage, "compare_scenarios")
        write_table(runs, stage, "compare_runs")
        write_table(labels, stage, "compare_labels")
        (stage / "report.html").write_text(comparison_html(cmp), encoding="utf-8")
        (stage / "report.md").write_text(comparison_markdown(cmp), encoding="utf-8")
    return cmp


def _pct(v: float) -> str:
    if pd.isna(v):
        return "\u2013"
    flag = " (moved)" if abs(v) > MOVED else ""
    return f"{v:+.0%}{flag}"


def _headline(cmp: Comparison) -> str:
    c = cmp.scenarios["change"].value_counts()
    parts = [f"{c.get(k, 0)} {k}" for k in ("regressed", "fixed", "label changed", "same", "only in A", "only in B") if c.get(k, 0)]
    changed_runs = int(cmp.runs["changed"].sum())
    return f"{', '.join(parts)}; {changed_runs}/{len(cmp.runs)} runs changed label"


def format_comparison(cmp: Comparison) -> str:
    lines = [f"A: {cmp.a}", f"B: {cmp.b}", ""]
    w = max([len(s) for s in cmp.scenarios["scenario"]] + [8])
    lines.append(f"{'scenario':<{w}}  {'expected':<18}  {'A':<18}  {'B':<18}  {'change':<13}  distance  steps/s")
    for _, r in cmp.scenarios.iterrows():
        la, lb = r["label_a"] if not pd.isna(r["label_a"]) else "-", r["label_b"] if not pd.isna(r["label_b"]) else "-"
        speed = "\u2013" if pd.isna(r["speed_ratio"]) else f"x{r['speed_ratio']:.2f}"
        lines.append(f"{r['scenario']:<{w}}  {r['expected']:<18}  {la:<18}  {lb:<18}  {r['change']:<13}  "
                     f"{_pct(r['distance_change']):<8}  {speed}")
    lines += ["", _headline(cmp)]
    if cmp.regressions:
        lines.append(f"regressed: {', '.join(cmp.regressions)}")
    return "\n".join(lines)


def comparison_html(cmp: Comparison) -> str:
    sc = cmp.scenarios.copy()
    sc["distance change"] = sc["distance_change"].map(_pct)
    sc["speed"] = sc["speed_ratio"].map(lambda v: "\u2013" if pd.isna(v) else f"x{v:.2f}")
    opt_badge = lambda v: "\u2013" if v is None or (isinstance(v, float) and pd.isna(v)) else H.badge(v)  # noqa: E731
    parts = [f"<h1>ganlint comparison: {H.esc(cmp.a.resolve().name)} vs {H.esc(cmp.b.resolve().name)}</h1>",
             f'<p class="meta">A (before): {H.esc(cmp.a)} · B (after): {H.esc(cmp.b)}</p>',
             f'<div class="card"><div class="verdict">{H.badge("fail" if cmp.regressions else "pass", big=True)}'
             f"<span>{H.esc(_headline(cmp))}</span></div>"
             f'<p class="why">A metric change beyond {MOVED:.0%} is marked as moved: seeds of one scenario already differ '
             "by about that much.</p></div>",
             "<h2>Scenarios</h2>",
             H.table(sc, columns=["scenario", "expected", "label_a", "label_b", "agreement_a", "agreement_b", "change",
                                  "distance_a", "distance_b", "distance change", "speed"],
                     cells={"expected": opt_badge, "label_a": opt_badge, "label_b": opt_badge},
                     row_class=lambda r: "bad" if r["change"] == "regressed" else "")]
    changed = cmp.runs[cmp.runs["changed"]]
    parts.append("<h2>Runs whose label changed</h2>")
    parts.append(H.table(changed, cells={"label_a": opt_badge, "label_b": opt_badge}) if len(changed) else "<p>None.</p>")
    parts.append("<h2>Per-label precision and recall</h2>")
    parts.append(H.table(cmp.labels))
    return H.page(f"ganlint comparison: {cmp.a.name} vs {cmp.b.name}", "\n".join(parts))


def comparison_markdown(cmp: Comparison) -> str:
    sc = cmp.scenarios.copy()
    sc["distance change"] = sc["distance_change"].map(_pct)
    lines = [f"# ganlint comparison: {cmp.a.resolve().name} vs {cmp.b.resolve().name}", "",
             f"A (before): `{cmp.a}` · B (after): `{cmp.b}`", "", f"**{_headline(cmp)}**", ""]
    if cmp.regressions:
        lines += [f"Regressed: {', '.join(f'`{x}`' for x in cmp.regressions)}", ""]
    lines.append(md_table(sc, columns=["scenario", "expected", "label_a", "label_b", "change", "distance change"]))
    changed = cmp.runs[cmp.runs["changed"]]
    if len(changed):
        lines += ["", "## Runs whose label changed", "", md_table(changed, columns=["scenario", "seed", "expected", "label_a", "label_b"])]
    lines += ["", "## Per-label precision and recall", "", md_table(cmp.labels)]
    return "\n".join(lines) + "\n"
