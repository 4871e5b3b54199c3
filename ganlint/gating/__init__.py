"""CI gating: which diagnoses fail a job (--fail-on), how a diagnosis is rendered for CI (JSON, JUnit,
GitHub annotations and step summary), and the [tool.ganlint] settings in a project's pyproject.toml.

Pure building blocks for `ganlint diagnose`, `ganlint check` and the pytest plugin: they return values and
strings; the CLI prints them and exits with `policy.exit_code(d)` (0 passes, 1 fails, 3 inconclusive).
"""

from ganlint.gating.formats import (
    FORMATS,
    append_step_summary,
    github_step_summary,
    to_github,
    to_json,
    to_junit,
    versions,
)
from ganlint.gating.policy import (
    DEFAULT_POLICY,
    EXIT_FAILED,
    EXIT_INCONCLUSIVE,
    EXIT_PASSED,
    FailPolicy,
    parse_fail_on,
)
from ganlint.gating.settings import find_pyproject, load_settings, merge, thresholds_from, validate_settings

__all__ = [
    "DEFAULT_POLICY",
    "EXIT_FAILED",
    "EXIT_INCONCLUSIVE",
    "EXIT_PASSED",
    "FORMATS",
    "FailPolicy",
    "append_step_summary",
    "find_pyproject",
    "github_step_summary",
    "load_settings",
    "merge",
    "parse_fail_on",
    "thresholds_from",
    "to_github",
    "to_json",
    "to_junit",
    "validate_settings",
    "versions",
]
