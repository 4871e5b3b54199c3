"""Training-step throughput of ganlint's models, as ratios measured in one process (ganlint.perf.bench).

Each test prints its ratio and stores it, with the device, batch, dtype and torch version, in the
benchmark's extra_info. On a CPU the fast-path question is "does it help here?": the trainer turns on
only what the ratios below show to help on the device it runs on.
"""

from __future__ import annotations

import pytest
import torch

from ganlint.perf.bench import bench_step, interleaved, time_step


def record(benchmark, name: str, ratio: float, **info) -> None:
    """Store and print a ratio with what it depends on: torch version, threads, dtype (fp32 unless the
    test says otherwise) and the test's own fields (device, batch, FLOPs, ...)."""
    info = {"dtype": "fp32", **info}
    benchmark.extra_info.update({name: round(ratio, 4), "torch": torch.__version__,
                                 "threads": torch.get_num_threads(), **info})
    print(f"\n{name}: {ratio:.3f}x  {info}")


@pytest.mark.parametrize("impl", ["foreach", "fused"])
def test_adam_implementation_vs_for_loop(benchmark, rounds, block, impl):
    loop, dev, info = bench_step("mlp", adam="loop")
    other, _, _ = bench_step("mlp", adam=impl)
    ratio = interleaved(loop, other, steps=block, rounds=rounds, dev=dev)  # t(impl) / t(loop)
    record(benchmark, f"t_{impl}_over_t_loop", ratio, device=info["device"], batch=info["batch_size"])
    benchmark.pedantic(other, rounds=3, iterations=1)


def test_bf16_autocast_vs_fp32(benchmark, rounds, block):
    fp32, dev, info = bench_step("mlp")
    bf16, _, _ = bench_step("mlp", autocast="bf16")
    ratio = interleaved(fp32, bf16, steps=block, rounds=rounds, dev=dev)
    record(benchmark, "t_bf16_over_t_fp32", ratio, device=info["device"], dtype="bf16 autocast vs fp32")
    benchmark.pedantic(bf16, rounds=3, iterations=1)


