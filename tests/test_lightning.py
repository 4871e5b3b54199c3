"""ganlint.integrations.lightning.GanlintCallback on a user's Lightning GAN: the 1D Gaussian of
tests/userland/loop1d.py (G and D of a few linear layers, Adam), written as a LightningModule with
manual optimisation. Runs of at most a few hundred batches on the CPU."""

from __future__ import annotations

import contextlib
import io
import logging
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

L = pytest.importorskip("lightning")

from lightning.pytorch.callbacks import TQDMProgressBar  # noqa: E402
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger  # noqa: E402
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

import ganlint  # noqa: E402
from ganlint.errors import ConfigError  # noqa: E402
from ganlint.integrations.lightning import GanlintCallback, match_optimizers  # noqa: E402
from ganlint.vocabulary import LABELS  # noqa: E402

REAL_MEAN, REAL_STD, BATCH = 4.0, 1.25, 64

pytestmark = [
    # Lightning's advice to use DataLoader workers (on machines with more than 2 cores): these runs are tiny.
    pytest.mark.filterwarnings("ignore:The 'train_dataloader' does not have many workers"),
    # Lightning 2.6's pytree helper against torch's newer pytree API: inside Lightning, not ours.
    pytest.mark.filterwarnings(r"ignore:`isinstance\(treespec, LeafSpec\)` is deprecated:FutureWarning"),
]


def _norm(module: nn.Module) -> float:
    return float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in module.parameters()])))


class GAN1D(L.LightningModule):
    """A user's GAN: D update then G update, manual optimisation, the ganlint dict returned.

    order="dg" returns the optimizers D first; closure=True steps them with opt.step(closure=...), where
    backward runs inside step() (so torch's own pre-step hook would see the previous step's gradients).
    The gradient norms are also computed here by hand after each backward, for the tests to compare.
    """

    def __init__(self, lr: float = 1e-3, beta1: float = 0.5, order: str = "gd", closure: bool = False,
                 bad_output: bool = False) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.automatic_optimization = False
        self.generator = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 1))
        self.discriminator = nn.Sequential(nn.Linear(1, 32), nn.LeakyReLU(0.2), nn.Linear(32, 32), nn.LeakyReLU(0.2),
                                           nn.Linear(32, 1))
        self.lr, self.beta1, self.order, self.closure, self.bad_output = lr, beta1, order, closure, bad_output
        self.bce = nn.BCEWithLogitsLoss()
        self.hand_norms: list[tuple[float, float]] = []  # (G, D) per batch

    def configure_optimizers(self):
        opt_g = torch.optim.Adam(self.generator.parameters(), lr=self.lr, betas=(self.beta1, 0.999))
        opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=self.lr, betas=(self.beta1, 0.999))
        return (opt_g, opt_d) if self.order == "gd" else (opt_d, opt_g)

    def _update(self, opt, loss_fn, module) -> float:
        seen = []

        def backward():
            opt.zero_grad()
            self.manual_backward(loss_fn())
            seen.append(_norm(module))

        if self.closure:
            opt.step(closure=backward)
        else:
            backward()
            opt.step()
        return seen[0]

    def training_step(self, real, batch_idx):
        opts = self.optimizers()
        opt_g, opt_d = opts if self.order == "gd" else opts[::-1]
        fake = self.generator(torch.randn(len(real), 8))
        d_real, d_fake = self.discriminator(real), self.discriminator(fake.detach())
        loss_d = self.bce(d_real, torch.ones_like(d_real)) + self.bce(d_fake, torch.zeros_like(d_fake))
        norm_d = self._update(opt_d, lambda: loss_d, self.discriminator)
        loss_g = self.bce(self.discriminator(fake), torch.ones_like(d_fake))
        norm_g = self._update(opt_g, lambda: loss_g, self.generator)
        self.hand_norms.append((norm_g, norm_d))
        self.log("loss_d", loss_d)
        if self.bad_output:
            return {"loss_d": "not a number"}
        return {"loss_d": loss_d, "loss_g": loss_g, "d_real": d_real, "d_fake": d_fake, "fake": fake, "real": real}


def fit(module: GAN1D, callback: GanlintCallback, batches: int, tmp_path, **trainer_kw) -> L.Trainer:
    torch.manual_seed(0)
    data = REAL_MEAN + REAL_STD * torch.randn(BATCH * 100, 1)
    kw = {"logger": CSVLogger(tmp_path, name="csv"), "log_every_n_steps": 10, "enable_checkpointing": False,
          "enable_progress_bar": False, "enable_model_summary": False, "callbacks": [callback], **trainer_kw}
    trainer = L.Trainer(accelerator="cpu", max_steps=2 * batches, **kw)  # manual optimisation: 2 optimizer steps a batch
    trainer.fit(module, DataLoader(data, batch_size=BATCH))
    return trainer


