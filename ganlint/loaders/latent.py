"""What G eats: the latent spec, and where each of its values comes from.

Sampling a user's G needs the latent size, its distribution and, for a conditional G, the number of
classes. Nothing in a state_dict says them for sure, so each value is taken, in this order, from:

1. the caller (`--z-dim`, `--z-dist`, `--num-classes`): always wins;
2. what the checkpoint records: container keys (`z_dim`, `nz`, `latent_dim`, `num_classes`, ...), G's
   attributes of those names, a run folder's config, an exported program's input shape;
3. an inference from G itself, said so in the notes: the latent size from G's first layer (a Linear's
   in_features, a ConvTranspose/Conv's in_channels), the class count from its first Embedding;
4. otherwise a CheckpointError asking for the flag.

An inferred value is a guess (modules register layers in any order), so the loader tries it on two
latent vectors before trusting it. z ~ N(0, 1) is assumed unless told otherwise, and noted.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from ganlint.errors import ConfigError, unknown_name
from ganlint.loaders.errors import CheckpointError, naming, option

Z_DIM_KEYS = ("z_dim", "nz", "latent_dim", "zdim", "z_size", "latent_size", "noise_dim", "dim_z", "latent_dims")
CLASS_KEYS = ("num_classes", "n_classes", "nclasses", "num_class", "n_class")
DIST_KEYS = ("z_dist", "latent_dist", "noise_dist", "z_distribution")
Z_DISTS = {"normal": "normal", "gaussian": "normal", "randn": "normal", "uniform": "uniform", "rand": "uniform"}
# Nested mappings where training scripts keep their hyper-parameters next to the weights.
CONFIG_KEYS = ("config", "cfg", "args", "opt", "hparams", "hyper_parameters", "hyperparameters", "params", "meta",
               "metadata")

_LAYER = re.compile(r"(Lazy)?(Linear|Bilinear|Conv[123]d|ConvTranspose[123]d|Embedding|BatchNorm[123]d|LayerNorm)")

# value, and where it was found (for the notes)
Recorded = dict[str, tuple[Any, str]]


@dataclass(frozen=True)
class LatentSpec:
    """G's input: z of shape (n, *shape) from `z_dist`, plus labels in [0, num_classes) when conditional.

    z_shape is the per-sample shape when it is not (z_dim,), e.g. (100, 1, 1) for a DCGAN G that starts
    with a ConvTranspose2d; None means (z_dim,).
    """

    z_dim: int
    z_dist: str = "normal"  # "normal" N(0, 1) | "uniform" U[-1, 1]
    num_classes: int | None = None  # conditional G: called as G(z, labels), labels int64 in [0, num_classes)
    z_shape: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.z_dim, bool) or not isinstance(self.z_dim, int) or self.z_dim < 1:
            raise ConfigError(f"z_dim must be a positive integer, got {self.z_dim!r}")
        if self.z_dist not in ("normal", "uniform"):
            raise unknown_name("z_dist", str(self.z_dist), ("normal", "uniform"), "latent distributions")
        nc = self.num_classes
        if nc is not None and (isinstance(nc, bool) or not isinstance(nc, int) or nc < 1):
            raise ConfigError(f"num_classes must be a positive integer or None, got {nc!r}")

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.z_shape) if self.z_shape else (self.z_dim,)

    def draw(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        """n latent vectors (and labels when conditional) from `gen`, on the CPU so seeds match across devices."""
        size = (n, *self.shape)
        z = torch.randn(size, generator=gen) if self.z_dist == "normal" else torch.rand(size, generator=gen) * 2 - 1
        labels = torch.randint(0, self.num_classes, (n,), generator=gen) if self.num_classes else None
        return z, labels


def normalize_dist(value: Any) -> str | None:
    return Z_DISTS.get(str(value).strip().lower())


def _as_int(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v if v > 0 else None
    if isinstance(v, str) and v.strip().isdigit():
        return int(v) or None
    return None


def recorded_in(obj: Any, where: str) -> Recorded:
    """z_dim / z_dist / num_classes recorded in a checkpoint's mapping (and its config-like sub-mappings)."""
    found: Recorded = {}
    scopes: list[tuple[Mapping, str]] = []
    if isinstance(obj, Mapping):
        scopes.append((obj, where))
        for key in CONFIG_KEYS:
            sub = obj.get(key)
            if sub is not None and not isinstance(sub, Mapping) and hasattr(sub, "__dict__"):
                sub = vars(sub)  # an argparse.Namespace (only present when the file was trusted)
            if isinstance(sub, Mapping):
                scopes.append((sub, f"{where}[{key!r}]"))
    for scope, label in scopes:
        for field_, keys in (("z_dim", Z_DIM_KEYS), ("num_classes", CLASS_KEYS), ("z_dist", DIST_KEYS)):
            for key in keys:
                if field_ in found or key not in scope:
                    continue
                value = normalize_dist(scope[key]) if field_ == "z_dist" else _as_int(scope[key])
                if value is not None:
                    found[field_] = (value, f"{label} key {key!r}")
    return found


