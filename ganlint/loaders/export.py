"""torch.export programs (.pt2): a G (or D) that needs no user code, with its input shape on record.

`torch.export.save(torch.export.export(G, (z,)), "G.pt2")` stores the graph, the weights and an example
input. The first user input's shape gives the latent spec: (batch, z_dim) or (batch, z_dim, 1, 1); a
second input means a conditional G(z, labels). A batch dimension exported as static (the default) is a
guard: the program then only accepts that batch size, so it is sampled in batches of exactly that size.

Safety: torch.export.load can run code from the file (see export_scan), so without trust it is never
called: export_scan reads the archive's members itself, from the bytes read here once (the file cannot
change in between), checks them, and hands torch's deserializer only the pieces of the one program,
without its pickled sample inputs. With `--trust-checkpoint`, torch.export.load reads the same bytes.
Either way torch's own log output (a damaged archive's logged traceback) is kept out of the terminal:
the error ganlint raises says what went wrong, in one line.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ganlint.loaders.errors import CheckpointError, describe_exception
from ganlint.loaders.export_scan import load_untrusted_export
from ganlint.loaders.safe import TRUST_FLAG, quiet_library_logs


@dataclass
class Program:
    """A loaded program (export or TorchScript) and what it says about its input."""

    module: Any
    input_shapes: list[tuple[int | None, ...]] = field(default_factory=list)  # None: a symbolic dimension
    fixed_batch: int | None = None
    notes: list[str] = field(default_factory=list)


def load_export(path: Path, trust: bool, device: str) -> Program:
    """Load a .pt2 archive (read member by member and checked, unless trusted) as a module on `device`."""
    what = repr(str(path))
    data = path.read_bytes()
    notes = []
    if trust:
        notes.append(f"{what}: torch.export archive loaded by torch.export.load, without ganlint's checks "
                     f"({TRUST_FLAG})")
    try:
        with quiet_library_logs():
            ep = torch.export.load(io.BytesIO(data)) if trust else load_untrusted_export(data, what)
            module = ep.module()  # runs the program's guard code: checked above unless trusted
    except CheckpointError:
        raise
    except Exception as e:
        raise CheckpointError(f"cannot load the torch.export archive {what}: {describe_exception(e)}") from None
    shapes = _user_input_shapes(ep)
    batch = shapes[0][0] if shapes and shapes[0] else None
    if batch is not None:
        notes.append(f"{what} was exported with a static batch size of {batch}: it is run in batches of {batch}")
    notes.append("an exported program keeps the train/eval mode it was exported in (eval() does not apply)")
    try:
        module = module.to(device)
    except Exception as e:
        raise CheckpointError(f"cannot move the exported program {what} to {device}: {describe_exception(e)}") from None
    return Program(module, shapes, batch, notes)


def _user_input_shapes(ep: Any) -> list[tuple[int | None, ...]]:
    """Shapes of the program's user inputs (not its parameters or buffers), in call order."""
    from torch.export.graph_signature import InputKind

    names = [s.arg.name for s in ep.graph_signature.input_specs
             if s.kind == InputKind.USER_INPUT and hasattr(s.arg, "name")]
    vals = {n.name: n.meta.get("val") for n in ep.graph.nodes if n.op == "placeholder"}
    shapes = []
    for name in names:
        val = vals.get(name)
        if isinstance(val, torch.Tensor):
            shapes.append(tuple(d if isinstance(d, int) else None for d in val.shape))
    return shapes
