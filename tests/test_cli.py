"""The command line, run the way a user runs it: `python -m ganlint ...` in a subprocess.

Each Python start costs seconds (torch), so the subprocess commands are started together once per module
and the tests read their results; a few extra cases call `ganlint.cli.main` in-process instead.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
import torch

from ganlint.diagnostics.findings import Diagnosis, Finding
from ganlint.vocabulary import (
    D_OUTPUTS,
    D_RETURNS,
    ERROR,
    FAIL,
    FAILURE_LABELS,
    INCONCLUSIVE,
    LABELS,
    NOT_ASSESSABLE,
    PASS,
    STABLE,
    STILL_WEAK,
)

DATASETS = ("gaussian1d", "grid25", "mnist", "reviews", "ring8")
LOSSES = ("hinge", "lsgan", "minimax", "nonsaturating", "wgan", "wgan-gp")
MODELS = ("dcgan", "mlp", "tabular")
TRAIN = ["train", "--dataset", "ring8", "--steps", "30", "--eval-every", "10", "--eval-samples", "200",
         "--g-width", "32", "--d-width", "32", "--pictures", "1"]


def commands(work: Path) -> dict[str, list[str]]:
    cmds = {
        "help": ["--help"],
        "list_json": ["list", "--format", "json"],
        "train_json": [*TRAIN, "--out", str(work / "json"), "--format", "json", "--quiet"],
        "train_text": [*TRAIN, "--out", str(work / "text")],
        # One usage error as a user meets it; the others are checked in-process below (same contract, no
        # process start: each `ganlint train` process imports torch, seconds on a small machine).
        "unknown_dataset": ["train", "--dataset", "cifar10", "--out", str(work / "e1")],
        # A prefix of --loss: argparse would take it as --loss hinge (issue 17)
        "abbreviated": ["train", "--los", "hinge", "--out", str(work / "e2")],
    }
    return cmds


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    """{name: CompletedProcess} for every command above, run concurrently in a scratch folder."""
    work = tmp_path_factory.mktemp("cli")
    env = {k: v for k, v in os.environ.items() if k != "GANLINT_DATA"}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONWARNINGS="error::UserWarning")

    def run(args: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "ganlint", *args], cwd=work, env=env, capture_output=True,
                              text=True, timeout=300)

    cmds = commands(work)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = dict(zip(cmds, pool.map(run, cmds.values()), strict=True))
    results["_work"] = work  # type: ignore[assignment]
    return results


def _usage_error(proc: subprocess.CompletedProcess | tuple[int, str, str]) -> str:
    """Checks the error contract (exit 2, one line on stderr, no traceback, nothing on stdout) of a process or
    of an in-process run's (code, stdout, stderr)."""
    code, out, err = (proc.returncode, proc.stdout, proc.stderr) if isinstance(proc, subprocess.CompletedProcess) else proc
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("ganlint")
    assert out == ""
    return lines[0]


def test_help_lists_the_commands(cli) -> None:
    proc = cli["help"]
    assert proc.returncode == 0
    assert "train" in proc.stdout and "list" in proc.stdout
    assert proc.stderr == ""


def test_list_json(cli) -> None:
    proc = cli["list_json"]
    assert proc.returncode == 0
    info = json.loads(proc.stdout)
    assert set(info) == {"datasets", "losses", "models"}
    assert set(info["datasets"]) == set(DATASETS)
    assert set(info["losses"]) == set(LOSSES)
    assert set(info["models"]) == set(MODELS)
    assert all(isinstance(v, str) and v for group in info.values() for v in group.values())


def test_train_json_on_stdout_and_nothing_else(cli) -> None:
    proc = cli["train_json"]
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)  # stdout is exactly one JSON document
    out = Path(result["out"])
    assert out == cli["_work"] / "json"
    assert result["steps_completed"] == result["steps_requested"] == 30
    assert result["stop_reason"] == "completed"
    assert result["config"]["dataset"] == "ring8" and result["config"]["eval_samples"] == 200
    assert result["final_eval"]["step"] == 30
    assert "ganlint: step" not in proc.stderr  # --quiet
    assert "Traceback" not in proc.stderr
    tel = pd.read_parquet(out / "telemetry.parquet")
    assert len(tel) == 30 and tel["distance"].notna().sum() == 4  # steps 1, 10, 20, 30
    assert json.loads((out / "summary.json").read_text())["steps_completed"] == 30
    assert len(list((out / "samples").glob("*.png"))) == 1


