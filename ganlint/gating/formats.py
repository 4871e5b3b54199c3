"""Renderers of a diagnosis for CI: JSON, JUnit XML, GitHub workflow commands and step summary.

    gate = parse_fail_on(args.fail_on)
    print(to_junit(d, gate=gate))                      # or to_json / to_github
    append_step_summary(github_step_summary(d, gate=gate))

Each renderer returns a string and never prints: the CLI decides where it goes (stdout is data). They
all show the same two things: the findings as the engine gave them (a failing check is shown as failing
whatever the gate), and the gate's verdict with its reasons (which decides the exit code). So
`--fail-on none` still reports every problem; it only stops them from failing the job.

The gate's verdict is one of three (FailPolicy.exit_code): passed (0), failed (1), or inconclusive (3:
nothing decisive could be judged, and the gate does not pass on no evidence). An inconclusive verdict is
shown as such everywhere, with what to record to decide (Diagnosis.needs); one the gate lets through is
marked as passed without evidence.
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ganlint.diagnostics.findings import Diagnosis, Finding
from ganlint.errors import ConfigError
from ganlint.gating.policy import EXIT_FAILED, EXIT_INCONCLUSIVE, FailPolicy
from ganlint.vocabulary import ERROR, FAIL, INCONCLUSIVE, NOT_ASSESSABLE, PASS, STATUS_ORDER, WARN

# The values of --format (text is the CLI's own format_diagnosis).
FORMATS = ("text", "json", "junit", "github")


def gate_verdict(d: Diagnosis, gate: FailPolicy) -> str:
    """The gate's verdict in words: "failed", "inconclusive", "passed without evidence" or "passed"."""
    code = gate.exit_code(d)
    if code == EXIT_FAILED:
        return "failed"
    if code == EXIT_INCONCLUSIVE:
        return INCONCLUSIVE
    return "passed without evidence" if gate.passed_without_evidence(d) else "passed"


def needs_line(d: Diagnosis) -> str:
    """What to record or provide, as one sentence ('' when the diagnosis needs nothing): to decide an
    inconclusive verdict, or to be surer of any other."""
    if not d.needs:
        return ""
    return f"{'to decide' if d.label == INCONCLUSIVE else 'to be surer'}, record: {'; '.join(d.needs)}"


def versions() -> dict[str, str | None]:
    """ganlint, torch and Python versions, so a CI record can be traced to what produced it."""
    from ganlint import __version__

    torch = sys.modules.get("torch")  # importing ganlint already imported it; never import it just for this
    if torch is None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            torch_version: str | None = version("torch")
        except PackageNotFoundError:
            torch_version = None
    else:
        torch_version = str(torch.__version__)
    return {"ganlint": __version__, "torch": torch_version, "python": platform.python_version()}


# -- JSON ---------------------------------------------------------------------------------------------


def to_json(d: Diagnosis, *, gate: FailPolicy, meta: Mapping[str, Any] | None = None, exit_code: int | None = None) -> str:
    """The diagnosis as JSON: Diagnosis.to_dict's keys (label, confidence, onset_step, summary,
    other_labels, remedies, needs, findings), plus "passed" (the gate lets it through), "gate" (failed,
    inconclusive, passed without evidence, passed), "exit_code" (0, 1 or 3), "fail_on" (the gate's
    canonical spec), "fail_reasons", "versions" {ganlint, torch, python} and the keys of `meta` (e.g. the
    source path, skipped checks). `exit_code` overrides the gate's (`ganlint check` exits 3 when no check
    could run, whatever the gate).

    Raises:
        ValueError: a key of meta collides with one of the keys above (a bug in the caller).
    """
    out: dict[str, Any] = {
        **d.to_dict(),
        "passed": not gate.fails(d),
        "gate": gate_verdict(d, gate),
        "exit_code": gate.exit_code(d) if exit_code is None else exit_code,
        "fail_on": gate.to_spec(),
        "fail_reasons": gate.reasons(d),
        "versions": versions(),
    }
    clash = sorted(set(meta or {}) & set(out))
    if clash:
        raise ValueError(f"meta keys {clash} collide with the diagnosis's own keys")
    out.update(meta or {})
    return json.dumps(out, indent=2, default=str)


