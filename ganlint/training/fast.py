"""The trainer's fast path: which speed-ups a run uses on its device, and the whole-step CUDA graph.

    ganlint train --fast                 # what helps on the device it runs on (below)
    ganlint train --cuda-graph --adam fused --autocast bf16 --compile    # or each switch by itself

Switches (TrainConfig fields, so a run's config.json records them; `choose` resolves them per device):
  * `adam`: fused or foreach Adam instead of the for-loop (one or a few kernels for all parameters).
  * `cuda_graph`: the whole step (data draw, n_critic D updates, the G update, the telemetry row) is
    captured once as a CUDA graph and replayed: one launch per step instead of hundreds. Small GANs are
    launch-bound on a GPU (an MLP step is ~300 kernels of a few microseconds of work each), so this is
    the big lever there. The optimizers are built `capturable` (step counts on the device) with their
    learning rates in device tensors, so a change of learning rate needs no recapture.
  * `compile`: torch.compile on G and D (kernel fusion); compile time is paid in the first steps.
  * `autocast`: bf16 autocast for the forward passes (losses and penalties stay fp32). It changes the
    numbers a run produces, so `--fast` never turns it on: a health check should not change the health.

What `--fast` turns on:
  * CUDA: fused Adam and the CUDA graph.
  * CPU: nothing. Measured on a 2-core x86-64 CPU (`ganlint bench`, interleaved rounds, batch 64):
    fused and foreach Adam were within noise of the for-loop (0.85-1.09x across sessions), bf16
    autocast was 11.7x slower, and torch.compile was 1.19-1.39x slower at steady state on all three
    models, after ~12 s of compilation (see the README's performance section). A fast path that slows
    a CPU down is not a fast path.

Fallbacks (said once on stderr and recorded in config.json under "fast_path"): a gradient penalty
(wgan-gp) or R1 differentiates D's input gradient (double backward, `autograd.grad(create_graph=True)`).
torch.compile does not support double backward, and capturing it as a CUDA graph has not been verified
here, so such runs keep the eager step, with fused Adam where asked.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import asdict, dataclass

import torch

from ganlint.errors import ConfigError
from ganlint.training.config import TrainConfig
from ganlint.training.step import TrainStep, make_adam

# Eager steps before the capture: the first steps allocate optimizer state, pick cuBLAS/cuDNN kernels and
# fill the datasets' device caches, none of which may happen during a capture. PyTorch's own example uses 3.
GRAPH_WARMUP_STEPS = 3


@dataclass(frozen=True)
class FastPath:
    """What a run's step uses, after resolving `--fast` and the individual switches for its device."""

    adam: str
    cuda_graph: bool
    compile: bool
    autocast: str
    notes: tuple[str, ...] = ()  # why something asked for is off, one sentence each

    def to_dict(self) -> dict:
        return {**asdict(self), "notes": list(self.notes)}


def choose(cfg: TrainConfig, device: torch.device) -> FastPath:
    """Resolve the fast-path switches of `cfg` for `device`.

    Raises:
        ConfigError: a switch that cannot work on this device was asked for by name (not through --fast).
    """
    cuda = device.type == "cuda"
    notes: list[str] = []
    if cfg.cuda_graph and not cuda:
        raise ConfigError(f"cuda_graph needs a CUDA device, but this run trains on {device}; drop --cuda-graph, "
                          "or use --fast, which captures CUDA graphs only where CUDA is present")
    adam = "fused" if cfg.fast and cuda and cfg.adam == "default" else cfg.adam
    graph = cfg.cuda_graph or (cfg.fast and cuda)
    compile_ = cfg.compile
    penalty = "a gradient penalty" if cfg.gp_weight > 0 else "the R1 penalty" if cfg.r1_gamma > 0 else None
    if penalty and graph:
        graph = False
        notes.append(f"CUDA graph capture is off: {penalty} needs a double backward, which ganlint has not "
                     "verified under capture; the step runs eagerly")
    if penalty and compile_:
        compile_ = False
        notes.append(f"torch.compile is off: {penalty} needs a double backward, which torch.compile does not support")
    return FastPath(adam=adam, cuda_graph=graph, compile=compile_, autocast=cfg.autocast, notes=tuple(notes))


