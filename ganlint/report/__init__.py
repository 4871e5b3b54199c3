"""Reports a person reads at a glance: tables (CSV + parquet), PNG plots, report.html and report.md.

    from ganlint.report import render_run, render_suite, compare_suites, read_table
    render_run("runs/ring8")                  # RUN/report.html, report.md, plots/, findings table
    render_suite("reports/quick")             # the suite's report from its saved tables
    read_table("reports/quick", "results")    # a table with its schema's dtypes

Modules: tables (schemas, suite aggregates), figures (matplotlib PNGs), html and markdown (page
building blocks), run_report and suite_report (the pages), compare (two suites side by side), staging
(atomic publishing: a failed render never replaces a good report).
"""

from ganlint.report.tables import SuiteTables, dtypes, read_table, suite_tables, write_table

__all__ = ["SuiteTables", "dtypes", "read_table", "suite_tables", "write_table"]
