"""Load a user's GAN checkpoint safely: G, D and the latent spec, for `ganlint check CHECKPOINT`.

Sources, told apart by their contents (never their file names):

1. A ganlint run folder (config.json + safetensors): rebuilt without user code; meta carries the dataset
   and config::

       ck = load_checkpoint("runs/ring8")            # ck.meta["dataset"] == "ring8"

2. A weights file, `.pt`/`.pth` (torch.save) or `.safetensors`: a bare state_dict (G's), a dict of them
   (`generator`/`G`/`netG`/`g_ema`..., `discriminator`/`D`/`netD`/`critic`...), or one flat dict with
   `generator.`/`discriminator.` prefixes, plus the code that builds the networks, as `module:callable`
   (importable from sys.path or the working folder) or `path/to/file.py:callable`::

       ck = load_checkpoint("ckpt.pth", generator="mypkg.models:Generator",
                            discriminator="mypkg.models:Discriminator", kwargs={"nz": 100})
       ck = load_checkpoint("gan.safetensors", generator="train.py:G", g_key="G_ema", z_dim=128)

   `module.` (DDP) and `_orig_mod.` (torch.compile) prefixes are stripped; weights that do not fit the
   factory's module are reported key by key (missing, unexpected, shape differences).

3. A program that needs no user code: a torch.export archive (`torch.export.save`, usually `.pt2`; the
   latent size comes from its input shape) or TorchScript (`torch.jit.save`; from a `z_dim`/`nz`/
   `latent_dim` attribute, else pass z_dim). Either holds one network; give D as a second file::

       ck = load_checkpoint("G.pt2", discriminator_path="D.pt2")
       ck = load_checkpoint("G_scripted.pt", z_dim=100)

Then `ck.sample(10_000, seed=0)` and `ck.discriminate(x)`; `ck.notes` says what was done or inferred.

Safety. torch files are read with `torch.load(weights_only=True)`; a file that needs more (pickled code
or objects) raises UnsafeCheckpointError naming the globals it asks for, and only `trust=True`
(`--trust-checkpoint`) loads it, running its pickle. An untrusted torch.export archive never reaches
torch.export.load: export_scan reads and checks its members itself (no pickles but weights-only ones,
guard code and sympy expressions to a strict grammar) and refuses what it cannot show safe. A
TorchScript file's code runs inside ganlint when G is called; torch.jit.load has no safe mode, so trust
does not change how it loads. Import strings only ever come from the caller.
"""

from ganlint.loaders.checkpoint import LoadedCheckpoint
from ganlint.loaders.detect import FORMATS, detect_format
from ganlint.loaders.errors import CheckpointError, UnsafeCheckpointError
from ganlint.loaders.factory import import_factory
from ganlint.loaders.latent import LatentSpec
from ganlint.loaders.load import load_checkpoint

__all__ = [
    "FORMATS",
    "CheckpointError",
    "LatentSpec",
    "LoadedCheckpoint",
    "UnsafeCheckpointError",
    "detect_format",
    "import_factory",
    "load_checkpoint",
]
