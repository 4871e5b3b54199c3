"""The training configuration: every default in one place, feeding the Python API and the CLI.

`TrainConfig` holds what a run needs. Fields left as None take a per-dataset or per-model default from
the tables below (a 1D Gaussian needs a much smaller network than MNIST), and `resolve()` fills them in
and checks every value, so the config written to a run folder is complete and explicit.

Types are strict, derived from the field annotations (`from_dict` checks them, `resolve` checks them
and the ranges): a bool field takes only true/false (a TOML `spectral_norm = "no"` is an error, not a
truthy string), an int field only an integer (not 1e3, not true), a float field an integer or a float
(not true), a str field only a string. The integer ranges (INT_RANGES) and the parameter bound
(MAX_PARAMS) refuse values that would exhaust the machine before anything is built.
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from ganlint.errors import ConfigError


def _f(default: Any, help: str, **meta: Any) -> Any:
    """A field with its help; `shown` is the help's [default: ...] where the default is a rule, not the value
    (see default_text)."""
    return field(default=default, metadata={"help": help, **meta})


# Where a run's MNIST comes from without --data-root: ganlint.data.mnist reads the variable (its ENV_VAR, asserted
# equal in tests/test_cli.py; that module imports torch, which `ganlint --help` must not).
DATA_ROOT_DEFAULT = "$GANLINT_DATA, else the 5,000-digit subset shipped with ganlint"


def valid_device_name(name: str) -> bool:
    """auto, cpu, cuda or cuda:N: the device names a run accepts (whether CUDA is here is device.py's question)."""
    return re.fullmatch(r"auto|cpu|cuda(:\d+)?", name) is not None


@dataclass(frozen=True)
class TrainConfig:
    """One training run. See `ganlint train --help` for the same fields as flags."""

    dataset: str = _f("mnist", "dataset name")
    model: str = _f("auto", "model family; auto is tabular for tables, else mlp")  # the CLI lists the names
    loss: str = _f("nonsaturating", "GAN loss")
    steps: int = _f(1000, "generator steps (each preceded by n_critic discriminator steps)")
    batch_size: int = _f(64, "batch size for real and generated samples")
    lr_g: float = _f(2e-4, "generator learning rate (Adam)")
    lr_d: float = _f(2e-4, "discriminator learning rate (Adam); differs from lr_g for TTUR")
    beta1: float = _f(0.5, "Adam beta1 (0.5 is the DCGAN choice)")
    beta2: float = _f(0.999, "Adam beta2")
    n_critic: int = _f(1, "discriminator steps per generator step")
    # z_dim, g_width, d_width, batch_norm: None is DATASET_DEFAULTS/MODEL_DEFAULTS' value (default_text shows them)
    z_dim: int | None = _f(None, "latent dimension")
    g_width: int | None = _f(None, "generator width: hidden units, or base channels for dcgan")
    d_width: int | None = _f(None, "discriminator width: hidden units, or base channels for dcgan")
    g_depth: int = _f(2, "generator hidden layers (mlp, tabular)")
    d_depth: int = _f(2, "discriminator hidden layers (mlp, tabular)")
    batch_norm: bool | None = _f(None, "batch norm in the generator")
    dropout: float = _f(0.0, "dropout in the discriminator")
    spectral_norm: bool = _f(False, "spectral norm on every discriminator layer")
    minibatch_std: bool = _f(False, "minibatch-stddev feature in the discriminator")
    pack: int = _f(1, "PacGAN packing: D judges this many samples at once")
    label_smoothing: float = _f(0.0, "one-sided label smoothing: real target is 1 - this")
    # gp_weight and clip: None is the loss's own (ganlint.training.losses.LOSSES, which imports torch; the text is
    # checked against it in tests/test_cli.py)
    gp_weight: float | None = _f(None, "gradient-penalty weight", shown="by loss: 10 for wgan-gp, else 0")
    r1_gamma: float = _f(0.0, "R1 penalty gamma on real data (0 = off)")
    clip: float | None = _f(None, "weight clipping bound for D", shown="by loss: 0.01 for wgan, else no clipping")
    seed: int = _f(0, "random seed")
    device: str = _f("auto", "auto, cpu, cuda or cuda:N (auto picks CUDA when present)")
    eval_every: int = _f(100, "steps between evaluations (distance, diversity, modes)")
    eval_samples: int = _f(2000, "samples per evaluation")
    pictures: int = _f(4, "how many evaluation steps also save a sample picture (spread over the run)")
    flush_every: int = _f(50, "steps between telemetry flushes from the device (no host sync in between)")
    checkpoint_every: int = _f(250, "steps between checkpoints (weights, optimizers, random states) that an interrupted "
                               "run resumes from with ganlint train --resume; also taken on SIGINT/SIGTERM")
    adam: str = _f("default", "Adam implementation: default (torch's own choice: the for-loop on a CPU), loop, "
                   "foreach or fused (ganlint bench compares them on your machine)")
    fast: bool = _f(False, "the fast path that helps on the training device: fused Adam and a whole-step CUDA graph on "
                    "CUDA, nothing on a CPU (where they measured no faster); see ganlint.training.fast")
    cuda_graph: bool = _f(False, "capture the whole training step as one CUDA graph and replay it (CUDA only)")
    compile: bool = _f(False, "torch.compile the generator and discriminator (compile time is paid in the first steps)")
    autocast: str = _f("fp32", "forward passes in fp32 or under bf16 autocast (bf16 changes the numbers; "
                       "slower on CPUs without bf16 units)")
    data_root: str | None = _f(None, "MNIST folder in torchvision's layout", shown=DATA_ROOT_DEFAULT)
    out: str | None = _f(None, "run folder", shown="runs/<dataset>-<loss>-<time>")  # ganlint.training.run.default_out_dir

    # -- construction ----------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrainConfig:
        """Build from a mapping; unknown keys and values of the wrong type are errors (a typo must not
        silently use a default, a string "no" must not switch a flag on). Ranges are checked by resolve()."""
        if not isinstance(d, Mapping):
            raise ConfigError(f"a config must be a table of fields, got {type(d).__name__}")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names, key=str)
        if unknown:
            raise ConfigError(f"unknown config key(s) {', '.join(map(str, unknown))}; "
                              f"valid keys: {', '.join(sorted(names))}")
        for name, value in d.items():
            check_type(name, value)
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    # -- resolution and validation ----------------------------------------------------------------
    def resolve(self) -> TrainConfig:
        """Fill per-dataset/model/loss defaults and validate every value; raises ConfigError."""
        from ganlint.data import DATASETS
        from ganlint.nets import MODELS
        from ganlint.training.losses import LOSSES

        for f in fields(self):
            check_type(f.name, getattr(self, f.name))
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
        """Check a resolved config: every type (from the annotations), every range; ConfigError naming
        the field and the value."""
        def need(ok: bool, msg: str) -> None:
            if not ok:
                raise ConfigError(msg)

        for f in fields(self):
            check_type(f.name, getattr(self, f.name), resolved=f.name in RESOLVED_FIELDS)
        for name, (low, high) in INT_RANGES.items():
            v = getattr(self, name)
            need(low <= v <= high, f"{name} must be an integer from {low:,} to {high:,}, got {v!r}"
                 + (f" ({INT_LIMIT_REASONS[name]})" if v > high and name in INT_LIMIT_REASONS else ""))
        for name in FLOAT_FIELDS:  # NaN and inf: no comparison below would catch NaN
            v = getattr(self, name)
            need(v is None or math.isfinite(v), f"{name} must be a finite number, got {v!r}")
        for name in ("lr_g", "lr_d"):
            v = getattr(self, name)
            need(v > 0, f"{name} must be a positive number, got {v!r}")
        for name in ("beta1", "beta2"):
            v = getattr(self, name)
            need(0.0 <= v < 1.0, f"{name} must be in [0, 1), got {v!r}")
        need(0.0 <= self.label_smoothing < 0.5, f"label_smoothing must be in [0, 0.5), got {self.label_smoothing!r}")
        need(0.0 <= self.dropout < 1.0, f"dropout must be in [0, 1), got {self.dropout!r}")
        need(self.gp_weight >= 0, f"gp_weight must be 0 or more, got {self.gp_weight!r}")
        need(self.r1_gamma >= 0, f"r1_gamma must be 0 or more, got {self.r1_gamma!r}")
        need(self.clip is None or self.clip > 0, f"clip must be positive, got {self.clip!r}")
        need(self.batch_size % self.pack == 0,
             f"batch_size ({self.batch_size}) must be a multiple of pack ({self.pack}): D judges pack samples at once")
        need(self.autocast in AUTOCAST_MODES, f"autocast must be one of {', '.join(AUTOCAST_MODES)}, got {self.autocast!r}")
        need(self.adam in ADAM_IMPLS, f"adam must be one of {', '.join(ADAM_IMPLS)}, got {self.adam!r}")
        need(valid_device_name(self.device), f"device must be auto, cpu, cuda or cuda:N, got {self.device!r}")
        g, d = parameter_estimate(self)
        need(max(g, d) <= MAX_PARAMS,
             f"the networks would have at least {max(g, d):,} parameters ({'G' if g >= d else 'D'}; g_width "
             f"{self.g_width}, d_width {self.d_width}, z_dim {self.z_dim}, depths {self.g_depth}/{self.d_depth}), "
             f"more than {MAX_PARAMS:,}: {MAX_PARAMS_REASON}")