def compiled(module: torch.nn.Module):
    """torch.compile'd forward of `module` (the module itself stays what optimizers, evaluations and saving
    use; the compiled wrapper shares its parameters)."""
    # Inductor's C++ backend logs "No CUDA runtime is found" when it looks for CUDA on a CPU-only
    # machine: true and irrelevant to a CPU run, and it reads like an error.
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    fn = torch.compile(module)

    def call(x: torch.Tensor) -> torch.Tensor:
        with warnings.catch_warnings():
            # Dynamo's tracing reads .grad of a non-leaf input (G's output fed to D) when it builds its
            # guards, and autograd warns about that read: torch's internals, nothing the user can act on
            # (and an error under pytest's warnings-as-errors).
            warnings.filterwarnings("ignore", message="The .grad attribute of a Tensor that is not a leaf")
            return fn(x)

    return call


class GraphedStep:
    """A training step captured as one CUDA graph after a few eager warm-up steps.

    Each call runs exactly one training step and returns its telemetry row: the first
    GRAPH_WARMUP_STEPS calls run the step eagerly on a side stream (as PyTorch's whole-network capture
    recipe does, so lazily created state is not created during the capture); the next call captures the
    step (a capture records the kernels without running them) and replays it; later calls only replay.
    The returned row lives in the graph's memory and is overwritten by the next replay, so callers copy
    it (the trainer's recorder does, into its device buffer).

    Args:
        step: the step to capture (a ganlint.training.step.TrainStep whose optimizers are capturable).
        warmup: eager steps before the capture.
    """

    def __init__(self, step, warmup: int = GRAPH_WARMUP_STEPS) -> None:
        self.step, self.warmup = step, warmup
        self.calls = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.out: torch.Tensor | None = None
        self._side = torch.cuda.Stream()

    def __call__(self) -> torch.Tensor:
        self.calls += 1
        if self.graph is None and self.calls <= self.warmup:
            current = torch.cuda.current_stream()
            self._side.wait_stream(current)
            with torch.cuda.stream(self._side), warnings.catch_warnings():
                # capturable optimizers warn when they step outside a capture; here that is the plan.
                warnings.filterwarnings("ignore", message=".*capturable=True.*")
                row = self.step()
            current.wait_stream(self._side)
            return row
        if self.graph is None:
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):
                self.out = self.step()
        self.graph.replay()
        return self.out



def build_step(cfg: TrainConfig, fast: FastPath, g: torch.nn.Module, d: torch.nn.Module, loss, dataset,
               device: torch.device, *, telemetry: bool = True):
    """The step a run trains with, as `fast` (from `choose`) has it: optimizers (capturable for a graph),
    the TrainStep (compiled networks, autocast), and the CUDA graph around it. `ganlint.train` and
    `ganlint bench` both build their step here, so the step timed is the step trained.

    Returns:
        A zero-argument callable training one step and returning its telemetry row; its `.step` (a
        GraphedStep's) or itself is the TrainStep.
    """
    g_params = [p for p in g.parameters() if p.requires_grad]
    d_params = [p for p in d.parameters() if p.requires_grad]
    opt_g = make_adam(g_params, cfg.lr_g, (cfg.beta1, cfg.beta2), fast.adam, capturable=fast.cuda_graph)
    opt_d = make_adam(d_params, cfg.lr_d, (cfg.beta1, cfg.beta2), fast.adam, capturable=fast.cuda_graph)
    step = TrainStep(cfg, g, d, loss, dataset, device, opt_g, opt_d, telemetry=telemetry, autocast=fast.autocast,
                     autocast_cache=not fast.cuda_graph,  # autocast's cache must be off inside a capture
                     g_call=compiled(g) if fast.compile else None, d_call=compiled(d) if fast.compile else None)
    return GraphedStep(step) if fast.cuda_graph else step
