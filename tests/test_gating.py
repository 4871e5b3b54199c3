"""CI gating: --fail-on policies, the CI renderers (JSON, JUnit, GitHub) and [tool.ganlint] settings.

Diagnoses are built by hand from findings, so every status and every rule is covered without training.
"""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ganlint.diagnostics.findings import Diagnosis, Finding
from ganlint.diagnostics.thresholds import Thresholds
from ganlint.errors import ConfigError
from ganlint.gating import (
    DEFAULT_POLICY,
    FailPolicy,
    append_step_summary,
    find_pyproject,
    github_step_summary,
    load_settings,
    merge,
    parse_fail_on,
    thresholds_from,
    to_github,
    to_json,
    to_junit,
)
from ganlint.gating.formats import _gh_data, _gh_property
from ganlint.vocabulary import FAILURE_LABELS, INCONCLUSIVE, LABELS, STATUSES, STILL_WEAK

NASTY = 'ratio <0.3> & "quoted" naïve 🙂'
PASSING = Finding("progress.distance", "stable", "pass", 0.3, 0.5, "distance fell to 30%", (1, 400))
WARNING = Finding("collapse.modes", "collapsed", "warn", 0.6, 0.8, "60% of modes covered, 100%", (300, 400))
FAILING = Finding("collapse", "collapsed", "fail", 0.12, 0.3, NASTY, (300, 400), onset_step=320, severity=0.8)
SKIPPED = Finding("stall", "stalled", "not-assessable", None, None, "no update_ratio_g column")
CRASHED = Finding("oscillation", "stable", "error", None, None, "check crashed: ValueError: bad\x1b[31m input")


def diag(label: str = "stable", findings: list[Finding] | None = None, other: list[str] | None = None,
         needs: list[str] | None = None) -> Diagnosis:
    return Diagnosis(label=label, confidence=0.91, onset_step=320 if label not in ("stable", INCONCLUSIVE) else None,
                     findings=list(findings if findings is not None else [PASSING]),
                     remedies=["add minibatch std | pack 2"], summary=f"summary of {label}", other_labels=other or [],
                     needs=needs or [])


STABLE = diag()
STABLE_WARN = diag(findings=[PASSING, WARNING])
STABLE_CRASH = diag(findings=[PASSING, CRASHED])
COLLAPSED = diag("collapsed", [PASSING, WARNING, FAILING, SKIPPED, CRASHED], other=["oscillating"])
# The two outcomes of issue 13, built by hand (the engine's calibration decides when they happen, not these tests).
NO_SAMPLES = Finding("progress.distance", "stable", "not-assessable", None, None, "no distance column: no samples were measured")
INCONCLUSIVE_D = Diagnosis(label=INCONCLUSIVE, confidence=0.3, onset_step=None, findings=[NO_SAMPLES, SKIPPED], remedies=[],
                           summary="no failure found, and no sample-based evidence either",
                           needs=["a sample metric (distance, diversity or modes)", "d_real and d_fake"])
WEAK = Finding("progress", STILL_WEAK, "fail", 3.1, 1.5, "samples are 3.1x the real spread from the data", (1, 400),
               onset_step=None, severity=0.4)
STILL_WEAK_D = Diagnosis(label=STILL_WEAK, confidence=0.7, onset_step=None, findings=[PASSING, WEAK],
                         remedies=["train longer", "give G more capacity", "check the learning rates"],
                         summary="the generator moves but its samples are not realistic yet",
                         needs=["more evaluation steps"])


# -- --fail-on ----------------------------------------------------------------------------------------


def test_default_policy_fails_every_failure_label_inconclusive_and_crashed_checks():
    p = parse_fail_on(None)
    assert p == DEFAULT_POLICY
    assert p.labels == frozenset(LABELS) - {"stable"}  # every failure label, and inconclusive
    assert p.statuses == {"error"}
    assert p.to_spec() == "any,inconclusive,error" and parse_fail_on("any,inconclusive,error") == p
    for label in LABELS:
        assert p.fails(diag(label, [PASSING])) == (label != "stable")
        assert p.exit_code(diag(label, [PASSING])) == {"stable": 0, INCONCLUSIVE: 3}.get(label, 1), label
    assert not p.fails(STABLE_WARN)  # a warning alone passes by default
    assert p.fails(STABLE_CRASH)
    assert p.reasons(STABLE_CRASH) == ["error oscillation: check crashed: ValueError: bad\x1b[31m input"]
    assert p.reasons(STABLE) == []


