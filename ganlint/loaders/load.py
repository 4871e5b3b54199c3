"""load_checkpoint: one entry point that routes a checkpoint to the right loader and assembles the result.

    run folder     -> run_folder.py (no user code)
    .pt2 / jit     -> export.py / torchscript.py (the file carries its code; no factory)
    weights        -> safe.py (torch.load weights_only) or safetensors, state_dict.py (find, strip, fit),
                      factory.py (the user's module:callable)
    latent spec    -> latent.py (caller > recorded > inferred, with notes)

The format comes from the file's contents (detect.py). Flags that the format does not use (a factory for
a TorchScript file, a key for a run folder) are errors rather than silently ignored: a user who passes
them believes they matter.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganlint.errors import ConfigError, unknown_name
from ganlint.loaders.checkpoint import LoadedCheckpoint, device_of
from ganlint.loaders.detect import detect_format
from ganlint.loaders.errors import CheckpointError, describe_exception, naming, option, respell, shorten
from ganlint.loaders.export import Program, load_export
from ganlint.loaders.factory import build, import_factory, split_kwargs
from ganlint.loaders.latent import (
    LatentSpec,
    Recorded,
    normalize_dist,
    recorded_in,
    recorded_on,
    resolve_latent,
)
from ganlint.loaders.run_folder import load_run_folder
from ganlint.loaders.safe import load_torch_file
from ganlint.loaders.state_dict import Part, find_part, fit, is_tensor_dict
from ganlint.loaders.torchscript import load_torchscript

_NO_FACTORY = (f"this file holds state_dicts (weights only); give {option('generator')} module:callable to build G "
               f"(and {option('discriminator')} for D)")


def load_checkpoint(path: str | os.PathLike, *, generator: str | None = None, discriminator: str | None = None,
                    kwargs: dict | None = None, generator_kwargs: dict | None = None,
                    discriminator_kwargs: dict | None = None, g_key: str | None = None, d_key: str | None = None,
                    discriminator_path: str | os.PathLike | None = None, trust: bool = False,
                    z_dim: int | None = None, z_dist: str | None = None, num_classes: int | None = None,
                    device: str = "cpu") -> LoadedCheckpoint:
    """Load a user's G (and D) from a run folder, a weights file plus factories, or a program file.

    Raises CheckpointError (UnsafeCheckpointError for files that need --trust-checkpoint) or ConfigError.
    """
    src = Path(path)
    dist = _check_args(kwargs, generator_kwargs, discriminator_kwargs, z_dim, z_dist, num_classes, device)
    fmt = detect_format(src)
    if fmt == "run-folder":
        unused = [option(n) for n, v in (("generator", generator), ("discriminator", discriminator), ("g_key", g_key),
                                         ("d_key", d_key), ("discriminator_path", discriminator_path)) if v is not None]
        if unused:
            raise naming(CheckpointError, f"{', '.join(unused)} not used with a run folder: G and D are rebuilt from its "
                                  "config.json")
        return load_run_folder(src, z_dim=z_dim, z_dist=dist, num_classes=num_classes, device=device)

    what = repr(str(src))
    if fmt in ("export", "torchscript"):  # before importing anything the user named
        unused = [option(n) for n, v in (("generator", generator), ("g_key", g_key)) if v is not None]
        if unused:
            raise naming(CheckpointError, f"{', '.join(unused)} not used: {what} is a {fmt} program that carries its own code")
    shared = dict(kwargs or {})
    factories = _factories(generator, discriminator, shared)
    notes: list[str] = []
    meta: dict[str, Any] = {"format": fmt}
    recorded: Recorded = {}
    z_shape, conditional, d_part = None, None, None
    if fmt in ("export", "torchscript"):
        prog = _program(src, fmt, trust, device)
        g, kind, notes = prog.module, fmt, list(prog.notes)
        meta["g_fixed_batch"] = prog.fixed_batch
        z_shape, conditional = _export_latent(prog, recorded)
    else:
        obj, notes, recorded = _read_weights(src, fmt, trust)
        g_part = find_part(obj, "G", g_key, what)
        try:
            d_part = find_part(obj, "D", d_key, what)
        except CheckpointError as e:  # an ambiguous D must not block G-only checks nobody asked D for
            if discriminator is not None or d_key is not None:
                raise
            from ganlint.check.options import spell_flag  # a note is the report's text: the CLI's words

            notes.append(f"D not loaded: {respell(e, spell_flag)}")
        if g_part is None:
            raise naming(CheckpointError, f"{what} has no generator state_dict that ganlint recognises "
                         f"({_keys(obj)}): pass {option('g_key')}")
        meta["g_source"] = g_part.where
        if isinstance(g_part.value, nn.Module):
            if generator is not None:
                raise naming(CheckpointError, f"{option('generator')} not used: {what} holds the pickled G module itself")
            g, kind = g_part.value, "pickled-module"
        else:
            if generator is None:
                raise naming(CheckpointError, _NO_FACTORY)
            g = _built(factories["generator"], shared, generator_kwargs, g_part, what, notes)
            kind = "state-dict"
        meta["recorded"] = _scalars(obj)
    recorded = {**recorded_on(g), **recorded}  # what the file says beats G's attributes
    g = _place(g, device, "G")

    d = None
    if discriminator_path is not None:
        d = _d_from_file(Path(discriminator_path), factories.get("discriminator"), shared, discriminator_kwargs,
                         d_key, trust, device, notes, meta)
    elif d_part is not None:
        meta["d_source"] = d_part.where
        if isinstance(d_part.value, nn.Module):
            d = d_part.value
        elif discriminator is not None:
            d = _built(factories["discriminator"], shared, discriminator_kwargs, d_part, what, notes)
        else:
            notes.append(f"the checkpoint has a discriminator state_dict ({d_part.where}) but no --discriminator "
                         "factory was given: D-based checks are skipped")
    elif discriminator is not None:
        raise naming(CheckpointError, f"{option('discriminator')} given, but {what} has no discriminator state_dict "
                     f"({_keys_hint(fmt)}): pass {option('d_key')}, or a separate D file")
    elif not any(n.startswith("D not loaded") for n in notes):
        notes.append(f"{what} holds no discriminator: D-based checks are skipped (pass a D file to run them)")
    if d is not None:
        d = _place(d, device, "D")

    spec, latent_notes = resolve_latent(g, recorded, z_dim=z_dim, z_dist=dist, num_classes=num_classes,
                                        z_shape=z_shape, conditional=conditional,
                                        probe=lambda s: _probe(g, s, meta.get("g_fixed_batch")))
    return LoadedCheckpoint(g, d, spec, kind, src, meta, notes + latent_notes)


def _check_args(kwargs, gkw, dkw, z_dim, z_dist, num_classes, device) -> str | None:
    for name, value in (("kwargs", kwargs), ("generator_kwargs", gkw), ("discriminator_kwargs", dkw)):
        if value is not None and not (isinstance(value, dict) and all(isinstance(k, str) for k in value)):
            raise naming(ConfigError, f"{option(name)} must be a JSON object of keyword arguments, got {value!r}")
    for name, value in (("z_dim", z_dim), ("num_classes", num_classes)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise naming(ConfigError, f"{option(name)} must be a positive integer, got {value!r}")
    try:
        torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"device must be cpu, cuda or cuda:N, got {device!r}") from None
    if z_dist is None:
        return None
    dist = normalize_dist(z_dist)
    if dist is None:
        raise unknown_name("z_dist", str(z_dist), ("normal", "uniform"), "latent distributions")
    return dist


def _program(src: Path, fmt: str, trust: bool, device: str) -> Program:
    return load_export(src, trust, device) if fmt == "export" else load_torchscript(src, device)


def _export_latent(prog: Program, recorded: Recorded) -> tuple[tuple[int, ...] | None, bool | None]:
    """z_dim and per-sample z shape from an exported program's first input; conditional when it has two."""
    if not prog.input_shapes:
        return None, None
    first = prog.input_shapes[0]
    z_shape = None
    if len(first) >= 2 and first[1] is not None:
        recorded["z_dim"] = (first[1], f"the exported program's input shape {_show(first)}")
        if len(first) > 2 and all(d is not None for d in first[1:]):
            z_shape = tuple(int(d) for d in first[1:])  # type: ignore[arg-type]
    return z_shape, len(prog.input_shapes) >= 2


