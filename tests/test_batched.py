"""Many seeds at once (ganlint.training.batched): what is supported, the run folders, and equivalence in distribution
with the sequential trainer."""

from __future__ import annotations

import contextlib
import copy
from pathlib import Path

import numpy as np
import pytest
import torch

import ganlint
from ganlint.data import get_dataset
from ganlint.errors import ConfigError
from ganlint.tomlfile import read_toml
from ganlint.training.batched import _Stack, _streams, batched_step, supported, train_batched
from ganlint.training.config import TrainConfig
from ganlint.training.telemetry import COLUMNS, GroupNorms, total_norm, update_ratio

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"dataset": "ring8", "batch_size": 64, "g_width": 32, "d_width": 32, "pictures": 0, "device": "cpu"}


@pytest.mark.parametrize(("changes", "word"), [
    ({"spectral_norm": True}, "spectral norm"),
    ({"loss": "wgan-gp"}, "gradient penalty"),
    ({"r1_gamma": 1.0}, "R1"),
    ({"minibatch_std": True}, "minibatch"),
    ({"pack": 2}, "PacGAN"),
    ({"dataset": "mnist", "model": "dcgan"}, "model 'dcgan'"),
    ({"dataset": "reviews"}, "model 'tabular'"),
    ({"lr_g": -1.0}, "invalid config"),
])
def test_supported_rejects_with_a_reason(changes, word):
    ok, why = supported({**SMALL, **changes})
    assert not ok
    assert word in why


@pytest.mark.parametrize("changes", [
    {}, {"loss": "minimax"}, {"loss": "lsgan"}, {"loss": "hinge"}, {"loss": "wgan", "n_critic": 5},
    {"dropout": 0.3}, {"label_smoothing": 0.1}, {"dataset": "gaussian1d"}, {"dataset": "grid25"},
    {"batch_norm": True}, {"dataset": "mnist"},  # batch norm is on by default for mnist
])
def test_supported_accepts(changes):
    assert supported({**SMALL, **changes}) == (True, "")


def test_unsupported_config_raises_and_writes_nothing(tmp_path):
    with pytest.raises(ConfigError, match="spectral norm"):
        train_batched({**SMALL, "spectral_norm": True, "steps": 5}, [0, 1], out_dirs=[tmp_path / "a", tmp_path / "b"])
    assert not any(tmp_path.iterdir())
    with pytest.raises(ConfigError, match="differ"):
        train_batched({**SMALL, "steps": 5}, [1, 1], out_dirs=[tmp_path / "a", tmp_path / "b"])


def test_per_copy_norms_match_the_single_run_helpers():
    gen = torch.Generator().manual_seed(0)
    stacked = [torch.randn(3, 4, 5, generator=gen), torch.randn(3, 7, generator=gen)]
    before = [t + 0.01 * torch.randn(t.shape, generator=gen) for t in stacked]
    n = GroupNorms(per_copy=True)([stacked, torch._foreach_sub(stacked, before)])  # (groups, K)
    assert n.shape == (2, 3)
    norms, ratios = n[0], n[1] / n[0]
    for k in range(3):
        assert norms[k] == pytest.approx(float(total_norm([t[k] for t in stacked])), rel=1e-5)
        assert ratios[k] == pytest.approx(float(update_ratio([t[k] for t in stacked], [b[k] for b in before])), rel=1e-5)


