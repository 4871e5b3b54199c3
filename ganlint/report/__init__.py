"""Reports a person reads at a glance: tables (CSV + parquet), PNG plots, report.html and report.md.

    from ganlint.report import render_run, render_suite, compare_suites, read_table
    render_run("runs/ring8")                  # RUN/report.html, report.md, plots/, findings table
    render_suite("reports/quick")             # the suite's report from its saved tables
    read_table("reports/quick", "results")    # a table with its schema's dtypes

Modules: tables (schemas, reading and writing), figures (matplotlib PNGs of telemetry and suites), plots
(the pictures of a run's samples), html and markdown (page building blocks), run_report and suite_report
(the pages), compare (two suites side by side), staging (atomic publishing: a failed render never
replaces a good report). A suite's scores (SuiteTables, suite_tables) are ganlint.suite.scoring's.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ganlint.report.tables import dtypes, read_table, write_table

# Imported on first use (PEP 562): the pages pull in torch and matplotlib, and ganlint.suite.scoring
# (whose SuiteTables and suite_tables are offered here as before) imports ganlint.report.tables, so
# importing it while this package initialises would be a cycle.
_LAZY = {"SuiteTables": "ganlint.suite.scoring", "suite_tables": "ganlint.suite.scoring",
         "render_run": "ganlint.report.run_report", "render_suite": "ganlint.report.suite_report",
         "compare_suites": "ganlint.report.compare"}

__all__ = ["SuiteTables", "compare_suites", "dtypes", "read_table", "render_run", "render_suite", "suite_tables",
           "write_table"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ganlint.report' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:
    from ganlint.report.compare import compare_suites
    from ganlint.report.run_report import render_run
    from ganlint.report.suite_report import render_suite
    from ganlint.suite.scoring import SuiteTables, suite_tables