# -- types, derived from the annotations -----------------------------------------------------------------------
def _scalar_types() -> dict[str, tuple[type, bool]]:
    """{field: (its scalar type, whether None is allowed)} from the annotations ('int | None' -> (int, True))."""
    out = {}
    for name, ann in typing.get_type_hints(TrainConfig).items():
        args = typing.get_args(ann)
        optional = type(None) in args
        scalar = next(a for a in args if a is not type(None)) if args else ann
        out[name] = (scalar, optional)
    return out


FIELD_TYPES: dict[str, tuple[type, bool]] = _scalar_types()
FLOAT_FIELDS = tuple(n for n, (t, _) in FIELD_TYPES.items() if t is float)
# Optional fields that resolve() always fills (the others, clip, data_root and out, may stay None).
RESOLVED_FIELDS = ("z_dim", "g_width", "d_width", "batch_norm", "gp_weight")
_TYPE_WORDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def _type_ok(value: Any, typ: type) -> bool:
    if typ is bool:
        return isinstance(value, bool)
    if typ is int:  # true is not 1, 1e3 is not 1000 (a float in TOML and JSON)
        return isinstance(value, int) and not isinstance(value, bool)
    if typ is float:  # an integer is a number; true is not
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if typ is str:  # a NUL cannot be in a name or a path
        return isinstance(value, str) and "\x00" not in value
    return isinstance(value, typ)


