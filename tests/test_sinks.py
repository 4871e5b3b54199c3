"""ganlint.integrations.sinks against the real libraries, offline: TensorBoard event files, a W&B offline run
file and an MLflow file store, each written and read back."""

from __future__ import annotations

import importlib.util
import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from wandb_helpers import offline, records

from ganlint.diagnostics import diagnose
from ganlint.errors import ConfigError
from ganlint.integrations.sinks import LEGEND, Loggers, Target, label_index, parse_target, publish_run_folder
from ganlint.vocabulary import LABELS

PNG_SIZE = (40, 24)  # width, height


@pytest.fixture
def frame() -> pd.DataFrame:
    """60 steps of telemetry in ganlint's schema, evaluations every 20 steps (NaN between)."""
    rng = np.random.default_rng(0)
    n = 60
    steps = np.arange(1, n + 1)
    df = pd.DataFrame({
        "step": steps,
        "loss_d": 1.3 + 0.05 * rng.standard_normal(n),
        "loss_g": 0.75 + 0.05 * rng.standard_normal(n),
        "d_real": 0.55 + 0.02 * rng.standard_normal(n),
        "d_fake": 0.45 + 0.02 * rng.standard_normal(n),
        "grad_norm_g": 1.0 + 0.1 * rng.random(n),
        "grad_norm_d": 1.0 + 0.1 * rng.random(n),
        "time_s": steps * 0.01,
    })
    df["distance"] = np.where(steps % 20 == 0, 5.0 / steps, np.nan)
    return df


@pytest.fixture
def diagnosis(frame):
    return diagnose(frame)


@pytest.fixture
def png(tmp_path: Path) -> Path:
    from PIL import Image

    pixels = np.random.default_rng(1).integers(0, 255, (PNG_SIZE[1], PNG_SIZE[0], 3), dtype=np.uint8)
    path = tmp_path / "samples" / "step_000040.png"
    path.parent.mkdir()
    Image.fromarray(pixels).save(path)
    return path


def _log_everything(loggers: Loggers, frame, diagnosis, png) -> None:
    loggers.telemetry(frame)
    loggers.picture(40, png)
    loggers.diagnosis(60, diagnosis)


# ---------------------------------------------------------------- parsing, import


def test_import_loads_no_logger_library():
    code = ("import sys, ganlint.integrations.sinks; "
            "print([m for m in ('tensorboard', 'wandb', 'mlflow', 'torch.utils.tensorboard') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_parse_target_forms():
    assert parse_target("tensorboard:tb/logs") == Target("tensorboard", "tb/logs")
    assert parse_target("wandb") == Target("wandb", None)
    assert parse_target("wandb:my-project") == Target("wandb", "my-project")
    assert parse_target("mlflow") == Target("mlflow", None)
    assert parse_target("mlflow:file:///tmp/x") == Target("mlflow", "file:///tmp/x")  # a URI keeps its colons


@pytest.mark.parametrize("text", ["tensorboard", "tensorboard:", "wandb:", "mlflow:", "neptune", "", "csv:out"])
def test_parse_target_bad_forms(text):
    with pytest.raises(ConfigError) as e:
        parse_target(text)
    message = str(e.value)
    assert "\n" not in message and "tensorboard:DIR, wandb, wandb:PROJECT, mlflow, mlflow:URI" in message


@pytest.mark.parametrize("kind", ["tensorboard:tb", "wandb", "mlflow"])
def test_parse_target_missing_library(kind, monkeypatch):
    real = importlib.util.find_spec
    name = kind.split(":")[0]
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == name else real(n, *a))
    with pytest.raises(ConfigError, match=rf"logging to {name} needs the {name} package: pip install 'ganlint\[{name}\]'"):
        parse_target(kind)


def test_unknown_object_is_a_config_error():
    with pytest.raises(ConfigError, match=r"cannot log to a dict; accepted: .*SummaryWriter"):
        Loggers.open([{}], run_name="r")


