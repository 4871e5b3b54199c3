"""Many seeds as one batched model (ganlint.training.batched) against seeds one by one, as ratios measured in one
process (ganlint.perf.bench.interleaved).

    pytest benchmarks/test_batched_speed.py --benchmark-enable                  # full; plain run: a smoke
    GANLINT_BENCH_DEVICE=cuda pytest benchmarks/test_batched_speed.py --benchmark-enable

Device: $GANLINT_BENCH_DEVICE, else CUDA when present, else the CPU, so the same file gives the GPU figure
on a GPU. Each test prints its ratio and stores it, with the device, K, batch and threads, in extra_info.

On a shared CPU, set OMP_NUM_THREADS=1: when other processes hold the cores, torch's two OpenMP threads
made the parallelised ops of a K = 8 step up to 50x slower (0.02 s -> 1.1 s a step) while a one-seed
step's ops, too small to be parallelised, were untouched, so the ratios would measure the contention.

The steps timed are `ganlint.training.batched.batched_step` closures: the step `train_batched` runs, telemetry row
included, without evaluations or run folders. Two one-seed baselines: that same closure with one seed
(K = 1: the same code and telemetry, so the ratio isolates what stacking the copies saves, but it pays
vmap's own overhead at K = 1), and the trainer's step (ganlint.perf.bench.bench_step: what `ganlint run` runs
without --batched).
"""

from __future__ import annotations

import os

import torch

from ganlint.perf.bench import bench_step, interleaved
from ganlint.training.batched import batched_step

DEVICE = os.environ.get("GANLINT_BENCH_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")


def record(benchmark, name: str, ratio: float, **info) -> None:
    benchmark.extra_info.update({name: round(ratio, 4), "torch": torch.__version__,
                                 "threads": torch.get_num_threads(), **info})
    print(f"\n{name}: {ratio:.3f}x  {info}")


def test_k_seeds_batched_vs_one_after_another(benchmark, rounds, block):
    """t(one step of K = 8 seeds batched) / t(8 one-seed steps in a row), ring8 MLP (widths 128, batch 64).
    Below 1 is what batching buys; on a small net it is launch and Python overhead that it saves."""
    k, cfg = 8, {"dataset": "ring8", "model": "mlp", "batch_size": 64}
    batched, dev = batched_step(cfg, list(range(k)), device=DEVICE)
    singles = [batched_step(cfg, [seed], device=DEVICE)[0] for seed in range(k)]

    def one_after_another() -> None:
        for step in singles:
            step()

    ratio = interleaved(one_after_another, batched, steps=block, rounds=rounds, dev=dev)
    record(benchmark, "t_batched_over_t_sequential_ring8_k8", ratio, device=str(dev), k=k, batch=64)
    # Against what `ganlint run` does without --batched: the trainer's own step (no vmap), 8 times.
    trainer_steps = [bench_step("toy", device=DEVICE, seed=seed)[0] for seed in range(k)]

    def trainer_one_after_another() -> None:
        for step in trainer_steps:
            step()

    ratio = interleaved(trainer_one_after_another, batched, steps=block, rounds=rounds, dev=dev)
    record(benchmark, "t_batched_over_t_trainer_steps_ring8_k8", ratio, device=str(dev), k=k, batch=64)
    benchmark.pedantic(batched, rounds=3, iterations=1)


def test_64_seeds_vs_1_seed_batched_mnist(benchmark, rounds, block):
    """t(64 seeds batched) / t(1 seed batched), the MNIST MLP GAN (batch norm in G, widths 256, batch 64).
    The GPU target is at most 2x (64 runs for the price of two); a CPU is arithmetic-bound here and gives
    nearer 64x, which only says the CPU has no spare lanes."""
    k, cfg = 64, {"dataset": "mnist", "model": "mlp", "batch_size": 64}
    many, dev = batched_step(cfg, list(range(k)), device=DEVICE)
    one, _ = batched_step(cfg, [0], device=DEVICE)
    # A 64-copy step takes one to two seconds on a 2-core CPU: there, fewer steps a round, and in the smoke
    # run no warm-up and the one-seed step as the benchmarked call, keep the file's run to seconds; a GPU
    # step takes milliseconds.
    steps = block if dev.type == "cuda" else max(1, block // 10)
    smoke = rounds == 1
    ratio = interleaved(one, many, steps=steps, rounds=rounds, warmup=0 if smoke else 3, dev=dev)
    record(benchmark, "t_k64_over_t_k1_mnist_mlp", ratio, device=str(dev), k=k, batch=64, batch_norm=True)
    benchmark.pedantic(one if smoke else many, rounds=3, iterations=1)
