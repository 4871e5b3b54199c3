"""Text renderers of the CLI: a diagnosis, a check result, a bench table, a number."""

from __future__ import annotations

from ganlint.cli.codes import EXIT_FAILING, EXIT_NOTHING
from ganlint.vocabulary import (
    INCONCLUSIVE,
)


def format_check(result, policy) -> str:
    lines = [f"checkpoint: {result.source} ({result.kind}), {result.samples:,} samples"]
    lines.append(format_diagnosis(result.diagnosis))
    m = result.metrics
    shown = [(k, m[k]) for k in ("d_real", "d_fake", "distance", "diversity", "duplicates", "modes_covered", "mode_kl",
                                 "precision", "recall", "coverage", "grad_saturating", "grad_nonsaturating")
             if isinstance(m.get(k), (int, float)) and m.get(k) == m.get(k)]
    if shown:
        lines.append("measured: " + "  ".join(f"{k} {number(float(v))}" for k, v in shown))
    if result.class_histogram:
        lines.append("classes:  " + " ".join(f"{i}:{c}" for i, c in enumerate(result.class_histogram)))
    lines += [f"skipped:  {s}" for s in result.skipped]
    lines += [f"note:     {n}" for n in result.notes]
    verdict = {EXIT_FAILING: "FAIL", EXIT_NOTHING: INCONCLUSIVE.upper()}.get(policy.exit_code(result.diagnosis), "pass")
    if policy.passed_without_evidence(result.diagnosis):
        verdict = f"pass (without evidence: {INCONCLUSIVE})"
    lines.append(f"gate ({policy.to_spec()}): {verdict}")
    lines += [f"  {r}" for r in policy.reasons(result.diagnosis)]
    return "\n".join(lines)


def format_diagnosis(d, show_all: bool = False) -> str:
    """The text form of a Diagnosis: label line, summary, what to record to decide (or to be surer),
    findings (failing first), remedies."""
    from ganlint.vocabulary import PASS, STATUS_ORDER

    onset = f", onset {d.onset_text}" if d.onset_text else ""
    lines = [f"label: {d.label} (confidence {d.confidence:.2f}{onset})", f"  {d.summary}"]
    if d.other_labels:
        lines.append(f"  also holds: {', '.join(d.other_labels)}")
    if d.needs:
        lines.append(f"  {'to decide' if d.label == INCONCLUSIVE else 'to be surer'}, record:")
        lines.extend(f"    - {n}" for n in d.needs)
    shown = [f for f in d.findings if show_all or f.status != PASS]
    lines.append("findings:" if shown else ("findings: all checks pass" if d.findings else "findings: no check ran"))
    for f in sorted(shown, key=lambda f: STATUS_ORDER.get(f.status, 9)):
        value = "" if f.value is None else f"  [{number(f.value)} vs {number(f.threshold)}]"
        window = f"  steps {f.window[0]}-{f.window[1]}" if f.window else ""
        lines.append(f"  {f.status.upper():<14} {f.check:<34} {f.message}{value}{window}")
    if d.remedies:
        lines.append("remedies:")
        lines.extend(f"  - {r}" for r in d.remedies)
    return "\n".join(lines)


def number(v: float | None) -> str:
    """A summary number for people: 4 significant digits; None (a NaN in the summary) as 'nan'."""
    return "nan" if v is None else f"{v:.4g}"


def format_bench(rows: list[dict]) -> str:
    """`ganlint bench`'s table: one line per (model, variant), then the machine."""
    floors = any("floor_ms" in r for r in rows)
    head = (f"{'model':<6} {'variant':<13} {'ms/step':>9} {'steps/s':>9} {'x eager':>8} {'setup s':>8} "
            f"{'GFLOP/s':>8} {'t(2B)/t(B)':>11}")
    if floors:
        head += f" {'floor ms':>9} {'x floor':>8}"
    lines = [head]
    for r in rows:
        if "error" in r:
            lines.append(f"{r['model']:<6} {r['variant']:<13} not run: {r['error']}")
            continue
        line = (f"{r['model']:<6} {r['variant']:<13} {r['ms_per_step']:>9.3f} {r['steps_per_s']:>9.1f} "
                f"{r['x_eager']:>8.3f} {r['setup_s']:>8.2f} {r['gflop_per_s']:>8.2f} {r['t2b_over_tb']:>11.3f}")
        if floors:
            line += f" {r['floor_ms']:>9.3f} {r['x_floor']:>8.1f}"
        lines.append(line)
    ok = next((r for r in rows if "error" not in r), None)
    if ok:
        lines.append(f"device {ok['device']}, batch {ok['batch_size']}, torch {ok['torch']}, {ok['threads']} threads")
        if floors:
            lines.append(f"floors: peak {ok['peak_flop_per_s'] / 1e9:.1f} GFLOP/s, {ok['op_overhead_us']:.2f} us per "
                         "operation (both measured here); floor = max(FLOPs / peak, kernel ops x per-op cost)")
    for b in (r for r in rows if r.get("variant") == "compile" and "error" not in r):
        be = b["break_even_steps"]
        lines.append(f"compile ({b['model']}): {b['setup_s']:.1f} s of compile and warm-up; "
                     + (f"pays off after {be} steps" if be is not None else "never pays off here (not faster)"))
    return "\n".join(lines)
