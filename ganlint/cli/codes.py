"""The exit codes of the `ganlint` command (see ganlint/cli/__init__.py; a gated diagnosis's 0, 1 and 3 are
ganlint.gating.policy's EXIT_PASSED, EXIT_FAILED and EXIT_INCONCLUSIVE)."""

EXIT_OK = 0
EXIT_FAILING = 1
EXIT_USAGE = 2
EXIT_NOTHING = 3
EXIT_INTERRUPTED = 130