def test_still_weak_is_a_failure_like_the_others():
    assert STILL_WEAK in FAILURE_LABELS
    assert DEFAULT_POLICY.exit_code(STILL_WEAK_D) == 1
    assert DEFAULT_POLICY.reasons(STILL_WEAK_D) == ["label is still-weak (confidence 0.70)"]
    assert parse_fail_on("any").exit_code(STILL_WEAK_D) == 1
    assert parse_fail_on("still-weak").exit_code(STILL_WEAK_D) == 1
    assert parse_fail_on("collapsed").exit_code(STILL_WEAK_D) == 0


def test_inconclusive_exits_3_by_default_and_names_what_to_record():
    assert DEFAULT_POLICY.exit_code(INCONCLUSIVE_D) == 3
    assert DEFAULT_POLICY.fails(INCONCLUSIVE_D) and not DEFAULT_POLICY.passed_without_evidence(INCONCLUSIVE_D)
    (reason,) = DEFAULT_POLICY.reasons(INCONCLUSIVE_D)
    assert reason.startswith("label is inconclusive: nothing decisive could be judged")
    assert "to decide, record: a sample metric (distance, diversity or modes); d_real and d_fake" in reason
    for spec in ("warn", "fail", "inconclusive", "collapsed,inconclusive"):  # stricter specs keep it
        assert parse_fail_on(spec).exit_code(INCONCLUSIVE_D) == 3, spec


def test_leaving_inconclusive_out_lets_it_pass_without_evidence():
    for spec in ("any,error", "any", "collapsed", "none"):
        p = parse_fail_on(spec)
        assert p.exit_code(INCONCLUSIVE_D) == 0 and not p.fails(INCONCLUSIVE_D), spec
        assert p.passed_without_evidence(INCONCLUSIVE_D) and p.reasons(INCONCLUSIVE_D) == []
    p = parse_fail_on("any,error")
    assert p.exit_code(STILL_WEAK_D) == 1 and p.exit_code(COLLAPSED) == 1  # every failure label still fails
    assert not p.passed_without_evidence(STABLE) and not p.passed_without_evidence(STILL_WEAK_D)


def test_a_failure_outranks_inconclusive():
    crashed = dataclasses.replace(INCONCLUSIVE_D, findings=[NO_SAMPLES, CRASHED])
    assert DEFAULT_POLICY.exit_code(crashed) == 1
    assert DEFAULT_POLICY.reasons(crashed)[0].startswith("label is inconclusive")
    assert DEFAULT_POLICY.reasons(crashed)[1].startswith("error oscillation")
    also = dataclasses.replace(INCONCLUSIVE_D, other_labels=[STILL_WEAK])
    assert DEFAULT_POLICY.exit_code(also) == 1 and "still-weak also holds" in DEFAULT_POLICY.reasons(also)
    assert parse_fail_on("inconclusive").exit_code(also) == 3  # the gate does not include still-weak


def test_labels_fail_only_on_those_labels():
    p = parse_fail_on("collapsed,vanishing-gradient")
    assert p.labels == {"collapsed", "vanishing-gradient"} and p.statuses == frozenset()
    assert p.fails(diag("collapsed")) and p.fails(diag("vanishing-gradient"))
    assert not p.fails(diag("oscillating")) and not p.fails(diag("diverged"))
    assert not p.fails(STABLE_CRASH)  # labels alone: a crash does not fail ...
    assert parse_fail_on("collapsed,error").fails(STABLE_CRASH)  # ... unless error is asked for


def test_a_label_among_other_labels_fails_too():
    d = diag("vanishing-gradient", other=["collapsed"])
    p = parse_fail_on("collapsed")
    assert p.fails(d)
    assert p.reasons(d) == ["collapsed also holds"]
    assert not parse_fail_on("oscillating").fails(d)


def test_any_is_every_failure_label_without_statuses():
    p = parse_fail_on("any")
    assert p.labels == frozenset(FAILURE_LABELS) and p.statuses == frozenset()
    assert p.fails(diag("stalled")) and not p.fails(STABLE_CRASH)