# -- JUnit XML ----------------------------------------------------------------------------------------

# Characters XML 1.0 cannot hold at all, even escaped (ANSI colour codes in an exception message, say).
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(s: str) -> str:
    return _XML_INVALID.sub("\ufffd", s)


def _evidence(f: Finding) -> str:
    """The finding's measurements, one per line: value vs threshold, steps window, onset, label."""
    lines = [f.message]
    if f.value is not None:
        lines.append(f"value {_num(f.value)} vs threshold {_num(f.threshold)}")
    if f.window:
        lines.append(f"steps {f.window[0]}-{f.window[1]}")
    if f.onset_text:
        lines.append(f"onset {f.onset_text}")
    lines.append(f"supports label: {f.label}")
    return "\n".join(lines)


def to_junit(d: Diagnosis, *, gate: FailPolicy, name: str = "ganlint") -> str:
    """The diagnosis as JUnit XML (a str with an XML declaration; write it as UTF-8).

    One <testsuite> inside <testsuites>; one <testcase classname="ganlint.<finding's label>"
    name="<check>"> per finding: fail -> <failure>, error -> <error>, not-assessable -> <skipped>,
    warn -> passes with a <system-out> note (a <failure> when the gate includes warn), pass -> empty.
    A last testcase `ganlint.label` / "label is <label>" fails when the gate fails, with the summary and
    the gate's reasons, so a CI that only counts failures still sees the gate's verdict: type "gate" for
    a failure (exit 1, its text ending with the remedies), type "inconclusive" for an inconclusive verdict
    the gate fails on (exit 3), its message naming what to record to decide.
    """
    suite = ET.Element("testsuite", name=_xml_text(name))
    props = ET.SubElement(suite, "properties")
    for key, value in (("label", d.label), ("confidence", f"{d.confidence:.3f}"),
                       ("onset_step", "" if d.onset_step is None else str(d.onset_step)),
                       ("other_labels", ",".join(d.other_labels)), ("needs", "; ".join(d.needs)),
                       ("fail_on", gate.to_spec()), ("gate", gate_verdict(d, gate)),
                       *((f"{k}_version", v or "") for k, v in versions().items())):
        ET.SubElement(props, "property", name=key, value=_xml_text(value))
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}

    def case(classname: str, case_name: str) -> ET.Element:
        counts["tests"] += 1
        return ET.SubElement(suite, "testcase", classname=_xml_text(classname), name=_xml_text(case_name))

    for f in sorted(d.findings, key=lambda f: STATUS_ORDER.get(f.status, 9)):
        tc = case(f"ganlint.{f.label}", f.check)
        text = _xml_text(_evidence(f))
        message = _xml_text(f.message)
        if f.status == FAIL or (f.status == WARN and WARN in gate.statuses):
            counts["failures"] += 1
            ET.SubElement(tc, "failure", message=message, type=f.status).text = text
        elif f.status == ERROR:
            counts["errors"] += 1
            ET.SubElement(tc, "error", message=message, type="check-crashed").text = text
        elif f.status == NOT_ASSESSABLE:
            counts["skipped"] += 1
            ET.SubElement(tc, "skipped", message=message)
        elif f.status == WARN:
            ET.SubElement(tc, "system-out").text = _xml_text(f"warning: {_evidence(f)}")

    tc = case("ganlint.label", f"label is {d.label}")
    reasons = gate.reasons(d)
    needs = needs_line(d)
    code = gate.exit_code(d)
    if code == EXIT_INCONCLUSIVE:
        counts["failures"] += 1
        text = "\n".join([d.summary, f"gate (--fail-on {gate.to_spec()}) is inconclusive: no failure was found, but "
                          "nothing showed the run healthy either", *([needs] if needs else [])])
        ET.SubElement(tc, "failure", message=_xml_text(reasons[0]), type=INCONCLUSIVE).text = _xml_text(text)
    elif reasons:
        counts["failures"] += 1
        text = "\n".join([d.summary, f"gate (--fail-on {gate.to_spec()}) fails:", *(f"- {r}" for r in reasons),
                          *([needs] if needs else []), *(["remedies:", *(f"- {r}" for r in d.remedies)] if d.remedies else [])])
        ET.SubElement(tc, "failure", message=_xml_text(f"gate fails: {reasons[0]}"), type="gate").text = _xml_text(text)
    else:
        verdict = "passes without evidence" if gate.passed_without_evidence(d) else "passes"
        ET.SubElement(tc, "system-out").text = _xml_text("\n".join(
            [d.summary, f"gate (--fail-on {gate.to_spec()}) {verdict}", *([needs] if needs else [])]))

    for key, value in counts.items():
        suite.set(key, str(value))
    root = ET.Element("testsuites", name=_xml_text(name), **{k: str(v) for k, v in counts.items()})
    root.append(suite)
    ET.indent(root)
    # Declared by hand: ElementTree's own declaration for a str takes the locale's encoding name.
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# -- GitHub Actions -----------------------------------------------------------------------------------


