"""Adapters from training frameworks to ganlint.Monitor, each an optional extra.

    ganlint.integrations.lightning   GanlintCallback for PyTorch Lightning (pip install "ganlint[lightning]")

Nothing is imported here: `import ganlint` never imports a framework; each adapter imports its own
framework when it is imported itself.
"""
