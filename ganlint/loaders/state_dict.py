"""State_dicts: finding G's and D's in a checkpoint, undoing wrapper prefixes, and fitting them.

Training scripts save weights in many shapes: a bare `G.state_dict()`, a dict of them under `netG` /
`generator` / `G_state_dict` ..., one flat dict with `generator.` / `discriminator.` prefixes (Lightning,
safetensors), keys prefixed by `module.` (DistributedDataParallel) or `_orig_mod.` (torch.compile). The
roles are recognised from normalised key names; an explicit `g_key` / `d_key` (a key, a dotted path, or a
prefix of a flat dict) always wins. Fitting checks every key and shape before loading, so a mismatch is
reported the way a person fixes it: which keys are missing, which unexpected, which shapes differ.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ganlint.loaders.errors import CheckpointError, describe_exception, naming, option, shorten

_G = {"g", "gen", "generator", "gnet", "gmodel", "generatornet", "generatormodel"}
_G_EMA = {"gema", "emag", "generatorema", "emagenerator", "genema", "gemamodel"}
_D = {"d", "disc", "dis", "discriminator", "critic", "c", "dnet", "dmodel", "discriminatornet", "criticnet"}
_WRAPPERS = {"module.": "DistributedDataParallel/DataParallel", "_orig_mod.": "torch.compile"}


def role(key: Any) -> str | None:
    """'G', 'G_ema' or 'D' for a container key such as 'netG', 'G_state_dict', 'g_ema', 'critic'; else None."""
    if not isinstance(key, str):
        return None
    n = re.sub(r"[^a-z0-9]", "", key.lower())
    for affix in ("statedict", "state", "weights", "params"):
        n = n.removesuffix(affix).removeprefix(affix)
    for affix in ("model", "net"):
        if n != affix:
            n = n.removeprefix(affix)
    return "G_ema" if n in _G_EMA else "G" if n in _G else "D" if n in _D else None


def is_tensor_dict(obj: Any) -> bool:
    return (isinstance(obj, Mapping) and len(obj) > 0
            and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()))


@dataclass
class Part:
    """One network's weights (a state_dict, or a whole module from a trusted pickle) and where they were."""

    value: Mapping[str, torch.Tensor] | nn.Module
    where: str
    alternatives: list[Mapping[str, torch.Tensor]] = field(default_factory=list)  # other readings to try


def find_part(obj: Any, which: str, key: str | None, what: str) -> Part | None:
    """G's ('G') or D's ('D') part of a loaded checkpoint; CheckpointError for a missing explicit key."""
    if key is not None:
        return _by_key(obj, key, which, what)
    if isinstance(obj, nn.Module):
        return Part(obj, "the pickled module") if which == "G" else None
    if is_tensor_dict(obj):
        return _by_prefix(obj, which, what)
    if not isinstance(obj, Mapping):
        return None
    found = _by_role(obj, which, what, "key")
    if found is not None:
        return found
    for k, v in obj.items():  # one level down: {"state_dict": {...}}, {"models": {"G": ..., "D": ...}}
        if isinstance(v, Mapping) and not is_tensor_dict(v):
            found = _by_role(v, which, what, f"key {k!r} ->")
            if found is not None:
                return found
    nested = [(k, v) for k, v in obj.items() if is_tensor_dict(v)]
    if len(nested) == 1:  # {"model_state_dict": {...}, "epoch": 3}: a single state_dict in a container
        k, v = nested[0]
        part = _by_prefix(v, which, what)
        if part is not None:
            part.where = f"key {k!r}" + ("" if part.where.startswith("the whole") else f", {part.where}")
        return part
    return None


def _by_role(obj: Mapping, which: str, what: str, label: str) -> Part | None:
    usable = {k: v for k, v in obj.items() if is_tensor_dict(v) or isinstance(v, nn.Module)}
    if which == "G":
        ema = [k for k in usable if role(k) == "G_ema"]
        if len(ema) == 1:
            return Part(usable[ema[0]], f"{label} {ema[0]!r} (the EMA generator; pass --g-key for another)")
    keys = [k for k in usable if role(k) == which]
    if len(keys) > 1:
        key_opt = option("g_key" if which == "G" else "d_key")
        raise naming(CheckpointError, f"{what} holds several {'generator' if which == 'G' else 'discriminator'} "
                     f"state_dicts ({', '.join(map(repr, keys))}): pass {key_opt} to choose one")
    return Part(usable[keys[0]], f"{label} {keys[0]!r}") if keys else None