def test_warn_is_the_default_plus_warnings_and_failing_findings():
    p = parse_fail_on("warn")
    assert p.labels == DEFAULT_POLICY.labels and p.statuses == {"warn", "fail", "error"}
    assert p.to_spec() == "any,inconclusive,warn,fail,error"
    assert p.fails(STABLE_WARN)
    assert p.reasons(STABLE_WARN) == ["warn collapse.modes: 60% of modes covered, 100% [0.6 vs 0.8]"]
    assert p.fails(diag(findings=[PASSING, FAILING]))  # a failing check the engine did not turn into a label
    assert p.fails(STABLE_CRASH) and p.fails(diag("oscillating"))
    assert not p.fails(diag(findings=[PASSING, SKIPPED]))  # not-assessable never fails a gate
    assert parse_fail_on("collapsed,warn") == p


def test_fail_is_the_default_plus_failing_findings():
    p = parse_fail_on("fail")
    assert p.labels == DEFAULT_POLICY.labels and p.statuses == {"fail", "error"}
    assert p.fails(diag(findings=[PASSING, FAILING])) and not p.fails(STABLE_WARN)


def test_error_alone_fails_only_on_crashed_checks():
    p = parse_fail_on("error")
    assert p.labels == frozenset() and p.statuses == {"error"}
    assert p.fails(STABLE_CRASH) and not p.fails(diag("diverged"))


def test_none_never_fails_and_stands_alone():
    p = parse_fail_on("none")
    assert p.to_spec() == "none"
    assert not any(p.fails(d) for d in (COLLAPSED, STABLE_CRASH, STABLE_WARN, diag("diverged")))
    with pytest.raises(ConfigError, match="cannot be combined"):
        parse_fail_on("none,collapsed")


def test_items_are_trimmed_case_insensitive_and_may_come_as_a_list():
    assert parse_fail_on(" Collapsed , STALLED ") == parse_fail_on(["collapsed", "stalled"])
    assert parse_fail_on(["collapsed,stalled", "error"]) == parse_fail_on("collapsed,stalled,error")


@pytest.mark.parametrize("spec", ["any,inconclusive,error", "any,error", "any,inconclusive,warn,fail,error",
                                  "any,inconclusive,fail,error", "error", "none", "collapsed", "inconclusive",
                                  "diverged,oscillating,error", "still-weak,inconclusive", "any"])
def test_to_spec_round_trips(spec):
    assert parse_fail_on(spec).to_spec() == spec
    assert parse_fail_on(parse_fail_on(spec).to_spec()) == parse_fail_on(spec)


def test_unknown_items_are_errors_listing_the_valid_ones():
    with pytest.raises(ConfigError) as e:
        parse_fail_on("collapsed,colapsed,mode-collapse")
    msg = str(e.value)
    assert "'colapsed'" in msg and "'mode-collapse'" in msg
    valid_list = msg.split("valid: ")[1].split(", ")
    assert valid_list == ["any", "none", "warn", "fail", "error", *FAILURE_LABELS, INCONCLUSIVE]  # vocabulary's order
    with pytest.raises(ConfigError, match="stable is the passing label"):
        parse_fail_on("stable")
    for empty in ("", " , ", []):
        with pytest.raises(ConfigError, match="empty"):
            parse_fail_on(empty)
    with pytest.raises(ConfigError, match="string or a list of strings"):
        parse_fail_on([1, 2])
    with pytest.raises(ConfigError):
        FailPolicy(frozenset({"stable"}), frozenset({"pass"}))
    assert FailPolicy({"collapsed"}, ["error"]) == parse_fail_on("collapsed,error")  # any iterable, kept frozen


def test_reasons_put_labels_first_then_findings():
    reasons = parse_fail_on("warn").reasons(COLLAPSED)
    assert reasons[0] == "label is collapsed (confidence 0.91, onset at step 320)"
    assert reasons[1] == "oscillating also holds"
    assert [r.split(" ")[0] for r in reasons[2:]] == ["warn", "fail", "error"]  # the findings' own order
    assert "[0.12 vs 0.3]" in reasons[3]


# -- JSON ---------------------------------------------------------------------------------------------


