"""The telemetry schema: the column names, one row per generator step (their meanings are in the table of
ganlint.training.telemetry, which records them on the device), and the names of a run folder's files that
readers look for (ganlint.training.run writes the folder).

Light on purpose (no torch, no pandas): ingest maps foreign logs onto these names, the engine and the gate
read them, and `ganlint diagnose` of a CSV must not load torch (tests/test_architecture.py).
"""

from __future__ import annotations

STEP_COLUMNS = (
    "loss_d",
    "loss_g",
    "d_real",
    "d_fake",
    "grad_norm_g",
    "grad_norm_d",
    "update_ratio_g",
    "update_ratio_d",
    "fake_mean",
    "fake_std",
    "real_mean",
    "real_std",
)
EVAL_COLUMNS = (
    "distance",
    "diversity",
    "modes_covered",
    "high_quality",
    "mode_kl",
    "precision",
    "recall",
    "density",
    "coverage",
    "category_coverage",
)
COLUMNS = ("step", *STEP_COLUMNS, "time_s", *EVAL_COLUMNS)
# A run stops when any of these is NaN or infinite (the others follow from them).
FINITE_COLUMNS = ("loss_d", "loss_g", "grad_norm_g", "grad_norm_d")

# The `distance` column measured in a classifier's features (MNIST: the Frechet distance of the shipped
# classifier's features; config.json's dataset.distance_kind), where the checks judge realism differently.
CLASSIFIER_KIND = "classifier_frechet"

# A run folder's files that the readers (ingest, check --history, the Monitor's saved folder) look for.
CONFIG_FILE = "config.json"
SUMMARY_FILE = "summary.json"
TELEMETRY_PARQUET = "telemetry.parquet"
TELEMETRY_CSV = "telemetry.csv"