def test_legend_and_index_come_from_the_vocabulary():
    assert LEGEND.startswith(f"0 {LABELS[0]}, 1 {LABELS[1]}") and LEGEND.endswith(f"{len(LABELS) - 1} {LABELS[-1]}")
    assert label_index("inconclusive") == LABELS.index("inconclusive") and label_index("nonsense") is None


# ---------------------------------------------------------------- TensorBoard


def _events(folder: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0, "images": 0})
    acc.Reload()
    return acc


def _text(acc, tag: str) -> list[tuple[int, str]]:
    return [(e.step, e.tensor_proto.string_val[0].decode()) for e in acc.Tensors(f"{tag}/text_summary")]  # torch names text tags so


def _check_tensorboard(acc, frame, diagnosis) -> None:
    loss_d = acc.Scalars("ganlint/loss_d")
    assert [e.step for e in loss_d] == frame["step"].tolist()
    assert np.allclose([e.value for e in loss_d], frame["loss_d"], rtol=1e-6)
    distance = acc.Scalars("ganlint/distance")  # only the finite values: the evaluation steps
    assert [e.step for e in distance] == [20, 40, 60]
    assert _text(acc, "ganlint/label") == [(60, diagnosis.label)]
    assert [e.value for e in acc.Scalars("ganlint/label_index")] == [LABELS.index(diagnosis.label)]
    assert acc.Scalars("ganlint/confidence")[0].value == pytest.approx(diagnosis.confidence)
    assert LEGEND in _text(acc, "ganlint/legend")[0][1]
    findings = _text(acc, "ganlint/findings")[0][1]
    assert findings.startswith("| check | label | status |")
    assert all(f.check in findings for f in diagnosis.findings)
    (image,) = acc.Images("ganlint/samples")
    assert (image.step, image.width, image.height) == (40, *PNG_SIZE)


def test_tensorboard_target(tmp_path, frame, diagnosis, png):
    with Loggers.open([Target("tensorboard", str(tmp_path / "tb"))], run_name="ring8", config={"lr": 2e-4}) as lg:
        assert lg
        _log_everything(lg, frame, diagnosis, png)
    acc = _events(tmp_path / "tb" / "ring8")  # DIR/run_name
    _check_tensorboard(acc, frame, diagnosis)
    assert '"lr": 0.0002' in _text(acc, "ganlint/config")[0][1]


def test_tensorboard_users_writer_is_flushed_not_closed(tmp_path, frame, diagnosis, png):
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(tmp_path / "mine"))
    lg = Loggers.open(writer, run_name="ignored")
    _log_everything(lg, frame, diagnosis, png)
    lg.close()
    lg.close()  # idempotent
    _check_tensorboard(_events(tmp_path / "mine"), frame, diagnosis)
    writer.add_scalar("user/after", 1.0, 99)  # still the user's, still open
    writer.close()
    assert [e.step for e in _events(tmp_path / "mine").Scalars("user/after")] == [99]


def test_lightning_style_logger_is_unwrapped(tmp_path, frame):
    # A stand-in with Lightning's TensorBoardLogger shape (.experiment is a SummaryWriter): sinks recognise
    # Lightning loggers by that shape, never by importing lightning.
    from torch.utils.tensorboard import SummaryWriter

    class TensorBoardLogger:
        def __init__(self):
            self._w = SummaryWriter(str(tmp_path / "pl"))

        @property
        def experiment(self):
            return self._w

    user = TensorBoardLogger()
    with Loggers.open([user], run_name="r") as lg:
        lg.telemetry(frame)
    assert len(_events(tmp_path / "pl").Scalars("ganlint/loss_g")) == len(frame)
    user.experiment.close()