def test_json_round_trips_with_gate_versions_and_meta():
    out = json.loads(to_json(COLLAPSED, gate=DEFAULT_POLICY, meta={"source": "runs/x", "skipped": ["stall"]}))
    for key in ("label", "confidence", "onset_step", "summary", "other_labels", "remedies", "needs", "findings",
                "passed", "gate", "exit_code", "fail_on", "fail_reasons", "versions", "source", "skipped"):
        assert key in out
    assert out["label"] == "collapsed" and out["passed"] is False and out["fail_on"] == "any,inconclusive,error"
    assert out["gate"] == "failed" and out["exit_code"] == 1 and out["needs"] == []
    assert out["fail_reasons"] == DEFAULT_POLICY.reasons(COLLAPSED)
    assert set(out["versions"]) == {"ganlint", "torch", "python"} and all(out["versions"].values())
    assert Diagnosis.from_dict(out) == COLLAPSED
    assert out["findings"][2]["message"] == NASTY
    assert json.loads(to_json(STABLE, gate=DEFAULT_POLICY, meta={}))["passed"] is True
    with pytest.raises(ValueError, match="collide"):
        to_json(STABLE, gate=DEFAULT_POLICY, meta={"label": "x"})


def test_json_shows_still_weak_and_inconclusive_with_needs():
    out = json.loads(to_json(INCONCLUSIVE_D, gate=DEFAULT_POLICY, meta={}))
    assert out["label"] == "inconclusive" and out["passed"] is False
    assert out["gate"] == "inconclusive" and out["exit_code"] == 3
    assert out["needs"] == INCONCLUSIVE_D.needs and Diagnosis.from_dict(out) == INCONCLUSIVE_D
    assert "to decide, record: a sample metric" in out["fail_reasons"][0]
    allowed = json.loads(to_json(INCONCLUSIVE_D, gate=parse_fail_on("any,error"), meta={}))
    assert allowed["passed"] is True and allowed["exit_code"] == 0 and allowed["gate"] == "passed without evidence"
    weak = json.loads(to_json(STILL_WEAK_D, gate=DEFAULT_POLICY, meta={}))
    assert weak["label"] == "still-weak" and weak["gate"] == "failed" and weak["exit_code"] == 1
    assert weak["remedies"] == STILL_WEAK_D.remedies and weak["needs"] == ["more evaluation steps"]


# -- JUnit --------------------------------------------------------------------------------------------


def junit(d: Diagnosis, gate: FailPolicy = DEFAULT_POLICY) -> ET.Element:
    text = to_junit(d, gate=gate, name="ganlint runs/x")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    return ET.fromstring(text.encode("utf-8"))


def cases(root: ET.Element) -> dict[str, ET.Element]:
    return {tc.get("name"): tc for tc in root.iter("testcase")}


def test_junit_counts_and_one_testcase_per_finding_plus_the_label():
    root = junit(COLLAPSED)
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "ganlint runs/x"
    counts = {k: int(suite.get(k)) for k in ("tests", "failures", "errors", "skipped")}
    # 5 findings + the label; failures: the failing check and the gate; the crash; the unassessable check.
    assert counts == {"tests": 6, "failures": 2, "errors": 1, "skipped": 1}
    assert {k: int(root.get(k)) for k in counts} == counts
    assert counts["tests"] == len(suite.findall("testcase"))
    assert counts["failures"] == len(suite.findall("testcase/failure"))
    assert counts["errors"] == len(suite.findall("testcase/error"))
    assert counts["skipped"] == len(suite.findall("testcase/skipped"))
    tcs = cases(root)
    assert tcs["collapse"].get("classname") == "ganlint.collapsed"
    failure = tcs["collapse"].find("failure")
    assert "value 0.12 vs threshold 0.3" in failure.text and "steps 300-400" in failure.text
    assert tcs["oscillation"].find("error") is not None
    assert tcs["stall"].find("skipped").get("message") == "no update_ratio_g column"
    assert "60% of modes" in tcs["collapse.modes"].find("system-out").text
    assert tcs["collapse.modes"].find("failure") is None  # a warning passes unless the gate includes warn
    assert len(tcs["progress.distance"]) == 0  # a pass is an empty testcase
    label = tcs["label is collapsed"]
    assert label.get("classname") == "ganlint.label"
    assert "summary of collapsed" in label.find("failure").text
    assert "oscillating also holds" in label.find("failure").text
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["label"] == "collapsed" and props["fail_on"] == "any,inconclusive,error" and props["torch_version"]
    assert props["gate"] == "failed" and props["needs"] == ""


