"""Column names of foreign training logs mapped onto ganlint's telemetry schema.

    df = to_telemetry(pd.read_csv("lightning_logs/version_0/metrics.csv"))
    df = to_telemetry(pd.read_csv("log.csv"), {"loss_d": "D_total", "loss_g": "G_total"})

Names are matched case-insensitively after dropping punctuation and the usual prefixes and suffixes of
loggers (`train/`, `train_`, `_step`, `_epoch`), so `train/d_loss_step`, `lossD`, `errD`, `Loss/D` and
`D_loss` all become `loss_d`. Lightning's `metrics.csv` writes one row per logging call, each holding
only the metrics logged at that call; rows are merged per step (the first value of each column wins),
and the per-epoch aggregates (`*_epoch`) are dropped when per-step values exist, since the checks read
steps.

An explicit mapping {ganlint column: log column} (`--map loss_d=D_total`, or `map` in [tool.ganlint])
is applied first and wins over the guessed names; a log column it names must exist.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping

import pandas as pd

from ganlint.errors import ConfigError, DataError
from ganlint.schema import COLUMNS

# Normalised name (lower case, letters and digits only) -> ganlint column. The DCGAN tutorial's names
# (errD, errG, D(x), D(G(z))) are here because most hand-written GAN loops descend from it.
ALIASES: dict[str, str] = {}
for column, names in {
    "step": ("step", "globalstep", "iteration", "iter", "it", "steps", "batch", "batches", "batchesdone"),
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
# These prefixes name the quantity: TensorBoard's "Loss/D" is D's loss, not "D".
QUANTITY_PREFIXES = ("loss/", "losses/")
EPOCH_SUFFIX = ("_epoch", "/epoch")
STEP_SUFFIX = ("_step", "/step")
NAN_TEXT = ("nan", "inf", "-inf", "+inf", "", "none", "null")


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


# Weights & Biases' chart export ("Export panel data" as CSV) names each column "<run> - <metric>" and adds
# "<run> - <metric>__MIN" and "__MAX" for the band around a smoothed line; the bands are not the metric.
WANDB_RUN_SEPARATOR = " - "
WANDB_BANDS = ("__min", "__max")


def normalise(name: str) -> tuple[str, str]:
    """(the ganlint column a log column maps to, or '' when none; 'step'/'epoch'/'' for its suffix)."""
    low, kind, quantity = str(name).strip().lower(), "", False
    if _key(low) in ALIASES:  # the whole name first: "Loss/D", and global_step is not "global" per step
        return ALIASES[_key(low)], ""
    if low.endswith(WANDB_BANDS):
        return "", ""
    if WANDB_RUN_SEPARATOR in low:
        low = low.split(WANDB_RUN_SEPARATOR, 1)[1].strip()
        if _key(low) in ALIASES:
            return ALIASES[_key(low)], ""
    for p in PREFIXES:
        if low.startswith(p):
            low, quantity = low[len(p):], p in QUANTITY_PREFIXES
            break
    if _key(low) in ALIASES:
        return ALIASES[_key(low)], ""
    for suffixes, k in ((EPOCH_SUFFIX, "epoch"), (STEP_SUFFIX, "step")):
        for s in suffixes:
            if low.endswith(s) and low != s.strip("_/"):
                low, kind = low[: -len(s)], k
    key = _key(low)
    return ALIASES.get(key) or (ALIASES.get("loss" + key, "") if quantity else ""), kind


def parse_mapping(specs: Iterable[str], flag: str = "--map") -> dict[str, str]:
    """{ganlint column: log column} from 'loss_d=D_loss,loss_g=G_loss' strings (one per --map given).

    Raises:
        ConfigError: a part that is not COLUMN=NAME, a column mapped twice, or not a ganlint column.
    """
    out: dict[str, str] = {}
    for spec in specs:
        for part in str(spec).split(","):
            if not part.strip():
                continue  # "a=b," or an empty --map ""
            key, sep, value = (s.strip() for s in part.partition("="))
            if not sep or not key or not value:
                raise ConfigError(f"{flag} takes GANLINT_COLUMN=LOG_COLUMN pairs separated by commas "
                                  f"(e.g. {flag} loss_d=D_loss,loss_g=G_loss), got {part.strip()!r}")
            if out.get(key, value) != value:
                raise ConfigError(f"{flag} maps {key} twice: to {out[key]!r} and to {value!r}")
            out[key] = value
    check_mapping(out, where=flag)
    return out


def check_mapping(mapping: Mapping[str, object], where: str = "the column mapping") -> None:
    """Raise ConfigError unless every key is a ganlint telemetry column and every value a non-empty string."""
    for key, value in mapping.items():
        if key not in COLUMNS:
            guess = normalise(key)[0] or next(iter(difflib.get_close_matches(key, COLUMNS, n=1, cutoff=0.6)), "")
            hint = f" (did you mean {guess!r}? keys are ganlint columns, values your log's)" if guess else ""
            raise ConfigError(f"{where}: {key!r} is not a ganlint telemetry column{hint}; "
                              f"valid columns: {', '.join(COLUMNS)}")
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where}: {key} must name a column of the log (a non-empty string), got {value!r}")


def needs_mapping(df: pd.DataFrame) -> bool:
    """Whether a table must go through to_telemetry rather than be read as ganlint telemetry as it is.

    True when it has no `step` column, repeats a step (sparse rows, as Lightning writes), or has a column
    whose name maps onto a ganlint column it does not already hold (`D_loss` beside no `loss_d`). A table
    in ganlint's own schema, extra columns or not, is left exactly as it is.
    """
    cols = [str(c) for c in df.columns]
    if "step" not in cols:
        return True
    if df["step"].dropna().duplicated().any():
        return True
    present = set(cols)
    return any(m not in present and m != "step" for c in cols if c not in COLUMNS and (m := normalise(c)[0]))


def _column_list(columns: list[str], limit: int = 40) -> str:
    more = f", ... ({len(columns) - limit} more)" if len(columns) > limit else ""
    return ", ".join(columns[:limit]) + more or "none"


def _numeric(values: pd.Series, column: str, target: str, name: str) -> pd.Series:
    conv = pd.to_numeric(values, errors="coerce")
    bad = conv.isna() & values.notna() & ~values.astype(str).str.strip().str.lower().isin(NAN_TEXT)
    if bad.any():
        raise DataError(f"{name}: column {column!r} (read as {target}) is not numeric "
                        f"(e.g. {values[bad].iloc[0]!r})")
    return conv.astype("float64")


def to_telemetry(df: pd.DataFrame, mapping: Mapping[str, str] | None = None, *, name: str = "the log") -> pd.DataFrame:
    """A table in ganlint's schema from a foreign log (see the module docstring).

    Args:
        df: the log, with its own column names.
        mapping: {ganlint column: log column}, applied before the guessed names and winning over them.
        name: how messages call the log (e.g. "the log 'metrics.csv'").

    Raises:
        ConfigError: a mapping key that is not a ganlint column.
        DataError: a mapped column the log does not have (the message lists those it has), no step column,
            no signal at all, or a mapped column that is not numeric. Unmapped columns are dropped.
    """
    columns = [str(c) for c in df.columns]
    df = df.set_axis(columns, axis=1)
    explicit = dict(mapping or {})
    check_mapping(explicit)
    for target, col in explicit.items():
        if col not in df.columns:
            close = [c for c in columns if c.lower() == col.lower()] or difflib.get_close_matches(col, columns, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise DataError(f"{name} has no column {col!r} (mapped to {target}){hint}; "
                            f"its columns: {_column_list(columns)}")
    used = set(explicit.values())
    guessed = {c: normalise(c) for c in columns if c not in used}
    step_col = explicit.get("step")
    if step_col is None:
        # Several step-like columns (PyTorch-GAN's CSV: `batch` restarts every epoch, `batches_done` counts
        # on): the one with the most distinct values is the run's step; a per-epoch counter would merge
        # every epoch's rows into the first epoch's steps.
        candidates = [c for c, (m, _) in guessed.items() if m == "step"]
        step_col = "step" if "step" in candidates else max(
            candidates, key=lambda c: df[c].nunique(), default=None)
    if step_col is None:
        step_col = next((c for c in columns if c.lower() == "epoch" and c not in used), None)
        if step_col is None:
            raise DataError(f"{name} has no step column (looked for step, global_step, iteration, epoch; name yours "
                            f"with step=COLUMN in the mapping); columns: {_column_list(columns)}")
    chosen = {t: c for t, c in explicit.items() if t != "step"}
    for c in columns:  # ganlint's own names, then plain and per-step names before per-epoch aggregates
        if c in COLUMNS and c != "step" and c not in used and c not in chosen:
            chosen[c] = c
    for want_kind in ("", "step", "epoch"):
        for c, (m, kind) in guessed.items():
            if m and m != "step" and kind == want_kind and m not in chosen and c != step_col:
                chosen[m] = c
    if not chosen:
        raise DataError(f"{name} has none of the signals ganlint reads (losses of D and G, D's outputs, gradient "
                        f"norms, evaluation metrics); name them with a mapping such as loss_d=COLUMN; "
                        f"columns: {_column_list(columns)}")
    out = pd.DataFrame({"step": _numeric(df[step_col], step_col, "step", name)})
    for target, c in chosen.items():
        out[target] = _numeric(df[c], c, target, name)
    out = out.dropna(subset=["step"])
    if out.empty:
        raise DataError(f"{name} is empty: no row has a step number (column {step_col!r})")
    # One row per step: Lightning writes each logging call as its own sparse row.
    out = out.groupby("step", sort=True).first().reset_index()
    out["step"] = out["step"].astype("int64")
    return out[["step", *[c for c in COLUMNS if c in out.columns and c != "step"]]]