def check_type(name: str, value: Any, resolved: bool = False) -> None:
    """ConfigError unless `value` has field `name`'s annotated type (None only for optional fields, and
    not for them once `resolved`); unknown names are left to the caller."""
    if name not in FIELD_TYPES:
        return
    typ, optional = FIELD_TYPES[name]
    if value is None and optional and not resolved:
        return
    if not _type_ok(value, typ):
        what = _TYPE_WORDS.get(typ, typ.__name__)
        raise ConfigError(f"{name} must be {what}{' (or unset)' if optional and not resolved else ''}, got {value!r}")


# Adam implementations (torch.optim.Adam's foreach/fused switches). "default" keeps torch's choice, which
# the scenarios were calibrated with. On a 2-core CPU the implementations were within the measurement noise
# of each other in interleaved rounds (ganlint bench: -15% to +9%, changing sign between runs), so nothing
# is switched on there; on a GPU, fused is expected to help but has not been measured. They order
# floating-point operations differently, so a run is reproducible only with the same choice.
ADAM_IMPLS = ("default", "loop", "foreach", "fused")

# Forward-pass precision (ganlint.training.step.AUTOCAST_DTYPES maps them to torch dtypes).
AUTOCAST_MODES = ("fp32", "bf16")

# torch.manual_seed accepts seeds below 2**64, numpy's generators below 2**63: keep to the smaller.
MAX_SEED = 2**63 - 1