def test_ring8_three_copies_write_three_runs(tmp_path):
    seeds = [0, 1, 2]
    dirs = [tmp_path / f"seed{s}" for s in seeds]
    runs = train_batched({**SMALL, "steps": 300, "eval_every": 100, "eval_samples": 500, "pictures": 1}, seeds, out_dirs=dirs)
    assert [r.out_dir for r in runs] == dirs
    losses = []
    for seed, run in zip(seeds, runs, strict=True):
        assert run.summary["stop_reason"] == "completed"
        assert run.summary["steps_completed"] == 300
        assert run.config.seed == seed
        tel = run.telemetry
        assert tuple(tel.columns) == COLUMNS
        assert len(tel) == 300
        assert tel.dropna(subset=["distance"])["step"].tolist() == [1, 100, 200, 300]
        assert np.isfinite(tel[["loss_d", "loss_g", "grad_norm_g", "grad_norm_d", "update_ratio_g"]].values).all()
        assert (run.out_dir / "samples" / "step_000001.png").is_file()
        losses.append(tel["loss_d"].to_numpy())

        loaded = ganlint.load_run(run.out_dir)
        assert loaded.config.seed == seed
        assert loaded.telemetry.equals(tel)
        z = torch.randn(100, loaded.config.z_dim, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            x = loaded.generator(z)
            assert torch.equal(x, run.generator(z))  # the folder holds this copy's weights
        assert x.shape == (100, 2) and torch.isfinite(x).all()
        assert ganlint.diagnose(run.out_dir).label  # a diagnosis, whatever it says after 300 short steps
    assert not np.allclose(losses[0], losses[1]) and not np.allclose(losses[1], losses[2])  # the copies differ


def test_a_copy_does_not_depend_on_the_others(tmp_path):
    """Copies are independent: seed 1 trained beside seeds 5 and 2 follows the path it follows alone."""
    cfg = {**SMALL, "steps": 30, "eval_every": 10, "eval_samples": 200, "flush_every": 8}
    with_others = train_batched(cfg, [5, 1, 2], out_dirs=[tmp_path / n for n in "abc"])[1].telemetry
    alone = train_batched(cfg, [1], out_dirs=[tmp_path / "d"])[0].telemetry
    cols = ["loss_d", "loss_g", "d_real", "grad_norm_g", "grad_norm_d", "update_ratio_d", "fake_std", "distance"]
    np.testing.assert_allclose(with_others[cols].values, alone[cols].values, rtol=1e-4, atol=1e-5)


def test_gaussian1d_stable_like_the_sequential_trainer(tmp_path):
    """Same distribution of outcomes as `ganlint.train`: the scenario's label and comparable distances."""
    scenario = read_toml(ROOT / "scenarios" / "stable_gaussian1d.toml", "scenario")
    cfg = {**scenario["train"], "device": "cpu", "pictures": 0}
    seeds = [0, 1, 2]
    sequential = [ganlint.train({**cfg, "seed": s, "out": str(tmp_path / f"seq{s}")}) for s in seeds]
    batched = train_batched(cfg, seeds, out_dirs=[tmp_path / f"bat{s}" for s in seeds])
    seq_dist = [r.summary["final_eval"]["distance"] for r in sequential]
    for run in sequential + batched:
        assert ganlint.diagnose(run.out_dir).label == scenario["expect"]
    for run in batched:
        assert min(seq_dist) / 2 <= run.summary["final_eval"]["distance"] <= 2 * max(seq_dist), (seq_dist, run.summary)


def test_a_copy_that_goes_non_finite_stops_alone(tmp_path, monkeypatch):
    """Copy 1's reals turn to NaN at step 20: it stops at the next flush as the trainer would, the others
    train on untouched (the copies share no parameter and Adam is elementwise)."""
    import ganlint.training.batched as batched

    real_ds = get_dataset("ring8")
    poisoned_seed = 1 + batched.DATA_SEED_OFFSET
    batch = SMALL["batch_size"]
    drawn = {"rows": 0}

    class Poisoned:
        def __getattr__(self, name):
            return getattr(real_ds, name)

        def sample(self, n, generator=None, device="cpu"):
            x = real_ds.sample(n, generator, device)
            if generator is not None and generator.initial_seed() == poisoned_seed:
                # Reals are drawn ahead, many batches a call: poison the rows of step 20 on (n_critic 1).
                first = drawn["rows"]
                drawn["rows"] += n
                x[max(0, 19 * batch - first):] = float("nan")
            return x

    monkeypatch.setattr(batched, "get_dataset", lambda name, root=None: Poisoned())
    cfg = {**SMALL, "steps": 40, "eval_every": 10, "eval_samples": 200, "flush_every": 8}
    runs = train_batched(cfg, [0, 1, 2], out_dirs=[tmp_path / f"s{s}" for s in range(3)])
    stopped = runs[1]
    assert stopped.summary["stop_reason"].startswith("non-finite loss_d at step 20")
    assert stopped.telemetry["step"].max() == 20
    for run in (runs[0], runs[2]):
        assert run.summary["stop_reason"] == "completed"
        assert len(run.telemetry) == 40 and np.isfinite(run.telemetry["loss_d"]).all()
        assert ganlint.load_run(run.out_dir).telemetry.equals(run.telemetry)
    assert ganlint.load_run(stopped.out_dir).summary["steps_completed"] == 20


@pytest.mark.parametrize("dataset", ["ring8", "mnist"])
def test_draws_come_from_each_copys_own_stream_drawn_ahead(dataset):
    """One (K, B, ...) batch a call from K per-copy streams: copy k's batches do not depend on the other
    seeds or on K, and the K generators are called once per `ahead` batches, not once per batch."""
    cfg = TrainConfig(dataset=dataset, batch_size=8, device="cpu").resolve()
    data, cpu = get_dataset(dataset), torch.device("cpu")
    real3, z3 = _streams(data, [5, 1, 2], cfg, cpu)
    real1, z1 = _streams(data, [1], cfg, cpu)
    calls = []
    draw = z3.draw
    z3.draw = lambda g, n: calls.append(n) or draw(g, n)
    draws = 70  # past a refill: ahead is at most DRAW_AHEAD_MAX = 64
    for _ in range(draws):
        r3, r1, zs3, zs1 = real3(), real1(), z3(), z1()
        assert r3.shape == (3, 8, *data.shape) and zs3.shape == (3, 8, cfg.z_dim)
        assert torch.equal(r3[1], r1[0]) and torch.equal(zs3[1], zs1[0])
    assert not torch.equal(r3[0], r3[1]) and not torch.equal(zs3[0], zs3[2])
    assert z3.ahead >= 16 and len(calls) == 3 * -(-draws // z3.ahead)


def test_batched_step_runs_the_training_step(tmp_path, monkeypatch):
    """batched_step's closure is the step train_batched runs (same telemetry rows), and it writes no folder."""
    from ganlint.training.telemetry import STEP_COLUMNS

    cfg = {**SMALL, "steps": 5, "eval_every": 100, "eval_samples": 200, "dropout": 0.2, "n_critic": 2}
    monkeypatch.chdir(tmp_path)
    step, dev = batched_step(cfg, [3, 4], device="cpu")
    rows = torch.stack([step().clone() for _ in range(5)])  # (steps, K, columns)
    assert dev == torch.device("cpu") and not any(tmp_path.iterdir())
    runs = train_batched(cfg, [3, 4], out_dirs=[tmp_path / "a", tmp_path / "b"])
    for k, run in enumerate(runs):
        np.testing.assert_allclose(run.telemetry[list(STEP_COLUMNS)].to_numpy(), rows[:, k].numpy(), rtol=1e-6)
    with pytest.raises(ConfigError, match="spectral norm"):
        batched_step({**cfg, "spectral_norm": True}, [0])


def test_stacked_batch_norm_updates_each_copy_like_a_plain_module():
    """vmap updates batch norm's stacked running statistics in place, one slice per copy, exactly as K
    plain modules fed the same inputs; unstack(k) hands them to copy k's module for eval mode."""
    from ganlint.nets.mlp import MLPGenerator

    k_copies, batch, z_dim = 3, 16, 8
    modules = []
    for seed in range(k_copies):
        torch.manual_seed(seed)
        modules.append(MLPGenerator(z_dim, (5,), width=12, depth=2, batch_norm=True).train())
    plain = [copy.deepcopy(m) for m in modules]
    stack = _Stack(modules)
    gen = torch.Generator().manual_seed(0)
    for i in range(4):
        z = torch.randn(k_copies, batch, z_dim, generator=gen)
        # The training step calls G both ways: under no_grad for D's fakes, with gradients for G's update.
        with torch.no_grad() if i % 2 else contextlib.nullcontext():
            out = stack(z)
            ref = [plain[k](z[k]) for k in range(k_copies)]
        for k in range(k_copies):
            torch.testing.assert_close(out[k], ref[k])
    assert not torch.allclose(stack.buffers["body.1.running_mean"][0], stack.buffers["body.1.running_mean"][1])
    z = torch.randn(10, z_dim, generator=gen)
    for k in range(k_copies):
        m, p = stack.unstack(k), plain[k]
        buffers = dict(m.named_buffers())
        for name, b in p.named_buffers():
            torch.testing.assert_close(buffers[name], b)
        assert int(buffers["body.1.num_batches_tracked"]) == 4
        assert not torch.allclose(buffers["body.4.running_var"], torch.ones(12))  # moved from the init
        with torch.no_grad():
            torch.testing.assert_close(m.eval()(z), p.eval()(z))  # eval mode: the running statistics


def test_mnist_mlp_with_batch_norm_trains_batched(tmp_path):
    """The MNIST MLP GAN (batch norm in G by default) trains batched and writes runs whose generators carry
    their own running statistics: G runs twice a step in train mode, as in the trainer."""
    cfg = {"dataset": "mnist", "batch_size": 32, "steps": 6, "eval_every": 100, "eval_samples": 100,
           "pictures": 0, "flush_every": 4, "device": "cpu"}
    assert TrainConfig(**cfg).resolve().batch_norm
    runs = train_batched(cfg, [0, 1], out_dirs=[tmp_path / "a", tmp_path / "b"])
    means = []
    z = torch.randn(20, 64, generator=torch.Generator().manual_seed(0))
    for run in runs:
        assert run.summary["stop_reason"] == "completed" and len(run.telemetry) == 6
        assert np.isfinite(run.telemetry[["loss_d", "loss_g", "grad_norm_g", "grad_norm_d"]].values).all()
        assert run.telemetry.dropna(subset=["distance"])["step"].tolist() == [1, 6]
        buffers = dict(run.generator.named_buffers())
        assert int(buffers["body.1.num_batches_tracked"]) == 2 * 6
        assert torch.isfinite(buffers["body.1.running_var"]).all()
        assert not torch.allclose(buffers["body.1.running_var"], torch.ones(256))
        means.append(buffers["body.1.running_mean"])
        loaded = ganlint.load_run(run.out_dir)
        with torch.no_grad():  # the folder holds the running statistics too (eval mode uses them)
            assert torch.equal(loaded.generator(z), run.generator(z))
    assert not torch.allclose(means[0], means[1])
