"""Training logs from other tools, mapped onto ganlint's telemetry schema.

    df = to_telemetry(pd.read_csv("lightning_logs/version_0/metrics.csv"))
    ganlint.diagnose(df)

Accepted: any table with a step column and some of the signals under common names. Names are matched
case-insensitively after dropping punctuation and the usual prefixes and suffixes of loggers
(`train/`, `train_`, `_step`, `_epoch`), so `train/d_loss_step`, `lossD`, `errD` and `D_loss` all
become `loss_d`. Lightning's `metrics.csv` writes one row per logging call, each holding only the
metrics logged at that call; rows are merged per step (the first value of each column wins), and the
per-epoch aggregates (`*_epoch`) are dropped when per-step values exist, since the checks read steps.
"""

from __future__ import annotations

import re

import pandas as pd

from ganlint.errors import DataError
from ganlint.telemetry import COLUMNS

# Normalised name (lower case, letters and digits only) -> ganlint column. The DCGAN tutorial's names
# (errD, errG, D(x), D(G(z))) are here because most hand-written GAN loops descend from it.
ALIASES: dict[str, str] = {}
for column, names in {
    "step": ("step", "globalstep", "iteration", "iter", "it", "steps", "batch", "batches"),
    "loss_d": ("lossd", "dloss", "errd", "discriminatorloss", "lossdiscriminator", "discloss", "lossdisc", "criticloss",
               "losscritic"),
    "loss_g": ("lossg", "gloss", "errg", "generatorloss", "lossgenerator", "genloss", "lossgen"),
    "d_real": ("dreal", "dx", "realscore", "scorereal", "drealmean", "doutreal", "realprob", "preal"),
    "d_fake": ("dfake", "dgz", "dgz1", "fakescore", "scorefake", "dfakemean", "doutfake", "fakeprob", "pfake"),
    "grad_norm_g": ("gradnormg", "ggradnorm", "generatorgradnorm", "gradg"),
    "grad_norm_d": ("gradnormd", "dgradnorm", "discriminatorgradnorm", "gradd"),
}.items():
    for n in names:
        ALIASES[n] = column
for c in COLUMNS:
    ALIASES.setdefault(re.sub(r"[^a-z0-9]", "", c.lower()), c)

PREFIXES = ("train/", "train_", "training/", "trainer/", "metrics/", "loss/", "losses/")
EPOCH_SUFFIX = ("_epoch", "/epoch")
STEP_SUFFIX = ("_step", "/step")


def normalise(name: str) -> tuple[str, str]:
    """(the ganlint column a log column maps to, or '' when none; 'step'/'epoch'/'' for its suffix)."""
    n, kind = str(name).strip(), ""
    low = n.lower()
    for p in PREFIXES:
        if low.startswith(p):
            low = low[len(p):]
            break
    whole = re.sub(r"[^a-z0-9]", "", low)
    if whole in ALIASES:  # global_step is a name of its own, not "global" logged per step
        return ALIASES[whole], ""
    for suffixes, k in ((EPOCH_SUFFIX, "epoch"), (STEP_SUFFIX, "step")):
        for s in suffixes:
            if low.endswith(s) and low != s.strip("_/"):
                low, kind = low[: -len(s)], k
    key = re.sub(r"[^a-z0-9]", "", low)
    return ALIASES.get(key, ""), kind


def to_telemetry(df: pd.DataFrame) -> pd.DataFrame:
    """A table in ganlint's schema from a foreign log (see the module docstring); DataError when there is
    no step column or no signal at all. Unmapped columns are dropped."""
    mapping: dict[str, tuple[str, str]] = {c: normalise(c) for c in df.columns}
    if "step" in df.columns and mapping["step"][0] == "step":
        step_col = "step"
    else:
        step_col = next((c for c, (m, _) in mapping.items() if m == "step"), None)
    if step_col is None:
        if "epoch" in {str(c).lower() for c in df.columns}:
            step_col = next(c for c in df.columns if str(c).lower() == "epoch")
        else:
            raise DataError(f"the log has no step column (looked for step, global_step, iteration, epoch); "
                            f"columns: {', '.join(map(str, df.columns))}")
    chosen: dict[str, str] = {}
    for want_kind in ("", "step", "epoch"):  # plain and per-step names before per-epoch aggregates
        for c, (m, kind) in mapping.items():
            if m and m != "step" and kind == want_kind and m not in chosen:
                chosen[m] = c
    if not chosen:
        raise DataError(f"the log has none of the signals ganlint reads (losses of D and G, D's outputs, gradient "
                        f"norms, evaluation metrics); columns: {', '.join(map(str, df.columns))}")
    out = pd.DataFrame({"step": pd.to_numeric(df[step_col], errors="coerce")})
    for m, c in chosen.items():
        out[m] = pd.to_numeric(df[c], errors="coerce")
    out = out.dropna(subset=["step"])
    # One row per step: Lightning writes each logging call as its own sparse row.
    out = out.groupby("step", sort=True).first().reset_index()
    out["step"] = out["step"].astype("int64")
    return out[["step", *[c for c in COLUMNS if c in out.columns and c != "step"]]]