def test_train_progress_goes_to_stderr_only(cli) -> None:
    proc = cli["train_text"]
    assert proc.returncode == 0, proc.stderr
    assert "ganlint: step 30/30" in proc.stderr  # the last progress line is always printed
    assert "ganlint: step" not in proc.stdout
    lines = proc.stdout.splitlines()
    assert lines[0] == f"run:    {cli['_work'] / 'text'}"
    assert any(line.startswith("steps:  30/30 (completed)") for line in lines)
    assert any(line.startswith("eval @ step 30:") for line in lines)


def test_unknown_dataset(cli) -> None:
    line = _usage_error(cli["unknown_dataset"])
    assert "'cifar10'" in line
    assert ", ".join(DATASETS) in line  # the valid names, sorted
    assert not (cli["_work"] / "e1").exists()


@pytest.mark.parametrize(("argv", "fragment"), [
    (["--dataset", "ring8", "--lr-g", "-1"], "lr_g"),
    (["--dataset", "mnist", "--data-root", "nonexistent"], "nonexistent"),
])
def test_invalid_values(capsys, monkeypatch, tmp_path: Path, argv: list[str], fragment: str) -> None:
    monkeypatch.chdir(tmp_path)
    assert fragment in _usage_error(_main(capsys, "train", *argv, "--out", str(tmp_path / "e")))
    assert not (tmp_path / "e").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda(capsys, tmp_path: Path) -> None:
    out = tmp_path / "e8"
    assert "CUDA" in _usage_error(_main(capsys, "train", "--dataset", "ring8", "--steps", "2", "--device", "cuda",
                                        "--out", str(out)))
    assert not out.exists()


# -- in-process: the same contract through ganlint.cli.main ----------------------------------------------------


def _main(capsys, *argv: str) -> tuple[int, str, str]:
    from ganlint.cli import main

    try:
        code = main(list(argv))
    except SystemExit as e:  # argparse's --help and usage errors
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_no_command_prints_help_and_fails(capsys) -> None:
    code, out, err = _main(capsys)
    assert code == 2 and out == ""
    assert "train" in err and "list" in err


def test_train_help_lists_every_config_flag(capsys) -> None:
    from ganlint.training.config import config_fields

    code, out, _ = _main(capsys, "train", "--help")
    assert code == 0
    for f in config_fields():
        assert "--" + f.name.replace("_", "-") in out, f.name
    for flag in ("--overwrite", "--quiet", "--format", "--no-batch-norm"):
        assert flag in out
    for name in (*DATASETS, *LOSSES):
        assert name in out


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--loss", "wgan_gp"], ", ".join(LOSSES)),
        (["--model", "resnet"], ", ".join(MODELS)),
        (["--batch-size", "0"], "batch_size"),
        (["--steps", "ten"], "--steps"),
        (["--lr-d", "fast"], "--lr-d"),
        (["--format", "yaml"], "--format"),
        (["--pack", "3", "--batch-size", "64"], "pack"),
        (["--label-smoothing", "0.5"], "label_smoothing"),
    ],
)
def test_more_usage_errors_are_one_line(capsys, tmp_path: Path, argv: list[str], fragment: str) -> None:
    code, out, err = _main(capsys, "train", "--dataset", "ring8", "--out", str(tmp_path / "r"), *argv)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0]
    assert not (tmp_path / "r").exists()


