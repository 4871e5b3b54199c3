"""Choosing the training device."""

from __future__ import annotations

import torch

from ganlint.errors import ConfigError
from ganlint.training.config import valid_device_name


def resolve_device(name: str) -> torch.device:
    """'auto' -> CUDA when present, else CPU; 'cuda' without CUDA is a user error, not a silent fallback."""
    if not valid_device_name(name):
        raise ConfigError(f"device must be auto, cpu, cuda or cuda:N, got {name!r}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device {name!r} requested but CUDA is not available here; use --device cpu or auto")
        dev = torch.device(name)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError(f"device {name!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist")
        return dev
    return torch.device(name)


def describe(device: torch.device) -> str:
    """A human name for the device, recorded in run configs ('cpu' or the GPU's name)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return "cpu"
