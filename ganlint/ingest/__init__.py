"""Training logs from other tools, mapped onto ganlint's telemetry schema.

    df = to_telemetry(pd.read_csv("lightning_logs/version_0/metrics.csv"))
    df = to_telemetry(pd.read_csv("log.csv"), {"loss_d": "D_total", "loss_g": "G_total"})
    ganlint.diagnose(df)

`names` maps column names (guessed aliases, explicit mappings, Lightning's sparse rows merged per step);
`formats` reads the logs that are not plain tables (Hugging Face's trainer_state.json, TensorBoard event
files; the tensorboard package is imported only for those). ganlint.diagnostics.engine.load_telemetry
picks the reader by a file's name and content.
"""

from ganlint.ingest.formats import (
    TENSORBOARD_HINT,
    event_files,
    is_event_file,
    read_json_log,
    read_tensorboard,
)
from ganlint.ingest.names import ALIASES, check_mapping, needs_mapping, normalise, parse_mapping, to_telemetry

__all__ = [
    "ALIASES",
    "TENSORBOARD_HINT",
    "check_mapping",
    "event_files",
    "is_event_file",
    "needs_mapping",
    "normalise",
    "parse_mapping",
    "read_json_log",
    "read_tensorboard",
    "to_telemetry",
]