def test_junit_escapes_markup_and_keeps_non_ascii():
    tcs = cases(junit(COLLAPSED))
    failure = tcs["collapse"].find("failure")
    assert failure.get("message") == NASTY
    assert failure.text.startswith(NASTY)
    # An ANSI escape cannot exist in XML 1.0 at all: replaced, and the document still parses.
    assert tcs["oscillation"].find("error").get("message") == "check crashed: ValueError: bad\ufffd[31m input"


def test_junit_with_warn_gate_fails_warnings_and_passing_label_case():
    tcs = cases(junit(STABLE_WARN, parse_fail_on("warn")))
    assert tcs["collapse.modes"].find("failure").get("type") == "warn"
    assert tcs["label is stable"].find("failure") is not None
    root = junit(STABLE_WARN)
    assert int(root.get("failures")) == 0 and "passes" in cases(root)["label is stable"].find("system-out").text


def test_junit_inconclusive_is_a_failure_of_its_own_naming_what_to_record():
    root = junit(INCONCLUSIVE_D)
    assert int(root.get("failures")) == 1 and int(root.get("skipped")) == 2
    label = cases(root)["label is inconclusive"]
    failure = label.find("failure")
    assert failure.get("type") == "inconclusive"
    assert "nothing decisive could be judged" in failure.get("message")
    assert "to decide, record: a sample metric (distance, diversity or modes); d_real and d_fake" in failure.get("message")
    assert "to decide, record:" in failure.text and "inconclusive" in failure.text
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["gate"] == "inconclusive" and props["needs"] == "; ".join(INCONCLUSIVE_D.needs)
    allowed = cases(junit(INCONCLUSIVE_D, parse_fail_on("any,error")))["label is inconclusive"]
    assert allowed.find("failure") is None
    assert "passes without evidence" in allowed.find("system-out").text
    assert "to decide, record: a sample metric" in allowed.find("system-out").text


def test_junit_still_weak_fails_the_gate_with_its_remedies():
    root = junit(STILL_WEAK_D)
    tcs = cases(root)
    assert tcs["progress"].get("classname") == "ganlint.still-weak" and tcs["progress"].find("failure") is not None
    failure = tcs["label is still-weak"].find("failure")
    assert failure.get("type") == "gate" and failure.get("message") == "gate fails: label is still-weak (confidence 0.70)"
    assert "- train longer" in failure.text and "- check the learning rates" in failure.text
    assert "to be surer, record: more evaluation steps" in failure.text


def test_junit_report_only_still_shows_failing_checks_but_the_label_passes():
    tcs = cases(junit(COLLAPSED, parse_fail_on("none")))
    assert tcs["collapse"].find("failure") is not None  # the findings are the truth, whatever the gate
    assert tcs["label is collapsed"].find("failure") is None


# -- GitHub -------------------------------------------------------------------------------------------


def test_github_escaping_rules():
    assert _gh_data("50% done\r\nnext: a, b") == "50%25 done%0D%0Anext: a, b"
    assert _gh_property("ganlint a:b, c%\n") == "ganlint a%3Ab%2C c%25%0A"
    assert _gh_data("%0A") == "%250A"  # '%' first, so an escape in the text is not decoded by GitHub


def test_github_annotations():
    d = diag("collapsed", [PASSING, WARNING, Finding("collapse", "collapsed", "fail", 0.12, 0.3, "line 1\nline 2: 5%"),
                           SKIPPED, CRASHED])
    lines = to_github(d, gate=DEFAULT_POLICY, title="ganlint: run, 1").splitlines()
    assert lines[0] == "::error title=ganlint%3A run%2C 1 collapse::line 1%0Aline 2: 5%25 [0.12 vs 0.3]"
    assert lines[1].startswith("::error title=ganlint%3A run%2C 1 oscillation::check crashed: ValueError: bad\ufffd[31m")
    assert lines[2] == "::warning title=ganlint%3A run%2C 1 collapse.modes::60%25 of modes covered, 100%25 [0.6 vs 0.8] (steps 300-400)"
    assert lines[3] == ("::notice title=ganlint%3A run%2C 1 label::collapsed (confidence 0.91, onset at step 320); "
                        "gate failed (--fail-on any,inconclusive,error)")
    assert len(lines) == 4  # pass and not-assessable findings are not annotated
    promoted = to_github(STABLE_WARN, gate=parse_fail_on("warn")).splitlines()
    assert promoted[0].startswith("::error title=ganlint collapse.modes::")
    assert promoted[-1].endswith("gate failed (--fail-on any,inconclusive,warn,fail,error)")
    assert to_github(STABLE, gate=DEFAULT_POLICY) == ("::notice title=ganlint label::stable (confidence 0.91); gate passed "
                                                      "(--fail-on any,inconclusive,error)\n")


