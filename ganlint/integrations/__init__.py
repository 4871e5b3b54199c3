"""Adapters between ganlint and the tools GAN users already run, each an optional extra.

    ganlint.integrations.lightning      GanlintCallback for PyTorch Lightning (pip install "ganlint[lightning]")
    ganlint.integrations.sinks          Loggers: telemetry, labels, findings and pictures written to TensorBoard,
                                        W&B and MLflow (`--log-to`, Monitor(loggers=...), the Lightning callback)
    ganlint.integrations.pytest_plugin  the ganlint_check fixture and the --ganlint-* options

Nothing is imported here: `import ganlint` never imports a framework; each adapter imports its own
framework when it is imported itself (the sinks: each logger's library inside the sink that uses it).
"""
