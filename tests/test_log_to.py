"""`--log-to` on `ganlint train` and `ganlint run`, as a user runs them: the CLI in a subprocess, the real
TensorBoard and MLflow libraries writing to local folders, and what they wrote read back with their own
readers (ganlint.integrations.sinks itself is tested in test_sinks.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("tensorboard")

# ring8, small enough for seconds on one thread, with two pictures and three evaluations.
TRAIN = ["--dataset", "ring8", "--steps", "40", "--batch-size", "32", "--eval-every", "20", "--eval-samples", "200",
         "--pictures", "2", "--flush-every", "8", "--g-width", "32", "--d-width", "32", "--device", "cpu"]


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **extra}


def _ganlint(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ganlint", *args], cwd=cwd, env=_env(**env), capture_output=True,
                          text=True, timeout=300)


def _events(folder: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0, "images": 0})
    acc.Reload()
    return acc


def _text(acc, tag: str) -> list[tuple[int, str]]:
    """A text summary's (step, text) pairs (torch's SummaryWriter stores tag as tag/text_summary)."""
    return [(e.step, e.tensor_proto.string_val[0].decode()) for e in acc.Tensors(f"{tag}/text_summary")]


def test_train_log_to_tensorboard_writes_the_telemetry_pictures_and_label(tmp_path: Path) -> None:
    p = _ganlint(tmp_path, "train", *TRAIN, "--out", "run", "--log-to", "tensorboard:tb", "--format", "json")
    assert p.returncode == 0, p.stderr
    label = json.loads(p.stdout)["label"]
    telemetry = pd.read_csv(tmp_path / "run" / "telemetry.csv")
    acc = _events(tmp_path / "tb" / "run")  # one logger run per ganlint run, named after its folder

    loss_d = acc.Scalars("ganlint/loss_d")
    assert [e.step for e in loss_d] == telemetry["step"].tolist()
    assert [e.value for e in loss_d] == pytest.approx(telemetry["loss_d"].tolist(), rel=1e-6)
    evaluated = telemetry.dropna(subset=["distance"])
    assert [e.step for e in acc.Scalars("ganlint/distance")] == evaluated["step"].tolist()
    pictures = sorted(int(f.stem.split("_")[1]) for f in (tmp_path / "run" / "samples").glob("step_*.png"))
    assert len(pictures) == 2 and [e.step for e in acc.Images("ganlint/samples")] == pictures
    # The label at the last step, as the run's report gives it, as text and as a number with its legend.
    assert _text(acc, "ganlint/label") == [(40, label)]
    from ganlint.vocabulary import LABELS

    assert [(e.step, e.value) for e in acc.Scalars("ganlint/label_index")] == [(40, float(LABELS.index(label)))]
    (legend,) = _text(acc, "ganlint/legend")
    assert all(name in legend[1] for name in LABELS)
    ((_, findings),) = _text(acc, "ganlint/findings")
    assert findings.startswith("|") and "check" in findings.splitlines()[0]


def test_train_log_to_mlflow_file_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("mlflow")
    uri = (tmp_path / "mlruns").as_uri()
    # MLflow 3 refuses its file store unless asked, and says so: one line, exit 2, before anything trains.
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    refused = _ganlint(tmp_path, "train", *TRAIN, "--out", "refused", "--log-to", f"mlflow:{uri}")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert "cannot log to mlflow" in refused.stderr and "MLFLOW_ALLOW_FILE_STORE" in refused.stderr
    assert not (tmp_path / "refused").exists()
    # Opted in (its other local store, sqlite, needs SQLAlchemy, which mlflow-skinny lacks).
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    p = _ganlint(tmp_path, "train", *TRAIN, "--out", "run", "--log-to", f"mlflow:{uri}", "--format", "json")
    assert p.returncode == 0, p.stderr
    label = json.loads(p.stdout)["label"]
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs(experiment_ids=[e.experiment_id for e in client.search_experiments()])
    assert run.info.run_name == "run" and run.info.status == "FINISHED"
    assert run.data.tags["ganlint.label"] == label
    telemetry = pd.read_csv(tmp_path / "run" / "telemetry.csv")
    history = sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, "ganlint/loss_g"))
    assert [s for s, _ in history] == telemetry["step"].tolist()
    assert [v for _, v in history] == pytest.approx(telemetry["loss_g"].tolist(), rel=1e-6)


SCENARIO = """name = "{name}"
expect = "still-weak"
suites = ["quick"]
why = "a tiny run, for --log-to"