def test_github_annotations_of_still_weak_and_inconclusive():
    lines = to_github(INCONCLUSIVE_D, gate=DEFAULT_POLICY).splitlines()
    assert lines == [
        "::error title=ganlint inconclusive::gate inconclusive: no failure found, and no sample-based evidence either; "
        "to decide, record: a sample metric (distance, diversity or modes); d_real and d_fake",
        "::notice title=ganlint label::inconclusive (confidence 0.30); gate inconclusive (--fail-on any,inconclusive,error)",
    ]
    allowed = to_github(INCONCLUSIVE_D, gate=parse_fail_on("any,error")).splitlines()
    assert allowed[0].startswith("::warning title=ganlint inconclusive::gate passed without evidence: ")
    assert allowed[0].endswith("d_real and d_fake")
    assert allowed[1].endswith("gate passed without evidence (--fail-on any,error)")
    weak = to_github(STILL_WEAK_D, gate=DEFAULT_POLICY).splitlines()
    assert weak[0].startswith("::error title=ganlint progress::samples are 3.1x the real spread")
    assert weak[-1] == ("::notice title=ganlint label::still-weak (confidence 0.70); gate failed "
                        "(--fail-on any,inconclusive,error)")


def test_step_summary_markdown():
    md = github_step_summary(COLLAPSED, gate=DEFAULT_POLICY)
    lines = md.splitlines()
    assert lines[0] == "### ganlint: collapsed — ❌ gate failed"
    assert "summary of collapsed" in md and "Also holds: oscillating" in md
    rows = [line for line in lines if line.startswith("| ") and "---" not in line]
    assert rows[0] == "| status | check | message | value | threshold |"
    assert [r.split(" | ")[0] for r in rows[1:]] == ["| fail", "| error", "| warn", "| not-assessable"]
    assert "&lt;0.3&gt; &amp;" in rows[1] and "| 0.12 | 0.3 |" in rows[1]
    assert "- add minibatch std \\| pack 2" in md  # a '|' never breaks the markdown
    ok = github_step_summary(STABLE, gate=DEFAULT_POLICY)
    assert ok.startswith("### ganlint: stable — ✅ gate passed") and "All checks pass." in ok


def test_step_summary_of_still_weak_and_inconclusive():
    md = github_step_summary(INCONCLUSIVE_D, gate=DEFAULT_POLICY)
    assert md.startswith("### ganlint: inconclusive — ❔ gate inconclusive")
    assert "nothing showed the run healthy either" in md and "The gate fails because" not in md
    assert "**To decide, record:**\n\n- a sample metric (distance, diversity or modes)\n- d_real and d_fake" in md
    assert "| not-assessable | `progress.distance` |" in md
    allowed = github_step_summary(INCONCLUSIVE_D, gate=parse_fail_on("any,error"))
    assert allowed.startswith("### ganlint: inconclusive — ⚠️ gate passed without evidence")
    assert "To decide, record" in allowed
    weak = github_step_summary(STILL_WEAK_D, gate=DEFAULT_POLICY)
    assert weak.startswith("### ganlint: still-weak — ❌ gate failed")
    assert "- label is still-weak (confidence 0.70)" in weak
    assert "**Remedies**\n\n- train longer\n- give G more capacity\n- check the learning rates" in weak
    assert "**To be surer, record:**\n\n- more evaluation steps" in weak


