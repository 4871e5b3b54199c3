"""How far a training step is from its two floors: arithmetic (FLOPs / peak FLOP/s) and launch (ops x op cost).

    from ganlint.perf.bench import bench_step
    from ganlint.perf.floors import floors
    step, dev, _ = bench_step("mlp", device="cpu")
    floors(step, dev, measured_s=0.004)   # {"arith_floor_ms": ..., "launch_floor_ms": ..., "x_floor": ...}

A step cannot run faster than its matmul/conv FLOPs at the device's peak rate (the arithmetic floor), nor
faster than its kernel-launching ops issued one after another at the cheapest op's cost (the launch floor).
Small GANs sit on the launch floor on a GPU (a few hundred tiny kernels, each a few microseconds to issue);
on a CPU both floors matter. Both floors are measured here, on the device at hand, not taken from a data
sheet: a 2-core cloud CPU and a throttled GPU are what the step really runs on.

Counting runs `fn` under PyTorch dispatch modes, so it executes real steps (the model moves): one for
count_flops and count_ops, two for floors (a warm-up and the counted one). The measurements use the
current thread count (torch.get_num_threads()), so time the step under the same setting; on a shared
2-core machine, two threads next to another busy process slowed ganlint's steps 3-10x while a big matmul
lost only 2x, so a large x_floor there says "contention" before it says "slow code".
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
from torch.utils.flop_counter import FlopCounterMode

# Ops that return a tensor sharing storage with no alias annotation in their schema, allocate without
# writing, or only mark a profiler range: none of them launches a kernel. (_unsafe_view is what reshape
# ends with after copying a non-contiguous input; it is "unsafe" precisely because it is an unannotated view.)
_NO_KERNEL = frozenset({
    "aten::_unsafe_view", "aten::_reshape_alias", "aten::empty", "aten::empty_strided", "aten::empty_like",
    "aten::new_empty", "aten::new_empty_strided",
})
_NO_KERNEL_NAMESPACES = frozenset({"profiler"})  # record_function markers the optimizers emit
MATMUL_SIZE = {"cpu": 2048, "cuda": 8192}  # fp32: ~0.25 s on one EPYC core; tens of ms on a recent GPU
OVERHEAD_OPS = 10_000  # ~30 ms of 1-element adds on a CPU, ~50 ms on a GPU: long next to the timer's jitter


def is_metadata_op(func: torch._ops.OpOverload) -> bool:
    """Whether an aten op only changes tensor metadata (or allocates), launching no kernel.

    The rule reads the op's schema rather than a list of names: an op whose returned tensor aliases an
    input that it does not write (`Tensor(a) self -> Tensor(a)`: view, t, transpose, permute, expand,
    detach, alias, as_strided, (un)squeeze, slice, select, split, lift_fresh, ...) is a view
    (`func.is_view`), and an op tagged `inplace_view` (t_, squeeze_, detach_, as_strided_, set_) rewrites
    sizes and strides in place. In-place arithmetic (add_, copy_) also carries an alias annotation, but a
    writing one, so it counts as a kernel; so does _to_copy, which returns fresh storage. The few ops the
    schema cannot tell apart (_unsafe_view, bare allocations, profiler markers) are listed in _NO_KERNEL.

    Args:
        func: an op overload as a TorchDispatchMode receives it, e.g. torch.ops.aten.view.default.

    Returns:
        True when the op launches no kernel.
    """
    name = func._schema.name
    if name in _NO_KERNEL or name.split("::", 1)[0] in _NO_KERNEL_NAMESPACES:
        return True
    return func.is_view or torch.Tag.inplace_view in func.tags


def _op_device(out: Any, args: tuple, kwargs: dict) -> str:
    """The device an op ran on: its first tensor output's, else its first tensor input's ('none' without)."""
    for leaf in tree_leaves((out, args, kwargs)):
        if isinstance(leaf, torch.Tensor):
            return str(leaf.device)
    return "none"


class _OpCounter(TorchDispatchMode):
    """Counts each aten op overload dispatched below autograd, with the device it ran on."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[torch._ops.OpOverload] = Counter()
        self.kernels_by_device: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        self.calls[func] += 1
        if not is_metadata_op(func):
            self.kernels_by_device[_op_device(out, args, kwargs)] += 1
        return out

    def summary(self) -> dict[str, Any]:
        total = sum(self.calls.values())
        kernels = sum(n for f, n in self.calls.items() if not is_metadata_op(f))
        by_op = {str(f): n for f, n in sorted(self.calls.items(), key=lambda kv: (-kv[1], str(kv[0])))}
        return {"ops": total, "kernel_ops": kernels, "metadata_ops": total - kernels,
                "by_device": dict(self.kernels_by_device), "by_op": by_op}


