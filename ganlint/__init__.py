"""ganlint: health checks and a test suite for GAN training.

    import ganlint
    run = ganlint.train(dataset="ring8", steps=300, out="runs/ring8")
    print(run.telemetry.tail())

The package is laid out by what a user does with it, one folder per verb of the command line:

    training/      ganlint train: the loop, the step, the run folder, telemetry, the Monitor
    diagnostics/   ganlint diagnose: the engine, its checks, findings and remedies
    ingest/        every reader of logs and telemetry (ganlint's own, CSV, JSONL, TensorBoard, stdout)
    check/         ganlint check: one checkpoint or a history of them
    loaders/       how check builds a user's G and D (state dicts, TorchScript, factories)
    suite/         ganlint run: scenarios, the runner, scoring
    report/        ganlint report / compare: tables, figures, HTML
    perf/          ganlint bench: step timing and the hardware floors
    gating/        exit codes, policies, [tool.ganlint], JSON / JUnit / GitHub output
    integrations/  Lightning and the pytest plugin
    cli/           the command line (parser, commands, text renderers)
    metrics/, nets/, data/   sample metrics, ganlint's models, its datasets

The names below are imported on first use (PEP 562), so `import ganlint`, `ganlint --help` and the
pytest plugin do not pay for torch and pandas until something needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ganlint import lazy
from ganlint import logs as _logs  # noqa: F401 - the "ganlint" logger's stderr of last resort (see ganlint/logs.py)

__version__ = "0.1.0"

# The public API: name -> module that defines it. One table, read by __getattr__ and __dir__, pinned by
# tests/test_architecture.py.
_PUBLIC = {
    "Diagnosis": "ganlint.diagnostics",
    "Finding": "ganlint.diagnostics",
    "diagnose": "ganlint.diagnostics",
    "Monitor": "ganlint.training.monitor",
    "Run": "ganlint.training.run",
    "load_run": "ganlint.training.run",
    "TrainConfig": "ganlint.training.config",
    "TrainingInterrupted": "ganlint.training.loop",
    "resume": "ganlint.training.loop",
    "train": "ganlint.training.loop",
}

__all__ = ["Diagnosis", "Finding", "Monitor", "Run", "TrainConfig", "TrainingInterrupted", "__version__", "diagnose",
           "load_run", "resume", "train"]  # == sorted(_PUBLIC) + __version__ (tests/test_architecture.py)


__getattr__, __dir__ = lazy.attach(__name__, _PUBLIC)


if TYPE_CHECKING:  # what type checkers and IDEs see
    from ganlint.diagnostics import Diagnosis, Finding, diagnose
    from ganlint.training.config import TrainConfig
    from ganlint.training.loop import TrainingInterrupted, resume, train
    from ganlint.training.monitor import Monitor
    from ganlint.training.run import Run, load_run
