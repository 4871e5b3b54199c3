"""ganlint.perf.floors: FLOP and op counts against hand derivations, and the measured floors' plausibility."""

from __future__ import annotations

import math

import pytest
import torch

from ganlint.perf.floors import count_flops, count_ops, floors, is_metadata_op, op_overhead_s, peak_flops

aten = torch.ops.aten


def _mlp_step(adam_foreach: bool = False, *, batch: int = 8, d_in: int = 5, hidden: int = 7, d_out: int = 3):
    """A tiny regression training step (Linear-ReLU-Linear, Adam) and its layer sizes."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(d_in, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, d_out))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, foreach=adam_foreach)
    x, y = torch.randn(batch, d_in), torch.randn(batch, d_out)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.mse_loss(net(x), y).backward()
        opt.step()

    return step, net, opt


def test_count_flops_of_a_matmul_is_2mnk() -> None:
    m, k, n = 6, 11, 4
    a, b = torch.randn(m, k), torch.randn(k, n)
    assert count_flops(lambda: a @ b) == 2 * m * n * k


@pytest.mark.parametrize("input_needs_grad", [False, True])
def test_count_flops_of_a_linear_forward_and_backward(input_needs_grad: bool) -> None:
    # Forward: addmm (B x in) @ (in x out) = 2*B*in*out. Backward: dL/dW = dY^T X, one more (out x B) @
    # (B x in) matmul, 2*B*in*out; dL/dX = dY W only when X needs a gradient, another 2*B*in*out. The bias
    # gradient is a sum, which the counter does not count. So 4*B*in*out for a first layer, 6*B*in*out
    # for a hidden one: backward is 1x forward for a layer fed by data or noise, 2x only for a hidden layer.
    batch, d_in, d_out = 8, 5, 3
    lin = torch.nn.Linear(d_in, d_out)
    x = torch.randn(batch, d_in, requires_grad=input_needs_grad)
    expected = (6 if input_needs_grad else 4) * batch * d_in * d_out
    assert count_flops(lambda: lin(x).sum().backward()) == expected


def test_count_flops_of_a_training_step_leaves_out_the_optimizer() -> None:
    step, _, _ = _mlp_step(batch=8, d_in=5, hidden=7, d_out=3)
    # Layer 1 (input: data): 2*B*in*h forward + 2*B*in*h for its weight's gradient.
    # Layer 2 (input: hidden): 2*B*h*out forward + 2*2*B*h*out for its weight's and its input's gradients.
    # Adam's update is elementwise: not counted.
    b, i, h, o = 8, 5, 7, 3
    assert count_flops(step) == 4 * b * i * h + 6 * b * h * o


@pytest.mark.parametrize(("op", "metadata"), [
    (aten.view.default, True), (aten.t.default, True), (aten.expand.default, True),
    (aten.detach.default, True), (aten.select.int, True), (aten.as_strided.default, True),
    (aten.t_.default, True),  # in place, but sizes and strides only
    (aten._unsafe_view.default, True), (aten.empty.memory_format, True),
    (torch.ops.profiler._record_function_enter_new.default, True),
    (aten._to_copy.default, False),  # fresh storage: a copy kernel, not a view
    (aten.add_.Tensor, False), (aten.copy_.default, False),  # alias-annotated, but they write
    (aten.clone.default, False), (aten.mm.default, False), (aten._foreach_add_.Scalar, False),
])
def test_is_metadata_op_follows_the_schema(op, metadata: bool) -> None:
    assert is_metadata_op(op) is metadata


def test_count_ops_splits_kernels_from_views() -> None:
    x = torch.randn(4, 3)
    counts = count_ops(lambda: x.add(1).mul(2).view(-1).sum())
    assert counts["by_op"] == {"aten.add.Tensor": 1, "aten.mul.Tensor": 1, "aten.view.default": 1,
                               "aten.sum.default": 1}
    assert (counts["ops"], counts["kernel_ops"], counts["metadata_ops"]) == (4, 3, 1)
    assert counts["by_device"] == {"cpu": 3}


def test_count_ops_sees_the_copy_inside_a_reshape() -> None:
    # reshape of a transposed (non-contiguous) tensor cannot be a view: t (view), clone (kernel), then
    # _unsafe_view of the copy (no kernel). A rule keyed on the Python call ("reshape is a view") says 0.
    x = torch.randn(4, 3)
    counts = count_ops(lambda: x.t().reshape(-1))
    assert counts["by_op"] == {"aten.t.default": 1, "aten.clone.default": 1, "aten._unsafe_view.default": 1}
    assert counts["kernel_ops"] == 1


@pytest.mark.parametrize("foreach", [False, True])
def test_count_ops_sees_the_adam_step(foreach: bool) -> None:
    step, net, opt = _mlp_step(adam_foreach=foreach)
    step()  # Adam's state exists from here on
    n_params = len(list(net.parameters()))
    counts = count_ops(opt.step)
    if foreach:  # one dispatched op for all parameters
        assert counts["by_op"]["aten._foreach_addcdiv_.ScalarList"] == 1
        assert not any(name.startswith("aten.addcdiv_") for name in counts["by_op"])
    else:  # the loop: one update per parameter
        assert counts["by_op"]["aten.addcdiv_.default"] == n_params
    assert counts["kernel_ops"] >= (1 if foreach else n_params) * 4  # moments, denominator, update at least


def test_count_ops_of_a_step_is_stable_after_the_first() -> None:
    # The first step of a fresh Adam creates its state (zeros_like per moment per parameter).
    step, net, _ = _mlp_step()
    first, second, third = count_ops(step), count_ops(step), count_ops(step)
    n_params = len(list(net.parameters()))
    assert first["by_op"].get("aten.zeros_like.default", 0) == 2 * n_params
    assert "aten.zeros_like.default" not in second["by_op"]
    assert second == third


def test_peak_flops_on_cpu_is_plausible() -> None:
    peak = peak_flops("cpu", n=512)
    # Above 1 GFLOP/s (one core of any x86-64 or ARM64 CPU with a BLAS does 10+; this machine's EPYC core
    # does ~70), below 10 TFLOP/s (no CPU this tests on): a slip (GFLOP/s, or n**2 for n**3) lands outside.
    assert math.isfinite(peak)
    assert 1e9 < peak < 1e13


def test_op_overhead_on_cpu_is_plausible() -> None:
    s = op_overhead_s("cpu", n_ops=2000, repeats=3)
    assert math.isfinite(s)
    assert 1e-7 < s < 1e-3  # 0.1 us to 1 ms per op: a slip of 1e3 (ms vs s, per chain vs per op) fails


def test_floors_fields_are_consistent() -> None:
    step, _, _ = _mlp_step()
    peak, overhead = 1e10, 2e-6
    reference = _mlp_step()[0]
    reference()  # floors warms up once by default; count the same (second) step directly
    expected_ops = count_ops(reference)["kernel_ops"]
    out = floors(step, "cpu", measured_s=0.004, peak=peak, overhead_s=overhead)
    assert out["flops"] == 4 * 8 * 5 * 7 + 6 * 8 * 7 * 3
    assert out["kernel_ops"] == expected_ops  # counting under both modes at once changes nothing
    assert out["arith_floor_ms"] == pytest.approx(out["flops"] / peak * 1e3)
    assert out["launch_floor_ms"] == pytest.approx(out["kernel_ops"] * overhead * 1e3)
    assert out["floor_ms"] == max(out["arith_floor_ms"], out["launch_floor_ms"])
    assert out["floor_ms"] == out["launch_floor_ms"]  # a 100-FLOP-wide net is launch-bound
    assert out["measured_ms"] == pytest.approx(4.0)
    for key in ("arith", "launch"):
        assert out[f"x_{key}_floor"] == pytest.approx(4.0 / out[f"{key}_floor_ms"])
    assert out["x_floor"] == pytest.approx(4.0 / out["floor_ms"])
    assert out["x_floor"] == min(out["x_arith_floor"], out["x_launch_floor"])


def test_floors_measures_the_device_when_not_given() -> None:
    step, _, _ = _mlp_step()
    out = floors(step, torch.device("cpu"))
    assert 1e9 < out["peak_flop_per_s"] < 1e13
    assert 0.1 < out["op_overhead_us"] < 1e3
    assert "measured_ms" not in out and "x_floor" not in out
    assert (out["device"], out["dtype"], out["threads"]) == ("cpu", "float32", torch.get_num_threads())


def test_floors_of_a_step_without_matmuls_has_no_arithmetic_ratio() -> None:
    x = torch.zeros(3)
    out = floors(lambda: x.add_(1), "cpu", measured_s=1e-5, peak=1e10, overhead_s=1e-6)
    assert (out["flops"], out["kernel_ops"]) == (0, 1)
    assert out["x_arith_floor"] is None
    assert out["x_launch_floor"] == pytest.approx(10.0)


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.cuda
@cuda
def test_peak_flops_on_cuda_is_plausible() -> None:
    peak = peak_flops("cuda", n=4096)
    assert 1e11 < peak < 1e16


@pytest.mark.cuda
@cuda
def test_op_overhead_on_cuda_is_plausible() -> None:
    s = op_overhead_s("cuda")
    assert 1e-7 < s < 1e-3


@pytest.mark.cuda
@cuda
def test_count_ops_on_cuda_counts_the_backward_and_keeps_cpu_scalars_apart() -> None:
    # Autograd runs CUDA backward on its own device thread: the mode must follow it there.
    torch.manual_seed(0)
    lin = torch.nn.Linear(5, 3, device="cuda")
    opt = torch.optim.Adam(lin.parameters(), foreach=False)  # its step counters stay on the CPU
    x = torch.randn(8, 5, device="cuda")

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        lin(x).sum().backward()
        opt.step()

    step()
    counts = count_ops(step)
    assert counts["by_op"]["aten.mm.default"] == 1  # dW, from the backward
    assert counts["by_device"]["cuda:0"] > 0
    assert floors(step, "cuda", peak=1e12, overhead_s=1e-6)["kernel_ops"] == counts["by_device"]["cuda:0"]