def test_existing_run_folder_needs_overwrite(capsys, tmp_path: Path) -> None:
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "config.json").write_text("{}")  # a folder that already holds a run
    code, out, err = _main(capsys, "train", "--dataset", "ring8", "--steps", "2", "--out", str(tmp_path / "r"))
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "--overwrite" in err
    assert (tmp_path / "r" / "config.json").read_text() == "{}"
    code, out, err = _main(capsys, "train", "--dataset", "ring8", "--steps", "2", "--g-width", "8", "--d-width", "8",
                           "--eval-samples", "50", "--pictures", "0", "--out", str(tmp_path / "r"), "--overwrite",
                           "--quiet", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["steps_completed"] == 2


def test_boolean_flags_can_be_turned_off(capsys, tmp_path: Path) -> None:
    """--no-batch-norm overrides MNIST's batch-norm default (the config records what was used)."""
    code, out, err = _main(capsys, "train", "--dataset", "gaussian1d", "--batch-norm", "--spectral-norm", "--steps", "2",
                           "--eval-samples", "50", "--pictures", "0", "--out", str(tmp_path / "r"), "--quiet",
                           "--format", "json")
    assert code == 0, err
    cfg = json.loads(out)["config"]
    assert cfg["batch_norm"] is True and cfg["spectral_norm"] is True
    from ganlint.cli.parser import build_parser

    args = build_parser().parse_args(["train", "--dataset", "mnist", "--no-batch-norm"])
    assert args.batch_norm is False
    assert build_parser().parse_args(["train"]).batch_norm is None  # None = the per-dataset default


DIVERGE = ["train", "--dataset", "ring8", "--lr-g", "1e30", "--lr-d", "1e30", "--steps", "20", "--flush-every", "5",
           "--eval-samples", "100", "--pictures", "0", "--g-width", "16", "--d-width", "16", "--quiet"]


def test_diverged_run_json_is_strict_json(capsys, tmp_path: Path) -> None:
    code, out, err = _main(capsys, *DIVERGE, "--out", str(tmp_path / "r"), "--format", "json")
    assert code == 0, err
    result = json.loads(out, parse_constant=lambda c: pytest.fail(f"stdout holds {c}, which is not JSON"))
    assert result["stop_reason"].startswith("non-finite")
    assert result["steps_completed"] < 20
    assert "ganlint: stopping: non-finite" in err


def test_diverged_run_text_output(capsys, tmp_path: Path) -> None:
    code, out, _ = _main(capsys, *DIVERGE, "--out", str(tmp_path / "r"))
    assert code == 0
    assert "non-finite" in out
    assert any(line.startswith("final:") for line in out.splitlines())


# -- the gate's outcomes: still-weak fails (exit 1), inconclusive exits 3 unless allowed ----------------------
# `ganlint diagnose` reads a real table; the engine's verdict on it is replaced by a diagnosis built by hand, so
# these tests cover the gate and every output format, not the engine's calibration (tests/test_diagnostics.py).

NEEDS = ["samples: evaluation columns (distance, diversity) from G's samples", "d_real and d_fake"]
INCONCLUSIVE_D = Diagnosis(
    label=INCONCLUSIVE, confidence=0.0, onset_step=None, remedies=[], needs=NEEDS,
    summary="no pathology found, but nothing decisive was recorded",
    findings=[Finding("progress.distance", STABLE, NOT_ASSESSABLE, None, None, "not assessable: needs distance")])
STILL_WEAK_D = Diagnosis(
    label=STILL_WEAK, confidence=0.72, onset_step=None, needs=[], summary="the samples are not realistic yet",
    remedies=["train longer", "give G more capacity", "check the learning rates"],
    findings=[Finding("still_weak", STILL_WEAK, FAIL, 0.21, 0.5, "precision 0.21: few samples look real", (100, 200)),
              Finding("progress.distance", STABLE, PASS, 0.4, 0.5, "distance fell to 40%", (1, 200))])


@pytest.fixture
def verdict(monkeypatch, tmp_path: Path):
    """verdict(d) -> the path of a loss-only table (step, loss_d, loss_g; 200 rows) that `ganlint diagnose`
    labels d."""
    table = tmp_path / "run.csv"
    steps = range(1, 201)
    pd.DataFrame({"step": steps, "loss_d": [1.38 + 0.01 * (i % 7) for i in steps],
                  "loss_g": [0.69 + 0.01 * (i % 5) for i in steps]}).to_csv(table, index=False)
    monkeypatch.chdir(tmp_path)  # no pyproject.toml of this repository in the way

    def use(d: Diagnosis) -> str:
        monkeypatch.setattr("ganlint.diagnostics.diagnose", lambda *args, **kwargs: d)
        return str(table)

    return use


def test_default_gate_fails_still_weak_and_prints_its_remedies(capsys, verdict) -> None:
    code, out, err = _main(capsys, "diagnose", verdict(STILL_WEAK_D), "--no-config")
    assert code == 1, err
    assert out.splitlines()[0] == "label: still-weak (confidence 0.72)"
    assert "remedies:\n  - train longer\n  - give G more capacity\n  - check the learning rates" in out
    assert "FAIL" in out and "precision 0.21" in out
    assert "inconclusive" not in err


def test_default_gate_exits_3_on_inconclusive_and_says_what_to_record(capsys, verdict) -> None:
    code, out, err = _main(capsys, "diagnose", verdict(INCONCLUSIVE_D), "--no-config")
    assert code == 3
    assert out.splitlines()[0] == "label: inconclusive (confidence 0.00)"
    assert f"  to decide, record:\n    - {NEEDS[0]}\n    - {NEEDS[1]}" in out
    (line,) = err.strip().splitlines()
    assert line.startswith("ganlint: inconclusive (exit 3): no failure was found, but nothing showed the run healthy")
    assert "d_real and d_fake" in line and "--fail-on any,error" in line


def test_fail_on_without_inconclusive_passes_it_with_a_note(capsys, verdict) -> None:
    code, out, err = _main(capsys, "diagnose", verdict(INCONCLUSIVE_D), "--no-config", "--fail-on", "any,error")
    assert code == 0
    assert "label: inconclusive" in out
    (line,) = err.strip().splitlines()
    assert line.startswith("ganlint: warning: the gate passed without evidence: the verdict is inconclusive")
    assert "--fail-on any,error" in line and NEEDS[1] in line
    # ... while every failure label still fails
    code, _, err = _main(capsys, "diagnose", verdict(STILL_WEAK_D), "--no-config", "--fail-on", "any,error")
    assert code == 1 and "passed without evidence" not in err


def test_a_failure_outranks_inconclusive(capsys, verdict) -> None:
    crashed = Finding("oscillation", STABLE, ERROR, None, None, "check crashed: ValueError: bad")
    d = dataclasses.replace(INCONCLUSIVE_D, findings=[*INCONCLUSIVE_D.findings, crashed])
    code, _, err = _main(capsys, "diagnose", verdict(d), "--no-config")
    assert code == 1 and "exit 3" not in err


def test_json_junit_github_and_step_summary_show_the_new_outcomes(capsys, verdict, monkeypatch, tmp_path) -> None:
    import xml.etree.ElementTree as ET

    code, out, _ = _main(capsys, "diagnose", verdict(INCONCLUSIVE_D), "--no-config", "--format", "json")
    doc = json.loads(out)
    assert code == 3 and doc["label"] == "inconclusive" and doc["needs"] == NEEDS
    assert doc["exit_code"] == 3 and doc["gate"] == "inconclusive" and doc["passed"] is False
    code, out, _ = _main(capsys, "diagnose", verdict(STILL_WEAK_D), "--no-config", "--format", "json")
    doc = json.loads(out)
    assert code == 1 and doc["label"] == "still-weak" and doc["remedies"][0] == "train longer" and doc["exit_code"] == 1

    code, out, _ = _main(capsys, "diagnose", verdict(INCONCLUSIVE_D), "--no-config", "--format", "junit")
    root = ET.fromstring(out.encode("utf-8"))
    failure = next(tc for tc in root.iter("testcase") if tc.get("name") == "label is inconclusive").find("failure")
    assert code == 3 and failure.get("type") == "inconclusive" and NEEDS[0] in failure.get("message")
    code, out, _ = _main(capsys, "diagnose", verdict(STILL_WEAK_D), "--no-config", "--format", "junit")
    root = ET.fromstring(out.encode("utf-8"))
    failure = next(tc for tc in root.iter("testcase") if tc.get("name") == "label is still-weak").find("failure")
    assert code == 1 and failure.get("type") == "gate" and "- give G more capacity" in failure.text

    summary = tmp_path / "step_summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, out, _ = _main(capsys, "diagnose", verdict(INCONCLUSIVE_D), "--no-config", "--format", "github")
    assert code == 3
    assert out.splitlines()[0].startswith("::error title=ganlint inconclusive::gate inconclusive: ")
    assert NEEDS[1] in out.splitlines()[0]
    code, out, _ = _main(capsys, "diagnose", verdict(STILL_WEAK_D), "--no-config", "--format", "github")
    assert code == 1 and out.strip().splitlines()[-1].startswith("::notice title=ganlint label::still-weak (confidence 0.72)")
    md = summary.read_text(encoding="utf-8")
    assert "inconclusive — ❔ gate inconclusive" in md and f"- {NEEDS[0]}" in md
    assert "still-weak — ❌ gate failed" in md and "- check the learning rates" in md


def test_settings_file_takes_inconclusive_like_the_command_line(capsys, verdict, tmp_path) -> None:
    lenient, strict = tmp_path / "lenient.toml", tmp_path / "strict.toml"
    lenient.write_text('[tool.ganlint]\nfail_on = "any,error"\n', encoding="utf-8")
    strict.write_text('[tool.ganlint]\nfail_on = ["any", "inconclusive", "error"]\n', encoding="utf-8")
    path = verdict(INCONCLUSIVE_D)
    assert _main(capsys, "diagnose", path, "--config", str(lenient))[0] == 0
    assert _main(capsys, "diagnose", path, "--config", str(strict))[0] == 3
    assert _main(capsys, "diagnose", path, "--config", str(lenient), "--fail-on", "inconclusive")[0] == 3  # the CLI wins
    bad = tmp_path / "bad.toml"
    bad.write_text('[tool.ganlint]\nfail_on = "stable"\n', encoding="utf-8")
    code, out, err = _main(capsys, "diagnose", path, "--config", str(bad))
    assert code == 2 and out == "" and "stable is the passing label" in err


def test_report_shows_badges_needs_and_remedies(capsys, verdict, tmp_path) -> None:
    from ganlint.report.html import LABEL_COLOURS

    for d, name in ((INCONCLUSIVE_D, "inc"), (STILL_WEAK_D, "weak")):
        code, _, err = _main(capsys, "diagnose", verdict(d), "--no-config", "--report", str(tmp_path / name))
        assert code in (1, 3), err
        page = (tmp_path / name / "report.html").read_text(encoding="utf-8")
        assert f'style="background:{LABEL_COLOURS[d.label]}">{d.label}</span>' in page
        md = (tmp_path / name / "report.md").read_text(encoding="utf-8")
        assert f"**Label: `{d.label}`**" in md
    page = (tmp_path / "inc" / "report.html").read_text(encoding="utf-8")
    assert "<b>To decide, record</b>" in page and "<li>d_real and d_fake</li>" in page
    assert "## To decide, record\n\n- samples: evaluation columns" in (tmp_path / "inc" / "report.md").read_text(encoding="utf-8")
    page = (tmp_path / "weak" / "report.html").read_text(encoding="utf-8")
    assert "<b>Remedies</b>" in page and "<li>give G more capacity</li>" in page
    assert "## Remedies\n\n- train longer" in (tmp_path / "weak" / "report.md").read_text(encoding="utf-8")


def test_help_and_choices_come_from_the_vocabulary(capsys) -> None:
    from ganlint.cli.parser import DEFAULT_FAIL_ON, build_parser
    from ganlint.gating import DEFAULT_POLICY

    assert DEFAULT_POLICY.to_spec() == DEFAULT_FAIL_ON
    from ganlint import gating
    from ganlint.cli import codes as cli

    assert (cli.EXIT_OK, cli.EXIT_FAILING, cli.EXIT_NOTHING) == (gating.EXIT_PASSED, gating.EXIT_FAILED,
                                                                  gating.EXIT_INCONCLUSIVE)
    code, out, _ = _main(capsys, "diagnose", "--help")
    flat = " ".join(out.split())  # argparse wraps the help
    assert code == 0 and ", ".join(LABELS) in flat and ", ".join(FAILURE_LABELS) in flat
    assert f"[default: {DEFAULT_POLICY.to_spec()}]" in flat
    sub = {a.dest: a for a in build_parser()._subparsers._group_actions[0].choices["diagnose"]._actions}
    assert tuple(sub["d_output"].choices) == D_OUTPUTS
    sub = {a.dest: a for a in build_parser()._subparsers._group_actions[0].choices["check"]._actions}
    assert tuple(sub["d_output"].choices) == D_RETURNS and "ls-score" in D_RETURNS


def test_a_loss_only_log_is_inconclusive_end_to_end(tmp_path: Path) -> None:
    """The engine's own verdict on a log of losses alone (no samples, no D outputs): exit 3 by default, 0 with
    the stderr note when inconclusive is allowed. Run as a user runs it."""
    steps = range(1, 201)
    pd.DataFrame({"step": steps, "loss_d": [1.38 + 0.01 * (i % 7) for i in steps],
                  "loss_g": [0.69 + 0.01 * (i % 5) for i in steps]}).to_csv(tmp_path / "losses.csv", index=False)
    env = {k: v for k, v in os.environ.items() if k != "GANLINT_DATA"}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONWARNINGS="error::UserWarning")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "ganlint", "diagnose", "losses.csv", "--no-config", *args],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)

    with ThreadPoolExecutor(max_workers=2) as pool:
        default, allowed = pool.map(lambda a: run(*a), [("--format", "json"), ("--fail-on", "any,error")])
    assert default.returncode == 3, default.stderr
    doc = json.loads(default.stdout)
    assert doc["label"] == "inconclusive" and doc["needs"] and doc["exit_code"] == 3
    assert "ganlint: inconclusive (exit 3)" in default.stderr
    assert allowed.returncode == 0, allowed.stderr
    assert "label: inconclusive" in allowed.stdout and "to decide, record:" in allowed.stdout
    assert "passed without evidence" in allowed.stderr