def _read_weights(src: Path, fmt: str, trust: bool) -> tuple[Any, list[str], Recorded]:
    what = repr(str(src))
    if fmt == "safetensors":
        from safetensors import safe_open
        from safetensors.torch import load_file

        try:
            tensors = load_file(str(src), device="cpu")
            with safe_open(str(src), "pt") as f:
                metadata = f.metadata() or {}
        except Exception as e:
            raise CheckpointError(f"cannot read the safetensors file {what}: {describe_exception(e)}") from None
        return tensors, [], recorded_in(metadata, f"{what}'s safetensors metadata")  # metadata: str -> str
    obj, notes = load_torch_file(src, trust)
    return obj, notes, recorded_in(obj, what)


def _factories(generator: str | None, discriminator: str | None, shared: dict) -> dict[str, tuple]:
    """Import the given factories up front, and reject --kwargs keys that none of them takes."""
    found = {name: (spec, import_factory(spec, name), name) for name, spec in
             (("generator", generator), ("discriminator", discriminator)) if spec is not None}
    if shared and found:
        taken = set().union(*(set(split_kwargs(f, shared)[0]) for _, f, _ in found.values()))
        unknown = [k for k in shared if k not in taken]
        if unknown:
            names = " or ".join(spec for spec, _, _ in found.values())
            raise naming(ConfigError, f"{option('kwargs')} key(s) {', '.join(unknown)} taken by neither {names}")
    return found


