"""One real short training per label on CPU: the cheapest shipped scenario for each, seed 0."""

from __future__ import annotations

import pytest

import ganlint
from ganlint.suite.scenarios import load_scenarios

# The cheapest quick scenario for each label (a few seconds each on a 2-core CPU).
PER_LABEL = {
    "vanishing-gradient": "overpowered_discriminator",
    "stalled": "low_learning_rate",
    "oscillating": "high_learning_rate",
    "diverged": "exploding_critic",
    "collapsed": "collapsed_reviews",
    "stable": "stable_gaussian1d",
}


@pytest.mark.slow
@pytest.mark.parametrize("label", sorted(PER_LABEL))
def test_scenario_trains_to_its_label(label, tmp_path):
    by_name = {s.name: s for s in load_scenarios(None, suite="quick")}
    sc = by_name[PER_LABEL[label]]
    assert sc.expect == label  # the scenario file, not this test, states the truth
    run = ganlint.train({**sc.train, "seed": 0, "device": "cpu", "out": str(tmp_path / sc.name)})
    d = ganlint.diagnose(run.out_dir)
    assert d.label == label, f"{sc.name}: {d.summary}"