# -- issue 17: honest help ---------------------------------------------------------------------------------


def test_an_abbreviated_option_is_refused_as_a_user_meets_it(cli) -> None:
    line = _usage_error(cli["abbreviated"])
    assert "--los hinge" in line and "ganlint train --help" in line
    assert not (cli["_work"] / "e2").exists()


@pytest.mark.parametrize("argv", [
    ["train", "--los", "hinge"],
    ["train", "--los=hinge"],
    ["train", "--no-spectral", "--steps", "2"],
    ["run", "--seed", "2"],  # --seeds
    ["diagnose", "log.csv", "--form", "json"],  # --format
    ["check", "ckpt.pt", "--sample", "200"],  # --samples
])
def test_abbreviated_options_are_refused(capsys, monkeypatch, tmp_path: Path, argv: list[str]) -> None:
    """A prefix of an option is an unknown option: one line naming it and the command's --help, exit 2, and
    nothing trained, read or written."""
    monkeypatch.chdir(tmp_path)
    line = _usage_error(_main(capsys, *argv))
    assert line.startswith(f"ganlint {argv[0]}: error: unrecognized arguments:")
    assert argv[1 if argv[0] in ("train", "run") else 2].split("=")[0] in line
    assert f"(see 'ganlint {argv[0]} --help')" in line
    assert list(tmp_path.iterdir()) == []


