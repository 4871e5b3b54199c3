"""ganlint's own run folders: G and D rebuilt from config.json and safetensors, no pickles, no user code.

The run's dataset and config go into `meta`, so a caller can default `--data` to the dataset the run was
trained on. ganlint's D returns raw scores; `meta["d_output"]` is what the run's telemetry recorded
(ganlint.vocabulary.D_OUTPUTS: `probability` = sigmoid of D's logit, `ls-score`, `critic`) and
`meta["d_raw_output"]` what `discriminate` returns (a D_RETURNS name: `logit`, `ls-score`, `critic`).
"""

from __future__ import annotations

from pathlib import Path

from ganlint.errors import GanlintError
from ganlint.loaders.checkpoint import LoadedCheckpoint
from ganlint.loaders.errors import CheckpointError
from ganlint.loaders.latent import LatentSpec
from ganlint.training.run import load_run
from ganlint.vocabulary import D_OUTPUTS, RECORDED_AS

# What ganlint's own D returns for each recorded kind: the first D_RETURNS name recorded that way (a
# probability was recorded from a logit: ganlint's D ends without a sigmoid).
RAW_OUTPUT = {recorded: next(raw for raw, rec in RECORDED_AS.items() if rec == recorded) for recorded in D_OUTPUTS}


def load_run_folder(src: Path, *, z_dim: int | None, z_dist: str | None, num_classes: int | None,
                    device: str) -> LoadedCheckpoint:
    try:
        run = load_run(src, device=device)
    except GanlintError as e:
        raise CheckpointError(str(e)) from None
    cfg = run.config
    d_output = run.meta.get("d_output", "probability")
    if d_output not in RAW_OUTPUT:
        raise CheckpointError(f"{str(src)!r}: config.json's d_output must be one of {', '.join(D_OUTPUTS)}, got {d_output!r}")
    meta = {
        "dataset": cfg.dataset,
        "config": cfg.to_dict(),
        "d_output": d_output,
        "d_raw_output": RAW_OUTPUT[d_output],
        "data_shape": list(run.meta.get("dataset", {}).get("shape", [])),
        "pack": cfg.pack,
        "summary": run.summary,
    }
    notes = [f"ganlint run folder: {cfg.model} G and D for {cfg.dataset} rebuilt from config.json "
             f"(loss {cfg.loss}, {run.summary.get('steps_completed', cfg.steps)} steps)"]
    if RAW_OUTPUT[d_output] != d_output:
        notes.append("D returns logits: sigmoid(D(x)) is the probability its telemetry reports")
    if cfg.pack > 1:
        notes.append(f"D is a PacGAN D: it judges {cfg.pack} samples at once")
    spec = LatentSpec(z_dim or cfg.z_dim, z_dist or "normal", num_classes)
    if z_dim is not None and z_dim != cfg.z_dim:
        notes.append(f"--z-dim {z_dim} overrides the run's z_dim {cfg.z_dim}")
    return LoadedCheckpoint(run.generator, run.discriminator, spec, "run-folder", src, meta, notes)