[train]
dataset = "ring8"
steps = 30
batch_size = 32
g_width = 16
d_width = 16
eval_every = 10
eval_samples = 200
pictures = 1
"""


def test_run_log_to_tensorboard_writes_one_logger_run_per_scenario_and_seed(tmp_path: Path) -> None:
    (tmp_path / "tiny_a.toml").write_text(SCENARIO.format(name="tiny_a"))
    p = _ganlint(tmp_path, "run", "tiny_a.toml", "--seeds", "2", "--jobs", "1", "--out", "suite", "--no-report",
                 "--log-to", "tensorboard:tb", "--format", "json")
    assert p.returncode in (0, 1), p.stderr
    results = {(r["scenario"], r["seed"]): r for r in json.loads(p.stdout)["results"]}
    assert sorted(results) == [("tiny_a", 0), ("tiny_a", 1)]
    for (name, seed), row in results.items():
        acc = _events(tmp_path / "tb" / "suite" / f"{name}--seed{seed}")  # DIR/<suite folder>/<run>
        telemetry = pd.read_csv(tmp_path / "suite" / row["run_dir"] / "telemetry.csv")
        assert [e.step for e in acc.Scalars("ganlint/loss_d")] == telemetry["step"].tolist()
        assert _text(acc, "ganlint/label") == [(30, row["label"])]
        assert len(acc.Images("ganlint/samples")) == 1


def test_bad_log_to_is_one_line_exit_2_and_nothing_written(tmp_path: Path) -> None:
    for args in (["train", *TRAIN, "--out", "run"], ["run", "scenarios.toml", "--out", "suite"]):
        p = _ganlint(tmp_path, *args, "--log-to", "tensorboard")
        assert p.returncode == 2, p.stderr
        assert p.stderr.count("\n") == 1 and "tensorboard:DIR" in p.stderr, p.stderr
    assert sorted(x.name for x in tmp_path.iterdir()) == []


def test_run_log_to_wandb_offline_one_run_per_scenario_and_seed_grouped_by_suite(tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("wandb")
    from wandb_helpers import history, offline, records

    env = offline(tmp_path, monkeypatch)
    next(env)  # the environment is set for this process, and so for the CLI's subprocess
    try:
        (tmp_path / "tiny_a.toml").write_text(SCENARIO.format(name="tiny_a"))
        p = _ganlint(tmp_path, "run", "tiny_a.toml", "--seeds", "2", "--jobs", "1", "--out", "suite", "--no-report",
                     "--log-to", "wandb:ganlint-tests", "--format", "json")
        assert p.returncode in (0, 1), p.stderr
        results = {f"{r['scenario']}--seed{r['seed']}": r for r in json.loads(p.stdout)["results"]}
        runs = {}
        for run_file in tmp_path.glob("wandb/offline-run-*/run-*.wandb"):
            (run,) = [r.run for r in records(run_file) if r.WhichOneof("record_type") == "run"][:1]
            runs[run.display_name] = (run, history(run_file))
        assert sorted(runs) == sorted(results) == ["tiny_a--seed0", "tiny_a--seed1"]
        for name, (run, rows) in runs.items():
            assert run.run_group == "suite" and run.project == "ganlint-tests"
            telemetry = pd.read_csv(tmp_path / "suite" / results[name]["run_dir"] / "telemetry.csv")
            assert [h["ganlint/step"] for h in rows if "ganlint/loss_d" in h] == telemetry["step"].tolist()
            (verdict,) = [h for h in rows if "ganlint/label" in h]
            assert (verdict["ganlint/step"], verdict["ganlint/label"]) == (30, results[name]["label"])
    finally:
        next(env, None)  # stops the W&B service the subprocess may have left