@pytest.mark.parametrize(("order", "closure"), [("gd", False), ("dg", True)], ids=["gd-step", "dg-closure"])
def test_gradient_norms_are_those_each_optimizer_applied(tmp_path, order, closure):
    module = GAN1D(order=order, closure=closure)
    cb = GanlintCallback(flush_every=20, eval_every=20, ratio_every=1)
    fit(module, cb, 60, tmp_path)
    df = cb.monitor.telemetry
    assert list(df["step"]) == list(range(1, 61))
    hand = np.array(module.hand_norms)
    # Matched by parameters whatever the order, read after backward even when backward runs inside step().
    np.testing.assert_allclose(df["grad_norm_g"], hand[:, 0], rtol=1e-5)
    np.testing.assert_allclose(df["grad_norm_d"], hand[:, 1], rtol=1e-5)
    for col in ("update_ratio_g", "update_ratio_d"):
        assert (df[col] > 0).all() and np.isfinite(df[col]).all()
    assert df["d_real"].between(0, 1).all() and np.isfinite(df["fake_std"]).all()
    assert df["distance"].notna().sum() == 3  # eval_every=20 with the fake and real batches returned


def test_steps_the_amp_scaler_skips_are_not_divergence(tmp_path):
    """precision "16-mixed": the GradScaler skips the steps whose scaled gradients overflow (with a large
    initial scale, the first few of G and D). A skipped step must not be read as a NaN/inf gradient norm,
    which the engine labels diverged."""
    from lightning.pytorch.plugins import MixedPrecision

    module = GAN1D()
    cb = GanlintCallback(flush_every=13)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**24)
    fit(module, cb, 40, tmp_path, plugins=[MixedPrecision("16-mixed", "cpu", scaler=scaler)])
    hand = np.array(module.hand_norms)  # of the scaled gradients: inf where the scaler skipped the step
    first = max(int(np.argmax(np.isfinite(hand[:, side]))) for side in (0, 1))
    assert 0 < first < 20
    df = cb.monitor.telemetry
    assert len(df) == 40 - first  # rows start once both optimizers have applied a step
    assert np.isfinite(df[["grad_norm_g", "grad_norm_d"]].to_numpy()).all()
    # unscaled norms: the hand-computed ones over the scale, a power of two
    applied = np.isfinite(hand[first:]).all(axis=1)
    for col, side in (("grad_norm_g", 0), ("grad_norm_d", 1)):
        scale = np.log2(hand[first:, side][applied] / df[col].to_numpy()[applied])
        np.testing.assert_allclose(scale, np.round(scale), atol=1e-4)
    assert cb.monitor.diagnose().label != "diverged"


@pytest.fixture(scope="module")
def collapsing(tmp_path_factory):
    """lr 0.2 with beta1 0.5: G draws one value for every z within ~100 batches (fake std -> 0)."""
    tmp = tmp_path_factory.mktemp("collapse")
    # The default (adaptive) evaluation schedule: 17 evaluations by the first diagnosis at step 200, enough
    # for the engine's sample checks (a fixed eval_every=100 gives two, which cannot show collapse).
    cb = GanlintCallback(stop_on=("collapsed",), save_to=tmp / "ganlint", diagnose_every=200, log_every_n_steps=100)
    module = GAN1D(lr=0.2)
    err = io.StringIO()  # the callback's lines go through logging ("ganlint" logger); caplog is per test
    handler = logging.StreamHandler(err)
    logging.getLogger("ganlint").addHandler(handler)
    try:
        trainer = fit(module, cb, 1000, tmp)
    finally:
        logging.getLogger("ganlint").removeHandler(handler)
    return trainer, cb, tmp, err.getvalue()


def test_label_in_stop_on_stops_training(collapsing):
    trainer, cb, _, err = collapsing
    assert cb.monitor.status == "collapsed"
    assert cb.monitor.telemetry["fake_std"].iloc[-50:].median() < 0.1 * REAL_STD  # what G draws: one value
    assert cb.monitor.n == 200 and trainer.global_step == 400 < trainer.max_steps  # the first diagnosis stopped it
    assert "the run is collapsed" in err and "stopping training at step 200" in err


def test_label_and_statistics_reach_the_logger(collapsing):
    trainer, _, _, _ = collapsing
    metrics = pd.read_csv(f"{trainer.logger.log_dir}/metrics.csv")
    rows = metrics[metrics["ganlint/grad_norm_g"].notna()]
    # log_every_n_steps=100: at ganlint steps 100 and 200, on the x-axis of the module's own self.log
    assert list(rows["step"]) == [99, 199]
    assert 99 in set(metrics.loc[metrics["loss_d"].notna(), "step"])
    assert (rows[["ganlint/grad_norm_g", "ganlint/grad_norm_d", "ganlint/fake_std"]] >= 0).all().all()
    assert rows["ganlint/d_real"].between(0, 1).all()
    # no label before the first diagnosis (step 200), then collapsed with its confidence
    assert rows["ganlint/label_index"].isna().iloc[0]
    assert rows["ganlint/label_index"].iloc[-1] == LABELS.index("collapsed")
    assert 0 < rows["ganlint/confidence"].iloc[-1] <= 1


