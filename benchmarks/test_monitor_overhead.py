"""The Monitor's overhead on a training step: the MNIST MLP GAN's step with and without the Monitor,
timed in interleaved rounds in one run, reported as a ratio (target: at most 1.10x on CPU with the
default schedule). Interleaving matters: a busy machine slows both variants alike, so the ratio holds
where absolute times drift.

Each variant trains its own copy of the models (same seed, same cost): the Monitor's hooks live on the
optimizers, so a "plain" block run on a watched optimizer would pay for the gradient norms too.
Two schedules are timed: the default (adaptive: dense early, its timed rounds cover steps ~20-2,270,
where the gap grows from 10 to 160) and the steady state of long runs (a fixed gap of eval_every=500,
which the adaptive schedule reaches at step 5,120).
"""

from __future__ import annotations

import statistics
import time

import pytest
import torch

import ganlint
from ganlint.data import get_dataset
from ganlint.nets import build_models
from ganlint.training.config import TrainConfig

STEPS = 250  # per timed block
ROUNDS = 9


def make_loop(device: str = "cpu"):
    cfg = TrainConfig(dataset="mnist").resolve()
    data = get_dataset("mnist")
    torch.manual_seed(0)
    G, D = build_models(cfg, data.model_spec())
    G.to(device)
    D.to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2))
    bce = torch.nn.BCEWithLogitsLoss()
    b = cfg.batch_size
    ones, zeros = torch.ones(b, device=device), torch.zeros(b, device=device)  # ganlint D: one score per sample
    table = data.data.to(device)

    def run(steps: int, mon=None) -> None:
        for _ in range(steps):
            real = table[torch.randint(len(table), (b,), device=device)]
            fake = G(torch.randn(b, cfg.z_dim, device=device))
            d_real, d_fake = D(real), D(fake.detach())
            loss_d = bce(d_real, ones) + bce(d_fake, zeros)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            loss_g = bce(D(fake), ones)
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            if mon is not None:
                mon.step(loss_d=loss_d, loss_g=loss_g, d_real=d_real, d_fake=d_fake, fake=fake, real=real)
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    return G, D, opt_g, opt_d, run


def interleaved_ratio(run, mon, rounds: int = ROUNDS, steps: int = STEPS, plain_run=None) -> tuple[float, float, float]:
    """(monitored / plain, plain s/step, monitored s/step): medians over interleaved rounds. `plain_run`:
    an unwatched copy of the loop (default `run` itself without mon.step, which still pays for the hooks)."""
    plain_run = plain_run or run
    plain, monitored = [], []
    plain_run(20)
    run(20, mon)  # warm-up: allocator, first flush, classifier load
    for _ in range(rounds):
        t = time.perf_counter()
        plain_run(steps)
        plain.append(time.perf_counter() - t)
        t = time.perf_counter()
        run(steps, mon)
        monitored.append(time.perf_counter() - t)
    p, m = statistics.median(plain), statistics.median(monitored)
    return m / p, p / steps, m / steps


@pytest.mark.parametrize("schedule", ["default", "steady"])
def test_monitor_overhead_cpu(benchmark, schedule):
    *_, plain_run = make_loop("cpu")
    G, D, opt_g, opt_d, run = make_loop("cpu")
    options = {"eval_every": 500} if schedule == "steady" else {}
    mon = ganlint.Monitor(G, D, opt_g, opt_d, outputs="logit", num_modes=10, **options)
    # Full: 9 rounds of 250 steps; the smoke run (--benchmark-disable): one round of 50.
    ratio, plain, monitored = interleaved_ratio(run, mon, *((1, 50) if benchmark.disabled else (ROUNDS, STEPS)),
                                                plain_run=plain_run)
    evaluations = int(mon.telemetry["distance"].notna().sum())
    benchmark.extra_info.update({"overhead_ratio": round(ratio, 4), "plain_ms_per_step": round(plain * 1e3, 3),
                                 "monitored_ms_per_step": round(monitored * 1e3, 3), "evaluations": evaluations,
                                 "monitored_steps": mon.n})
    what = "adaptive evaluation schedule" if schedule == "default" else "eval_every=500, long runs' steady state"
    print(f"\nMonitor overhead (CPU, MNIST MLP, {what}): {ratio:.3f}x "
          f"({plain * 1e3:.2f} -> {monitored * 1e3:.2f} ms/step; {evaluations} evaluations in {mon.n} steps)")
    benchmark.pedantic(run, args=(50 if benchmark.disabled else STEPS, mon), rounds=3, iterations=1)
    assert not mon.disabled


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_monitor_overhead_cuda(benchmark):
    G, D, opt_g, opt_d, run = make_loop("cuda")
    *_, plain_run = make_loop("cuda")
    mon = ganlint.Monitor(G, D, opt_g, opt_d, outputs="logit", num_modes=10, eval_every=10**9, diagnose_every=10**9)
    ratio, plain, monitored = interleaved_ratio(run, mon, plain_run=plain_run)
    benchmark.extra_info.update({"overhead_ratio": round(ratio, 4)})
    print(f"\nMonitor overhead (CUDA, MNIST MLP, flushes only): {ratio:.3f}x ({plain * 1e3:.2f} -> {monitored * 1e3:.2f} ms/step)")
    # No host synchronisation per step: sync debug mode errors on any sync inside the steps between flushes.
    torch.cuda.set_sync_debug_mode("error")
    try:
        run(mon.cfg["flush_every"] - 1 - (mon.n % mon.cfg["flush_every"]), mon)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    benchmark.pedantic(run, args=(STEPS, mon), rounds=3, iterations=1)