def test_append_step_summary(tmp_path):
    target = tmp_path / "summary.md"
    env = {"GITHUB_STEP_SUMMARY": str(target)}
    assert append_step_summary("# one", environ=env) == target  # created when missing
    assert append_step_summary("# two\n", environ=env) == target  # appended, never overwritten
    assert target.read_text(encoding="utf-8") == "# one\n\n# two\n"
    assert append_step_summary("# three", environ={}) is None
    assert append_step_summary("# three", environ={"GITHUB_STEP_SUMMARY": ""}) is None
    assert "three" not in target.read_text(encoding="utf-8")
    with pytest.raises(ConfigError, match="GITHUB_STEP_SUMMARY"):
        append_step_summary("x", environ={"GITHUB_STEP_SUMMARY": str(tmp_path / "missing" / "s.md")})


# -- [tool.ganlint] -----------------------------------------------------------------------------------


def project(tmp_path: Path, body: str) -> Path:
    (tmp_path / ".git").mkdir(exist_ok=True)
    path = tmp_path / "pyproject.toml"
    path.write_text(f'[project]\nname = "demo"\n\n{body}', encoding="utf-8")
    return path


def test_find_pyproject_upward_and_not_past_the_repository(tmp_path):
    repo = tmp_path / "repo"
    nested = repo / "src" / "pkg" / "deep"
    nested.mkdir(parents=True)
    path = project(repo, "")
    assert find_pyproject(nested) == path.resolve()
    (nested / "train.py").touch()
    assert find_pyproject(nested / "train.py") == path.resolve()  # a file starts from its folder
    # A pyproject.toml above the repository root belongs to someone else.
    (tmp_path / "pyproject.toml").write_text("[tool.ganlint]\nseed = 1\n", encoding="utf-8")
    path.unlink()
    assert find_pyproject(nested) is None
    assert load_settings(start=nested) == {}


def test_load_settings_valid(tmp_path):
    path = project(tmp_path, """
[tool.ganlint]
fail_on = ["collapsed", "vanishing-gradient"]
format = "junit"
samples = 2000
seed = 0
data = "data/reals.npy"
z_dim = 64
z_dist = "uniform"
num_classes = 10
device = "cpu"
generator = "mypkg.models:make_generator"
discriminator = "mypkg.models:Critic.create"
kwargs = { width = 128 }

[tool.ganlint.thresholds]
diversity_fail = 0.25
min_window_rows = 8
grad_norm_warn = 200
""")
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    s = load_settings(start=nested)
    assert s == load_settings(path)
    assert s["fail_on"] == ["collapsed", "vanishing-gradient"] and s["kwargs"] == {"width": 128}
    assert s["thresholds"] == {"diversity_fail": 0.25, "min_window_rows": 8, "grad_norm_warn": 200.0}
    th = thresholds_from(s)
    assert th == Thresholds(diversity_fail=0.25, min_window_rows=8, grad_norm_warn=200.0)
    assert isinstance(th.grad_norm_warn, float) and isinstance(th.min_window_rows, int)
    assert thresholds_from({}) == Thresholds()


def test_settings_fail_on_takes_inconclusive_like_the_command_line(tmp_path):
    strict = load_settings(project(tmp_path, '[tool.ganlint]\nfail_on = ["any", "inconclusive", "error"]\n'))
    assert parse_fail_on(strict["fail_on"]) == DEFAULT_POLICY
    assert parse_fail_on(strict["fail_on"]).exit_code(INCONCLUSIVE_D) == 3
    lenient = load_settings(project(tmp_path, '[tool.ganlint]\nfail_on = "any,error"\n'))
    assert parse_fail_on(lenient["fail_on"]).exit_code(INCONCLUSIVE_D) == 0
    assert parse_fail_on(merge(lenient, {"fail_on": "inconclusive"})["fail_on"]).exit_code(INCONCLUSIVE_D) == 3


def test_no_tool_ganlint_table_is_empty_settings(tmp_path):
    assert load_settings(project(tmp_path, "[tool.ruff]\nline-length = 100\n")) == {}


def test_unknown_key_names_key_file_and_valid_keys(tmp_path):
    path = project(tmp_path, "[tool.ganlint]\nsmaples = 100\n")
    with pytest.raises(ConfigError) as e:
        load_settings(path)
    msg = str(e.value)
    assert str(path) in msg and "'smaples'" in msg and "did you mean 'samples'" in msg
    assert "valid keys: fail_on, format, samples" in msg


