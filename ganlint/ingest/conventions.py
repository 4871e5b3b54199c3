"""How a log was written: how D's outputs read, the D loss's reduction and the G loss, given or inferred.

    kind = infer_d_output(df)                 # how d_real/d_fake read: "probability" or "critic"
    red, why = infer_d_loss_reduction(df)     # "sum", "mean" or None, with its evidence
    g, why = infer_g_loss(df, bce_d=True)     # "nonsaturating", "saturating" or None

The last two matter when losses are read against the BCE formulas: D's loss at equilibrium is 2 ln 2 summed
and ln 2 averaged (ganlint.vocabulary.BCE_EQUILIBRIUM), and a saturated D starves G of gradient only
under the saturating G loss. `resolve` picks each from the first source that knows it: the caller
(`--g-loss`, `--d-loss-reduction`, [tool.ganlint]), a run folder's config.json, the printed log format
(ganlint.ingest.stdout), then the values; else None (unknown). Pure functions of a telemetry table.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ganlint.vocabulary import NONSATURATING, SATURATING, g_loss

# "Nearly every row": a sign that holds on 95% of the logged rows (a few rows of noise around 0 or a
# first row logged before training may break it).
SIGN_SHARE = 0.95
# "Clearly nearer": the nearer reference's median gap is at most half the other's. The gaps are not 0
# even for the right reference: the logged D output is a batch mean, and the loss a mean of logs, which
# Jensen's inequality puts above -log(mean) (below log(1 - mean)); D(G(z)) may also be read before D's
# update and the loss after it (pytorch/examples dcgan).
CLEARLY_NEARER = 0.5
MIN_ROWS = 5
# ganlint's own losses (config.json's `loss`) whose D is BCE: ganlint.training.losses.bce_d_loss sums the terms.
GANLINT_BCE_LOSSES = ("minimax", "nonsaturating")


def infer_d_output(df: pd.DataFrame) -> str:
    """How a table's d_real/d_fake read when nothing says so: 'probability' when every finite value lies in
    [0, 1] (or there are none), else 'critic' (a score no sigmoid bounds)."""
    vals = pd.concat([df[c] for c in ("d_real", "d_fake") if c in df.columns]) if any(
        c in df.columns for c in ("d_real", "d_fake")) else pd.Series(dtype=float)
    v = vals.to_numpy(dtype=np.float64)
    v = v[np.isfinite(v)]
    return "probability" if len(v) == 0 or ((v >= 0) & (v <= 1)).all() else "critic"


def _rows(df: pd.DataFrame, cols: tuple[str, ...]) -> pd.DataFrame:
    if not all(c in df.columns for c in cols):
        return pd.DataFrame({c: pd.Series(dtype=np.float64) for c in cols})
    sub = df[list(cols)].astype(np.float64)
    return sub[np.isfinite(sub.to_numpy()).all(axis=1)]


def _probabilities(rows: pd.DataFrame, cols: tuple[str, ...]) -> pd.DataFrame:
    inside = np.ones(len(rows), dtype=bool)
    for c in cols:
        inside &= (rows[c] > 0).to_numpy() & (rows[c] < 1).to_numpy()
    return rows[inside]


def bce_like(df: pd.DataFrame, d_output: str = "probability") -> bool:
    """Whether loss_d can be a BCE D's loss: probability outputs, and never negative (-log p >= 0).
    A critic's loss (WGAN, WGAN-GP) takes either sign."""
    v = _rows(df, ("loss_d",))
    return d_output == "probability" and len(v) > 0 and bool((v["loss_d"] >= 0).all())


def infer_d_loss_reduction(df: pd.DataFrame, d_output: str = "probability") -> tuple[str | None, str]:
    """'sum' or 'mean' from the values, with the evidence; (None, why) when they do not say.

    With D(x) and D(G(z)) logged as probabilities, loss_d is compared with the BCE of those means,
    -log D(x) - log(1 - D(G(z))), summed and halved: the nearer, when clearly nearer, is the reduction.
    """
    if d_output != "probability":
        return None, f"D's outputs read as {d_output}: not a BCE D"
    rows = _probabilities(_rows(df, ("loss_d", "d_real", "d_fake")), ("d_real", "d_fake"))
    if len(rows) < MIN_ROWS:
        return None, "loss_d, D(x) and D(G(z)) are not logged together"
    ref = -np.log(rows["d_real"]) - np.log1p(-rows["d_fake"])
    gap_sum = float(np.median(np.abs(rows["loss_d"] - ref)))
    gap_mean = float(np.median(np.abs(rows["loss_d"] - ref / 2)))
    detail = (f"loss_d's median gap to -log D(x) - log(1 - D(G(z))) is {gap_sum:.3g} summed, "
              f"{gap_mean:.3g} halved")
    if gap_sum <= CLEARLY_NEARER * gap_mean:
        return "sum", detail
    if gap_mean <= CLEARLY_NEARER * gap_sum:
        return "mean", detail
    return None, detail + " (neither clearly nearer)"


