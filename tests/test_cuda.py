"""CUDA runs: skipped cleanly on machines without a CUDA device."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import ganlint
from ganlint.losses import LOSSES, get_loss
from ganlint.telemetry import COLUMNS, EVAL_COLUMNS, STEP_COLUMNS

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


def _count_syncs(train_tiny, name: str, steps: int) -> int:
    """Host-device synchronisations torch reports during a run with one flush and two evaluations."""
    import warnings

    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            train_tiny(name, device="cuda", steps=steps, eval_every=steps, flush_every=steps, pictures=0)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message) for w in caught)


def test_training_steps_do_not_synchronise_the_host(train_tiny) -> None:
    """Syncs come only from set-up, evaluations and flushes: their count must not grow with the steps."""
    short = _count_syncs(train_tiny, "short", 16)
    long = _count_syncs(train_tiny, "long", 64)
    assert long == short, f"{long - short} more host syncs in 48 more steps: the step loop synchronises"
