"""ganlint: health checks and a test suite for GAN training.

    import ganlint
    run = ganlint.train(dataset="ring8", steps=300, out="runs/ring8")
    print(run.telemetry.tail())
"""

__version__ = "0.1.0"

from ganlint.config import TrainConfig
from ganlint.diagnostics import Diagnosis, Finding, diagnose
from ganlint.monitor import Monitor
from ganlint.run import Run, load_run
from ganlint.trainer import TrainingInterrupted, resume, train

__all__ = ["Diagnosis", "Finding", "Monitor", "Run", "TrainConfig", "TrainingInterrupted", "__version__", "diagnose",
           "load_run", "resume", "train"]
