"""Training logs from other tools, mapped onto ganlint's telemetry schema.

    df = to_telemetry(pd.read_csv("lightning_logs/version_0/metrics.csv"))
    df = to_telemetry(pd.read_csv("log.csv"), {"loss_d": "D_total", "loss_g": "G_total"})
    ganlint.diagnose(df)

`names` maps column names (guessed aliases, explicit mappings, Lightning's sparse rows merged per step);
`formats` reads the logs that are not plain tables (Hugging Face's trainer_state.json, TensorBoard event
files; the tensorboard package is imported only for those); `stdout` reads the printed lines of the
usual GAN scripts (or a --regex); `conventions` infers how a log's losses were written (the D loss's
reduction, the G loss); `telemetry` (load_telemetry) picks the reader by a file's name and
content.
"""

from ganlint.ingest.formats import (
    TENSORBOARD_HINT,
    event_files,
    is_event_file,
    read_json_log,
    read_tensorboard,
)
from ganlint.ingest.names import ALIASES, check_mapping, needs_mapping, normalise, parse_mapping, to_telemetry
from ganlint.ingest.stdout import TEXT_LOG_SUFFIXES, parse_stdout, sniff_text

__all__ = [
    "ALIASES",
    "TENSORBOARD_HINT",
    "TEXT_LOG_SUFFIXES",
    "check_mapping",
    "event_files",
    "is_event_file",
    "needs_mapping",
    "normalise",
    "parse_mapping",
    "parse_stdout",
    "read_json_log",
    "read_tensorboard",
    "sniff_text",
    "to_telemetry",
]