def _subcommand_helps() -> dict[str, dict[str, str]]:
    """{command: {flag: its help as shown}} for every subcommand, %(default)s filled in by argparse."""
    from ganlint.cli.parser import build_parser

    commands = build_parser()._subparsers._group_actions[0].choices
    out = {}
    for name, sub in commands.items():
        formatter = sub._get_formatter()
        out[name] = {(a.option_strings or [a.dest])[0]: " ".join(formatter._expand_help(a).split())
                     for a in sub._actions if a.help and a.dest != "help"}
    return out


def test_every_default_is_shown_once_and_as_it_is() -> None:
    from ganlint.training.config import DATASET_DEFAULTS, MODEL_DEFAULTS, TrainConfig

    helps = _subcommand_helps()
    for command, flags in helps.items():
        for flag, text in flags.items():
            assert text.count("[default:") <= 1 and "(default:" not in text, (command, flag, text)
            assert text.count("per dataset") <= 1, (command, flag, text)
    train = helps["train"]
    for flag in ("--out", "--data-root", "--clip", "--gp-weight"):
        assert "per dataset" not in train[flag], train[flag]
    for flag in ("--z-dim", "--g-width", "--d-width", "--batch-norm"):
        assert train[flag].count("per dataset") == 1, train[flag]
    # every config flag shows its default, and the per-dataset ones show what resolve() fills in
    for flag, text in train.items():
        if flag.lstrip("-").replace("-", "_") in {f.name for f in dataclasses.fields(TrainConfig)}:
            assert text.count("[default: ") == 1, text
    for dataset in DATASET_DEFAULTS:
        cfg = TrainConfig(dataset=dataset, model="mlp").resolve()
        assert f"{dataset} {cfg.z_dim}" in train["--z-dim"] and f"{dataset} {cfg.g_width}" in train["--g-width"]
    assert f"dcgan: {MODEL_DEFAULTS['dcgan']['g_width']}" in train["--g-width"]
    assert train["--spectral-norm"].endswith("[default: off]")
    assert train["--out"].endswith("[default: runs/<dataset>-<loss>-<time>]")
    for command in ("train", "run", "report", "bench", "list"):
        assert helps[command]["--format"] == "result format on stdout [default: text]", command


