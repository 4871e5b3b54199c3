"""`ganlint bench` and ganlint.perf.bench: the rows, the ratios' bookkeeping and the command's errors.
(The timings themselves are the benchmarks' business: benchmarks/.)"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from ganlint.cli.render import format_bench
from ganlint.errors import ConfigError
from ganlint.perf.bench import VARIANTS, bench, bench_step, time_rounds


@pytest.fixture(scope="module")
def rows():
    return bench(("toy",), device="cpu", batch_size=16, variants=["no-telemetry", "adam-fused", "cuda-graph"],
                 steps=2, rounds=1, warmup=1)


def test_one_row_per_variant_with_eager_first_as_the_reference(rows):
    assert [r["variant"] for r in rows] == ["eager", "no-telemetry", "adam-fused", "cuda-graph"]
    eager = rows[0]
    assert eager["x_eager"] == 1.0 and eager["adam"] == "default" and eager["telemetry"]
    for r in rows[1:3]:
        assert r["x_eager"] == pytest.approx(r["ms_per_step"] / eager["ms_per_step"], rel=1e-2)
    assert rows[1]["telemetry"] is False and rows[2]["adam"] == "fused"


def test_a_variant_the_device_cannot_run_is_a_row_with_its_reason(rows):
    graph = rows[3]
    assert "ms_per_step" not in graph and "cuda_graph needs a CUDA device" in graph["error"]


def test_flops_come_from_counting_the_step(rows):
    """The toy step's matmuls at batch 16, counted by hand: linear layers of the ring8 MLPs."""
    _, _, info = bench_step("toy", batch_size=16)
    flops = rows[0]["flops_per_step"]
    # every weight of D is used in 2 FLOPs per sample forward; D runs forward 3 times (real, fake, G's step);
    # the count must at least cover those forwards and stay below forward+2x backward of every pass
    n_g, n_d, b = info["params_g"], info["params_d"], 16
    assert 2 * b * (n_g + 3 * n_d) * 0.8 < flops < 3 * 2 * b * (2 * n_g + 3 * n_d) * 1.2
    assert rows[0]["gflop_per_s"] == pytest.approx(flops / (rows[0]["ms_per_step"] / 1e3) / 1e9, rel=1e-2)


def test_time_rounds_interleaves_and_times_each_closure():
    calls = []
    t = time_rounds({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, torch.device("cpu"),
                    per_round=2, rounds=2)
    assert calls == ["a", "a", "b", "b", "a", "a", "b", "b"] and set(t) == {"a", "b"}


def test_unknown_variant_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown bench variant"):
        bench(("toy",), variants=["warp-speed"], steps=1, rounds=1)


def test_every_variant_names_real_switches():
    from ganlint.training.config import TrainConfig

    for switches in VARIANTS.values():
        TrainConfig(**{k: v for k, v in switches.items() if k != "telemetry"}).resolve()  # raises on a typo


def test_format_bench_prints_each_row_and_the_machine(rows):
    text = format_bench(rows)
    assert text.splitlines()[0].split()[:2] == ["model", "variant"]
    assert "cuda-graph    not run: cuda_graph needs a CUDA device" in text
    assert "device cpu, batch 16" in text


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "ganlint", "bench", *args], capture_output=True, text=True)


def test_cli_json_is_data_on_stdout():
    p = _cli("--model", "toy", "--device", "cpu", "--variants", "eager,no-telemetry", "--steps", "2", "--rounds", "1",
             "--format", "json")
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    assert [r["variant"] for r in data] == ["eager", "no-telemetry"] and "timing toy" in p.stderr


@pytest.mark.parametrize("args, msg", [(["--variants", "eager,warp"], "unknown --variants warp"),
                                       (["--steps", "0"], "--steps must be 1 or more"),
                                       (["--device", "cuda:7"], "device")])
def test_cli_bad_input_is_one_line_and_exit_2(args, msg):
    if args[0] == "--device" and torch.cuda.device_count() > 7:
        pytest.skip("this machine has 8 GPUs")
    p = _cli("--model", "toy", *args)
    assert p.returncode == 2 and msg in p.stderr and "Traceback" not in p.stderr
    assert p.stdout == ""
