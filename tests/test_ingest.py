"""Foreign training logs mapped onto ganlint's telemetry schema (ganlint.ingest)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ganlint.errors import DataError
from ganlint.ingest import normalise, to_telemetry


@pytest.mark.parametrize("name,expected", [
    ("errD", ("loss_d", "")), ("Loss_G", ("loss_g", "")), ("D(x)", ("d_real", "")), ("D(G(z))", ("d_fake", "")),
    ("train/d_loss_step", ("loss_d", "step")), ("g_loss_epoch", ("loss_g", "epoch")), ("global_step", ("step", "")),
    ("grad_norm_d", ("grad_norm_d", "")), ("val_acc", ("", "")),
])
def test_names(name, expected):
    assert normalise(name) == expected


def test_lightning_metrics_csv_rows_are_merged_per_step():
    # Lightning writes one sparse row per logging call, plus per-epoch aggregates.
    raw = pd.DataFrame([
        {"epoch": 0, "step": 49, "train/d_loss_step": 1.30, "train/g_loss_step": np.nan, "d_loss_epoch": np.nan},
        {"epoch": 0, "step": 49, "train/d_loss_step": np.nan, "train/g_loss_step": 0.80, "d_loss_epoch": np.nan},
        {"epoch": 0, "step": 99, "train/d_loss_step": 1.20, "train/g_loss_step": 0.90, "d_loss_epoch": np.nan},
        {"epoch": 0, "step": 99, "train/d_loss_step": np.nan, "train/g_loss_step": np.nan, "d_loss_epoch": 1.25},
    ])
    df = to_telemetry(raw)
    assert list(df.columns) == ["step", "loss_d", "loss_g"]
    assert df["step"].tolist() == [49, 99]
    assert df["loss_d"].tolist() == [1.30, 1.20] and df["loss_g"].tolist() == [0.80, 0.90]


def test_dcgan_tutorial_log():
    raw = pd.DataFrame({"iters": [1, 2], "errD": [1.4, 1.3], "errG": [0.7, 0.8], "D(x)": [0.5, 0.6], "D(G(z))": [0.5, 0.4]})
    raw = raw.rename(columns={"iters": "iteration"})
    df = to_telemetry(raw)
    assert set(df.columns) == {"step", "loss_d", "loss_g", "d_real", "d_fake"}


def test_no_step_or_no_signal_is_a_clear_error():
    with pytest.raises(DataError, match="no step column"):
        to_telemetry(pd.DataFrame({"loss_d": [1.0]}))
    with pytest.raises(DataError, match="none of the signals"):
        to_telemetry(pd.DataFrame({"step": [1], "val_acc": [0.3]}))
