"""Networks and the model registry. `build_models(config, model_spec)` returns (G, D).

The registry is light: a builder imports its networks (torch) when it is called, so `ganlint --help` lists
the model names without loading torch. The network classes below are imported on first use (PEP 562).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ganlint.errors import ConfigError
from ganlint.registry import Registry

if TYPE_CHECKING:
    from torch import nn

    from ganlint.nets.dcgan import DCGANDiscriminator, DCGANGenerator
    from ganlint.nets.layers import MinibatchStdDev, pack
    from ganlint.nets.mlp import MLPDiscriminator, MLPGenerator
    from ganlint.nets.tabular import TabularGenerator

Builder = Callable[..., tuple["nn.Module", "nn.Module"]]
MODELS: Registry[Builder] = Registry("model")
MODEL_DESCRIPTIONS = {
    "mlp": "MLP G and D for any flat dimension",
    "dcgan": "DCGAN-style conv G and D for 28x28 images",
    "tabular": "MLP G with one Gumbel-softmax head per categorical column, MLP D",
}


def _mlp_d(cfg, shape) -> nn.Module:
    from ganlint.nets.mlp import MLPDiscriminator

    return MLPDiscriminator(shape, cfg.d_width, cfg.d_depth, cfg.dropout, cfg.spectral_norm, cfg.minibatch_std, cfg.pack)


@MODELS.register("mlp")
def _build_mlp(cfg, spec: dict) -> tuple[nn.Module, nn.Module]:
    from ganlint.nets.mlp import MLPGenerator

    shape = tuple(spec["shape"])
    g = MLPGenerator(cfg.z_dim, shape, cfg.g_width, cfg.g_depth, cfg.batch_norm, spec["bounded"])
    return g, _mlp_d(cfg, shape)


@MODELS.register("dcgan")
def _build_dcgan(cfg, spec: dict) -> tuple[nn.Module, nn.Module]:
    from ganlint.nets.dcgan import DCGANDiscriminator, DCGANGenerator

    shape = tuple(spec["shape"])
    if len(shape) != 3 or shape[1:] != (28, 28):
        raise ConfigError(f"model 'dcgan' needs 28x28 images; this dataset's samples have shape {shape}")
    g = DCGANGenerator(cfg.z_dim, cfg.g_width, cfg.batch_norm, channels=shape[0])
    d = DCGANDiscriminator(cfg.d_width, cfg.dropout, cfg.spectral_norm, cfg.minibatch_std, cfg.pack, channels=shape[0])
    return g, d


@MODELS.register("tabular")
def _build_tabular(cfg, spec: dict) -> tuple[nn.Module, nn.Module]:
    from ganlint.nets.tabular import TabularGenerator

    if not spec["blocks"]:
        raise ConfigError("model 'tabular' needs a tabular dataset (one with categorical columns), e.g. 'reviews'")
    g = TabularGenerator(cfg.z_dim, spec["blocks"], cfg.g_width, cfg.g_depth, cfg.batch_norm)
    return g, _mlp_d(cfg, tuple(spec["shape"]))


def build_models(cfg, spec: dict) -> tuple[nn.Module, nn.Module]:
    """Build G and D from a resolved TrainConfig and a dataset's model_spec()."""
    return MODELS.get(cfg.model)(cfg, spec)


_LAZY = {"DCGANDiscriminator": "ganlint.nets.dcgan", "DCGANGenerator": "ganlint.nets.dcgan",
         "MLPDiscriminator": "ganlint.nets.mlp", "MLPGenerator": "ganlint.nets.mlp",
         "MinibatchStdDev": "ganlint.nets.layers", "pack": "ganlint.nets.layers",
         "TabularGenerator": "ganlint.nets.tabular"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "MODELS",
    "MODEL_DESCRIPTIONS",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "MLPDiscriminator",
    "MLPGenerator",
    "MinibatchStdDev",
    "TabularGenerator",
    "build_models",
    "pack",
]
