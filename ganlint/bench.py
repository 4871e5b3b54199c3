"""Training-step throughput: time a GAN step of ganlint's models the way the trainer runs it.

    ganlint bench --model mlp --device cpu           # a table; --format json for machines
    from ganlint.bench import time_step
    time_step("mlp", device="cpu", batch_size=64)    # {"ms_per_step": ..., "steps_per_s": ..., ...}

A "step" is the trainer's: one D update on a real and a fake batch, then one G update, with Adam.
Timing: warm-up steps first (allocator, kernel selection, lazy init), then the median over rounds of
`steps` steps; on CUDA the clock is read after torch.cuda.synchronize() inside the timed call, so
queued work is counted. FLOP/s are estimated from the models' parameter counts (2 FLOPs per weight
per sample for each forward, twice that for each backward), a lower bound that ignores activations.

Models: `mlp` (the MNIST MLP GAN), `dcgan` (the MNIST DCGAN), `toy` (the ring8 MLP).
"""

from __future__ import annotations

import platform
import statistics
import time
from typing import Any

import torch

from ganlint.config import TrainConfig
from ganlint.errors import ConfigError

MODELS = {"mlp": ("mnist", "mlp"), "dcgan": ("mnist", "dcgan"), "toy": ("ring8", "mlp")}
ADAM_IMPLS = ("loop", "foreach", "fused")  # ganlint.config.ADAM_IMPLS without "default" (torch's pick)


def make_step(model: str = "mlp", *, device: str = "cpu", batch_size: int = 64, adam: str = "foreach",
              autocast: str | None = None, seed: int = 0):
    """A closure running one training step of `model`, and a description of what it runs."""
    from ganlint.data import get_dataset
    from ganlint.device import resolve_device
    from ganlint.nets import build_models
    from ganlint.trainer import make_adam

    if model not in MODELS:
        raise ConfigError(f"unknown bench model {model!r}; valid: {', '.join(MODELS)}")
    if adam not in ADAM_IMPLS:
        raise ConfigError(f"unknown Adam implementation {adam!r}; valid: {', '.join(ADAM_IMPLS)}")
    dataset_name, arch = MODELS[model]
    dev = resolve_device(device)
    cfg = TrainConfig(dataset=dataset_name, model=arch, batch_size=batch_size, device=str(dev)).resolve()
    data = get_dataset(dataset_name) if dataset_name != "mnist" else get_dataset("mnist")
    torch.manual_seed(seed)
    G, D = build_models(cfg, data.model_spec())
    G.to(dev).train()
    D.to(dev).train()
    opt_g = make_adam(G.parameters(), cfg.lr_g, (cfg.beta1, cfg.beta2), adam)
    opt_d = make_adam(D.parameters(), cfg.lr_d, (cfg.beta1, cfg.beta2), adam)
    bce = torch.nn.BCEWithLogitsLoss()
    b = batch_size
    ones, zeros = torch.ones(b, device=dev), torch.zeros(b, device=dev)
    gen = torch.Generator(device=dev).manual_seed(seed)
    table = getattr(data, "data", None)
    table = table.to(dev) if table is not None else None
    dtype = {"bf16": torch.bfloat16, None: None}[autocast]

    def real_batch():
        if table is not None:
            return table[torch.randint(len(table), (b,), device=dev, generator=gen)]
        return data.sample(b, gen, dev)

    def step() -> None:
        with torch.autocast(dev.type, dtype=dtype, enabled=dtype is not None):
            real = real_batch()
            fake = G(torch.randn(b, cfg.z_dim, device=dev, generator=gen))
            loss_d = bce(D(real).float(), ones) + bce(D(fake.detach()).float(), zeros)
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        with torch.autocast(dev.type, dtype=dtype, enabled=dtype is not None):
            loss_g = bce(D(fake).float(), ones)
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()

    n_g = sum(p.numel() for p in G.parameters())
    n_d = sum(p.numel() for p in D.parameters())
    # Forward G once; D forward on real, fake (detached) and fake again; backward ~2x forward for each
    # pass that is differentiated (D on real/fake, D+G for G's loss).
    flops = 2 * b * (n_g + 3 * n_d) + 4 * b * (2 * n_d + n_d + n_g)
    info = {"model": model, "dataset": dataset_name, "arch": arch, "device": str(dev), "batch_size": b, "adam": adam,
            "autocast": autocast or "fp32", "params_g": n_g, "params_d": n_d, "flops_per_step": flops}
    return step, dev, info


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def time_step(model: str = "mlp", *, device: str = "cpu", batch_size: int = 64, adam: str = "foreach",
              autocast: str | None = None, steps: int = 50, rounds: int = 5, warmup: int = 10) -> dict[str, Any]:
    """Median time of one training step over `rounds` rounds of `steps` steps, after `warmup` steps."""
    step, dev, info = make_step(model, device=device, batch_size=batch_size, adam=adam, autocast=autocast)
    for _ in range(warmup):
        step()
    sync(dev)
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        sync(dev)
        times.append((time.perf_counter() - t0) / steps)
    ms = statistics.median(times) * 1e3
    return {**info, "ms_per_step": round(ms, 4), "steps_per_s": round(1e3 / ms, 2),
            "gflop_per_s": round(info["flops_per_step"] / ms / 1e6, 3), "torch": torch.__version__,
            "machine": platform.machine(), "threads": torch.get_num_threads()}