def count_flops(fn: Callable[[], Any]) -> int:
    """Floating-point operations of one call of `fn`, as torch.utils.flop_counter.FlopCounterMode counts them.

    Counted: matmuls (mm, addmm, bmm, baddbmm), convolutions and attention, forward and backward, at
    2 FLOPs per multiply-add. Not counted: elementwise ops (activations, losses, bias gradients, batch
    norm), reductions, random sampling and the optimizer's update; for a GAN these are a few FLOPs per
    activation or parameter, small next to the matmuls but not free. Backward is counted only for what
    autograd computes: a Linear layer whose input needs no gradient (the first layer, on data or noise)
    costs one matmul backward (the weight's), not two.

    The first use in a process takes about a second more: FlopCounterMode imports torch._dynamo.

    Args:
        fn: a zero-argument closure; it is called once, for real.

    Returns:
        The total FLOP count.
    """
    with FlopCounterMode(display=False) as mode:
        fn()
    return int(mode.get_total_flops())


def count_ops(fn: Callable[[], Any]) -> dict[str, Any]:
    """The aten ops one call of `fn` dispatches, split into kernel-launching and metadata-only ops.

    The count is taken below autograd, so backward ops and the optimizer's step (plain aten ops in a
    loop, `_foreach_*` ops, or one `_fused_adam_`) are included. Only the ops a step dispatches are seen,
    not those a kernel calls internally, and one dispatched op is one launch here, an approximation: a
    `_foreach_*` op launches one kernel per chunk of tensors on CUDA (and loops over tensors on the CPU),
    a fused Adam or a batch-norm backward one or a few; an op on a CPU tensor in a CUDA step (Adam's step
    counters, `.item()` on them) launches nothing on the GPU, hence `by_device`.

    Args:
        fn: a zero-argument closure; it is called once, for real. Call it once before to leave out
            first-call work (a fresh Adam creates its state on its first step).

    Returns:
        {"ops": all dispatched ops, "kernel_ops": those that launch a kernel (see is_metadata_op),
        "metadata_ops": the rest, "by_device": {device: kernel ops}, "by_op": {op overload: calls}}.
    """
    with _OpCounter() as counter:
        fn()
    return counter.summary()


def _sync(dev: torch.device) -> None:
    # A CPU-GPU sync point: CUDA calls return when the kernel is queued, so the clock must wait for the queue.
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def peak_flops(device: str | torch.device, dtype: torch.dtype = torch.float32, *, n: int | None = None,
               repeats: int = 3) -> float:
    """Measured peak matmul rate of `device`: the best of `repeats` n x n matmuls, in FLOP/s.

    A large square matmul is the fastest thing a device does, so its rate bounds any step's. On CUDA the
    fp32 rate follows torch.backends.cuda.matmul.allow_tf32 (as the step's matmuls do). One untimed matmul
    first pays for the BLAS/cuBLAS initialisation and the GPU's clock ramp.

    Args:
        device: where to measure ("cpu", "cuda", "cuda:1", ...).
        dtype: the matmul's dtype (bf16 for a step under bf16 autocast).
        n: matrix size; by default MATMUL_SIZE for the device type (2048 keeps a CPU run near 1 s on one
            thread; half types on a CPU without native support are much slower, pass a smaller n).
        repeats: timed matmuls; the fastest is kept (interference only ever slows a run down).

    Returns:
        2 * n**3 / seconds of the fastest matmul.
    """
    dev = torch.device(device)
    n = n or MATMUL_SIZE.get(dev.type, MATMUL_SIZE["cpu"])
    gen = torch.Generator(device=dev).manual_seed(0)
    a = torch.randn(n, n, device=dev, dtype=dtype, generator=gen)
    b = torch.randn(n, n, device=dev, dtype=dtype, generator=gen)
    best = float("inf")
    for i in range(repeats + 1):
        _sync(dev)
        t0 = time.perf_counter()
        torch.mm(a, b)
        _sync(dev)
        if i:  # the first is warm-up
            best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best


