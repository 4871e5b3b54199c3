"""The trainer's step (ganlint.training.step) and its fast path (ganlint.training.fast): what turns on where, fallbacks,
and that a switch changes the speed, not what is trained. CUDA graph tests are in test_cuda.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import ganlint
from ganlint.data import get_dataset
from ganlint.errors import ConfigError
from ganlint.nets import build_models
from ganlint.training.config import TrainConfig
from ganlint.training.fast import choose, compiled
from ganlint.training.losses import get_loss
from ganlint.training.step import TrainStep, make_adam
from ganlint.training.telemetry import STEP_COLUMNS

CPU, CUDA = torch.device("cpu"), torch.device("cuda")  # choose() only reads the device type


def cfg(**kw) -> TrainConfig:
    return TrainConfig(**{"dataset": "ring8", **kw}).resolve()


# -- choose: which switches a run gets on its device -----------------------------------------------------


def test_fast_on_a_cpu_turns_nothing_on():
    fast = choose(cfg(fast=True), CPU)
    assert (fast.adam, fast.cuda_graph, fast.compile, fast.autocast) == ("default", False, False, "fp32")
    assert fast.notes == ()


def test_fast_on_cuda_is_fused_adam_and_a_cuda_graph():
    fast = choose(cfg(fast=True), CUDA)
    assert (fast.adam, fast.cuda_graph, fast.compile, fast.autocast) == ("fused", True, False, "fp32")


def test_an_explicit_adam_choice_survives_fast():
    assert choose(cfg(fast=True, adam="loop"), CUDA).adam == "loop"


def test_fast_never_turns_on_bf16_or_compile():
    """bf16 changes the numbers a run produces; compile costs its compile time: both only when asked."""
    fast = choose(cfg(fast=True), CUDA)
    assert fast.autocast == "fp32" and not fast.compile
    asked = choose(cfg(fast=True, autocast="bf16", compile=True), CUDA)
    assert asked.autocast == "bf16" and asked.compile


def test_a_cuda_graph_asked_for_on_a_cpu_is_an_error():
    with pytest.raises(ConfigError, match="cuda_graph needs a CUDA device"):
        choose(cfg(cuda_graph=True), CPU)


@pytest.mark.parametrize("penalty", [{"loss": "wgan-gp"}, {"r1_gamma": 1.0}])
def test_penalties_fall_back_to_the_eager_step_and_say_why(penalty):
    fast = choose(cfg(cuda_graph=True, compile=True, **penalty), CUDA)
    assert not fast.cuda_graph and not fast.compile
    assert len(fast.notes) == 2 and all("double backward" in n for n in fast.notes)
    assert choose(cfg(fast=True, **penalty), CUDA).adam == "fused"  # what does work stays on


def test_autocast_is_validated():
    with pytest.raises(ConfigError, match="autocast must be one of fp32, bf16"):
        cfg(autocast="fp16")


# -- TrainStep ----------------------------------------------------------------------------------------------


def _step(seed: int = 0, **kw) -> TrainStep:
    c = cfg(g_width=32, d_width=32, batch_size=32, **{k: v for k, v in kw.items() if k in ("autocast", "n_critic")})
    data, loss = get_dataset(c.dataset), get_loss(c.loss)
    torch.manual_seed(seed)
    g, d = build_models(c, data.model_spec())
    opt_g = make_adam(g.parameters(), c.lr_g, (c.beta1, c.beta2))
    opt_d = make_adam(d.parameters(), c.lr_d, (c.beta1, c.beta2))
    return TrainStep(c, g, d, loss, data, CPU, opt_g, opt_d, telemetry=kw.get("telemetry", True),
                     autocast=c.autocast, g_call=kw.get("g_call"), d_call=kw.get("d_call"))


def _rows(step: TrainStep, n: int, seed: int = 0) -> np.ndarray:
    torch.manual_seed(seed)
    return torch.stack([step() for _ in range(n)]).numpy()


def test_the_step_returns_one_finite_row_per_step():
    rows = _rows(_step(n_critic=2), 4)
    assert rows.shape == (4, len(STEP_COLUMNS)) and np.isfinite(rows).all()


def test_telemetry_off_trains_the_same_and_leaves_its_entries_nan():
    """Telemetry only reads: the losses with it off are the losses with it on, bit for bit."""
    on, off = _rows(_step(), 6), _rows(_step(telemetry=False), 6)
    losses = [STEP_COLUMNS.index("loss_d"), STEP_COLUMNS.index("loss_g")]
    np.testing.assert_array_equal(on[:, losses], off[:, losses])
    others = [i for i in range(len(STEP_COLUMNS)) if i not in losses]
    assert np.isnan(off[:, others]).all() and np.isfinite(on[:, others]).all()


def test_bf16_autocast_trains_in_fp32_losses_close_to_fp32():
    fp32, bf16 = _rows(_step(), 3), _rows(_step(autocast="bf16"), 3)
    assert np.isfinite(bf16).all()
    assert not np.array_equal(fp32, bf16)  # the forward passes did run in bf16
    np.testing.assert_allclose(bf16[0, :2], fp32[0, :2], rtol=0.05)  # step 1's losses: same weights, bf16 rounding


def test_a_compiled_step_trains_what_the_eager_step_trains():
    """torch.compile (CPU inductor: C++ kernels) fuses differently, so equal to rounding, not bit for bit."""
    eager = _rows(_step(), 3)
    step = _step()
    step.g_call, step.d_call = compiled(step.g), compiled(step.d)
    np.testing.assert_allclose(_rows(step, 3), eager, rtol=1e-4, atol=1e-6)


# -- the trainer ------------------------------------------------------------------------------------------------


def test_fast_on_a_cpu_trains_exactly_the_default_run(train_tiny):
    base, fast = train_tiny("base"), train_tiny("fast", fast=True)
    cols = ["step", *STEP_COLUMNS]
    assert base.telemetry[cols].equals(fast.telemetry[cols])
    meta = json.loads((Path(fast.out_dir) / "config.json").read_text())
    assert meta["fast_path"] == {"adam": "default", "cuda_graph": False, "compile": False, "autocast": "fp32",
                                 "notes": []}


def test_a_penalty_run_with_compile_says_so_and_trains_eagerly(train_tiny, caplog):
    run = train_tiny(dataset="gaussian1d", loss="wgan-gp", compile=True, steps=6)
    assert run.summary["stop_reason"] == "completed"
    meta = json.loads((Path(run.out_dir) / "config.json").read_text())
    assert not meta["fast_path"]["compile"] and "double backward" in meta["fast_path"]["notes"][0]
    assert "torch.compile is off" in caplog.text


def test_cli_cuda_graph_on_a_cpu_is_one_line_exit_2_and_no_folder(tmp_path):
    out = tmp_path / "run"
    p = subprocess.run([sys.executable, "-m", "ganlint", "train", "--dataset", "ring8", "--steps", "3",
                        "--device", "cpu", "--cuda-graph", "--out", str(out)], capture_output=True, text=True)
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0 and "cuda_graph needs a CUDA device" in p.stderr
    assert "Traceback" not in p.stderr and not out.exists()


def test_run_fast_is_recorded_in_the_suite_spec(tmp_path):
    from ganlint.suite.runner import make_spec
    from ganlint.suite.scenarios import load_scenarios

    scenarios = load_scenarios(None, suite="quick")[:2]
    spec = make_spec(scenarios, 1, "cpu", "quick", fast=True)
    assert spec["fast"] is True and all(s["train"]["fast"] is True for s in spec["scenarios"])
    assert all("fast" not in s["train"] for s in make_spec(scenarios, 1, "cpu", "quick")["scenarios"])
    ganlint.TrainConfig.from_dict(spec["scenarios"][0]["train"]).resolve()  # still a valid config


def test_group_norms_equal_one_total_norm_per_group():
    from ganlint.training.telemetry import GroupNorms, total_norm

    g = torch.Generator().manual_seed(0)
    groups = [[torch.randn(3, 4, generator=g), torch.randn(5, generator=g)], [torch.randn(7, 2, generator=g)],
              [torch.zeros(4), torch.zeros(1)]]
    norms = GroupNorms()
    got = norms(groups)
    want = torch.stack([total_norm(x) for x in groups])
    torch.testing.assert_close(got, want)
    assert got[2] == 0
    torch.testing.assert_close(norms(groups[:2]), want[:2])  # another layout: its own sum matrix


def test_telemetry_costs_few_kernel_operations():
    """The launch floor's view of telemetry: the row adds a fixed, small number of operations to the step
    (counted, not timed: on a launch-bound GPU the step's time follows this count)."""
    from ganlint.perf.bench import bench_step
    from ganlint.perf.floors import count_ops

    on, _, _ = bench_step("toy", adam="fused")
    off, _, _ = bench_step("toy", adam="fused", telemetry=False)
    on(), off()  # the optimizers' state is created in the first step
    extra = count_ops(on)["kernel_ops"] - count_ops(off)["kernel_ops"]
    assert 0 < extra <= 20, f"telemetry adds {extra} kernel operations per step"


def test_graphed_step_warms_up_captures_once_then_replays(monkeypatch):
    """GraphedStep's sequencing, with torch.cuda's stream and graph replaced by fakes that behave like the
    real ones where it matters: a capture records the step without running it, a replay runs it. Each call
    must train exactly one step. (The real capture is tested on a GPU in test_cuda.py.)"""
    import contextlib

    import ganlint.training.fast as fast

    state = {"capturing": False, "recorded": None, "ran": 0, "captures": 0}

    def step():
        if state["capturing"]:
            state["recorded"] = lambda: state.__setitem__("ran", state["ran"] + 1)
            return torch.tensor([-1.0])  # the graph's static output
        state["ran"] += 1
        return torch.tensor([float(state["ran"])])

    class FakeGraph:
        def replay(self):
            state["recorded"]()

    @contextlib.contextmanager
    def fake_capture(graph):
        state["capturing"], state["captures"] = True, state["captures"] + 1
        yield
        state["capturing"] = False

    class FakeStream:
        def wait_stream(self, other):
            pass

    monkeypatch.setattr(torch.cuda, "Stream", FakeStream)
    monkeypatch.setattr(torch.cuda, "current_stream", lambda: FakeStream())
    monkeypatch.setattr(torch.cuda, "stream", lambda s: contextlib.nullcontext())
    monkeypatch.setattr(torch.cuda, "CUDAGraph", FakeGraph)
    monkeypatch.setattr(torch.cuda, "graph", fake_capture)

    graphed = fast.GraphedStep(step, warmup=2)
    outs = [graphed() for _ in range(5)]
    assert state["ran"] == 5, "every call trains exactly one step, the capturing call included"
    assert state["captures"] == 1
    assert [float(o) for o in outs[:2]] == [1.0, 2.0]  # warm-up: eager rows
    assert all(o is outs[2] for o in outs[2:])  # then the graph's one static output


@pytest.mark.parametrize("field", ["fast", "cuda_graph", "compile"])
def test_fast_switches_must_be_booleans(field):
    """A scenario file's `fast = "no"` must not read as true."""
    with pytest.raises(ConfigError, match=f"{field} must be true or false"):
        cfg(**{field: "no"})