# Control characters other than CR and LF (an ANSI colour code in a crash message, say) would be
# interpreted by the log viewer; they are replaced, CR and LF are escaped.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _gh_data(s: str) -> str:
    """Escape a workflow command's message (GitHub's rules: '%' first, then CR and LF)."""
    return _CONTROL.sub("\ufffd", s).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_property(s: str) -> str:
    """Escape a workflow command's property value: the message's rules plus ':' and ','."""
    return _gh_data(s).replace(":", "%3A").replace(",", "%2C")


def to_github(d: Diagnosis, *, gate: FailPolicy, title: str = "ganlint") -> str:
    """GitHub Actions workflow commands (one per line) that annotate the job.

    `::error` for each fail or error finding (and for warn findings when the gate includes warn),
    `::warning` for other warn findings; for an inconclusive verdict, an `::error` (the gate fails on
    it) or a `::warning` (it passed without evidence) naming what to record to decide; then one
    `::notice` with the label, its confidence and the gate's verdict. Passing and not-assessable
    findings are left to the step summary.
    """
    lines = []
    for f in sorted(d.findings, key=lambda f: STATUS_ORDER.get(f.status, 9)):
        if f.status in (FAIL, ERROR) or (f.status == WARN and WARN in gate.statuses):
            kind = "error"
        elif f.status == WARN:
            kind = "warning"
        else:
            continue
        value = f" [{_num(f.value)} vs {_num(f.threshold)}]" if f.value is not None else ""
        window = f" (steps {f.window[0]}-{f.window[1]})" if f.window else ""
        prefix = "check crashed: " if f.status == ERROR and not f.message.startswith("check crashed") else ""
        lines.append(f"::{kind} title={_gh_property(f'{title} {f.check}')}::{_gh_data(prefix + f.message + value + window)}")
    if d.label == INCONCLUSIVE:
        kind = "error" if gate.exit_code(d) == EXIT_INCONCLUSIVE else "warning"
        what = "gate inconclusive" if kind == "error" else "gate passed without evidence"
        needs = f"; {needs_line(d)}" if d.needs else ""
        lines.append(f"::{kind} title={_gh_property(f'{title} {INCONCLUSIVE}')}::"
                     f"{_gh_data(f'{what}: {d.summary}{needs}')}")
    also = f", also holds: {', '.join(d.other_labels)}" if d.other_labels else ""
    verdict = f"gate {gate_verdict(d, gate)}"
    lines.append(f"::notice title={_gh_property(f'{title} label')}::"
                 f"{_gh_data(f'{d.label} ({_confidence(d)}){also}; {verdict} (--fail-on {gate.to_spec()})')}")
    return "\n".join(lines) + "\n"


