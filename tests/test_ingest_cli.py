"""`ganlint diagnose` on the logs users already have, run as a user runs it: `python -m ganlint ...`.

Each Python start costs seconds (torch), so the subprocesses start together once for the module and the
tests read their results; error cases that need no fresh process call `ganlint.cli.main` in-process.
The logs are built by tests/test_ingest.py's gan_log: 600 steps, vanishing-gradient or stable by
construction.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
from test_ingest import ODD, ODD_MAP, gan_log, odd_log, trainer_state, write_tensorboard

from ganlint.cli import main

HAS_TENSORBOARD = importlib.util.find_spec("tensorboard") is not None
MAP_ARGS = ["--map", ",".join(f"{k}={v}" for k, v in list(ODD_MAP.items())[:2]),
            "--map", ",".join(f"{k}={v}" for k, v in list(ODD_MAP.items())[2:])]


def write_logs(work: Path) -> None:
    odd_log().to_csv(work / "odd.csv", index=False)
    proj = work / "proj"
    proj.mkdir()
    table = ", ".join(f'{k} = "{v}"' for k, v in ODD_MAP.items())
    (proj / "pyproject.toml").write_text(f'[tool.ganlint]\nmap = {{ {table} }}\nformat = "json"\n')
    rows = []  # Lightning: D's and G's metrics in separate sparse rows, plus a per-epoch aggregate
    for r in gan_log(vanishing=False).itertuples():
        rows += [{"epoch": 0, "step": r.step - 1, "d_loss_step": r.loss_d, "D(x)": r.d_real, "D(G(z))": r.d_fake},
                 {"epoch": 0, "step": r.step - 1, "g_loss_step": r.loss_g}]
    rows.append({"epoch": 0, "step": 599, "d_loss_epoch": 1.0})
    (work / "lightning_logs" / "version_0").mkdir(parents=True)
    pd.DataFrame(rows).to_csv(work / "lightning_logs" / "version_0" / "metrics.csv", index=False)
    (work / "hf" / "checkpoint-600").mkdir(parents=True)
    (work / "hf" / "checkpoint-600" / "trainer_state.json").write_text(json.dumps(trainer_state(gan_log())))
    if HAS_TENSORBOARD:
        write_tensorboard(work / "tb" / "exp1", gan_log())


def commands(work: Path) -> dict[str, list[str]]:
    cmds = {
        "mapped": ["odd.csv", *MAP_ARGS, "--format", "json"],
        "settings": ["odd.csv", "--config", "proj/pyproject.toml"],
        "settings_cli_wins": ["odd.csv", "--config", "proj/pyproject.toml", "--map", "loss_d=critic_totl"],
        "lightning": ["lightning_logs/version_0", "--format", "json"],
        "hf": ["hf/checkpoint-600/trainer_state.json", "--map", "grad_norm_g=g_grad", "--format", "json"],
    }
    if HAS_TENSORBOARD:
        cmds["tensorboard"] = ["tb/exp1", "--map", "grad_norm_g=gnorm_gen", "--format", "json"]
    return cmds


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    """{name: CompletedProcess} for every command above, run concurrently in a scratch folder."""
    work = tmp_path_factory.mktemp("ingest_cli")
    write_logs(work)
    env = {k: v for k, v in os.environ.items() if k != "GANLINT_DATA"}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONWARNINGS="error::UserWarning")

    def run(args: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "ganlint", "diagnose", *args], cwd=work, env=env,
                              capture_output=True, text=True, timeout=300)

    cmds = commands(work)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = dict(zip(cmds, pool.map(run, cmds.values()), strict=True))
    results["_work"] = work  # type: ignore[assignment]
    return results


def _one_line_error(proc_or_err: subprocess.CompletedProcess | str, code: int = 2) -> str:
    """The error contract: exit 2, one line on stderr, no traceback, nothing on stdout."""
    if isinstance(proc_or_err, subprocess.CompletedProcess):
        assert proc_or_err.returncode == code, proc_or_err.stderr
        assert proc_or_err.stdout == ""
        proc_or_err = proc_or_err.stderr
    assert "Traceback" not in proc_or_err
    lines = proc_or_err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ganlint: error: "), proc_or_err
    return lines[0]


def _json(proc: subprocess.CompletedProcess, code: int) -> dict:
    assert proc.returncode == code, proc.stderr
    out = json.loads(proc.stdout)
    assert {"label", "confidence", "findings"} <= set(out)
    return out


def test_odd_names_with_map_are_judged(cli):
    out = _json(cli["mapped"], 1)
    assert out["label"] == "vanishing-gradient"
    grad = [f for f in out["findings"] if f["check"] == "vanishing_gradient.grad_collapse"]
    assert grad and grad[0]["status"] == "fail"  # gnorm_gen was read as G's gradient norm


def test_map_from_pyproject_and_the_command_line_wins(cli):
    out = _json(cli["settings"], 1)  # format = "json" came from the file too
    assert out["label"] == "vanishing-gradient"
    line = _one_line_error(cli["settings_cli_wins"])
    assert "no column 'critic_totl' (mapped to loss_d) (did you mean 'critic_total'?)" in line
    assert "its columns: iteration, critic_total" in line


def test_lightning_metrics_csv(cli):
    # Losses and D's outputs, no samples: read (D's outputs are judged), and healthy-looking, but nothing shows
    # the samples good, so the verdict is inconclusive (exit 3) and says what to record.
    out = _json(cli["lightning"], 3)
    assert out["label"] == "inconclusive" and out["needs"] and out["exit_code"] == 3
    statuses = {f["check"]: f["status"] for f in out["findings"]}
    assert statuses["vanishing_gradient.d_dominance"] == "pass"  # D(x) and D(G(z)) were read from their columns


def test_hugging_face_trainer_state(cli):
    out = _json(cli["hf"], 1)
    assert out["label"] == "vanishing-gradient"


def test_tensorboard_folder(cli):
    if not HAS_TENSORBOARD:
        pytest.skip("tensorboard is not installed")
    out = _json(cli["tensorboard"], 1)
    assert out["label"] == "vanishing-gradient"


# -- in-process: errors and settings that need no fresh interpreter ----------------------------------------


@pytest.mark.parametrize("args,expected", [
    (["--map", "loss_d"], "--map takes GANLINT_COLUMN=LOG_COLUMN pairs separated by commas"),
    (["--map", "lossd=critic_total"], "'lossd' is not a ganlint telemetry column (did you mean 'loss_d'?"),
    (["--map", "loss_d=nope"], "has no column 'nope' (mapped to loss_d); its columns: iteration,"),
])
def test_bad_map_is_one_line(tmp_path, capsys, args, expected):
    odd_log().to_csv(tmp_path / "odd.csv", index=False)
    assert main(["diagnose", str(tmp_path / "odd.csv"), "--no-config", *args]) == 2
    err = capsys.readouterr()
    assert expected in _one_line_error(err.err) and err.out == ""


def test_empty_log_is_one_line(tmp_path, capsys):
    (tmp_path / "empty.csv").write_text("")
    assert main(["diagnose", str(tmp_path / "empty.csv")]) == 2
    assert "empty.csv' is empty (0 bytes)" in _one_line_error(capsys.readouterr().err)


def test_settings_map_and_fail_on_apply_unless_ignored(tmp_path, capsys):
    odd_log().to_csv(tmp_path / "odd.csv", index=False)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.ganlint]\nfail_on = "none"\nmap = { loss_d = "critic_total", d_real = "disc_on_data", '
        'd_fake = "disc_on_samples", grad_norm_g = "gnorm_gen" }\n')
    args = ["diagnose", str(tmp_path / "odd.csv"), "--config", str(tmp_path / "pyproject.toml")]
    assert main(args) == 0  # vanishing-gradient, but fail_on = "none"
    assert capsys.readouterr().out.startswith("label: vanishing-gradient")
    assert main([*args, "--fail-on", "any"]) == 1  # the command line wins
    capsys.readouterr()
    assert main(["diagnose", str(tmp_path / "odd.csv"), "--no-config"]) == 2  # no map: none of its signals has a known name
    assert f"columns: {', '.join(ODD.values())}" in _one_line_error(capsys.readouterr().err)
    (tmp_path / "pyproject.toml").write_text('[tool.ganlint]\nmap = { lossd = "critic_total" }\n')
    assert main(args) == 2
    assert "'lossd' is not one (did you mean 'loss_d'?)" in _one_line_error(capsys.readouterr().err)


def test_report_of_a_mapped_log(tmp_path, capsys):
    odd_log().to_csv(tmp_path / "odd.csv", index=False)
    out = tmp_path / "report"
    assert main(["diagnose", str(tmp_path / "odd.csv"), "--no-config", *MAP_ARGS, "--report", str(out)]) == 1
    assert (out / "report.html").is_file()
    assert "vanishing-gradient" in (out / "report.md").read_text()