def recorded_on(module: Any, what: str = "G") -> Recorded:
    """The same values kept as attributes of G (an nn.Module or a TorchScript module)."""
    found: Recorded = {}
    for field_, keys in (("z_dim", Z_DIM_KEYS), ("num_classes", CLASS_KEYS), ("z_dist", DIST_KEYS)):
        for key in keys:
            try:
                raw = getattr(module, key, None)
            except Exception:  # a TorchScript attribute of an unsupported type
                raw = None
            value = normalize_dist(raw) if field_ == "z_dist" and isinstance(raw, str) else _as_int(raw)
            if value is not None and field_ not in found:
                found[field_] = (value, f"{what}'s attribute {key!r}")
    return found


def first_layer(module: Any) -> tuple[str, str, Any] | None:
    """(name, type name, module) of G's first registered layer with a weight, or None."""
    if not hasattr(module, "named_modules"):
        return None
    for name, m in module.named_modules():
        # TorchScript keeps the Python class name in original_name; parametrize (spectral norm) renames the class
        kind = getattr(m, "original_name", type(m).__name__).removeprefix("Parametrized")
        if _LAYER.fullmatch(kind):
            return name, kind, m
    return None


def infer_z(module: Any) -> tuple[int | None, tuple[int, ...] | None, str]:
    """(z_dim, z_shape, how) from G's first layer; z_dim None when it cannot be read, with the reason."""
    layer = first_layer(module)
    if layer is None:
        return None, None, "G has no Linear or convolution layer to read it from"
    name, kind, m = layer
    weight = getattr(m, "weight", None)
    label = f"{kind} {name!r}" if name else kind
    if not isinstance(weight, torch.Tensor) or weight.dim() < 2:
        return None, None, f"G's first layer is {label}"
    if kind.startswith("Linear"):
        return int(weight.shape[1]), None, f"G's first layer ({label}, in_features {weight.shape[1]})"
    if kind.startswith(("ConvTranspose", "Conv")):
        in_ch = weight.shape[0] if kind.startswith("ConvTranspose") else weight.shape[1] * getattr(m, "groups", 1)
        spatial = (1,) * (weight.dim() - 2)
        return int(in_ch), (int(in_ch), *spatial), f"G's first layer ({label}, in_channels {in_ch})"
    return None, None, f"G's first layer is {label}"


def takes_labels(module: Any) -> bool:
    """True when G's forward needs two positional arguments (z, labels)."""
    fwd = getattr(module, "forward", module)
    schema = getattr(fwd, "schema", None)  # a TorchScript method: its schema lists self first
    if schema is not None:
        args = [a for a in schema.arguments if a.name != "self"]
        return sum(a.default_value is None and not a.kwarg_only for a in args) >= 2
    try:
        params = inspect.signature(fwd).parameters.values()
    except (TypeError, ValueError):
        return False
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(p.kind in kinds and p.default is inspect.Parameter.empty for p in params) >= 2