def _md_cell(s: str) -> str:
    """A Markdown table cell: no line breaks, no '|', no raw HTML."""
    s = _CONTROL.sub("\ufffd", s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")
    return s.replace("\r\n", "<br>").replace("\n", "<br>").replace("\r", "<br>")


def github_step_summary(d: Diagnosis, *, gate: FailPolicy, title: str = "ganlint") -> str:
    """A Markdown summary for $GITHUB_STEP_SUMMARY: heading (label and the gate's verdict), the summary
    line, the gate's reasons when it fails, what to record to decide (or to be surer), a table of the
    non-passing findings and the remedies."""
    reasons = gate.reasons(d)
    verdict = gate_verdict(d, gate)
    icon = {"failed": "❌", INCONCLUSIVE: "❔", "passed without evidence": "⚠️"}.get(verdict, "✅")
    lines = [f"### {_md_cell(title)}: {d.label} — {icon} gate {verdict}", "",
             f"{_md_cell(d.summary)} ({_confidence(d)}; `--fail-on {gate.to_spec()}`)", ""]
    if d.other_labels:
        lines += [f"Also holds: {', '.join(d.other_labels)}", ""]
    if verdict == INCONCLUSIVE:
        lines += ["The gate is inconclusive: no failure was found, but nothing showed the run healthy either.", ""]
    elif verdict == "passed without evidence":
        lines += ["The gate passed without evidence: the verdict is inconclusive, and the gate's spec leaves "
                  "`inconclusive` out.", ""]
    if reasons and verdict == "failed":
        lines += ["The gate fails because:", *(f"- {_md_cell(r)}" for r in reasons), ""]
    if d.needs:
        head = "To decide, record:" if d.label == INCONCLUSIVE else "To be surer, record:"
        lines += [f"**{head}**", "", *(f"- {_md_cell(n)}" for n in d.needs), ""]
    shown = sorted((f for f in d.findings if f.status != PASS), key=lambda f: STATUS_ORDER.get(f.status, 9))
    if shown:
        lines += ["| status | check | message | value | threshold |", "| --- | --- | --- | ---: | ---: |"]
        for f in shown:
            lines.append(f"| {f.status} | `{f.check}` | {_md_cell(f.message)} | "
                         f"{'' if f.value is None else _num(f.value)} | {'' if f.threshold is None else _num(f.threshold)} |")
        lines.append("")
    else:
        lines += ["All checks pass." if d.findings else "No check ran.", ""]
    if d.remedies:
        lines += ["**Remedies**", "", *(f"- {_md_cell(r)}" for r in d.remedies), ""]
    return "\n".join(lines)


def append_step_summary(markdown: str, environ: Mapping[str, str] = os.environ) -> Path | None:
    """Append `markdown` to the file named by $GITHUB_STEP_SUMMARY (created if missing).

    Returns the file's path, or None when the variable is unset or empty (not on GitHub Actions).

    Raises:
        ConfigError: the variable names a file that cannot be written.
    """
    target = environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    path = Path(target)
    try:
        # A blank line first when the file already has content, so this block's heading starts afresh.
        sep = "\n" if path.is_file() and path.stat().st_size > 0 else ""
        with path.open("a", encoding="utf-8") as fh:
            fh.write(sep + markdown + ("" if markdown.endswith("\n") else "\n"))
    except OSError as e:
        raise ConfigError(f"cannot write the step summary to $GITHUB_STEP_SUMMARY ({target}): {e.strerror or e}") from None
    return path


def _confidence(d: Diagnosis) -> str:
    onset = f", onset {d.onset_text}" if d.onset_text else ""
    return f"confidence {d.confidence:.2f}{onset}"


def _num(v: float | None) -> str:
    return "nan" if v is None else f"{v:.4g}"