def op_overhead_s(device: str | torch.device, *, n_ops: int = OVERHEAD_OPS, repeats: int = 5) -> float:
    """Measured cost of the cheapest op on `device`: a chain of in-place adds on a 1-element tensor, per add.

    This is the launch floor's unit: the Python call, the dispatcher and (on CUDA) the kernel launch, with
    no arithmetic to speak of. On CUDA the chain is synchronised once at its end, so it measures whichever
    is slower, issuing launches on the host or running them on the GPU, as a launch-bound step does.
    Ops that autograd issues from C++ skip the Python call but pay for a graph node instead; on a CPU a
    backward node costs about as much as this add or more, so the unit does not overstate them.

    Args:
        device: where to measure.
        n_ops: adds per timed chain.
        repeats: timed chains; the fastest is kept.

    Returns:
        Seconds per op.
    """
    dev = torch.device(device)
    x = torch.zeros(1, device=dev)
    for _ in range(n_ops // 10):  # warm-up: CUDA context and kernel loading, the CPU's caches
        x.add_(1)
    best = float("inf")
    for _ in range(repeats):
        _sync(dev)
        t0 = time.perf_counter()
        for _ in range(n_ops):
            x.add_(1)
        _sync(dev)
        best = min(best, time.perf_counter() - t0)
    return best / n_ops


def _on_device(by_device: dict[str, int], dev: torch.device) -> int:
    """Kernel ops that ran on `dev` ('cuda' matches any CUDA index; 'cuda:1' only that one)."""
    total = 0
    for name, n in by_device.items():
        if name == "none":
            continue
        d = torch.device(name)
        if d.type == dev.type and (dev.index is None or d.index in (None, dev.index)):
            total += n
    return total


def floors(fn: Callable[[], Any], device: str | torch.device, measured_s: float | None = None,
           dtype: torch.dtype = torch.float32, *, warmup: int = 1, peak: float | None = None,
           overhead_s: float | None = None) -> dict[str, Any]:
    """The arithmetic and launch floors of one call of `fn` on `device`, and how far a measured time is from them.

    Runs `fn` `warmup` times uncounted, then once under both counters at once (the op counter sees ops as
    they are dispatched, before the FLOP counter's decompositions): 1 + warmup real training steps, so
    pass a throwaway closure or accept the extra steps. Then measures the device's peak and op cost unless
    given (pass them to reuse one measurement across several models).

    Args:
        fn: a zero-argument closure running one training step.
        device: the device the step runs on.
        measured_s: the step's measured time in seconds, if known.
        dtype: the dtype of the step's matmuls, for the peak.
        warmup: uncounted calls first. A fresh Adam's first step creates its state (one zeros_like per
            moment per parameter, 24 to 32 extra kernel ops on ganlint's models), which later steps skip.
        peak: a measured peak FLOP/s (see peak_flops) to use instead of measuring.
        overhead_s: a measured op cost in seconds (see op_overhead_s) to use instead of measuring.

    Returns:
        {"flops", "kernel_ops" (on `device`), "peak_flop_per_s", "op_overhead_us", "arith_floor_ms",
        "launch_floor_ms", "floor_ms" (the larger), "device", "dtype", "threads"} and, with measured_s,
        "measured_ms" and the ratios "x_arith_floor", "x_launch_floor", "x_floor" (measured / floor;
        None where a floor is zero, e.g. a step without matmuls).
    """
    dev = torch.device(device)
    for _ in range(warmup):
        fn()
    with FlopCounterMode(display=False) as flop_mode, _OpCounter() as counter:
        fn()
    flops = int(flop_mode.get_total_flops())
    kernel_ops = _on_device(counter.kernels_by_device, dev)
    peak = peak if peak is not None else peak_flops(dev, dtype)
    overhead_s = overhead_s if overhead_s is not None else op_overhead_s(dev)
    arith_ms = flops / peak * 1e3
    launch_ms = kernel_ops * overhead_s * 1e3
    floor_ms = max(arith_ms, launch_ms)
    out: dict[str, Any] = {
        "flops": flops, "kernel_ops": kernel_ops, "peak_flop_per_s": peak, "op_overhead_us": overhead_s * 1e6,
        "arith_floor_ms": arith_ms, "launch_floor_ms": launch_ms, "floor_ms": floor_ms,
        "device": str(dev), "dtype": str(dtype).removeprefix("torch."), "threads": torch.get_num_threads(),
    }
    if measured_s is not None:
        ms = measured_s * 1e3

        def ratio(floor: float) -> float | None:
            return ms / floor if floor > 0 else None

        out.update(measured_ms=ms, x_arith_floor=ratio(arith_ms), x_launch_floor=ratio(launch_ms),
                   x_floor=ratio(floor_ms))
    return out
