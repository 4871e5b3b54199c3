"""`ganlint check` as a user runs it, in a subprocess: exit codes, formats, bad input, the pytest plugin.

Every Python start costs seconds (torch), so the commands start together in threads once per module."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

USERLAND = Path(__file__).parent / "userland"
FACT = ["--generator", "ringgan:RingGenerator", "--discriminator", "ringgan:RingDiscriminator"]
FAST = ["--samples", "1000"]


class Payload:
    """A pickle that runs code when loaded: it touches a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def files(work: Path) -> dict[str, Path]:
    sys.path.insert(0, str(USERLAND))
    try:
        import ringgan

        out = ringgan.save_all(work)
    finally:
        sys.path.remove(str(USERLAND))
    (work / "empty.pt").write_bytes(b"")
    (work / "random.pt").write_bytes(os.urandom(4096))
    (work / "config.pt").write_text(json.dumps({"generator": "not weights"}))
    data = out["healthy"].read_bytes()
    (work / "truncated.pt").write_bytes(data[: len(data) // 2])
    out["evil"] = work / "evil.pt"
    torch.save({"netG": Payload(work / "PWNED")}, out["evil"])
    return out


def commands(work: Path, f: dict[str, Path]) -> dict[str, tuple[list[str], dict]]:
    summary = work / "step_summary.md"
    return {
        "healthy_json": ([str(f["healthy"]), *FACT, "--data", "ring8", *FAST, "--format", "json"], {}),
        # the saturated D under the non-saturating loss: D overpowers G, not a vanishing gradient
        "saturated_ns_text": ([str(f["saturated"]), *FACT, "--data", "ring8", *FAST, "--g-loss", "non-saturating"], {}),
        "collapsed_text": ([str(f["collapsed"]), *FACT, "--data", "ring8", *FAST], {}),
        "collapsed_junit": ([str(f["collapsed"]), *FACT, "--data", "ring8", *FAST, "--format", "junit"], {}),
        "saturated_github": ([str(f["saturated"]), *FACT, "--data", "ring8", *FAST, "--g-loss", "minimax", "--format",
                              "github"],
                             {"GITHUB_STEP_SUMMARY": str(summary)}),
        "export_json": ([str(f["export"]), "--data", "ring8", *FAST, "--format", "json"], {}),
        "torchscript_json": ([str(f["torchscript"]), "--z-dim", "10", "--data", "ring8", *FAST, "--format", "json"], {}),
        "ls_score_json": ([str(f["healthy"]), *FACT, "--data", "ring8", *FAST, "--d-output", "ls-score", "--format", "json"],
                          {}),
        "fail_on_other": ([str(f["collapsed"]), *FACT, "--data", "ring8", *FAST, "--fail-on", "vanishing-gradient"], {}),
        "missing": ([str(work / "nope.pt"), *FACT], {}),
        "empty": ([str(work / "empty.pt"), *FACT], {}),
        "random": ([str(work / "random.pt"), *FACT], {}),
        "json_as_pt": ([str(work / "config.pt"), *FACT], {}),
        "truncated": ([str(work / "truncated.pt"), *FACT], {}),
        "misfit": ([str(f["healthy"]), *FACT, "--kwargs", '{"n_modes": 4}'], {}),
        "no_import": ([str(f["healthy"]), "--generator", "nosuchpkg.models:G"], {}),
        "nan": ([str(f["healthy"]), "--generator", "ringgan:NaNGenerator", "--data", "ring8", *FAST], {}),
        "evil": ([str(f["evil"]), *FACT], {}),
        "huge_samples": ([str(f["healthy"]), *FACT, "--samples", "1000000000"], {}),
        # [tool.ganlint] in the project's pyproject.toml gives the factories, data and gate
        "settings": ([str(f["collapsed"]), "--config", str(project(work, 'fail_on = "vanishing-gradient"'))], {}),
        "settings_cli_wins": ([str(f["collapsed"]), "--config", str(project(work, 'fail_on = "vanishing-gradient"')),
                               "--fail-on", "collapsed"], {}),
        "settings_unknown_key": ([str(f["collapsed"]), "--config", str(project(work, "smaples = 5", "bad"))], {}),
    }


def project(work: Path, extra: str, name: str = "proj") -> Path:
    folder = work / name
    folder.mkdir(exist_ok=True)
    path = folder / "pyproject.toml"
    path.write_text(textwrap.dedent(f"""
        [tool.ganlint]
        generator = "ringgan:RingGenerator"
        discriminator = "ringgan:RingDiscriminator"
        data = "ring8"
        samples = 1000
        {extra}
    """))
    return path


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    work = tmp_path_factory.mktemp("check_cli")
    f = files(work)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(USERLAND), os.environ.get("PYTHONPATH", "")])}
    env.pop("GITHUB_STEP_SUMMARY", None)

    def run(item):
        name, (args, extra) = item
        isolate = [] if "--config" in args else ["--no-config"]  # never the developer's own pyproject
        p = subprocess.run([sys.executable, "-m", "ganlint", "check", *args, *isolate], capture_output=True,
                           text=True, env={**env, **extra}, cwd=work, timeout=300)
        return name, p

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = dict(pool.map(run, commands(work, f).items()))
    return work, results


