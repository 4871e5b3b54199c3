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
from ganlint.telemetry import COLUMNS

sys.path.insert(0, str(Path(__file__).parent / "userland"))
import loop1d


def monitored(**kw):
    kw.setdefault("eval_every", 100)
    return lambda G, D, og, od: ganlint.Monitor(G, D, og, od, outputs="logits", **kw)


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
        mon = ganlint.Monitor(G, D, og, od, outputs="logits", eval_every=100, diagnose_every=200)
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


def test_bad_calls_never_crash_the_loop(capsys):
    g, d = torch.nn.Linear(2, 1), torch.nn.Linear(1, 1)
    mon = ganlint.Monitor(g, d, None, None)
    mon.step(loss_d=torch.tensor(float("nan")), loss_g=1.0, fake=torch.randn(8, 1), real=torch.randn(8, 3))
    for _ in range(60):
        mon.step(loss_d=1.0, loss_g=1.0, d_real=torch.randn(7, 2), fake=torch.randn(8, 1))
    err = capsys.readouterr().err
    assert "no optimizer for G" in err and not mon.disabled
    assert math.isnan(mon.telemetry["loss_d"].iloc[0]) and mon.telemetry["grad_norm_g"].isna().all()
    # an error inside the Monitor disables it once, with one message, and the loop goes on
    mon.step(loss_d=object())
    assert mon.disabled and "disabled after an error" in capsys.readouterr().err
    assert mon.step(loss_d=1.0) is None


def test_step_before_any_optimizer_step_is_said_once(capsys):
    g, d = torch.nn.Linear(2, 1), torch.nn.Linear(1, 1)
    mon = ganlint.Monitor(g, d, torch.optim.SGD(g.parameters(), lr=0.1), torch.optim.SGD(d.parameters(), lr=0.1))
    mon.step(loss_d=1.0, loss_g=1.0)
    mon.step(loss_d=1.0, loss_g=1.0)
    assert capsys.readouterr().err.count("before every optimizer has applied a step") == 1
    assert len(mon.telemetry) == 0  # no rows of NaN gradient norms, which would read as divergence


def test_strict_raises():
    mon = ganlint.Monitor(torch.nn.Linear(2, 1), strict=True)
    with pytest.raises(TypeError):
        mon.step(loss_d=object())


@pytest.mark.parametrize("kw,message", [({"outputs": "sigmoid"}, "outputs must be one of"),
                                        ({"eval_evry": 5}, "unknown Monitor option"),
                                        ({"stop_on": {"colapsed"}}, "unknown label"),
                                        ({"flush_every": 0}, "positive integer")])
def test_bad_construction_is_a_clear_error(kw, message):
    with pytest.raises(ConfigError, match=message):
        ganlint.Monitor(torch.nn.Linear(2, 1), **kw)