def _by_prefix(sd: Mapping[str, torch.Tensor], which: str, what: str) -> Part | None:
    """Split a flat dict by its first key segment (generator., D., netG. ...); without such prefixes it is G's.

    Split when every segment names a role, or when both a G and a D prefix are present (other prefixes,
    such as a loss module's buffers, are then left out).
    """
    firsts = {k.split(".", 1)[0] for k in sd}
    roles = {p: role(p) for p in firsts}
    found = {r for r in roles.values() if r}
    if all("." in k for k in sd) and found and (None not in roles.values() or ("D" in found and len(found) > 1)):
        wanted = [p for p, r in roles.items() if r == "G_ema"] if which == "G" else []
        wanted = wanted or [p for p, r in roles.items() if r == which]
        if len(wanted) > 1:
            key_opt = option("g_key" if which == "G" else "d_key")
            raise naming(CheckpointError, f"{what} has keys under several prefixes for one network "
                         f"({', '.join(wanted)}): pass {key_opt} with one of them")
        if not wanted:
            return None
        p = wanted[0] + "."
        part = Part({k[len(p):]: v for k, v in sd.items() if k.startswith(p)}, f"keys prefixed {p!r}")
        if which == "G" and set(roles.values()) <= {"G", "G_ema"}:
            part.alternatives.append(dict(sd))  # maybe a bare G whose first submodule is called 'gen'
        return part
    return Part(sd, "the whole file (a bare state_dict)") if which == "G" else None


def _by_key(obj: Any, key: str, which: str, what: str) -> Part:
    key_opt = option("g_key" if which == "G" else "d_key")
    if isinstance(obj, Mapping):
        if key in obj and (is_tensor_dict(obj[key]) or isinstance(obj[key], nn.Module)):
            return Part(obj[key], f"key {key!r}")
        node: Any = obj
        for part in key.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        if is_tensor_dict(node) or isinstance(node, nn.Module):
            return Part(node, f"key path {key!r}")
        if is_tensor_dict(obj):
            p = key if key.endswith(".") else key + "."
            sub = {k[len(p):]: v for k, v in obj.items() if k.startswith(p)}
            if sub:
                return Part(sub, f"keys prefixed {p!r}")
        keys = [str(k) for k in obj] if not is_tensor_dict(obj) else sorted({k.split(".", 1)[0] + "." for k in obj})
        raise naming(CheckpointError, f"{key_opt} {key!r} is not a state_dict in {what}; it has: {shorten(keys, 8)}")
    raise naming(CheckpointError, f"{key_opt} {key!r} given, but {what} holds a {type(obj).__name__}, not a dict")


def strip_wrappers(sd: Mapping[str, torch.Tensor], model_keys: set[str]) -> tuple[dict, list[str]]:
    """Remove 'module.' / '_orig_mod.' prefixes (in any order, repeated) that the model's own keys lack."""
    out, counts = dict(sd), dict.fromkeys(_WRAPPERS, 0)
    changed = True
    while changed and out:
        changed = False
        for p in _WRAPPERS:
            if all(k.startswith(p) for k in out) and not all(k.startswith(p) for k in model_keys or {""}):
                out = {k[len(p):]: v for k, v in out.items()}
                counts[p] += len(out)
                changed = True
    inner = "._orig_mod."  # torch.compile applied to a submodule
    if any(inner in k for k in out) and not any(inner in k for k in model_keys):
        counts["_orig_mod."] += sum(inner in k for k in out)
        out = {k.replace(inner, "."): v for k, v in out.items()}
    notes = [f"stripped {p!r} from {n} keys ({_WRAPPERS[p]})" for p, n in counts.items() if n]
    return out, notes


def fit(model: nn.Module, part: Part, *, model_name: str, what: str) -> list[str]:
    """Load `part` into `model` when every key and shape matches; else one CheckpointError with the diff."""
    if not isinstance(part.value, Mapping):
        raise CheckpointError(f"{what}: {part.where} is a whole module, not a state_dict; drop the factory flag")
    target = model.state_dict()
    keys = set(target)
    best: tuple[int, list[str], list[str], list[str]] | None = None
    for raw in (part.value, *part.alternatives):
        sd, notes = strip_wrappers(raw, keys)
        missing = sorted(k for k in keys - set(sd) if not k.endswith("num_batches_tracked"))
        unexpected = sorted(set(sd) - keys)
        shapes = [f"{k}: checkpoint {tuple(sd[k].shape)} vs model {tuple(target[k].shape)}"
                  for k in sorted(keys & set(sd)) if sd[k].shape != target[k].shape]
        if not (missing or unexpected or shapes):
            try:
                model.load_state_dict(sd, strict=False)
            except Exception as e:
                raise CheckpointError(f"loading {what} ({part.where}) into {model_name} failed: "
                                      f"{describe_exception(e)}") from None
            skipped = sorted(keys - set(sd))
            if skipped:
                notes.append(f"{len(skipped)} BatchNorm num_batches_tracked buffer(s) absent from the checkpoint "
                             "(older torch): kept at 0")
            return notes
        score = len(missing) + len(unexpected) + len(shapes)
        if best is None or score < best[0]:
            best = (score, missing, unexpected, shapes)
    assert best is not None
    _, missing, unexpected, shapes = best
    problems = [f"{len(items)} {label} ({shorten(items)})" for items, label in
                ((missing, "missing key(s)"), (unexpected, "unexpected key(s)"), (shapes, "shape(s) differ"))
                if items]
    raise naming(CheckpointError, f"{what} ({part.where}) does not fit {model_name}: {'; '.join(problems)}; "
                 f"check the factory and its {option('kwargs')}")
