"""LoadedCheckpoint: G, D and the latent spec, with the two calls every check needs (sample, discriminate).

G and D are kept as they were loaded (nn.Modules in eval mode with requires_grad intact, or exported /
TorchScript callables), so gradient-based checks can use them directly. `sample` and `discriminate` only
run them, batched and without gradients, and turn any failure into one CheckpointError line with the
shapes involved: judging the outputs (NaNs, shapes against the data) is the checks' job, not the loader's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganlint.loaders.errors import CheckpointError, describe_exception
from ganlint.loaders.latent import LatentSpec


@dataclass
class LoadedCheckpoint:
    """A user's G (and D when known), ready to run."""

    generator: nn.Module | Callable
    discriminator: nn.Module | Callable | None
    latent: LatentSpec
    kind: str  # "run-folder" | "state-dict" | "pickled-module" | "export" | "torchscript"
    source: Path
    meta: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def sample(self, n: int, *, seed: int = 0, batch_size: int = 1024,
               device: str | torch.device | None = None) -> torch.Tensor:
        """n samples of G (on the CPU), drawn under no_grad in batches from torch.Generator(seed).

        z comes from the latent spec and labels are uniform over the classes when G is conditional; both are
        drawn on the CPU, so a seed gives the same z on every device. A program exported with a static batch
        size is run in batches of that size (the last one trimmed). Raises CheckpointError when G fails or
        returns something other than one tensor with a row per sample.
        """
        _check_count(n, batch_size)
        dev = torch.device(device) if device is not None else device_of(self.generator)
        gen = torch.Generator().manual_seed(seed)
        step = self.meta.get("g_fixed_batch") or batch_size
        out = []
        with torch.no_grad():
            for start in range(0, n, step):
                b = step if self.meta.get("g_fixed_batch") else min(step, n - start)
                z, labels = self.latent.draw(b, gen)
                x = self._run_g(z.to(dev), None if labels is None else labels.to(dev))
                out.append(x[: n - start].detach().cpu())
        return torch.cat(out) if out else torch.empty(0)

    def _run_g(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        call = "G(z)" if labels is None else "G(z, labels)"
        try:
            x = self.generator(z) if labels is None else self.generator(z, labels)
        except Exception as e:
            raise CheckpointError(f"{call} failed for z of shape {tuple(z.shape)}: {describe_exception(e)}"
                                  f"{_latent_hint(self.notes)}") from None
        if not isinstance(x, torch.Tensor):
            raise CheckpointError(f"{call} returned a {type(x).__name__}, not a tensor (for z of shape "
                                  f"{tuple(z.shape)}); wrap G so it returns the samples alone")
        if x.dim() == 0 or len(x) != len(z):
            raise CheckpointError(f"{call} returned shape {tuple(x.shape)} for z of shape {tuple(z.shape)}: "
                                  "expected one sample per latent vector")
        return x

    def discriminate(self, x: torch.Tensor, labels: torch.Tensor | None = None,
                     batch_size: int = 1024) -> torch.Tensor:
        """D's raw outputs, shape (n,) (one per packed group for a PacGAN D), batched, no grad, on the CPU.

        Raw means as D returns them: probabilities for a D ending in a Sigmoid, logits or critic scores
        otherwise (meta['d_raw_output'] says which for a run folder). D is called as D(x, labels) when
        labels are given.
        """
        if self.discriminator is None:
            raise CheckpointError("this checkpoint has no discriminator: D-based checks need a D "
                                  "(see the notes for why it is missing)")
        _check_count(len(x), batch_size)
        pack = int(self.meta.get("pack", 1) or 1)
        if len(x) % pack:
            raise CheckpointError(f"D judges {pack} samples at once (PacGAN): give a multiple of {pack}, got {len(x)}")
        fixed = self.meta.get("d_fixed_batch")
        step = fixed or max(pack, batch_size // pack * pack)
        dev = device_of(self.discriminator)
        out = []
        with torch.no_grad():
            for start in range(0, len(x), step):
                xb = x[start:start + step]
                lb = None if labels is None else labels[start:start + step]
                real = len(xb)
                if fixed and real < fixed:  # a static-batch export: pad with copies, trim the outputs
                    xb = torch.cat([xb, xb[:1].expand(fixed - real, *xb.shape[1:])])
                    lb = None if lb is None else torch.cat([lb, lb[:1].expand(fixed - real)])
                y = self._run_d(xb.to(dev), None if lb is None else lb.to(dev), pack)
                out.append(y[: real // pack].detach().cpu())
        return torch.cat(out) if out else torch.empty(0)

    def _run_d(self, x: torch.Tensor, labels: torch.Tensor | None, pack: int) -> torch.Tensor:
        call = "D(x)" if labels is None else "D(x, labels)"
        try:
            y = self.discriminator(x) if labels is None else self.discriminator(x, labels)
        except Exception as e:
            raise CheckpointError(f"{call} failed for x of shape {tuple(x.shape)}: {describe_exception(e)}") from None
        if not isinstance(y, torch.Tensor):
            raise CheckpointError(f"{call} returned a {type(y).__name__}, not a tensor (for x of shape "
                                  f"{tuple(x.shape)})")
        groups = len(x) // pack
        if y.dim() == 0 or y.numel() != groups:
            raise CheckpointError(f"{call} returned shape {tuple(y.shape)} for x of shape {tuple(x.shape)}: "
                                  f"expected one output per sample{' group' if pack > 1 else ''} "
                                  "(a PatchGAN's map of outputs is not supported)")
        return y.reshape(groups)


def _check_count(n: Any, batch_size: Any) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise CheckpointError(f"the number of samples must be a non-negative integer, got {n!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise CheckpointError(f"batch_size must be a positive integer, got {batch_size!r}")


def device_of(model: Any) -> torch.device:
    """Where a module's weights live (the CPU for a callable without any)."""
    for getter in ("parameters", "buffers"):
        try:
            t = next(iter(getattr(model, getter)()), None)
        except Exception:
            t = None
        if isinstance(t, torch.Tensor):
            return t.device
    return torch.device("cpu")


def _latent_hint(notes: list[str]) -> str:
    inferred = [n for n in notes if " inferred from " in n]
    return f" ({inferred[0]})" if inferred else ""