def test_healthy_exit_0_and_json(ran):
    _, r = ran
    p = r["healthy_json"]
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["label"] == "stable" and out["passed"] is True
    assert {"ganlint", "torch", "python"} <= set(out["versions"])
    assert out["kind"] == "state-dict" and out["samples"] == 1000


def test_collapsed_exit_1_with_text(ran):
    _, r = ran
    p = r["collapsed_text"]
    assert p.returncode == 1, p.stderr
    assert "label: collapsed" in p.stdout and "gate (any,inconclusive,error): FAIL" in p.stdout
    assert "Traceback" not in p.stderr


def test_junit_has_one_testcase_per_finding(ran):
    _, r = ran
    p = r["collapsed_junit"]
    assert p.returncode == 1
    root = ET.fromstring(p.stdout)
    cases = root.findall(".//testcase")
    assert any(c.get("name") == "collapse.modes" and c.find("failure") is not None for c in cases)
    assert any(c.get("classname") == "ganlint.label" and c.find("failure") is not None for c in cases)


def test_g_loss_on_the_command_line(ran):
    _, r = ran
    p = r["saturated_ns_text"]
    assert "not a vanishing gradient" in p.stdout and "--history" in p.stdout, p.stdout + p.stderr
    assert "label: vanishing-gradient" not in p.stdout and "use the non-saturating" not in p.stdout


def test_github_annotations_and_step_summary(ran):
    work, r = ran
    p = r["saturated_github"]
    assert p.returncode == 1
    assert any(line.startswith("::error title=ganlint") and "vanishing_gradient.d_saturation::" in line
               for line in p.stdout.splitlines())
    summary = (work / "step_summary.md").read_text()
    assert "vanishing-gradient" in summary and "gate failed" in summary


@pytest.mark.parametrize("name,kind", [("export_json", "export"), ("torchscript_json", "torchscript")])
def test_programs_without_user_code(ran, name, kind):
    _, r = ran
    p = r[name]
    assert p.returncode == 1, p.stderr  # the exported generator is the collapsed one
    out = json.loads(p.stdout)
    assert out["kind"] == kind and out["label"] == "collapsed"


def test_d_output_ls_score_is_accepted_and_read_as_scores(ran):
    _, r = ran
    p = r["ls_score_json"]
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["metrics"]["d_kind"] == "ls-score" and out["label"] == "stable"
    assert abs(out["metrics"]["d_real"] - 0.5) < 1e-6  # the raw score: no sigmoid applied to an LSGAN's output
    sat = next(f for f in out["findings"] if f["check"] == "vanishing_gradient.d_saturation")
    assert sat["status"] == "not-assessable" and "least-squares" in sat["message"] and "--d-output ls-score" in sat["message"]
    assert "grad_saturating" not in out["metrics"]  # the BCE losses' gradients mean nothing for an LSGAN D