@pytest.mark.parametrize("model", ["toy", "mlp", "dcgan"])
def test_batch_scaling(benchmark, rounds, block, model):
    """t(2B)/t(B): near 1, the step is bound by launches and overhead; near 2, by arithmetic."""
    b, dev, info = bench_step(model, batch_size=64)
    b2, _, _ = bench_step(model, batch_size=128)
    steps = max(1, block // (10 if model == "dcgan" else 1))
    ratio = interleaved(b, b2, steps=steps, rounds=rounds, dev=dev)
    from ganlint.perf.floors import count_flops

    record(benchmark, f"t2b_over_tb_{model}", ratio, device=info["device"], flops_per_step=count_flops(b))
    benchmark.pedantic(b, rounds=3, iterations=1)


def test_evaluation_vs_training_step(benchmark, rounds):
    """One diagnostics evaluation (1,000 MNIST samples: classifier, Frechet distance, PRDC, modes) in units
    of training steps: what `--eval-every` costs."""
    from ganlint.data import get_dataset
    from ganlint.training.evaluation import evaluate

    data = get_dataset("mnist")
    g = torch.Generator().manual_seed(0)
    real = data.sample(1000, g)
    fake = data.sample(1000, g).add(0.1 * torch.randn(1000, 1, 28, 28, generator=g)).clamp(-1, 1)
    step_row = time_step("mlp", steps=20 if rounds > 1 else 3, rounds=rounds, warmup=3)
    import time

    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        evaluate(fake.clone(), real.clone(), data)  # clones: no cached real-batch quantities
        times.append(time.perf_counter() - t0)
    ratio = sorted(times)[len(times) // 2] * 1e3 / step_row["ms_per_step"]
    record(benchmark, "evaluation_in_training_steps", ratio, step_ms=step_row["ms_per_step"])
    benchmark.pedantic(evaluate, args=(fake, real, data), rounds=1, iterations=1)


def test_telemetry_on_vs_off(benchmark, rounds, block):
    """What the telemetry row costs the trainer's step (gradient norms, update ratios, batch statistics)."""
    on, dev, info = bench_step("mlp")
    off, _, _ = bench_step("mlp", telemetry=False)
    ratio = interleaved(off, on, steps=block, rounds=rounds, dev=dev)  # t(on) / t(off)
    record(benchmark, "t_telemetry_over_t_none", ratio, device=info["device"], batch=info["batch_size"])
    benchmark.pedantic(on, rounds=3, iterations=1)


@pytest.mark.parametrize("model", ["toy", "mlp"])
def test_compile_vs_eager(benchmark, rounds, block, model):
    """torch.compile'd G and D vs eager: the steady ratio, the compile time, and the steps it takes to pay off."""
    from ganlint.perf.bench import time_rounds, warm

    eager, dev, info = bench_step(model)
    comp, _, _ = bench_step(model, compile=True)
    warm(eager, dev, 3)
    compile_s = warm(comp, dev, 3)
    t = time_rounds({"eager": eager, "compile": comp}, dev, per_round=block, rounds=rounds)
    setup_s = max(compile_s - 3 * t["compile"], 0.0)
    gain = t["eager"] - t["compile"]
    record(benchmark, f"t_compile_over_t_eager_{model}", t["compile"] / t["eager"], device=info["device"],
           compile_s=round(setup_s, 2), break_even_steps=round(setup_s / gain) if gain > 0 else None)
    benchmark.pedantic(comp, rounds=3, iterations=1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA device")
@pytest.mark.parametrize("model", ["toy", "mlp", "dcgan"])
def test_cuda_graph_vs_eager(benchmark, rounds, block, model):
    """The whole step as one CUDA graph (capturable fused Adam) vs the eager step; the target for the MLP
    GAN at batch 64 is at least 3x the eager step rate, i.e. a ratio of 1/3 or less."""
    eager, dev, info = bench_step(model, device="cuda")
    graph, _, _ = bench_step(model, device="cuda", cuda_graph=True, adam="fused")
    ratio = interleaved(eager, graph, steps=block, rounds=rounds, dev=dev)
    record(benchmark, f"t_graph_over_t_eager_{model}", ratio, device=torch.cuda.get_device_name(),
           batch=info["batch_size"])
    benchmark.pedantic(graph, rounds=3, iterations=1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_telemetry_on_vs_off_graphed(benchmark, rounds, block):
    """Telemetry's cost inside a CUDA graph (target: at most 1.03x)."""
    on, dev, _ = bench_step("mlp", device="cuda", cuda_graph=True, adam="fused")
    off, _, _ = bench_step("mlp", device="cuda", cuda_graph=True, adam="fused", telemetry=False)
    ratio = interleaved(off, on, steps=block, rounds=rounds, dev=dev)
    record(benchmark, "t_telemetry_over_t_none_graphed", ratio, device=torch.cuda.get_device_name())
    benchmark.pedantic(on, rounds=3, iterations=1)


@pytest.mark.parametrize("model", ["toy", "mlp", "dcgan"])
def test_distance_from_the_floors(benchmark, rounds, block, model):
    """The eager step's time over its floors: FLOPs at the device's measured peak, and kernel operations
    at its measured per-operation cost (ganlint.perf.floors). Near 1: nothing left to gain without changing
    the arithmetic or the number of operations."""
    from ganlint.perf.floors import floors

    row = time_step(model, steps=max(1, block // (10 if model == "dcgan" else 1)), rounds=rounds, warmup=2)
    step, dev, _ = bench_step(model)
    f = floors(step, dev, measured_s=row["ms_per_step"] / 1e3)
    record(benchmark, f"x_floor_{model}", f["x_floor"], device=str(dev), flops_per_step=f["flops"],
           kernel_ops=f["kernel_ops"], arith_floor_ms=round(f["arith_floor_ms"], 3),
           launch_floor_ms=round(f["launch_floor_ms"], 3), measured_ms=row["ms_per_step"],
           gflop_per_s=round(f["flops"] / row["ms_per_step"] / 1e6, 2))
    benchmark.pedantic(step, rounds=3, iterations=1)