def test_a_failing_sink_warns_once_and_the_others_go_on(tmp_path, frame, diagnosis, png, caplog):
    from torch.utils.tensorboard import SummaryWriter

    class Broken(SummaryWriter):
        calls = 0

        def add_scalar(self, *a, **k):
            Broken.calls += 1
            raise OSError("disk full")

    broken = Broken(str(tmp_path / "broken"))
    lg = Loggers.open([broken, Target("tensorboard", str(tmp_path / "tb"))], run_name="r")
    with caplog.at_level(logging.WARNING, logger="ganlint"):
        _log_everything(lg, frame, diagnosis, png)
        lg.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "disk full" in warnings[0] and "the run goes on" in warnings[0]
    assert Broken.calls == 1  # switched off at its first failure
    _check_tensorboard(_events(tmp_path / "tb" / "r"), frame, diagnosis)
    broken.close()


def test_publish_run_folder(tmp_path, frame, diagnosis, png):
    from ganlint.training.run import save_telemetry

    folder = png.parent.parent  # tmp_path: samples/step_000040.png is already there
    save_telemetry(frame, folder)
    with Loggers.open(f"tensorboard:{tmp_path / 'tb'}", run_name="published") as lg:
        publish_run_folder(lg, folder, diagnosis)
    _check_tensorboard(_events(tmp_path / "tb" / "published"), frame, diagnosis)


# ---------------------------------------------------------------- W&B


@pytest.fixture
def wandb_offline(tmp_path, monkeypatch):
    """W&B writing only under tmp_path (wandb_helpers.offline)."""
    yield from offline(tmp_path, monkeypatch)


def test_wandb_offline(tmp_path, wandb_offline, frame, diagnosis, png):
    with Loggers.open(["wandb:ganlint-tests"], run_name="ring8", config={"lr": 2e-4}, group="suite") as lg:
        assert lg
        _log_everything(lg, frame, diagnosis, png)
    # finish() returns before wandb-core has written the last records; teardown waits for the service to exit.
    wandb_offline.teardown()
    (run_file,) = tmp_path.glob("wandb/offline-run-*/run-*.wandb")
    history, config, summary, metrics = [], {}, {}, []
    for r in records(run_file):
        kind = r.WhichOneof("record_type")
        if kind == "history":
            history.append({i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in r.history.item})
        elif kind == "run":
            config.update({i.key: json.loads(i.value_json) for i in r.run.config.update})
        elif kind == "summary":
            summary.update({i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in r.summary.update})
        elif kind == "metric":
            metrics.append((r.metric.name or r.metric.glob_name, r.metric.step_metric))
    assert ("ganlint/*", "ganlint/step") in metrics  # every ganlint key on ganlint's own step axis
    assert config["lr"] == 2e-4
    rows = [h for h in history if "ganlint/loss_d" in h]
    assert [h["ganlint/step"] for h in rows] == frame["step"].tolist()
    assert np.allclose([h["ganlint/loss_d"] for h in rows], frame["loss_d"])
    assert all("ganlint/distance" not in h for h in rows if h["ganlint/step"] % 20)  # NaN is not logged
    (verdict,) = [h for h in history if "ganlint/label" in h]
    assert verdict["ganlint/step"] == 60 and verdict["ganlint/label"] == diagnosis.label
    assert verdict["ganlint/label_index"] == LABELS.index(diagnosis.label)
    # Media are history items with nested keys: the table and the image files under the run's media/.
    assert verdict["ganlint/findings/_type"] == "table-file"
    assert verdict["ganlint/findings/nrows"] == len(diagnosis.findings)
    table = json.loads((run_file.parent / "files" / verdict["ganlint/findings/path"]).read_text())
    assert table["columns"][:3] == ["check", "label", "status"] and len(table["data"]) == len(diagnosis.findings)
    (picture,) = [h for h in history if "ganlint/samples/_type" in h]
    assert picture["ganlint/step"] == 40 and picture["ganlint/samples/_type"] == "image-file"
    assert (picture["ganlint/samples/width"], picture["ganlint/samples/height"]) == PNG_SIZE
    assert summary["ganlint/legend"] == LEGEND


# ---------------------------------------------------------------- MLflow