def test_unknown_threshold_suggests_the_closest(tmp_path):
    path = project(tmp_path, "[tool.ganlint.thresholds]\ndiversty_fail = 0.2\n")
    with pytest.raises(ConfigError) as e:
        load_settings(path)
    msg = str(e.value)
    assert str(path) in msg and "'diversty_fail'" in msg and "did you mean 'diversity_fail'" in msg
    assert "[tool.ganlint.thresholds]" in msg and "coverage_min_precision" in msg


@pytest.mark.parametrize(("body", "expected"), [
    ('samples = "100"', "samples must be an integer between 100 and 200,000"),  # ganlint check's own range
    ("samples = 0", "samples must be an integer between 100 and 200,000"),
    ("seed = -1", "seed must be an integer between 0 and"),
    ("seed = true", "seed must be an integer between 0 and"),
    ('format = "xml"', "format must be one of text, json, junit, github"),
    ('z_dist = "gamma"', "z_dist must be one of normal, uniform"),
    ('generator = "mypkg.models.make"', 'generator must be a "module:callable" string'),
    ("kwargs = 3", "kwargs must be a table"),
    ("fail_on = 3", "fail_on must be a string or a list of strings"),
    ('fail_on = "colapsed"', "fail_on must be a valid --fail-on value (unknown --fail-on item(s) 'colapsed'"),
    ('fail_on = ["any", "stable"]', "stable is the passing label"),
    ("thresholds = 1", "thresholds must be a table"),
    ('[tool.ganlint.thresholds]\ndiversity_fail = "low"', "diversity_fail must be a number"),
    ("[tool.ganlint.thresholds]\ndiversity_fail = nan", "diversity_fail must be a number"),
    ("[tool.ganlint.thresholds]\nmin_window_rows = 5.5", "min_window_rows must be an integer"),
])
def test_wrong_types_name_the_key_and_the_expected_type(tmp_path, body, expected):
    table = body if body.startswith("[") else f"[tool.ganlint]\n{body}"
    path = project(tmp_path, table + "\n")
    with pytest.raises(ConfigError) as e:
        load_settings(path)
    assert expected in str(e.value) and str(path) in str(e.value)


def test_invalid_toml_names_the_file_and_the_parser_message(tmp_path):
    path = project(tmp_path, "[tool.ganlint]\nsamples = \n")
    with pytest.raises(ConfigError, match=r"invalid TOML: .*line 5") as e:
        load_settings(path)
    assert str(path) in str(e.value)
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "missing.toml")


def test_merge_command_line_wins():
    settings = {"samples": 100, "format": "junit", "fail_on": "collapsed",
                "thresholds": {"diversity_fail": 0.2, "modes_fail": 0.4}}
    cli = {"samples": 500, "format": None, "seed": 3, "fail_on": None, "thresholds": {"modes_fail": 0.6}}
    out = merge(settings, cli)
    assert out == {"samples": 500, "format": "junit", "fail_on": "collapsed", "seed": 3,
                   "thresholds": {"diversity_fail": 0.2, "modes_fail": 0.6}}
    assert settings["samples"] == 100 and settings["thresholds"]["modes_fail"] == 0.4  # inputs untouched
    assert thresholds_from(out) == Thresholds(diversity_fail=0.2, modes_fail=0.6)
    with pytest.raises(ConfigError, match="did you mean 'modes_fail'"):
        thresholds_from(merge(settings, {"thresholds": {"mode_fail": 0.6}}))


def test_every_status_is_rendered():
    d = diag("collapsed", [Finding(f"check_{s}", "collapsed", s, 1.0, 2.0, f"status {s}") for s in STATUSES])
    root = junit(d)
    assert len(cases(root)) == len(STATUSES) + 1
    assert all(f"check_{s}" in github_step_summary(d, gate=DEFAULT_POLICY) for s in STATUSES if s != "pass")


def test_readme_ci_gating_names_every_fail_on_item_and_the_default():
    from ganlint.gating.policy import valid_items

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("### CI gating", 1)[1].split("\n## ", 1)[0]
    for item in valid_items():
        assert f"`{item}`" in section, item
    assert f"The default is `{DEFAULT_POLICY.to_spec()}`" in section
