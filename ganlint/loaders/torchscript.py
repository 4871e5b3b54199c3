"""TorchScript programs (torch.jit.save): a G (or D) that carries its own code.

`torch.jit.save(torch.jit.script(G), "G.pt")` (or `torch.jit.trace`) stores TorchScript code and weights.
torch.jit.load runs no Python from the file and unpickles only TorchScript objects, but the program's
TorchScript code does run inside ganlint when G is called, and torch.jit.load has no weights-only mode:
`--trust-checkpoint` changes nothing for it. Treat a TorchScript file like code from its author.
The latent size comes from a scripted module's attribute (z_dim, nz, latent_dim) when it kept one, else
from its first layer, else the caller must pass z_dim (a traced module keeps no attributes).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from ganlint.loaders.errors import CheckpointError, describe_exception
from ganlint.loaders.export import Program


def load_torchscript(path: Path, device: str) -> Program:
    """torch.jit.load `path` onto `device`, in eval mode."""
    try:
        with warnings.catch_warnings():
            # torch 2.15 deprecates TorchScript in favour of torch.export; loading users' existing files is
            # exactly what we want, so the FutureWarning is noise here.
            warnings.filterwarnings("ignore", message=r".*torch\.jit.* is deprecated", category=FutureWarning)
            module = torch.jit.load(str(path), map_location=device)
    except Exception as e:
        raise CheckpointError(f"cannot load the TorchScript program {str(path)!r}: {describe_exception(e)}") from None
    module.eval()
    return Program(module, notes=[f"{str(path)!r} is a TorchScript program: its code runs inside ganlint when called "
                                  "(torch.jit.load has no weights-only mode; --trust-checkpoint does not apply)"])
