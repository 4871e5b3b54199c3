"""ganlint.Monitor(..., loggers=...) in a user's own plain PyTorch loop: what reaches TensorBoard, read back
from the event files (the user's own SummaryWriter, and a "tensorboard:DIR" that ganlint opens)."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from torch import nn

import ganlint
from ganlint.errors import ConfigError

pytest.importorskip("tensorboard")

from tensorboard.backend.event_processing import event_accumulator as ea
from torch.utils.tensorboard import SummaryWriter

STEPS = 300
EVERYTHING = {ea.SCALARS: 0, ea.TENSORS: 0, ea.IMAGES: 0}  # 0: keep every event, not a sample


def train(loggers, steps: int = STEPS) -> ganlint.Monitor:
    """A user's loop, as users write it: a 2D Gaussian in a tensor, MLPs, BCE on logits, Adam."""
    torch.manual_seed(0)
    data = torch.randn(2048, 2) * torch.tensor([1.0, 0.5]) + torch.tensor([2.0, -1.0])
    G = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 2))
    D = nn.Sequential(nn.Linear(2, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    mon = ganlint.Monitor(G, D, opt_g, opt_d, real=data, diagnose_every=100, loggers=loggers)
    for _ in range(steps):
        real = data[torch.randint(len(data), (64,))]
        fake = G(torch.randn(64, 4))
        d_real, d_fake = D(real), D(fake.detach())
        loss_d = bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = bce(D(fake), torch.ones_like(d_fake))
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        mon.step(loss_d=loss_d, loss_g=loss_g, d_real=d_real, d_fake=d_fake, fake=fake)
    return mon


def read(folder) -> ea.EventAccumulator:
    return ea.EventAccumulator(str(folder), size_guidance=EVERYTHING).Reload()


def texts(acc: ea.EventAccumulator, tag: str) -> list[tuple[int, str]]:
    """add_text's events ("TAG/text_summary"), as (step, text)."""
    return [(e.step, e.tensor_proto.string_val[0].decode()) for e in acc.Tensors(f"{tag}/text_summary")]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One run, two loggers: the user's own SummaryWriter (after close() they keep writing to it) and a
    "tensorboard:DIR" that ganlint opens (its writer: DIR/<run name>). Read back from each folder."""
    own, spec = tmp_path_factory.mktemp("tb-own"), tmp_path_factory.mktemp("tb-spec")
    writer = SummaryWriter(own)
    mon = train([writer, "tensorboard:" + str(spec)])
    final = mon.diagnose()
    mon.close()
    writer.add_scalar("user/after_close", 1.0, 7)  # still theirs and still open
    writer.flush()
    return mon, final, {"own_writer": read(own), "spec": read(spec / "ganlint")}


@pytest.mark.parametrize("where", ["own_writer", "spec"])
def test_telemetry_reaches_tensorboard_at_its_steps(run, where):
    mon, _, read_back = run
    acc = read_back[where]
    df = mon.telemetry
    assert len(df) == STEPS
    for col in ("loss_d", "loss_g", "d_real", "d_fake", "grad_norm_g", "grad_norm_d", "fake_std"):
        events = acc.Scalars(f"ganlint/{col}")
        assert [e.step for e in events] == list(range(1, STEPS + 1)), col  # each row once, at its step
        np.testing.assert_array_equal([e.value for e in events], df[col].to_numpy(np.float32), err_msg=col)
    ratios = acc.Scalars("ganlint/update_ratio_g")  # every 10th optimizer step: NaN rows are not sent
    assert [e.step for e in ratios] == df.loc[df["update_ratio_g"].notna(), "step"].tolist()
    evaluated = df[df["distance"].notna()]
    assert len(evaluated) >= 10  # the adaptive schedule: step 1, then every 10-20 steps
    distance = acc.Scalars("ganlint/distance")
    assert [e.step for e in distance] == evaluated["step"].tolist()
    np.testing.assert_allclose([e.value for e in distance], evaluated["distance"], rtol=1e-6)


@pytest.mark.parametrize("where", ["own_writer", "spec"])
def test_label_as_text_and_index_with_the_findings(run, where):
    mon, final, read_back = run
    acc = read_back[where]
    labels = texts(acc, "ganlint/label")
    # the live decisions at steps 100, 200, 300 (diagnose_every=100), and diagnose() at the end, sent once
    assert [s for s, _ in labels] == [100, 200, 300]
    assert labels[-1][1] == final.label == mon.diagnose().label
    index = acc.Scalars("ganlint/label_index")
    assert [e.step for e in index] == [100, 200, 300]
    assert index[-1].value == ganlint.vocabulary.LABELS.index(final.label)
    assert acc.Scalars("ganlint/confidence")[-1].value == pytest.approx(final.confidence)
    assert "0 diverged, 1 vanishing-gradient" in texts(acc, "ganlint/legend")[0][1]
    findings = texts(acc, "ganlint/findings")[-1][1]
    assert all(f.check in findings for f in final.findings)


@pytest.mark.parametrize("where", ["own_writer", "spec"])
def test_sample_pictures(run, where):
    acc = run[2][where]
    images = acc.Images("ganlint/samples")
    # the first evaluation, and close()'s last kept one; in between only as drawing time allows (<5%)
    assert images[0].step == 1 and images[-1].step == STEPS
    assert all(im.encoded_image_string.startswith(b"\x89PNG") and im.width > 100 for im in images)


def test_the_users_writer_stays_theirs(run):
    acc = run[2]["own_writer"]
    assert [(e.step, e.value) for e in acc.Scalars("user/after_close")] == [(7, 1.0)]


def test_a_failing_logger_never_breaks_the_loop(tmp_path, caplog):
    class FullDisk(SummaryWriter):
        def add_scalar(self, *args, **kwargs):
            raise OSError("No space left on device")

    writer = FullDisk(tmp_path)
    mon = train(writer, steps=150)  # one item alone, not a list
    assert not mon.disabled and mon.n == 150 and len(mon.telemetry) == 150
    assert mon.diagnose().label in ganlint.vocabulary.LABELS
    mon.close()
    failures = [r for r in caplog.records if r.levelno == logging.WARNING and "No space left" in r.getMessage()]
    assert len(failures) == 1  # said once, then that logger is switched off
    writer.close()


def test_an_unknown_logger_is_a_config_error():
    G, D = nn.Linear(2, 2), nn.Linear(2, 1)
    with pytest.raises(ConfigError, match="cannot log to a dict"):
        ganlint.Monitor(G, D, loggers=[{"not": "a logger"}])
    with pytest.raises(ConfigError, match="valid forms"):
        ganlint.Monitor(G, D, loggers="tensorbored:runs")


def test_mlflow_users_active_run(tmp_path, monkeypatch):
    """The way MLflow users write it: mlflow.start_run() around their loop, the mlflow module as the logger.
    ganlint writes into their run (metrics at the Monitor's steps, the label as a tag) and leaves it open."""
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3's file store, refused by default
    uri = (tmp_path / "mlruns").as_uri()
    mlflow.set_tracking_uri(uri)
    try:
        with mlflow.start_run(run_name="my-gan") as active:
            mon = train(mlflow, steps=200)
            final = mon.diagnose()
            mon.close()
            assert mlflow.active_run().info.run_id == active.info.run_id  # still theirs, still open
            mlflow.log_metric("user/after_close", 1.0)
        client = mlflow.tracking.MlflowClient(tracking_uri=uri)
        run = client.get_run(active.info.run_id)
        assert run.data.tags["ganlint.label"] == final.label
        history = sorted((m.step, m.value) for m in client.get_metric_history(active.info.run_id, "ganlint/loss_d"))
        assert [s for s, _ in history] == list(range(1, 201))
        np.testing.assert_allclose([v for _, v in history], mon.telemetry["loss_d"], rtol=1e-6)
        assert "user/after_close" in run.data.metrics
    finally:
        mlflow.set_tracking_uri(None)
