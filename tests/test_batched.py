"""Many seeds at once (ganlint.batched): what is supported, the run folders, and equivalence in distribution
with the sequential trainer."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import ganlint
from ganlint.batched import _norms, _ratio, supported, train_batched
from ganlint.errors import ConfigError
from ganlint.telemetry import COLUMNS, total_norm, update_ratio
from ganlint.tomlfile import read_toml

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"dataset": "ring8", "batch_size": 64, "g_width": 32, "d_width": 32, "pictures": 0, "device": "cpu"}


@pytest.mark.parametrize(("changes", "word"), [
    ({"batch_norm": True}, "batch norm"),
    ({"dataset": "mnist"}, "batch norm"),  # on by default for mnist
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
    norms, ratios = _norms(stacked), _ratio(stacked, before)
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


def test_speed_ratio_printed(tmp_path):
    """Not asserted (a shared CPU): K=8 copies batched vs 8 sequential trainer runs, ring8, 200 steps."""
    k = 8
    cfg = {**SMALL, "steps": 200, "eval_every": 1000, "eval_samples": 200}
    t0 = time.perf_counter()
    train_batched(cfg, list(range(k)), out_dirs=[tmp_path / f"b{s}" for s in range(k)])
    batched = time.perf_counter() - t0
    t0 = time.perf_counter()
    for s in range(k):
        ganlint.train({**cfg, "seed": s, "out": str(tmp_path / f"s{s}")})
    sequential = time.perf_counter() - t0
    print(f"\nbatched K={k}: {batched:.2f}s, sequential: {sequential:.2f}s, speed-up {sequential / batched:.2f}x "
          f"(ring8, widths 32, {torch.get_num_threads()} thread(s), cpu)", file=sys.stderr)


def test_a_copy_that_goes_non_finite_stops_alone(tmp_path, monkeypatch):
    """Copy 1's reals turn to NaN at step 20: it stops at the next flush as the trainer would, the others
    train on untouched (the copies share no parameter and Adam is elementwise)."""
    import ganlint.batched as batched
    from ganlint.data import get_dataset

    real_ds = get_dataset("ring8")
    poisoned_seed = 1 + batched.DATA_SEED_OFFSET
    calls = {"n": 0}

    class Poisoned:
        def __getattr__(self, name):
            return getattr(real_ds, name)

        def sample(self, n, generator=None, device="cpu"):
            x = real_ds.sample(n, generator, device)
            if generator is not None and generator.initial_seed() == poisoned_seed:
                calls["n"] += 1
                if calls["n"] >= 20:
                    x = x * float("nan")
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
