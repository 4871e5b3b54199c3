"""`ganlint run`: the scenario suite.

    scenarios.py   the scenario files (scenarios/*.toml): reading, validating, selecting
    folder.py      a suite's folder: its layout, suite.json, the result files, read back safely
    scoring.py     the suite's verdicts from its results: majority label, confusion, precision and recall
    runner.py      training each scenario's seeds, diagnosing them, resuming a suite folder
    workers.py     the worker processes (spawned, dying with the runner)
    ray_executor.py  the runs as Ray tasks on a cluster (`--executor ray`; imports ray only then)

The runner calls the report (ganlint.report.suite_report); the report reads the folder and the scores,
never the runner.
"""