def _built(factory: tuple, shared: dict, own: dict | None, part: Part, what: str, notes: list[str]) -> nn.Module:
    """Build the module from its (spec, callable, flag) with its kwargs, and fit the state_dict into it."""
    spec, factory, name = factory
    kw, dropped = split_kwargs(factory, shared)
    model = build(factory, {**kw, **(own or {})}, spec, name)
    net = "G" if name == "generator" else "D"
    notes += fit(model, part, model_name=spec, what=f"{net}'s state_dict in {what}")
    notes.append(f"{net}: {spec} with the state_dict from {part.where}")
    if dropped:
        notes.append(f"--kwargs key(s) {', '.join(dropped)} not taken by {spec}: not passed to it")
    return model


def _d_from_file(path: Path, factory: tuple | None, shared: dict, own: dict | None, d_key: str | None, trust: bool,
                 device: str, notes: list[str], meta: dict) -> Any:
    fmt = detect_format(path)
    what = repr(str(path))
    if fmt == "run-folder":
        raise CheckpointError(f"the discriminator file {what} is a run folder; give it as the main checkpoint")
    if fmt in ("export", "torchscript"):
        if factory is not None:
            raise naming(CheckpointError, f"{option('discriminator')} not used: {what} is a {fmt} program that carries "
                         "its own code")
        prog = _program(path, fmt, trust, device)
        notes += prog.notes
        meta["d_fixed_batch"] = prog.fixed_batch
        meta["d_source"] = what
        return prog.module
    obj, load_notes, _ = _read_weights(path, fmt, trust)
    notes += load_notes
    part = find_part(obj, "D", d_key, what)
    if part is None and (is_tensor_dict(obj) or isinstance(obj, nn.Module)):
        part = Part(obj, "the whole file")
    if part is None:
        raise naming(CheckpointError, f"{what} has no discriminator state_dict that ganlint recognises "
                     f"({_keys(obj)}): pass {option('d_key')}")
    meta["d_source"] = f"{what}, {part.where}"
    if isinstance(part.value, nn.Module):
        return part.value
    if factory is None:
        raise naming(CheckpointError, f"the discriminator file {what} holds a state_dict: give "
                     f"{option('discriminator')} module:callable to build D")
    return _built(factory, shared, own, part, what, notes)


def _place(model: Any, device: str, name: str) -> Any:
    """On `device`, in eval mode (an exported program cannot switch modes: it keeps its own)."""
    try:
        if isinstance(model, nn.Module):
            model = model.to(device)
            if not isinstance(model, torch.fx.GraphModule):
                model.eval()
    except Exception as e:
        raise CheckpointError(f"cannot move {name} to {device}: {describe_exception(e)}") from None
    return model


def _probe(g: Any, spec: LatentSpec, fixed: int | None) -> str | None:
    """None when G runs on a small batch from `spec`; else the failure, for an inferred spec's error."""
    z, labels = spec.draw(fixed or 2, torch.Generator().manual_seed(0))
    dev = device_of(g)
    try:
        with torch.no_grad():
            out = g(z.to(dev)) if labels is None else g(z.to(dev), labels.to(dev))
    except Exception as e:
        return f"G(z) failed for z of shape {tuple(z.shape)}: {describe_exception(e)}"
    return None if isinstance(out, torch.Tensor) else f"G(z) returned a {type(out).__name__}"


def _scalars(obj: Any) -> dict[str, Any]:
    """A checkpoint's top-level numbers and strings (epoch, step, z_dim...), for the report."""
    if not isinstance(obj, dict) or is_tensor_dict(obj):
        return {}
    items = [(k, v) for k, v in obj.items() if isinstance(k, str) and isinstance(v, (int, float, str, bool))]
    return dict(items[:20])


def _keys(obj: Any) -> str:
    if isinstance(obj, dict):
        keys = sorted({str(k).split(".", 1)[0] for k in obj})
        return f"top-level keys: {shorten(keys, 8)}"
    return f"it holds a {type(obj).__name__}"


def _keys_hint(fmt: str) -> str:
    return f"a {fmt} program holds one network" if fmt in ("export", "torchscript") else "none found"


def _show(shape: tuple) -> str:
    return "(" + ", ".join("batch" if d is None else str(d) for d in shape) + ")"