def interleaved(a, b, *, steps: int = 50, rounds: int = 5, warmup: int = 5, dev: torch.device | None = None) -> float:
    """t(b) / t(a) for two step closures, timed in alternating rounds in one process (a busy machine slows
    both alike, so the ratio holds where absolute times drift)."""
    for f in (a, b):
        for _ in range(warmup):
            f()
    ta, tb = [], []
    for _ in range(rounds):
        for f, out in ((a, ta), (b, tb)):
            if dev is not None:
                sync(dev)
            t0 = time.perf_counter()
            for _ in range(steps):
                f()
            if dev is not None:
                sync(dev)
            out.append(time.perf_counter() - t0)
    return statistics.median(tb) / statistics.median(ta)


def bench(models=("toy", "mlp", "dcgan"), *, device: str = "cpu", batch_size: int = 64, steps: int = 30,
          rounds: int = 3, warmup: int = 5) -> list[dict[str, Any]]:
    """`ganlint bench`: per model, the step time with each Adam implementation and t(2B)/t(B).

    The implementations of one model are timed in interleaved rounds (loop, foreach, fused, loop, ...),
    not one after another: timed in sequence, whichever ran first looked up to 1.6x slower on a shared
    2-core machine (clock and cache warm-up, other tenants), while interleaved rounds agree in either order.
    """
    rows = []
    for model in models:
        closures = {}
        for adam in ADAM_IMPLS:
            try:
                closures[adam] = make_step(model, device=device, batch_size=batch_size, adam=adam)
            except RuntimeError as e:  # e.g. fused Adam not supported on this device/dtype
                rows.append({"model": model, "adam": adam, "device": device, "batch_size": batch_size,
                             "error": str(e).splitlines()[0]})
        for step, dev, _ in closures.values():
            for _ in range(warmup):
                step()
            sync(dev)
        times: dict[str, list[float]] = {a: [] for a in closures}
        for _ in range(rounds):
            for adam, (step, dev, _) in closures.items():
                t0 = time.perf_counter()
                for _ in range(steps):
                    step()
                sync(dev)
                times[adam].append((time.perf_counter() - t0) / steps)
        s1, dev, _ = make_step(model, device=device, batch_size=batch_size)
        s2, _, _ = make_step(model, device=device, batch_size=2 * batch_size)
        scaling = interleaved(s1, s2, steps=steps, rounds=rounds, dev=dev)
        loop_ms = statistics.median(times["loop"]) * 1e3 if "loop" in times else None
        for adam, (_, _, info) in closures.items():
            ms = statistics.median(times[adam]) * 1e3
            rows.append({**info, "ms_per_step": round(ms, 4), "steps_per_s": round(1e3 / ms, 2),
                         "gflop_per_s": round(info["flops_per_step"] / ms / 1e6, 3),
                         "vs_loop": round(ms / loop_ms, 3) if loop_ms else None, "t2b_over_tb": round(scaling, 3),
                         "torch": torch.__version__, "machine": platform.machine(), "threads": torch.get_num_threads()})
    return rows