def infer_g_loss(df: pd.DataFrame, d_output: str = "probability", bce_d: bool = False) -> tuple[str | None, str]:
    """The G loss a log was trained with, from its values, with the evidence; (None, why) when unsure.

    With D(G(z)) logged (a probability): loss_g is compared with -log D(G(z)) (non-saturating) and
    log(1 - D(G(z))) (saturating) of the logged mean; the nearer, when clearly nearer (Jensen's gap
    keeps neither exact), and of the sign its loss must have on nearly every row, is the G loss.
    With losses only: a BCE loss is never negative, so loss_g < 0 on nearly every row is the saturating
    loss written as log(1 - D(G(z))) or -BCE(D(G(z)), fake); loss_g > 0 on nearly every row is the
    non-saturating loss only when D is known to be a BCE D (`bce_d`: the format or the reduction says
    so), since a least-squares or critic G loss can be positive too. Else unknown.
    """
    if d_output != "probability":
        return None, f"D's outputs read as {d_output}: the BCE G losses do not apply"
    with_fake = _rows(df, ("loss_g", "d_fake"))
    if len(with_fake):
        rows = _probabilities(with_fake, ("d_fake",))
        if len(rows) < MIN_ROWS:
            return None, "too few rows with loss_g and D(G(z)) strictly between 0 and 1"
        g, f = rows["loss_g"].to_numpy(), rows["d_fake"].to_numpy()
        gap_ns = float(np.median(np.abs(g + np.log(f))))
        gap_sat = float(np.median(np.abs(g - np.log1p(-f))))
        detail = (f"loss_g's median gap to -log D(G(z)) is {gap_ns:.3g}, to log(1 - D(G(z))) {gap_sat:.3g}")
        if gap_ns <= CLEARLY_NEARER * gap_sat and (g >= 0).mean() >= SIGN_SHARE:
            return NONSATURATING, detail
        if gap_sat <= CLEARLY_NEARER * gap_ns and (g <= 0).mean() >= SIGN_SHARE:
            return SATURATING, detail
        return None, detail + " (neither clearly nearer with the sign its loss must have)"
    rows = _rows(df, ("loss_g",))
    if len(rows) < MIN_ROWS:
        return None, "loss_g is not logged"
    if not bce_like(df, d_output):
        return None, "loss_d is missing or takes negative values: not a BCE D, so loss_g's sign says nothing"
    g = rows["loss_g"].to_numpy()
    neg, pos = float((g < 0).mean()), float((g > 0).mean())
    if neg >= SIGN_SHARE:
        return SATURATING, (f"loss_g < 0 on {neg:.0%} of rows: a BCE G loss is never negative, so this is "
                            f"log(1 - D(G(z))), the saturating loss")
    if pos >= SIGN_SHARE and bce_d:
        return NONSATURATING, (f"loss_g > 0 on {pos:.0%} of rows with a BCE D: -log D(G(z)), the non-saturating "
                               f"loss")
    return None, f"loss_g's sign is mixed or D's loss is not known to be BCE (> 0 on {pos:.0%} of rows)"


def resolve(df: pd.DataFrame, d_output: str, *, g_loss_given: str | None = None,
            d_loss_reduction_given: str | None = None, meta: Mapping | None = None
            ) -> tuple[str | None, str, str | None, str]:
    """(G loss, where it came from, D loss reduction, where it came from), each None when unknown.

    meta: a run folder's config.json (its config.loss, or a Monitor's g_loss), and for a printed log meta["log"] from
    ganlint.ingest.stdout (its format's reduction).
    """
    meta = meta or {}
    config = meta.get("config") or {}
    fmt = meta.get("log") or {}
    bce = bce_like(df, d_output)
    if d_loss_reduction_given:
        red, red_why = d_loss_reduction_given, "given"
    elif fmt.get("d_loss_reduction") and bce:
        red, red_why = fmt["d_loss_reduction"], f"the {fmt['format']} line format: {fmt['reduction_reason']}"
    elif fmt.get("d_loss_reduction"):
        red, red_why = None, f"the {fmt['format']} line format, but loss_d takes negative values: not a BCE D"
    elif config.get("loss") in GANLINT_BCE_LOSSES:
        red, red_why = "sum", f"config.json: ganlint's {config['loss']} loss sums D's two BCE terms"
    else:
        red, red_why = infer_d_loss_reduction(df, d_output)
        red_why = f"inferred: {red_why}" if red else f"unknown: {red_why}"
    if g_loss_given:
        g, g_why = g_loss(g_loss_given), "given"
    elif config.get("loss") and g_loss(config["loss"]):
        g, g_why = g_loss(config["loss"]), f"config.json: loss {config['loss']}"
    elif meta.get("g_loss") and g_loss(meta["g_loss"]):  # a Monitor's folder: Monitor(g_loss=...)
        g, g_why = g_loss(meta["g_loss"]), f"config.json: g_loss {meta['g_loss']} (given to the Monitor)"
    else:
        g, why = infer_g_loss(df, d_output, bce_d=bce and red is not None)
        g_why = f"inferred: {why}" if g else f"unknown: {why}"
    return g, g_why, red, red_why
