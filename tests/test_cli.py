"""The command line, run the way a user runs it: `python -m ganlint ...` in a subprocess.

Each Python start costs seconds (torch), so the subprocess commands are started together once per module
and the tests read their results; a few extra cases call `ganlint.cli.main` in-process instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
import torch

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
        "unknown_dataset": ["train", "--dataset", "cifar10", "--out", str(work / "e1")],
        "negative_lr": ["train", "--dataset", "ring8", "--lr-g", "-1", "--out", str(work / "e4")],
        "missing_root": ["train", "--dataset", "mnist", "--data-root", str(work / "nonexistent"), "--out", str(work / "e6")],
    }
    if not torch.cuda.is_available():
        cmds["cuda"] = ["train", "--dataset", "ring8", "--steps", "2", "--device", "cuda", "--out", str(work / "e8")]
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


def _usage_error(proc: subprocess.CompletedProcess) -> str:
    """Checks the error contract (exit 2, one line on stderr, no traceback, nothing on stdout)."""
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("ganlint")
    assert proc.stdout == ""
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


@pytest.mark.parametrize(("name", "fragment"), [("negative_lr", "lr_g"), ("missing_root", "nonexistent")])
def test_invalid_values(cli, name: str, fragment: str) -> None:
    assert fragment in _usage_error(cli[name])


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda(cli) -> None:
    assert "CUDA" in _usage_error(cli["cuda"])
    assert not (cli["_work"] / "e8").exists()


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
    from ganlint.config import config_fields

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
    from ganlint.cli import build_parser

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
