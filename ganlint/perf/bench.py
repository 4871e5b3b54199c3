"""Training-step throughput: time the trainer's own step (ganlint.training.step.TrainStep) on ganlint's models.

    ganlint bench --model mlp --device cpu                # a table; --format json for machines
    ganlint bench --variants eager,compile --floors       # chosen variants, and how far from the floors
    from ganlint.perf.bench import bench, time_step
    time_step("mlp", device="cpu", batch_size=64)         # {"ms_per_step": ..., "steps_per_s": ..., ...}

A "step" is the trainer's: n_critic D updates on a real and a fake batch, then one G update, with Adam,
the telemetry row included (it is what `ganlint train` runs, built by the same class).

Variants (VARIANTS) differ from the trainer's default step ("eager") in one switch each, so each
row's `x_eager` = t(variant) / t(eager) says what that switch does on this machine. The variants of
a model are timed in interleaved rounds (eager, adam-loop, ..., eager, adam-loop, ...) in one process:
timed one after another, whichever ran first looked up to 1.6x slower on a shared 2-core machine
(clock and cache warm-up, other tenants); interleaved, the ratios agree in either order.

Timing: warm-up steps first (allocator, kernel selection, lazy init, compilation, CUDA graph capture;
their cost is reported as `setup_s`), then the median over rounds of `steps` steps; on CUDA the clock
is read after torch.cuda.synchronize(), so queued work is counted.

Models: `mlp` (the MNIST MLP GAN), `dcgan` (the MNIST DCGAN), `toy` (the ring8 MLP).
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

from ganlint.errors import ConfigError
from ganlint.training.config import TrainConfig

MODELS = {"mlp": ("mnist", "mlp"), "dcgan": ("mnist", "dcgan"), "toy": ("ring8", "mlp")}
# Each variant is the trainer's default step with the TrainConfig switches (or TrainStep's telemetry) below.
VARIANTS: dict[str, dict[str, Any]] = {
    "eager": {},
    "adam-loop": {"adam": "loop"},
    "adam-foreach": {"adam": "foreach"},
    "adam-fused": {"adam": "fused"},
    "no-telemetry": {"telemetry": False},
    "bf16": {"autocast": "bf16"},
    "compile": {"compile": True},
    "cuda-graph": {"cuda_graph": True},
    "fast": {"fast": True},
}
# What `ganlint bench` times unless --variants says otherwise. On a CPU: no CUDA graph (impossible), no
# bf16 (measured ~12x slower on a 2-core x86-64 CPU) and no compile (tens of seconds of compile per
# model); ask for them by name.
DEFAULT_VARIANTS = {
    "cpu": ("eager", "adam-loop", "adam-foreach", "adam-fused", "no-telemetry"),
    "cuda": ("eager", "adam-fused", "no-telemetry", "bf16", "cuda-graph", "fast"),
}


def bench_step(model: str = "mlp", *, device: str = "cpu", batch_size: int = 64, seed: int = 0,
               telemetry: bool = True, **switches: Any) -> tuple[Callable[[], torch.Tensor], torch.device, dict[str, Any]]:
    """One training step of the bench model `model` as the trainer builds it, as a zero-argument closure.

    (ganlint.training.batched.batched_step is its counterpart for K seeds of one config trained batched.)

    Args:
        model: one of MODELS.
        device: where to train.
        batch_size: real and fake batch size.
        seed: seeds the weights and the step's random draws.
        telemetry: compute the telemetry row's gradient norms, update ratios and batch statistics.
        **switches: TrainConfig fields of the fast path (adam, autocast, compile, cuda_graph, fast).

    Returns:
        (step, device, info): calling `step()` trains one step and returns its telemetry row on the device.

    Raises:
        ConfigError: an unknown model or switch, or a switch this device cannot run (cuda_graph on a CPU).
    """
    from ganlint.data import get_dataset
    from ganlint.nets import build_models
    from ganlint.training.device import resolve_device
    from ganlint.training.fast import build_step, choose
    from ganlint.training.losses import get_loss

    if model not in MODELS:
        raise ConfigError(f"unknown bench model {model!r}; valid: {', '.join(MODELS)}")
    dataset_name, arch = MODELS[model]
    dev = resolve_device(device)
    cfg = TrainConfig(dataset=dataset_name, model=arch, batch_size=batch_size, device=str(dev), seed=seed,
                      **switches).resolve()
    fast = choose(cfg, dev)
    data = get_dataset(dataset_name)
    loss = get_loss(cfg.loss)
    torch.manual_seed(seed)
    g, d = build_models(cfg, data.model_spec())
    g.to(dev).train()
    d.to(dev).train()
    step = build_step(cfg, fast, g, d, loss, data, dev, telemetry=telemetry)
    n_g = sum(p.numel() for p in g.parameters())
    n_d = sum(p.numel() for p in d.parameters())
    info = {"model": model, "dataset": dataset_name, "arch": arch, "device": str(dev), "batch_size": batch_size,
            "adam": fast.adam, "autocast": fast.autocast, "compile": fast.compile, "cuda_graph": fast.cuda_graph,
            "telemetry": telemetry, "params_g": n_g, "params_d": n_d}
    return step, dev, info


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def warm(step: Callable, dev: torch.device, warmup: int) -> float:
    """Run `warmup` steps; return their wall time (compilation and capture happen here)."""
    sync(dev)
    t0 = time.perf_counter()
    for _ in range(warmup):
        step()
    sync(dev)
    return time.perf_counter() - t0


def time_rounds(steps: dict[str, Callable], dev: torch.device, *, per_round: int, rounds: int) -> dict[str, float]:
    """Median seconds per call of each closure, timed in interleaved rounds (a, b, c, a, b, c, ...)."""
    times: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(rounds):
        for name, f in steps.items():
            sync(dev)
            t0 = time.perf_counter()
            for _ in range(per_round):
                f()
            sync(dev)
            times[name].append((time.perf_counter() - t0) / per_round)
    return {k: statistics.median(v) for k, v in times.items()}


def interleaved(a, b, *, steps: int = 50, rounds: int = 5, warmup: int = 5, dev: torch.device | None = None) -> float:
    """t(b) / t(a) for two step closures, timed in alternating rounds in one process (a busy machine slows
    both alike, so the ratio holds where absolute times drift)."""
    dev = dev or torch.device("cpu")
    for f in (a, b):
        warm(f, dev, warmup)
    t = time_rounds({"a": a, "b": b}, dev, per_round=steps, rounds=rounds)
    return t["b"] / t["a"]


def time_step(model: str = "mlp", *, device: str = "cpu", batch_size: int = 64, steps: int = 50, rounds: int = 5,
              warmup: int = 10, **switches: Any) -> dict[str, Any]:
    """Median time of one training step over `rounds` rounds of `steps` steps, after `warmup` steps."""
    step, dev, info = bench_step(model, device=device, batch_size=batch_size, **switches)
    warm(step, dev, warmup)
    s = time_rounds({"x": step}, dev, per_round=steps, rounds=rounds)["x"]
    return {**info, "ms_per_step": round(s * 1e3, 4), "steps_per_s": round(1 / s, 2), **machine()}


def machine() -> dict[str, Any]:
    """What a timing depends on besides the code: torch version, processor, threads."""
    return {"torch": torch.__version__, "machine": platform.machine(), "threads": torch.get_num_threads()}


def bench(models: Sequence[str] = ("toy", "mlp", "dcgan"), *, device: str = "cpu", batch_size: int = 64,
          variants: Sequence[str] | None = None, steps: int = 30, rounds: int = 3, warmup: int = 5,
          floors: bool = False) -> list[dict[str, Any]]:
    """`ganlint bench`: one row per (model, variant), with the ratio to the eager step and t(2B)/t(B).

    Args:
        models: names from MODELS.
        device: a device name ("cpu", "cuda", ...).
        batch_size: B; t(2B)/t(B) is also measured (near 1: bound by launches and overhead, near 2: by
            arithmetic).
        variants: names from VARIANTS (default: DEFAULT_VARIANTS for the device type; "eager" is always
            timed, as the reference).
        steps, rounds, warmup: steps per timed round, timed rounds (the median is kept), warm-up steps.
        floors: also count the eager step's FLOPs and kernel operations and measure the device's peak
            FLOP/s and per-operation cost (ganlint.perf.floors), to say how far each variant is from them.

    Returns:
        Rows with the model, variant, switches, ms_per_step, steps_per_s, x_eager, setup_s, t2b_over_tb,
        flops_per_step and gflop_per_s (and the floors when asked); a variant that cannot run on this
        device gives a row with its "error" instead.
    """
    from ganlint.training.device import resolve_device

    dev = resolve_device(device)
    names = list(dict.fromkeys(["eager", *(variants or DEFAULT_VARIANTS.get(dev.type, DEFAULT_VARIANTS["cpu"]))]))
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        raise ConfigError(f"unknown bench variant(s) {', '.join(unknown)}; valid: {', '.join(VARIANTS)}")
    rows: list[dict[str, Any]] = []
    unit: dict[str, float] = {}
    for model in models:
        built, errors = {}, {}
        for name in names:
            try:
                built[name] = bench_step(model, device=str(dev), batch_size=batch_size, **VARIANTS[name])
            except (ConfigError, RuntimeError) as e:  # e.g. a CUDA graph on a CPU, fused Adam on an old torch
                errors[name] = str(e).splitlines()[0]
        setup = {}
        for name, (step, _, _) in list(built.items()):
            try:
                setup[name] = warm(step, dev, warmup)
            except Exception as e:  # compile or capture failing is a finding about this machine, not a crash
                if name == "eager":
                    raise
                errors[name] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                del built[name]
        medians = time_rounds({n: s for n, (s, _, _) in built.items()}, dev, per_round=steps, rounds=rounds)
        double, _, _ = bench_step(model, device=str(dev), batch_size=2 * batch_size)
        warm(double, dev, warmup)
        t2b = time_rounds({"2b": double, "b": built["eager"][0]}, dev, per_round=steps, rounds=rounds)
        scaling = t2b["2b"] / t2b["b"]
        extra: dict[str, Any] = {}
        if floors:
            from ganlint.perf.floors import floors as measure_floors
            from ganlint.perf.floors import op_overhead_s, peak_flops

            if not unit:  # the device's peak and per-op cost: measured once, shared by the models
                unit.update(peak=peak_flops(dev), overhead_s=op_overhead_s(dev))
            extra = measure_floors(bench_step(model, device=str(dev), batch_size=batch_size)[0], dev, **unit)
        flops = extra.get("flops") or _count_flops(model, dev, batch_size)
        t_eager = medians["eager"]
        for name in names:
            if name in errors:
                rows.append({"model": model, "variant": name, "device": str(dev), "batch_size": batch_size,
                             "error": errors[name]})
                continue
            s, info = medians[name], built[name][2]
            row = {**info, "variant": name, "ms_per_step": round(s * 1e3, 4), "steps_per_s": round(1 / s, 2),
                   "x_eager": round(s / t_eager, 3),
                   # warm-up beyond its steady-state cost: compilation, capture, first-call allocation
                   "setup_s": round(max(setup[name] - warmup * s, 0.0), 3),
                   "t2b_over_tb": round(scaling, 3), "flops_per_step": flops,
                   "gflop_per_s": round(flops / s / 1e9, 3), **machine()}
            if name == "compile":
                gain = t_eager - s
                row["break_even_steps"] = round(row["setup_s"] / gain) if gain > 0 else None
            if extra:
                row.update({k: extra[k] for k in ("kernel_ops", "peak_flop_per_s", "op_overhead_us",
                                                  "arith_floor_ms", "launch_floor_ms", "floor_ms")})
                row["x_floor"] = round(row["ms_per_step"] / extra["floor_ms"], 2)
            rows.append(row)
    return rows


def _count_flops(model: str, dev: torch.device, batch_size: int) -> int:
    """FLOPs of one eager step (matmuls and convolutions, forward and backward; ganlint.perf.floors.count_flops)."""
    from ganlint.perf.floors import count_flops

    return int(count_flops(bench_step(model, device=str(dev), batch_size=batch_size)[0]))