def resolve_latent(generator: Any, recorded: Recorded, *, z_dim: int | None, z_dist: str | None,
                   num_classes: int | None, z_shape: tuple[int, ...] | None = None,
                   conditional: bool | None = None, probe: Callable[[LatentSpec], str | None] | None = None) -> tuple[LatentSpec, list[str]]:
    """The LatentSpec and notes saying where each value came from (caller, checkpoint, inference)."""
    notes: list[str] = []
    if z_dist is not None:
        dist = normalize_dist(z_dist)
        if dist is None:
            raise unknown_name("z_dist", str(z_dist), ("normal", "uniform"), "latent distributions")
    elif "z_dist" in recorded:
        dist, where = recorded["z_dist"]
        notes.append(f"z ~ {dist} from {where}")
    else:
        dist = "normal"
        notes.append("z ~ N(0, 1) assumed (the checkpoint does not record it; pass --z-dist uniform for U[-1, 1])")

    inferred: list[str] = []
    classes = num_classes
    if classes is None and "num_classes" in recorded:
        classes, where = recorded["num_classes"]
        notes.append(f"num_classes {classes} from {where}")
    elif classes is None and (takes_labels(generator) if conditional is None else conditional):
        emb = next((m for _, m in getattr(generator, "named_modules", list)()
                    if getattr(m, "original_name", type(m).__name__) == "Embedding"), None)
        if emb is None:
            raise naming(CheckpointError, "G takes labels (it has two inputs, z and labels) but the number of "
                         f"classes is not recorded: pass {option('num_classes')}")
        classes = int(emb.weight.shape[0])
        inferred.append(f"num_classes {classes} inferred from G's first Embedding (pass --num-classes if wrong)")

    shape = z_shape
    if z_dim is not None:
        dim = z_dim
        if shape and shape[0] != z_dim:
            notes.append(f"--z-dim {z_dim} overrides the recorded input shape {shape}")
            shape = None
    elif "z_dim" in recorded:
        dim, where = recorded["z_dim"]
        notes.append(f"z_dim {dim} from {where}")
    else:
        dim, conv_shape, how = infer_z(generator)
        if dim is None or classes is not None:
            why = ("a conditional G's first layer mixes z with the labels" if dim is not None else how)
            raise naming(CheckpointError, f"cannot tell G's latent size: the checkpoint does not record z_dim "
                         f"and {why}; pass {option('z_dim')}")
        inferred.append(f"z_dim {dim} inferred from {how} (pass --z-dim if wrong)")
        shape = shape or conv_shape
    if shape is None and (z_dim is not None or "z_dim" in recorded):
        _, conv_shape, _ = infer_z(generator)
        if conv_shape and conv_shape[0] == dim:
            shape = conv_shape
            inferred.append(f"z given as shape {(dim, *conv_shape[1:])} per sample (G starts with a convolution)")
    spec = LatentSpec(dim, dist, classes, tuple(shape) if shape and len(shape) > 1 else None)
    if inferred and probe is not None:
        spec = _probed(spec, probe, inferred)
    return spec, notes + inferred


def _probed(spec: LatentSpec, probe: Callable[[LatentSpec], str | None], inferred: list[str]) -> LatentSpec:
    """Try an inferred spec on G; a conv G that wants flat z gets (z_dim,) instead of (z_dim, 1, 1)."""
    failure = probe(spec)
    if failure is None:
        return spec
    if spec.z_shape is not None:
        flat = LatentSpec(spec.z_dim, spec.z_dist, spec.num_classes)
        if probe(flat) is None:
            inferred[:] = [t for t in inferred if not t.startswith("z given as shape")]
            return flat
    raise naming(CheckpointError, f"{'; '.join(inferred)}, but {failure}: pass {option('z_dim')} (and "
                 f"{option('num_classes')} for a conditional G)")
