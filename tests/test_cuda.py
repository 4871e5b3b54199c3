"""CUDA runs: skipped cleanly on machines without a CUDA device."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import ganlint
from ganlint.training.losses import LOSSES, get_loss
from ganlint.training.telemetry import COLUMNS, EVAL_COLUMNS, STEP_COLUMNS

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def test_cuda_run_matches_the_schema_and_reloads_on_cpu(train_tiny) -> None:
    run = train_tiny(device="cuda", steps=30, eval_every=10, flush_every=16, pictures=1, spectral_norm=True,
                     batch_norm=True)
    tel = run.telemetry
    assert tuple(tel.columns) == COLUMNS
    assert tel["step"].tolist() == list(range(1, 31))
    assert np.isfinite(tel[list(STEP_COLUMNS)].to_numpy()).all()
    evaluated = tel[tel["step"].isin([1, 10, 20, 30])]
    # ring8 has no categorical columns, and mode_kl is NaN while no fake lies within 3 std of a centre
    applicable = [c for c in EVAL_COLUMNS if c not in ("category_coverage", "mode_kl")]
    assert np.isfinite(evaluated[applicable].to_numpy()).all()
    assert evaluated["category_coverage"].isna().all()
    assert run.summary["stop_reason"] == "completed"
    meta = json.loads((Path(run.out_dir) / "config.json").read_text())
    assert meta["device"].startswith("cuda")
    assert next(run.generator.parameters()).is_cuda

    loaded = ganlint.load_run(run.out_dir, device="cpu")
    assert all(not p.is_cuda for p in loaded.generator.parameters())
    z = torch.randn(64, run.config.z_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        on_gpu = run.generator(z.cuda()).cpu()
        on_cpu = loaded.generator(z)
    torch.testing.assert_close(on_cpu, on_gpu, rtol=1e-4, atol=1e-4)


def test_auto_device_picks_cuda(train_tiny) -> None:
    run = train_tiny(device="auto", steps=3)
    assert run.summary["device"].startswith("cuda")


def test_cuda_non_finite_run_stops_at_the_bad_step(train_tiny, monkeypatch: pytest.MonkeyPatch) -> None:
    """The finite check runs on the device buffer at each flush; the bad row must still be the one kept last."""
    base = get_loss("nonsaturating")
    calls = {"n": 0}

    def g_loss(fake):
        calls["n"] += 1
        return base.g_loss(fake) * (float("nan") if calls["n"] >= 5 else 1.0)

    monkeypatch.setitem(LOSSES._items, "nan-after-5", dataclasses.replace(base, g_loss=g_loss))
    run = train_tiny(device="cuda", loss="nan-after-5", steps=30, flush_every=12)
    assert run.summary["stop_reason"] == "non-finite loss_g at step 5"
    assert run.telemetry["step"].tolist() == [1, 2, 3, 4, 5]


def _count_syncs(train_tiny, name: str, steps: int, **kw) -> int:
    """Host-device synchronisations torch reports during a run with one flush and two evaluations."""
    import warnings

    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            train_tiny(name, device="cuda", steps=steps, eval_every=steps, flush_every=steps, pictures=0, **kw)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message) for w in caught)


def test_training_steps_do_not_synchronise_the_host(train_tiny) -> None:
    """Syncs come only from set-up, evaluations and flushes: their count must not grow with the steps."""
    short = _count_syncs(train_tiny, "short", 16)
    long = _count_syncs(train_tiny, "long", 64)
    assert long == short, f"{long - short} more host syncs in 48 more steps: the step loop synchronises"


# -- the fast path (ganlint.training.fast): whole-step CUDA graph, fused Adam, bf16 ---------------------------------------


def test_graphed_steps_do_not_synchronise_the_host(train_tiny) -> None:
    """The capture synchronises once (torch.cuda.graph does); replays never."""
    short = _count_syncs(train_tiny, "gshort", 16, cuda_graph=True)
    long = _count_syncs(train_tiny, "glong", 64, cuda_graph=True)
    assert long == short, f"{long - short} more host syncs in 48 more graphed steps"


def test_a_graphed_step_replays_and_trains() -> None:
    from ganlint.perf.bench import bench_step
    from ganlint.training.fast import GRAPH_WARMUP_STEPS, GraphedStep

    step, _, info = bench_step("toy", device="cuda", cuda_graph=True)
    assert isinstance(step, GraphedStep) and info["cuda_graph"]
    params = step.step.g_params
    rows = []
    for _ in range(GRAPH_WARMUP_STEPS + 4):
        before = params[0].detach().clone()
        rows.append(step().clone())
        torch.cuda.synchronize()
        assert not torch.equal(before, params[0]), "a replay must update G's weights in place"
    assert step.graph is not None
    rows = torch.stack(rows).cpu()
    assert torch.isfinite(rows).all()
    assert len({tuple(r.tolist()) for r in rows}) == len(rows), "every step, replayed or not, gives its own row"


@pytest.mark.parametrize("switches", [{"cuda_graph": True}, {"fast": True}, {"adam": "fused"},
                                      {"autocast": "bf16"}, {"cuda_graph": True, "n_critic": 3, "batch_norm": True,
                                                             "spectral_norm": True, "dropout": 0.2}])
def test_fast_path_runs_train_like_the_eager_run(train_tiny, switches) -> None:
    """Same config, same seed: a switch changes the speed, so the health must look alike. (Not bit for bit:
    capturable/fused Adam, bf16 and graph-safe random numbers round or draw differently.)"""
    extra = {k: v for k, v in switches.items() if k in ("n_critic", "batch_norm", "spectral_norm", "dropout")}
    eager = train_tiny("eager", device="cuda", steps=200, eval_every=100, **extra)
    fast = train_tiny("fast", device="cuda", steps=200, eval_every=100, **switches)
    assert fast.summary["stop_reason"] == "completed"
    assert np.isfinite(fast.telemetry[list(STEP_COLUMNS)].to_numpy()).all()
    meta = json.loads((Path(fast.out_dir) / "config.json").read_text())
    if switches.get("cuda_graph") or switches.get("fast"):
        assert meta["fast_path"]["cuda_graph"]
    for col in ("loss_d", "d_real", "d_fake"):
        a, b = eager.telemetry[col].tail(50).mean(), fast.telemetry[col].tail(50).mean()
        assert abs(a - b) < 0.25 * max(abs(a), 0.5), f"{col}: eager {a:.3f} vs {switches} {b:.3f}"


def test_a_penalty_run_on_cuda_falls_back_to_eager(train_tiny) -> None:
    run = train_tiny(device="cuda", dataset="gaussian1d", loss="wgan-gp", fast=True, steps=20)
    meta = json.loads((Path(run.out_dir) / "config.json").read_text())
    assert not meta["fast_path"]["cuda_graph"] and meta["fast_path"]["adam"] == "fused"
    assert run.summary["stop_reason"] == "completed"