def test_default_rules_in_the_help_match_what_resolves() -> None:
    """The defaults the help states as rules (its text cannot import torch) against the code that applies them."""
    from ganlint.check.options import OPTION
    from ganlint.data.mnist import ENV_VAR
    from ganlint.training.config import DATA_ROOT_DEFAULT, TrainConfig
    from ganlint.training.losses import LOSSES
    from ganlint.training.run import DEFAULT_RUNS_DIR

    train = _subcommand_helps()["train"]
    clipped = {n: TrainConfig(dataset="ring8", loss=n).resolve().clip for n in LOSSES.names()}
    penalised = {n: TrainConfig(dataset="ring8", loss=n).resolve().gp_weight for n in LOSSES.names()}
    assert {n: v for n, v in clipped.items() if v is not None} == {"wgan": 0.01}
    assert {n: v for n, v in penalised.items() if v} == {"wgan-gp": 10.0}
    assert "[default: by loss: 0.01 for wgan, else no clipping]" in train["--clip"]
    assert "[default: by loss: 10 for wgan-gp, else 0]" in train["--gp-weight"]
    assert DATA_ROOT_DEFAULT.startswith(f"${ENV_VAR}, else ") and "mlxtend" not in DATA_ROOT_DEFAULT
    assert train["--data-root"].endswith(f"[default: {DATA_ROOT_DEFAULT}]")
    assert OPTION["data_root"].help_text().endswith(f"[default: {DATA_ROOT_DEFAULT}]")
    assert train["--out"].endswith(f"[default: {DEFAULT_RUNS_DIR}/<dataset>-<loss>-<time>]")


