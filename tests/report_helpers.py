"""Hand-made suite results and tiny scenario files for the report tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd


def result_row(scenario: str, seed: int, expected: str, label: str, **extra: Any) -> dict[str, Any]:
    """One complete result row, as the suite runner writes it."""
    row = {
        "scenario": scenario, "seed": seed, "dataset": "ring8", "loss": "nonsaturating", "expected": expected,
        "label": label, "confidence": 0.8, "onset_step": None if label == "stable" else 100, "correct": label == expected,
        "final_distance": 0.1 + seed, "modes_covered": 8.0, "final_coverage": 0.9, "final_diversity": 1.0,
        "final_d_real": 0.55, "final_d_fake": 0.45, "steps": 500, "steps_per_s": 50.0, "wall_s": 10.0,
        "device": "cpu", "run_dir": f"runs/{scenario}--seed{seed}",
    }
    row.update(extra)
    return row


def rows(spec: list[tuple[str, str, list[str]]]) -> pd.DataFrame:
    """spec: (scenario, expected, [label of seed 0, seed 1, ...])."""
    return pd.DataFrame([result_row(sc, seed, exp, lab) for sc, exp, labels in spec for seed, lab in enumerate(labels)])


# Tiny scenarios, one per dataset kind, each trains in about a second on one CPU thread. Their `expect`
# is not a claim about the engine: these tests check the reports, not the labels.
TINY_TRAIN = 'steps = 40\nbatch_size = 32\neval_every = 20\neval_samples = 200\npictures = 3\nflush_every = 8\n'
TINY_SCENARIOS = {
    "tiny_gauss": ("stable", 'dataset = "gaussian1d"\n' + TINY_TRAIN),
    "tiny_ring": ("collapsed", 'dataset = "ring8"\ng_width = 32\nd_width = 32\n' + TINY_TRAIN),
    "tiny_reviews": ("stable", 'dataset = "reviews"\n' + TINY_TRAIN),
    "tiny_mnist": ("collapsed", 'dataset = "mnist"\ng_width = 64\nd_width = 64\n' + TINY_TRAIN),
}


def write_scenarios(folder: Path, names: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        expect, train = TINY_SCENARIOS[name]
        (folder / f"{name}.toml").write_text(
            f'name = "{name}"\nexpect = "{expect}"\nsuites = ["quick"]\nwhy = "a tiny run for the report tests"\n'
            f"[train]\n{train}")
    return folder