def test_d_output_choices_are_the_vocabulary(capsys):
    from ganlint.cli import main
    from ganlint.vocabulary import D_RETURNS

    with pytest.raises(SystemExit) as e:
        main(["check", "x.pt", "--d-output", "sigmoid"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert ", ".join(f"'{k}'" for k in D_RETURNS) in err


def test_an_inconclusive_verdict_exits_3_with_what_to_provide(ran, capsys, monkeypatch):
    """The engine's verdict on the checkpoint is replaced by an inconclusive one built by hand (what makes a
    checkpoint inconclusive is the engine's calibration, tested elsewhere); the exit code and messages are
    what is under test."""
    import dataclasses

    import ganlint.check.run
    from ganlint.cli import main

    work, _ = ran
    real_conclude = ganlint.check.run.conclude

    def inconclusive(findings, ctx):
        d = real_conclude(findings, ctx)
        return dataclasses.replace(d, label="inconclusive", other_labels=[], summary="nothing decisive was measured",
                                   needs=["real data (--data) to compare the samples with"])

    monkeypatch.setattr(ganlint.check.run, "conclude", inconclusive)
    args = ["check", str(work / "healthy.pt"), *FACT, "--data", "ring8", *FAST, "--no-config"]
    monkeypatch.syspath_prepend(str(USERLAND))
    assert main(args) == 3
    out, err = capsys.readouterr()
    assert "label: inconclusive" in out and "gate (any,inconclusive,error): INCONCLUSIVE" in out
    assert "to decide, record:\n    - real data (--data) to compare the samples with" in out
    assert "ganlint: inconclusive (exit 3)" in err and "real data (--data)" in err
    assert main([*args, "--fail-on", "any,error"]) == 0
    out, err = capsys.readouterr()
    assert "gate (any,error): pass (without evidence: inconclusive)" in out
    assert "passed without evidence" in err
    assert main([*args, "--format", "json"]) == 3
    doc = json.loads(capsys.readouterr().out)
    assert doc["exit_code"] == 3 and doc["needs"] == ["real data (--data) to compare the samples with"]


def test_fail_on_narrows_the_gate(ran):
    _, r = ran
    p = r["fail_on_other"]
    assert p.returncode == 0 and "label: collapsed" in p.stdout


@pytest.mark.parametrize("name,message", [
    ("missing", "no such file"),
    ("empty", "empty"),
    ("random", ""),
    ("json_as_pt", "JSON"),
    ("truncated", ""),
    ("misfit", "centres"),
    ("no_import", "nosuchpkg"),
    ("evil", "--trust-checkpoint"),
    ("huge_samples", "--samples must be between"),
])
def test_bad_input_is_one_clear_line_and_exit_2(ran, name, message):
    _, r = ran
    p = r[name]
    assert p.returncode == 2, (p.stdout, p.stderr)
    lines = [line for line in p.stderr.strip().splitlines() if not line.startswith("ganlint: drawing")]
    assert len(lines) == 1 and lines[0].startswith("ganlint: error:"), p.stderr
    assert message.lower() in lines[0].lower()
    assert "Traceback" not in p.stderr and p.stdout == ""


def test_pyproject_settings_and_command_line_precedence(ran):
    _, r = ran
    assert r["settings"].returncode == 0, r["settings"].stderr  # collapsed, but the project gates on vanishing-gradient only
    assert "label: collapsed" in r["settings"].stdout and "1,000 samples" in r["settings"].stdout
    assert r["settings_cli_wins"].returncode == 1
    p = r["settings_unknown_key"]
    assert p.returncode == 2 and "smaples" in p.stderr and "samples" in p.stderr and "Traceback" not in p.stderr


def test_malicious_pickle_payload_never_ran(ran):
    work, r = ran
    assert "pathlib" in r["evil"].stderr  # the message names the objects the pickle would build
    assert not (work / "PWNED").exists()


def test_nan_generator_is_diverged_exit_1(ran):
    _, r = ran
    p = r["nan"]
    assert p.returncode == 1 and "label: diverged" in p.stdout


def test_pytest_plugin(pytester):
    sys.path.insert(0, str(USERLAND))
    try:
        import ringgan

        ckpts = ringgan.save_all(pytester.path / "ckpts")
    finally:
        sys.path.remove(str(USERLAND))
    pytester.makepyfile(test_gan=textwrap.dedent(f"""
        G, D = "ringgan:RingGenerator", "ringgan:RingDiscriminator"

        def test_healthy(ganlint_check):
            assert ganlint_check({str(ckpts['healthy'])!r}, generator=G, discriminator=D, data="ring8").healthy

        def test_collapsed(ganlint_check):
            assert ganlint_check({str(ckpts['collapsed'])!r}, generator=G, discriminator=D, data="ring8").healthy
    """))
    pytester.syspathinsert(str(USERLAND))
    env_path = os.pathsep.join([str(USERLAND), os.environ.get("PYTHONPATH", "")])
    pytester._monkeypatch.setenv("PYTHONPATH", env_path)
    result = pytester.runpytest_subprocess("--ganlint-samples", "1000", "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "ganlint 0.1.0: ganlint_check fixture (samples=1000)" in out
    assert "collapse.modes" in out and "collapsed (confidence" in out


def test_pytest_plugin_tells_an_inconclusive_verdict_apart(pytester):
    """A checkpoint whose verdict is inconclusive is not healthy under the default gate; its report section
    says so and what to record; exit_code tells it from a failure. (The verdict is made inconclusive by the
    test's conftest: the engine's calibration is not under test here.)"""
    sys.path.insert(0, str(USERLAND))
    try:
        import ringgan

        ckpts = ringgan.save_all(pytester.path / "ckpts")
    finally:
        sys.path.remove(str(USERLAND))
    pytester.makeconftest(textwrap.dedent("""
        import dataclasses

        import ganlint.check.run

        _conclude = ganlint.check.run.conclude

        def _inconclusive(findings, ctx):
            return dataclasses.replace(_conclude(findings, ctx), label="inconclusive", other_labels=[],
                                       needs=["the run's history (--history)"])

        ganlint.check.run.conclude = _inconclusive
    """))
    pytester.makepyfile(test_gan=textwrap.dedent(f"""
        G, D = "ringgan:RingGenerator", "ringgan:RingDiscriminator"

        def test_exit_code(ganlint_check):
            r = ganlint_check({str(ckpts['healthy'])!r}, generator=G, discriminator=D, data="ring8")
            assert r.exit_code == 3 and r.inconclusive and not r.healthy
            assert ganlint_check({str(ckpts['healthy'])!r}, generator=G, discriminator=D, data="ring8",
                                 fail_on="any,error").healthy

        def test_healthy(ganlint_check):
            assert ganlint_check({str(ckpts['healthy'])!r}, generator=G, discriminator=D, data="ring8").healthy
    """))
    pytester._monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(USERLAND), os.environ.get("PYTHONPATH", "")]))
    result = pytester.runpytest_subprocess("--ganlint-samples", "1000", "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "gate inconclusive (exit 3)" in out
    assert "label is inconclusive: nothing decisive could be judged" in out and "the run's history (--history)" in out