def test_saved_folder_is_diagnosed(collapsing):
    _, _, tmp, err = collapsing
    assert f"telemetry saved to {tmp / 'ganlint'}" in err
    d = ganlint.diagnose(tmp / "ganlint")
    assert d.label == "collapsed", d.summary
    assert len(pd.read_parquet(tmp / "ganlint" / "telemetry.parquet")) == 200


def test_monitor_errors_never_stop_training(tmp_path, caplog):
    trainer = fit(GAN1D(bad_output=True), GanlintCallback(flush_every=5), 12, tmp_path)
    assert trainer.global_step == 24  # ran to the end, unwatched
    assert "disabled after an error" in caplog.text


def test_strict_raises(tmp_path):
    with pytest.raises(ValueError, match="not a number"):
        fit(GAN1D(bad_output=True), GanlintCallback(flush_every=5, strict=True), 12, tmp_path)


class OneOptimizer(GAN1D):
    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)


@pytest.mark.parametrize(("module", "kw", "message"), [
    (OneOptimizer, {}, "holds parameters of both G and D"),
    (GAN1D, {"generator": "netG"}, r"no such module on GAN1D \(its submodules: generator, discriminator, bce\)"),
    (GAN1D, {"generator": "discriminator"}, "holds parameters of both G and D"),
])
def test_unmatched_modules_or_optimizers_are_errors(tmp_path, module, kw, message):
    with pytest.raises(ConfigError, match=message):
        fit(module(), GanlintCallback(**kw), 2, tmp_path)


def test_optimizers_are_matched_by_their_parameters():
    G, D, other = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1)), nn.Linear(1, 1), nn.Linear(3, 3)
    opt_g, opt_d, opt_other = (torch.optim.SGD(m.parameters(), lr=0.1) for m in (G, D, other))
    assert match_optimizers([opt_other, opt_d, opt_g], G, D) == {"g": opt_g, "d": opt_d}
    assert match_optimizers([opt_d], G, D) == {"g": None, "d": opt_d}
    split = [torch.optim.SGD(G[0].parameters(), lr=0.1), torch.optim.SGD(G[1].parameters(), lr=0.1), opt_d]
    with pytest.raises(ConfigError, match=r"optimizers \[0, 1\] all hold parameters of G"):
        match_optimizers(split, G, D)
    with pytest.raises(ConfigError, match="none of the trainer's 1 optimizer"):
        match_optimizers([opt_other], G, D)


def test_modules_may_be_given_as_callables(tmp_path):
    cb = GanlintCallback(generator=lambda m: m.generator, discriminator=lambda m: m.discriminator, flush_every=4)
    fit(GAN1D(order="dg"), cb, 4, tmp_path)
    assert cb.monitor.telemetry["grad_norm_g"].gt(0).all()


@pytest.mark.parametrize(("kw", "message"), [
    ({"flush_evry": 5}, "unknown option"),
    ({"log_every_n_steps": 30}, r"multiple of flush_every \(50\)"),
    ({"log_every_n_steps": 30, "flush_every": 10}, None),
])
def test_options_are_validated(kw, message):
    if message is None:
        GanlintCallback(**kw)
    else:
        with pytest.raises(ConfigError, match=message):
            GanlintCallback(**kw)


def test_import_ganlint_does_not_import_lightning():
    code = "import sys, ganlint, ganlint.integrations; assert 'lightning' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_label_index_is_documented_as_the_vocabulary_orders_it():
    """The docstring's list of `ganlint/label_index` values is ganlint.vocabulary.LABELS, in order."""
    import re

    import ganlint.integrations.lightning as integration

    text = " ".join(integration.__doc__.split())
    listed = re.search(r"LABELS, their priority order: (.*?); absent", text).group(1)
    assert [tuple(item.split(" ", 1)) for item in listed.split(", ")] == [(str(i), lab) for i, lab in enumerate(LABELS)]


def test_the_g_loss_reaches_the_monitor(tmp_path):
    """GanlintCallback(g_loss=...) judges the run under that loss, as Monitor(g_loss=...) does."""
    cb = GanlintCallback(g_loss="minimax", flush_every=4)
    fit(GAN1D(), cb, 12, tmp_path)
    assert cb.monitor.g_loss == "saturating"


