"""`ganlint run`: the scenario suite.

    scenarios.py   the scenario files (scenarios/*.toml): reading, validating, selecting
    runner.py      training each scenario's seeds, diagnosing them, resuming a suite folder
"""