@pytest.fixture
def mlflow_store(tmp_path, monkeypatch):
    """A local file store. MLflow 3 refuses the file store unless MLFLOW_ALLOW_FILE_STORE is set (it wants a
    database, but sqlite:// needs sqlalchemy, which mlflow-skinny does not bring): the file store is the
    offline store that works with the skinny client alone."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (tmp_path / "mlruns").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)  # the default for the fluent API, without set_tracking_uri
    for name in ("MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID", "MLFLOW_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    return uri


def _check_mlflow(client, run_id, frame, diagnosis) -> None:
    history = client.get_metric_history(run_id, "ganlint/loss_d")
    assert [m.step for m in history] == frame["step"].tolist()
    assert np.allclose([m.value for m in history], frame["loss_d"])
    assert [m.step for m in client.get_metric_history(run_id, "ganlint/distance")] == [20, 40, 60]
    (index,) = client.get_metric_history(run_id, "ganlint/label_index")
    assert (index.step, index.value) == (60, LABELS.index(diagnosis.label))
    tags = client.get_run(run_id).data.tags
    assert tags["ganlint.label"] == diagnosis.label and tags["ganlint.legend"] == LEGEND
    findings = {f.path for f in client.list_artifacts(run_id, "ganlint/findings")}
    assert findings == {"ganlint/findings/step_000060.md", "ganlint/findings/step_000060.json"}
    local = Path(client.download_artifacts(run_id, "ganlint/findings/step_000060.json"))
    table = json.loads(local.read_text())
    assert len(table["data"]) == len(diagnosis.findings) and "check" in table["columns"]
    images = [f.path for f in client.list_artifacts(run_id, "images")]
    assert any(p.startswith("images/ganlint~samples+step+40+") and p.endswith(".png") for p in images)


def test_mlflow_target(mlflow_store, frame, diagnosis, png):
    from mlflow.tracking import MlflowClient

    with Loggers.open([f"mlflow:{mlflow_store}"], run_name="ring8", config={"lr": 2e-4, "g": {"width": 32}}) as lg:
        _log_everything(lg, frame, diagnosis, png)
        run_id = lg.sinks[0].run_id
    client = MlflowClient(tracking_uri=mlflow_store)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "ring8"
    assert run.data.params == {"lr": "0.0002", "g.width": "32"}
    _check_mlflow(client, run_id, frame, diagnosis)


def test_mlflow_module_without_an_active_run_gets_a_run_of_ganlints_own(mlflow_store, frame):
    import mlflow
    from mlflow.tracking import MlflowClient

    assert mlflow.active_run() is None
    with Loggers.open(mlflow, run_name="own", config={"lr": 2e-4}, group="suite-a") as lg:
        lg.telemetry(frame)
        run_id = lg.sinks[0].run_id
        assert mlflow.active_run() is None  # made through the client: never the process's active run
    run = MlflowClient(tracking_uri=mlflow_store).get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "own"  # ended on close: ganlint started it
    assert run.data.params == {"lr": "0.0002"} and "ganlint/loss_d" in run.data.metrics


def test_mlflow_users_active_run_stays_theirs(mlflow_store, frame, diagnosis, png):
    import mlflow
    from mlflow.tracking import MlflowClient

    with mlflow.start_run(run_name="mine") as mine:
        with Loggers.open([mlflow], run_name="ignored") as lg:
            _log_everything(lg, frame, diagnosis, png)
        assert mlflow.active_run().info.run_id == mine.info.run_id  # not ended by ganlint
        client = MlflowClient(tracking_uri=mlflow_store)
        assert client.get_run(mine.info.run_id).info.status == "RUNNING"
        _check_mlflow(client, mine.info.run_id, frame, diagnosis)
        # A Target opened while the user's run is active: a run of ganlint's own, nested under theirs.
        with Loggers.open(["mlflow"], run_name="nested") as lg:
            lg.telemetry(frame)
            nested = lg.sinks[0].run_id
        assert client.get_run(nested).data.tags["mlflow.parentRunId"] == mine.info.run_id
        assert mlflow.active_run().info.run_id == mine.info.run_id
