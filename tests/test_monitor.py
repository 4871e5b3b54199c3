"""ganlint.Monitor in a user's own plain PyTorch loop (tests/userland/loop1d.py: a 1D Gaussian, G and D
of a few linear layers, Adam). Expected labels come from what the loop's own fake mean and std show."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import ganlint
from ganlint.errors import ConfigError
from ganlint.report.run_report import load_fakes
from ganlint.training.monitor import eval_gap
from ganlint.training.telemetry import COLUMNS
from ganlint.vocabulary import DIVERGED, INCONCLUSIVE, LABELS

sys.path.insert(0, str(Path(__file__).parent / "userland"))
import loop1d


def monitored(**kw):
    kw.setdefault("eval_every", 100)
    return lambda G, D, og, od: ganlint.Monitor(G, D, og, od, outputs="logit", **kw)


@pytest.fixture(scope="module")
def high_lr():
    labels = []
    out = loop1d.train(0.2, 2000, seed=0, monitor_factory=monitored(on_label=lambda *a: labels.append(a)))
    return (*out, labels)


def test_high_learning_rate_label_matches_the_samples(high_lr):
    _, mon, _, stds, _ = high_lr
    # What the loop itself saw: in the second half G draws one value (std near 0) for every z.
    assert float(stds[1000:].median()) < 0.1 * loop1d.REAL_STD
    d = mon.diagnose()
    assert d.label == "collapsed", d.summary
    assert mon.status == "collapsed"  # the live label agreed before the end
    assert d.onset_step is not None and d.onset_step < 2000


def test_live_label_callback_fired_with_onset(high_lr):
    *_, labels = high_lr
    assert labels and labels[-1][0] == "collapsed"
    _, onset, diagnosis = labels[-1]
    assert isinstance(onset, int) and diagnosis.label == "collapsed"


def test_sane_learning_rate_is_stable():
    _, mon, means, stds = loop1d.train(1e-3, 2000, seed=0, monitor_factory=monitored())
    late_mean, late_std = float(means[1000:].mean()), float(stds[1000:].mean())
    assert abs(late_mean - loop1d.REAL_MEAN) < 0.25 * loop1d.REAL_STD and abs(late_std / loop1d.REAL_STD - 1) < 0.2
    d = mon.diagnose()
    assert d.label == "stable" and d.confidence > 0.5, d.summary


def test_monitor_never_changes_the_run():
    """Same seed, same weights, with and without the Monitor (and with a real-data callable that draws
    random numbers of its own)."""
    g_plain, *_ = loop1d.train(1e-3, 300, seed=3)
    sampler = monitored(real=lambda: loop1d.REAL_MEAN + loop1d.REAL_STD * torch.randn(64, 1), eval_every=50)
    g_mon, mon, *_ = loop1d.train(1e-3, 300, seed=3, monitor_factory=sampler)
    for a, b in zip(g_plain.state_dict().values(), g_mon.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert not mon.disabled


def test_telemetry_schema_grad_norms_and_round_trip(tmp_path):
    _, mon, *_ = loop1d.train(1e-3, 250, seed=0, monitor_factory=monitored())
    df = mon.telemetry
    assert list(df.columns) == list(COLUMNS) and len(df) == 250 and df["step"].tolist() == list(range(1, 251))
    for col in ("grad_norm_g", "grad_norm_d", "loss_d", "fake_std", "real_std"):
        assert np.isfinite(df[col]).all() and (df[col] > 0).all(), col
    for col in ("update_ratio_g", "update_ratio_d"):  # every 10th optimizer step (the default ratio_every)
        measured = df[col].dropna()
        assert len(measured) == 25 and (measured > 0).all(), col
    assert df["d_real"].between(0, 1).all()  # logits recorded as probabilities
    assert df["distance"].notna().sum() == 2  # steps 100 and 200
    folder = mon.save(tmp_path / "mine")
    assert ganlint.diagnose(folder).label == mon.diagnose().label
    pd.testing.assert_frame_equal(pd.read_parquet(folder / "telemetry.parquet"), df)


def test_grad_norm_is_what_the_optimizer_applied():
    torch.manual_seed(0)
    g, d = torch.nn.Linear(2, 1), torch.nn.Linear(1, 1)
    og, od = torch.optim.SGD(g.parameters(), lr=0.1), torch.optim.SGD(d.parameters(), lr=0.1)
    mon = ganlint.Monitor(g, d, og, od, strict=True)
    loss_d = d(g(torch.randn(4, 2)).detach()).mean()
    od.zero_grad()
    loss_d.backward()
    expected_d = math.sqrt(sum(float(p.grad.norm()) ** 2 for p in d.parameters()))
    od.step()
    loss_g = -d(g(torch.randn(4, 2))).mean()
    og.zero_grad()
    loss_g.backward()  # also leaves gradients in D, which D's optimizer never applies
    expected_g = math.sqrt(sum(float(p.grad.norm()) ** 2 for p in g.parameters()))
    og.step()
    mon.step(loss_d=loss_d, loss_g=loss_g)
    row = mon.telemetry.iloc[0]
    assert row["grad_norm_d"] == pytest.approx(expected_d, rel=1e-5)
    assert row["grad_norm_g"] == pytest.approx(expected_g, rel=1e-5)


def test_reading_telemetry_mid_run_keeps_the_diagnosis_schedule():
    seen = []

    def factory(G, D, og, od):
        mon = ganlint.Monitor(G, D, og, od, outputs="logit", eval_every=100, diagnose_every=200)
        mon.step = _peek(mon.step, mon, seen)
        return mon

    _, mon, *_ = loop1d.train(1e-3, 600, seed=0, monitor_factory=factory)
    assert seen and mon.status is not None  # decisions at steps 200, 400, 600 despite the partial flushes


def _peek(step, mon, seen):
    def wrapped(**kw):
        out = step(**kw)
        if mon.n % 10 == 0:
            seen.append(len(mon.telemetry))  # a mid-run read flushes a partial buffer
        return out

    return wrapped


def test_stop_on_breaks_the_loop():
    _, mon, means, _ = loop1d.train(0.2, 3000, seed=0, monitor_factory=monitored(stop_on={"collapsed"}))
    assert mon.should_stop and len(means) < 3000


def test_window_keeps_memory_bounded():
    _, mon, *_ = loop1d.train(1e-3, 1200, seed=0, monitor_factory=monitored(window=300, flush_every=50))
    df = mon.telemetry
    assert len(df) <= 350 and df["step"].iloc[-1] == 1200


def test_bad_calls_never_crash_the_loop(caplog):
    g, d = torch.nn.Linear(2, 1), torch.nn.Linear(1, 1)
    mon = ganlint.Monitor(g, d, None, None)
    mon.step(loss_d=torch.tensor(float("nan")), loss_g=1.0, fake=torch.randn(8, 1), real=torch.randn(8, 3))
    for _ in range(60):
        mon.step(loss_d=1.0, loss_g=1.0, d_real=torch.randn(7, 2), fake=torch.randn(8, 1))
    assert "no optimizer for G" in caplog.text and not mon.disabled
    assert all(r.levelname == "WARNING" and r.name == "ganlint.training.monitor" for r in caplog.records)
    assert math.isnan(mon.telemetry["loss_d"].iloc[0]) and mon.telemetry["grad_norm_g"].isna().all()
    # an error inside the Monitor disables it once, with one message, and the loop goes on
    caplog.clear()
    mon.step(loss_d=object())
    mon.step(loss_d=object())
    assert mon.disabled and [r.getMessage().count("disabled after an error") for r in caplog.records] == [1]
    assert mon.step(loss_d=1.0) is None


def test_step_before_any_optimizer_step_is_said_once(caplog):
    g, d = torch.nn.Linear(2, 1), torch.nn.Linear(1, 1)
    mon = ganlint.Monitor(g, d, torch.optim.SGD(g.parameters(), lr=0.1), torch.optim.SGD(d.parameters(), lr=0.1))
    mon.step(loss_d=1.0, loss_g=1.0)
    mon.step(loss_d=1.0, loss_g=1.0)
    assert caplog.text.count("before every optimizer has applied a step") == 1
    assert len(mon.telemetry) == 0  # no rows of NaN gradient norms, which would read as divergence


def test_strict_raises():
    mon = ganlint.Monitor(torch.nn.Linear(2, 1), strict=True)
    with pytest.raises(TypeError):
        mon.step(loss_d=object())


@pytest.mark.parametrize("kw,message", [({"outputs": "sigmoid"}, "outputs must be one of"),
                                        ({"eval_evry": 5}, "unknown Monitor option"),
                                        ({"stop_on": {"colapsed"}}, "unknown label"),
                                        ({"stop_on": {"stable"}}, "stable never stops a run"),
                                        ({"real": [1.0, 2.0]}, "real must be a tensor"),
                                        ({"flush_every": 0}, "positive integer")])
def test_bad_construction_is_a_clear_error(kw, message):
    with pytest.raises(ConfigError, match=message):
        ganlint.Monitor(torch.nn.Linear(2, 1), **kw)


# -- one vocabulary ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("outputs,canonical,recorded", [("logit", "logit", "probability"), ("logits", "logit", "probability"),
                                                        ("probability", "probability", "probability"),
                                                        ("probabilities", "probability", "probability"),
                                                        ("ls-score", "ls-score", "ls-score"), ("critic", "critic", "critic")])
def test_outputs_take_the_vocabulary_and_the_old_plurals(outputs, canonical, recorded):
    mon = ganlint.Monitor(torch.nn.Linear(2, 1), outputs=outputs)
    assert (mon.outputs, mon.d_output) == (canonical, recorded)


def test_stop_on_takes_every_label_but_stable():
    mon = ganlint.Monitor(torch.nn.Linear(2, 1), stop_on=[label for label in LABELS if label != "stable"])
    assert "still-weak" in mon.stop_on and "inconclusive" in mon.stop_on


def test_nothing_recorded_is_inconclusive_and_says_what_to_do():
    d = ganlint.Monitor(torch.nn.Linear(2, 1)).diagnose()
    assert d.label == INCONCLUSIVE and d.confidence == 0 and d.needs and "mon.step" in d.needs[0]


# -- real data given once, for every row --------------------------------------------------------------------
def _fixed_real_loop(real, steps=30, **kw):
    g = torch.nn.Linear(2, 1)
    mon = ganlint.Monitor(g, real=real, strict=True, **kw)
    for _ in range(steps):
        mon.step(loss_d=1.0, fake=g(torch.randn(16, 2)))
    return mon


def test_real_tensor_gives_every_row_its_statistics():
    real = 4.0 + 1.25 * torch.randn(500, 1, generator=torch.Generator().manual_seed(0))
    df = _fixed_real_loop(real).telemetry
    assert df["real_mean"].tolist() == pytest.approx([float(real.mean())] * 30)
    assert df["real_std"].tolist() == pytest.approx([float(real.std())] * 30)


def test_a_real_batch_given_to_step_wins_over_the_constructed_one():
    g = torch.nn.Linear(2, 1)
    mon = ganlint.Monitor(g, real=torch.zeros(10, 1) + torch.arange(10.0)[:, None], strict=True)
    mon.step(loss_d=1.0, real=torch.tensor([[7.0], [9.0]]))
    mon.step(loss_d=1.0)
    df = mon.telemetry
    assert df["real_mean"].tolist() == pytest.approx([8.0, 4.5])


def test_real_callable_is_sampled_at_evaluations_and_carried_forward():
    calls = []

    def sampler():
        calls.append(1)
        return torch.full((8, 1), float(len(calls))) + torch.tensor([[0.0], [1.0]] * 4)

    df = _fixed_real_loop(sampler, steps=30).telemetry  # adaptive schedule: evaluations at 1, 10, 20, 30
    # One sample for the first row's statistics, then one per evaluation, carried forward to the rows
    # after it (a row is recorded before its step's evaluation samples).
    assert len(calls) == 5
    means = df["real_mean"].to_numpy() - 0.5
    assert means[0] == 1.0 and (means[1:10] == 2.0).all() and (means[10:20] == 3.0).all() and (means[20:30] == 4.0).all()


# -- the evaluation schedule ----------------------------------------------------------------------------------
def test_adaptive_schedule_dense_early_sparse_late():
    evals = [s for s in range(1, 20_001) if s == 1 or s % eval_gap(s) == 0]
    assert sum(s <= 300 for s in evals) >= 16  # the oscillation check on the distance needs 16
    assert eval_gap(300) <= 300 // 16 + 10 and eval_gap(5_120) < 500 and eval_gap(5_121) == 500 == eval_gap(10**6)
    assert [s for s in evals if s >= 6_000][:3] == [6_000, 6_500, 7_000]  # then eval_every, the largest gap
    assert len(evals) < 100  # 20,000 steps: the early density costs a bounded number of evaluations
    assert eval_gap(10**6, 100) == 100 and eval_gap(5, 3) == 3


def test_a_short_run_gets_enough_evaluations_for_every_sample_check():
    _, mon, *_ = loop1d.train(1e-3, 300, seed=0, monitor_factory=lambda G, D, og, od: ganlint.Monitor(G, D, og, od))
    evaluated = mon.telemetry.dropna(subset=["distance"])["step"].tolist()
    assert len(evaluated) >= 16 and evaluated[0] == 1 and evaluated[-1] == 300
    checks = {f.check: f.status for f in mon.diagnose().findings}
    for name in ("progress.distance", "collapse.diversity", "oscillation.distance"):
        assert checks.get(name) not in (None, "not-assessable"), (name, checks.get(name))


def test_explicit_eval_every_is_a_fixed_schedule():
    _, mon, *_ = loop1d.train(1e-3, 250, seed=0, monitor_factory=monitored(eval_every=60))
    assert mon.telemetry.dropna(subset=["distance"])["step"].tolist() == [60, 120, 180, 240]
    assert not mon.adaptive


def test_final_evaluation_of_the_last_fake_batch_when_stale(tmp_path):
    _, mon, *_ = loop1d.train(1e-3, 150, seed=0, monitor_factory=monitored(eval_every=500))
    assert mon.telemetry["distance"].notna().sum() == 0  # the fixed schedule asked for never came
    last_fake = mon._last[1]
    assert last_fake.requires_grad is False and last_fake.grad_fn is None  # detached: no graph kept
    mon.diagnose()  # no evaluation within the gap: the last batch (step 150) is evaluated first
    assert mon.telemetry.dropna(subset=["distance"])["step"].tolist() == [150]
    mon.save(tmp_path / "mine")  # fresh now: nothing more
    assert mon.telemetry.dropna(subset=["distance"])["step"].tolist() == [150]
    _, fresh, *_ = loop1d.train(1e-3, 150, seed=0, monitor_factory=monitored(eval_every=100))
    fresh.save(tmp_path / "other")  # the step-100 evaluation is 50 steps old, within the gap: not stale
    assert fresh.telemetry.dropna(subset=["distance"])["step"].tolist() == [100]


# -- MNIST-shaped samples ------------------------------------------------------------------------------------
def _digits_monitor(side: int = 28, channels: int = 1, **kw):
    torch.manual_seed(0)
    g = torch.nn.Sequential(torch.nn.Linear(8, channels * side * side), torch.nn.Tanh(),
                            torch.nn.Unflatten(1, (channels, side, side)))
    real = torch.rand(64, channels, side, side) * 2 - 1
    mon = ganlint.Monitor(g, real=real, strict=True, eval_every=5, **kw)
    for _ in range(10):
        mon.step(loss_d=1.0, loss_g=1.0, fake=g(torch.randn(64, 8)))
    return mon


def test_mnist_shaped_samples_count_ten_modes_and_an_explicit_num_modes_wins():
    mon = _digits_monitor()
    assert mon.num_modes == 10
    assert mon.telemetry["modes_covered"].notna().sum() == 2  # the shipped classifier at steps 5 and 10
    assert _digits_monitor(num_modes=3).num_modes == 3
    assert ganlint.Monitor(torch.nn.Linear(2, 1), real=torch.randn(8, 2)).num_modes is None


def test_a_32px_dcgans_grey_samples_are_read_by_the_classifier_too():
    # pytorch/examples dcgan at --imageSize 32: the same resize rule as ganlint check (to_mnist_input).
    mon = _digits_monitor(side=32)
    assert mon.num_modes == 10 and mon._distance_kind == "classifier_frechet"
    assert mon.telemetry["modes_covered"].notna().sum() == 2
    # RGB images are not taken for digits: no classes, the samples' own values.
    mon = _digits_monitor(side=32, channels=3)
    assert mon.num_modes is None and mon._distance_kind is None


def test_saved_folder_holds_sample_pictures_as_the_trainer_writes_them(tmp_path):
    _, mon, *_ = loop1d.train(1e-3, 400, seed=0, monitor_factory=lambda G, D, og, od: ganlint.Monitor(G, D, og, od))
    folder = mon.save(tmp_path / "mine")
    fakes = load_fakes(folder)  # what `ganlint report` reads
    assert 2 <= len(fakes) <= 6 and min(fakes) == 1 and max(fakes) == 400
    assert all(f.shape == (64, 1) for f in fakes.values())
    assert all((folder / "samples" / f"step_{s:06d}.png").is_file() for s in fakes)
    assert (folder / "samples" / "real.safetensors").is_file()


def test_report_of_a_saved_folder_shows_its_sample_grids(tmp_path):
    """`ganlint report` on a Monitor's folder (no training config) draws the samples against the reals the
    Monitor saved."""
    import subprocess

    _, mon, *_ = loop1d.train(1e-3, 200, seed=0, monitor_factory=lambda G, D, og, od: ganlint.Monitor(G, D, og, od))
    folder = mon.save(tmp_path / "mine")
    p = subprocess.run([sys.executable, "-m", "ganlint", "report", str(folder)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "no real data" not in p.stderr
    assert (folder / "plots" / "samples.png").is_file()
    assert "samples.png" in (folder / "report.md").read_text()


# -- absent is not broken ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("what", ["losses only", "no opt_d"])
def test_what_was_not_given_is_never_diverged(what):
    """A healthy loop (lr 1e-3, the one labelled stable above) watched with less: never diverged, and
    stop_on={'diverged'} never stops it."""
    if what == "losses only":
        factory, logged = monitored(stop_on={"diverged"}, diagnose_every=200), ("loss_d", "loss_g")
    else:
        def factory(G, D, og, od):
            return ganlint.Monitor(G, D, og, None, outputs="logit", stop_on={"diverged"}, diagnose_every=200)
        logged = loop1d.STEP_ARGS
    _, mon, means, _ = loop1d.train(1e-3, 1200, seed=0, monitor_factory=factory, logged=logged)
    assert len(means) == 1200 and not mon.should_stop
    d = mon.diagnose()
    assert d.label != DIVERGED and mon.status != DIVERGED, d.summary
    if what == "losses only":  # no sample evidence at all: losses alone never show health
        assert d.label != "stable", d.summary


# -- the G loss trained with ---------------------------------------------------------------------------------
def _saturated_loop(g_loss):
    """300 steps of a D that is sure of everything: logits +8 on reals and -8 on fakes (D(x) = 0.9997,
    D(G(z)) = 0.0003), losses as the BCE formulas give them; no optimizers, so no gradient norms."""
    mon = ganlint.Monitor(torch.nn.Linear(2, 2), outputs="logit", g_loss=g_loss)
    real_logit, fake_logit = torch.full((64,), 8.0), torch.full((64,), -8.0)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    loss_d = bce(real_logit, torch.ones(64)) + bce(fake_logit, torch.zeros(64))
    # the saturating loss log(1 - D(G(z))), as a user writes it: -BCE(D(G(z)), fake labels)
    loss_g = -bce(fake_logit, torch.zeros(64)) if g_loss == "minimax" else bce(fake_logit, torch.ones(64))
    for _ in range(300):
        mon.step(loss_d=loss_d, loss_g=loss_g, d_real=real_logit, d_fake=fake_logit)
    return mon


@pytest.mark.parametrize("g_loss,failing", [("minimax", True), ("nonsaturating", False)])
def test_the_vanishing_gradient_is_judged_under_the_monitors_g_loss(tmp_path, g_loss, failing):
    mon = _saturated_loop(g_loss)
    d = mon.diagnose()
    summary = next(f for f in d.findings if f.check == "vanishing_gradient")
    assert (summary.status == "fail") is failing, summary.message
    assert (d.label == "vanishing-gradient") is failing
    folder = mon.save(tmp_path / "run")  # the folder keeps the loss: `ganlint diagnose` judges it alike
    again = ganlint.diagnose(folder)
    assert again.label == d.label
    assert next(f for f in again.findings if f.check == "vanishing_gradient").status == summary.status


def test_an_unknown_g_loss_is_refused():
    with pytest.raises(ConfigError, match="g_loss must be one of"):
        ganlint.Monitor(torch.nn.Linear(2, 1), g_loss="sat")