# The integer fields' ranges, (lowest, highest). The upper bounds keep a machine alive: a typo (an extra
# zero, 99999999999) must be one line at once, not a MemoryError or a half-written run folder minutes later.
# Each is far above what a health check trains (the defaults are in the tens to thousands).
INT_RANGES: dict[str, tuple[int, int]] = {
    # The telemetry keeps ~100 bytes of host memory per step until the run ends: 10**8 steps are ~10 GB,
    # and more than a day at the fastest step measured here (~1 ms).
    "steps": (1, 10**8),
    # BigGAN trained at 2,048; one batch of 65,536 MNIST digits is 200 MB before any activation.
    "batch_size": (2, 2**16),
    "n_critic": (1, 1000),  # WGAN uses 5; at 1,000 D steps per G step G barely moves
    "z_dim": (1, 2**16),  # StyleGAN's latents are 512 wide
    "g_width": (1, 2**16),  # and MAX_PARAMS below bounds width x depth
    "d_width": (1, 2**16),
    "g_depth": (1, 64),  # a plain MLP (no residual connections) of 64 layers does not train
    "d_depth": (1, 64),
    "pack": (1, 2**16),  # and a divisor of batch_size, so at most batch_size
    "eval_every": (1, 10**8),  # as steps: more than steps means one evaluation, at the end
    # The k-NN measures (PRDC) are O(n^2): 200,000 samples take minutes per evaluation (ganlint.check's
    # MAX_SAMPLES, for the same reason).
    "eval_samples": (2, 200_000),
    "pictures": (0, 1000),  # each one a PNG and a safetensors file of fakes in samples/
    "flush_every": (1, 10**5),  # a device buffer of flush_every rows; NaNs are only seen at a flush
    # Measured on the 2-core CPU: a checkpoint (with the weights beside it, synced) takes 37 ms for the MNIST MLP
    # GAN (0.55M parameters) and 10 ms for ring8's; every 250 steps that is ~1.5% of a run's time.
    "checkpoint_every": (1, 10**8),  # as steps: more than steps means no periodic checkpoint
    "seed": (0, MAX_SEED),
}
# Said when a value is over its bound, so the error explains itself.
INT_LIMIT_REASONS = {
    "steps": "the telemetry keeps every step in memory until the run ends",
    "batch_size": "one batch would not fit in memory",
    "eval_samples": "the k-NN measures are quadratic in the samples",
}
# A network of 2**30 parameters is 4 GiB of float32 weights, 16 GiB with its gradients and Adam's two
# moments; ganlint's largest default network has ~0.5M. Checked from the widths before anything is built.
MAX_PARAMS = 2**30
MAX_PARAMS_REASON = "4 GiB of weights, 16 GiB with gradients and Adam's state; lower the widths or depths"


def check_network_size(cfg: TrainConfig, data_shape: list[int] | tuple[int, ...]) -> None:
    """ConfigError when G's output layer (its width onto every value of a sample) or D's input layer would
    pass MAX_PARAMS: the bound in `_validate` does not know the data's size."""
    values = math.prod(data_shape)
    g_in = 1 if cfg.model == "dcgan" else cfg.g_width  # dcgan's last layer is a 4x4 convolution
    d_in = (1 if cfg.model == "dcgan" else cfg.d_width) * cfg.pack
    n = values * max(g_in, d_in)
    if n > MAX_PARAMS:
        raise ConfigError(f"data of shape {tuple(data_shape)} with widths {cfg.g_width}/{cfg.d_width} would need "
                          f"{n:,} parameters in one layer, more than {MAX_PARAMS:,}: {MAX_PARAMS_REASON}")


def parameter_estimate(cfg: TrainConfig) -> tuple[int, int]:
    """Lower bounds of G's and D's parameter counts from the widths alone (the data's size is not read:
    MNIST would have to be loaded), for a resolved config. ganlint.nets has the exact layouts."""
    zd, gw, dw = cfg.z_dim or 1, cfg.g_width or 1, cfg.d_width or 1
    if cfg.model == "dcgan":  # Linear z -> 2w x 7 x 7, ConvT 2w -> w (4x4); D: Conv w -> 2w (4x4), Linear 2w x 7 x 7 -> 1
        return zd * 2 * gw * 49 + 2 * gw * gw * 16, 2 * dw * dw * 16 + 2 * dw * 49
    # mlp, tabular: z -> w, then depth - 1 layers w -> w; D the same from the data (width >= 1) to 1
    return zd * gw + (cfg.g_depth - 1) * gw * gw, cfg.pack * dw + (cfg.d_depth - 1) * dw * dw

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


def _word(v: Any) -> str:
    return ("on" if v else "off") if isinstance(v, bool) else str(v)


def default_text(f: dataclasses.Field) -> str:
    """What a field's help shows as its default: the value; for a None that resolve() fills from the tables
    above, the values per dataset (and per model) read from those tables; else the field's `shown` rule."""
    if "shown" in f.metadata:
        return f.metadata["shown"]
    if f.default is not None:
        return _word(f.default)
    if f.name in RESOLVED_FIELDS and all(f.name in d for d in DATASET_DEFAULTS.values()):
        text = "per dataset (" + ", ".join(f"{n} {_word(d[f.name])}" for n, d in DATASET_DEFAULTS.items()) + ")"
        return text + "".join(f"; {m}: {_word(d[f.name])}" for m, d in MODEL_DEFAULTS.items() if f.name in d)
    raise AssertionError(f"TrainConfig.{f.name} defaults to None with no shown= rule for its help")