class CapturingBar(TQDMProgressBar):
    """Lightning's tqdm bar, keeping what it is asked to print (LightningModule.print's way above the bar)."""

    def __init__(self) -> None:
        super().__init__()
        self.printed: list[tuple[str, object]] = []

    def print(self, *args, **kwargs) -> None:
        self.printed.append((" ".join(map(str, args)), kwargs.get("file")))
        super().print(*args, **kwargs)


@pytest.fixture(scope="module")
def with_tensorboard(tmp_path_factory):
    """The collapsing GAN (lr 0.2) for 250 batches with a TensorBoardLogger and a CSVLogger, the progress bar
    on, and no logging configured by the program (as in a plain script: pytest's own capture handlers on the
    root logger are taken away for the run)."""
    tmp = tmp_path_factory.mktemp("tb")
    cb = GanlintCallback(diagnose_every=100, save_to=tmp / "ganlint")
    bar = CapturingBar()
    tb, csv = TensorBoardLogger(tmp, name="tb"), CSVLogger(tmp, name="csv")
    torch.manual_seed(0)
    data = REAL_MEAN + REAL_STD * torch.randn(BATCH * 100, 1)
    trainer = L.Trainer(accelerator="cpu", max_steps=2 * 250, logger=[tb, csv], log_every_n_steps=10,
                        enable_checkpointing=False, enable_model_summary=False, callbacks=[cb, bar])
    err = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stderr(err):
        mp.setattr(logging.getLogger(), "handlers", [])
        trainer.fit(GAN1D(lr=0.2), DataLoader(data, batch_size=BATCH))
    acc = EventAccumulator(tb.log_dir, size_guidance={"scalars": 0, "tensors": 0}).Reload()
    return trainer, cb, bar, acc, pd.read_csv(f"{csv.log_dir}/metrics.csv"), err


def test_the_label_reaches_tensorboard_as_text(with_tensorboard):
    _, cb, _, acc, _, _ = with_tensorboard
    labels = [(e.step, e.tensor_proto.string_val[0].decode()) for e in acc.Tensors("ganlint/label/text_summary")]
    # the diagnoses at batches 100 and 200 and the run's own at its end (250), on the self.log axis
    assert [s for s, _ in labels] == [99, 199, 249]
    assert labels[-1][1] == cb.monitor.diagnose().label
    index = acc.Scalars("ganlint/label_index")
    assert [(e.step, e.value) for e in index] == [(s, LABELS.index(lab)) for s, lab in labels]  # once each
    assert [e.step for e in acc.Scalars("ganlint/confidence")] == [99, 199, 249]
    assert "4 collapsed" in acc.Tensors("ganlint/legend/text_summary")[0].tensor_proto.string_val[0].decode()
    assert acc.Tensors("ganlint/findings/text_summary")[-1].step == 249
    assert {e.step for e in acc.Scalars("ganlint/grad_norm_g")} == {99, 199}  # the statistics, as before
    assert 99 in {e.step for e in acc.Scalars("loss_d")}  # the module's own self.log, same axis


def test_loggers_the_sinks_do_not_know_get_label_index_alone(with_tensorboard):
    _, _, _, _, metrics, _ = with_tensorboard
    rows = metrics[metrics["ganlint/label_index"].notna()]
    assert list(rows["step"]) == [99, 199, 249]
    assert not any("label" in c and c != "ganlint/label_index" for c in metrics.columns)


def test_messages_are_printed_above_the_progress_bar(with_tensorboard):
    _, cb, bar, _, _, stderr = with_tensorboard
    said = [text for text, _ in bar.printed]
    assert said and all(text.startswith("ganlint: ") for text in said)
    assert all(file is stderr for _, file in bar.printed)  # stderr is chatter (tqdm's bar is on stdout)
    assert any("the run is " in text for text in said), said
    err = stderr.getvalue()
    # through tqdm.write: each on a line of its own on stderr
    for text in said:
        assert f"\n{text}\n" in f"\n{err}", text
    # after the bar closed (on_train_end), the logger's own way again: the saved telemetry
    assert not any("telemetry saved" in text for text in said)
    assert f"ganlint: telemetry saved to {cb.save_to}" in err
    assert not [h for h in logging.getLogger("ganlint").handlers if type(h).__name__ == "_AboveTheBar"]


class ReturnsNothing(GAN1D):
    def training_step(self, real, batch_idx):
        super().training_step(real, batch_idx)  # the updates, without the dict ganlint reads


def test_a_program_that_routes_logging_keeps_the_messages(tmp_path, caplog):
    """With a handler of the program's own (here pytest's caplog on the root logger) the records go there,
    not through the bar."""
    bar = CapturingBar()
    cb = GanlintCallback(flush_every=5)
    fit(ReturnsNothing(), cb, 5, tmp_path, enable_progress_bar=True, callbacks=[cb, bar])
    assert "GanlintCallback: training_step returned none of loss_d" in caplog.text
    assert bar.printed == []