TINY_SCENARIO = """name = "{name}"
expect = "stable"
suites = ["quick"]
why = "a tiny ring for the report's meta line"

[train]
dataset = "ring8"
steps = 20
batch_size = 64
g_width = 16
d_width = 16
eval_every = 10
eval_samples = 200
pictures = 0
"""


def test_a_suite_from_files_names_them_and_a_named_suite_its_name(capsys, tmp_path: Path) -> None:
    """`ganlint run a.toml b.toml` records and reports the files it ran, not "suite quick" (issue 17); a
    suite.json of an older ganlint (suite "quick" for files, or no suite and no files) still renders."""
    for name in ("tiny_a", "tiny_b"):
        (tmp_path / f"{name}.toml").write_text(TINY_SCENARIO.format(name=name))
    env = {k: v for k, v in os.environ.items() if k != "GANLINT_DATA"}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "ganlint", "run", "tiny_a.toml", "tiny_b.toml", "--jobs", "1",
                           "--out", "suite", "--quiet"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode in (0, 1), proc.stderr  # the label is the engine's; what ran is the question here
    suite = tmp_path / "suite"
    spec = json.loads((suite / "suite.json").read_text())
    assert spec["suite"] is None
    assert [sc["file"] for sc in spec["scenarios"]] == ["tiny_a.toml", "tiny_b.toml"]
    assert "Scenarios: 2 files: tiny_a.toml, tiny_b.toml." in (suite / "report.md").read_text()
    assert "scenarios <b>2 files: tiny_a.toml, tiny_b.toml</b>" in (suite / "report.html").read_text()
    assert "quick" not in (suite / "report.md").read_text().split("## Scenarios")[0]

    # Older suite folders: "quick" recorded for files; no suite and no files at all. --resume (nothing left
    # to run) and report re-render both.
    spec["suite"] = "quick"
    (suite / "suite.json").write_text(json.dumps(spec))
    code, _, err = _main(capsys, "run", "--resume", str(suite), "--quiet")
    assert code in (0, 1), err
    assert "Scenarios: suite quick." in (suite / "report.md").read_text()
    del spec["suite"]
    for sc in spec["scenarios"]:
        del sc["file"]
    (suite / "suite.json").write_text(json.dumps(spec))
    code, _, err = _main(capsys, "report", str(suite), "--format", "json")
    assert code == 0, err
    assert "Scenarios: custom." in (suite / "report.md").read_text()


def test_the_report_shortens_a_long_list_of_files() -> None:
    from ganlint.report.suite_report import _ran

    spec = {"suite": None, "scenarios": [{"file": f"sweeps/s{i}.toml"} for i in range(5)]}
    assert _ran(spec) == "5 files: s0.toml, s1.toml, s2.toml and 2 more"
    spec = {"scenarios": [{"file": "a/x.toml"}, {"file": "b/x.toml"}]}
    assert _ran(spec) == "2 files: a/x.toml, b/x.toml"  # two files of one name: their paths
    assert _ran({"suite": "full", "scenarios": spec["scenarios"]}) == "suite full"
