"""The vanishing gradient judged under the G loss actually trained (issue 14, items 2-3).

A dominant D starves G of gradient only under the saturating loss log(1 - D(G(z))) (its gradient in D's
logit is -D(G(z)) -> 0); under the non-saturating -log D(G(z)) G keeps its gradient. The logs are built
by tests/test_ingest_stdout.py's `simulate`: per-sample D outputs around a chosen course, every loss
computed from them through the BCE formulas, so which G loss a log holds, how D's loss is reduced and
whether D saturates is known by construction and stated in each test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_ingest_stdout import (
    _env,
    _one_line_error,
    healthy,
    pytorch_gan_lines,
    saturating_d,
    simulate,
    write,
)

from ganlint.cli import main
from ganlint.diagnostics import diagnose
from ganlint.errors import ConfigError
from ganlint.ingest.conventions import infer_d_loss_reduction, infer_g_loss
from ganlint.vocabulary import NONSATURATING, SATURATING

STEPS = 200


def table(sim: list[dict], g: str = "ns", reduction: str = "sum", outputs: bool = True) -> pd.DataFrame:
    """ganlint's schema from a simulation: loss_d the two BCE terms summed or averaged, loss_g the
    non-saturating ("ns") or saturating ("sat") loss on G's batch, D(x) and D(G(z)) (before D's update)
    unless `outputs` is False (a log of losses only)."""
    df = pd.DataFrame({"step": np.arange(1, len(sim) + 1),
                       "loss_d": [(r["real"] + r["fake"]) / (2 if reduction == "mean" else 1) for r in sim],
                       "loss_g": [r[g] for r in sim]})
    if outputs:
        df["d_real"] = [r["d_real"] for r in sim]
        df["d_fake"] = [r["d_fake1"] for r in sim]
    return df


def summary(d):
    return next(f for f in d.findings if f.check == "vanishing_gradient")


def conventions(d) -> str:
    return next(f.message for f in d.findings if f.check == "vanishing_gradient.conventions")


# -- inference ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sim", [healthy(STEPS), saturating_d(STEPS)], ids=["healthy", "saturated"])
def test_g_loss_inferred_from_d_fake(sim):
    assert infer_g_loss(table(sim, "ns"))[0] == NONSATURATING
    assert infer_g_loss(table(sim, "sat"))[0] == SATURATING


def test_g_loss_inferred_from_signs_of_a_loss_only_log():
    sim = healthy(STEPS)
    # log(1 - D(G(z))) is negative on every row: the saturating loss, whatever D's reduction
    assert infer_g_loss(table(sim, "sat", outputs=False))[0] == SATURATING
    # -log D(G(z)) is positive, but so is a least-squares G loss: only with a D known to be BCE
    assert infer_g_loss(table(sim, "ns", outputs=False), bce_d=True)[0] == NONSATURATING
    assert infer_g_loss(table(sim, "ns", outputs=False), bce_d=False)[0] is None
    # a critic's loss takes either sign: not a BCE D, the sign of loss_g says nothing
    critic = table(sim, "sat", outputs=False).assign(loss_d=lambda d: -d["loss_d"])
    assert infer_g_loss(critic)[0] is None


def test_d_loss_reduction_inferred_from_the_values():
    sim = healthy(STEPS)
    assert infer_d_loss_reduction(table(sim, reduction="sum"))[0] == "sum"
    assert infer_d_loss_reduction(table(sim, reduction="mean"))[0] == "mean"
    assert infer_d_loss_reduction(table(sim, outputs=False))[0] is None


def test_a_log_matching_neither_loss_is_unknown():
    """loss_g held at 0.7 while D(G(z)) -> 0.001: -log D(G(z)) would be ~7, log(1 - D(G(z))) ~0 but a
    saturating loss is never positive: neither."""
    df = table(saturating_d(STEPS)).assign(loss_g=0.7)
    assert infer_g_loss(df)[0] is None


# -- the verdict under each loss ------------------------------------------------------------------------------


def test_saturated_d_under_the_nonsaturating_loss_is_not_vanishing_gradient():
    """D(x) -> 0.999, D(G(z)) -> 0.001, no gradient norms; loss_g is -log D(G(z)) (inferred, then given)."""
    for kwargs in ({}, {"g_loss": "nonsaturating"}):
        d = diagnose(table(saturating_d(STEPS), "ns"), **kwargs)
        assert d.label != "vanishing-gradient", d.summary
        assert summary(d).status == "warn" and "G keeps its gradient" in summary(d).message
        assert "G loss nonsaturating" in conventions(d)


def test_saturated_d_under_the_saturating_loss_is_vanishing_gradient():
    for kwargs in ({}, {"g_loss": "minimax"}):  # inferred from log(1 - D(G(z))), or given by an alias
        d = diagnose(table(saturating_d(STEPS), "sat"), **kwargs)
        assert d.label == "vanishing-gradient", d.summary
        assert not any("non-saturating generator loss (-log" in r for r in d.remedies[:1])


def test_dominant_not_saturated_d_needs_a_known_saturating_loss():
    """D at 0.95 / 0.05: dominant, not saturated. Under a known saturating loss that starves G; with the
    loss unknown (loss_g matching neither) today's rule stands: only a saturated D is proof."""
    sim = simulate(STEPS, lambda t: 0.95, lambda t: 0.05)
    assert diagnose(table(sim, "sat"), g_loss="saturating").label == "vanishing-gradient"
    assert diagnose(table(sim).assign(loss_g=0.7)).label != "vanishing-gradient"
    assert diagnose(table(saturating_d(STEPS)).assign(loss_g=0.7)).label == "vanishing-gradient"


def test_a_measured_gradient_collapse_fails_under_any_loss_and_is_not_told_to_switch_to_it():
    df = table(saturating_d(STEPS), "ns")
    df["grad_norm_g"] = np.where(df["step"] > STEPS // 5, 1e-5, 0.5)
    d = diagnose(df)
    assert d.label == "vanishing-gradient"
    assert not any(r.startswith("use the non-saturating") for r in d.remedies)
    assert any("already trains with the non-saturating loss" in r for r in d.remedies)


# -- logs of losses only ---------------------------------------------------------------------------------------


def test_loss_only_saturation_under_each_loss():
    """D's loss per term -> ~0.001 (D saturated); the saturating loss -> 0 from below."""
    sim = saturating_d(STEPS)
    sat = diagnose(table(sim, "sat", outputs=False))  # G loss inferred from its sign
    assert sat.label == "vanishing-gradient" and "G loss saturating (inferred: loss_g < 0" in conventions(sat)
    ns = diagnose(table(sim, "ns", outputs=False), d_loss_reduction="sum")  # BCE D known: ns inferred
    assert ns.label == "inconclusive" and summary(ns).status == "warn"
    # unknown loss (loss_g's sign mixed: a first stretch logged positive) -> both signatures must agree
    mixed = table(sim, "sat", outputs=False)
    mixed.loc[: STEPS // 5, "loss_g"] = 0.5
    d = diagnose(mixed)
    assert "G loss unknown" in conventions(d) and d.label == "vanishing-gradient"
    assert diagnose(mixed.assign(loss_g=np.where(mixed["step"] > STEPS // 5, 3.0, 0.5))).label == "inconclusive"


def test_reduction_scales_the_loss_only_measure():
    """D at 0.96 / 0.04: per-term BCE ~0.041, below the 0.053 that proves dominance; summed it reads
    0.082. Read as a sum (halved) it is dominance; read as a mean it is not."""
    sim = simulate(STEPS, lambda t: 0.96, lambda t: 0.04)
    df = table(sim, "sat", reduction="sum", outputs=False)
    f = {r: next(x for x in diagnose(df, d_loss_reduction=r).findings
                 if x.check == "vanishing_gradient.loss_saturation") for r in ("sum", "mean")}
    assert f["sum"].status == "fail" and f["mean"].status == "pass"


def test_healthy_loss_only_log_stays_inconclusive():
    for g in ("ns", "sat"):
        assert diagnose(table(healthy(STEPS), g, outputs=False)).label == "inconclusive"


# -- config.json and the command line --------------------------------------------------------------------------


def run_folder(path: Path, df: pd.DataFrame, loss: str) -> Path:
    path.mkdir()
    df.to_csv(path / "telemetry.csv", index=False)
    (path / "config.json").write_text(json.dumps({"d_output": "probability", "config": {"loss": loss}}))
    return path


def test_config_json_loss_is_honoured(tmp_path):
    """D at 0.95 / 0.05 with loss_g matching neither formula: only config.json says which loss it was."""
    df = table(simulate(STEPS, lambda t: 0.95, lambda t: 0.05)).assign(loss_g=0.7)
    d = diagnose(run_folder(tmp_path / "minimax", df, "minimax"))
    assert d.label == "vanishing-gradient" and "G loss saturating (config.json: loss minimax)" in conventions(d)
    assert d.remedies[0].startswith("this run uses the saturating minimax loss")
    d = diagnose(run_folder(tmp_path / "ns", df, "nonsaturating"))
    assert d.label != "vanishing-gradient" and summary(d).status == "warn"
    assert "D loss reduction sum (config.json" in conventions(d)
    # the caller wins over config.json
    assert diagnose(tmp_path / "ns", g_loss="saturating").label == "vanishing-gradient"


def test_bad_g_loss_is_refused(capsys):
    with pytest.raises(ConfigError, match="g_loss must be one of nonsaturating, saturating"):
        diagnose(table(healthy(30)), g_loss="bce")


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    """PyTorch-GAN's gan.py stdout (mean reduction) for a D that saturates, with the saturating and the
    non-saturating G loss, and for a healthy run; and a bad --g-loss."""
    work = tmp_path_factory.mktemp("g_loss_cli")
    write(work / "sat.log", pytorch_gan_lines(saturating_d(STEPS), batches=50, g="sat"))
    write(work / "ns.log", pytorch_gan_lines(saturating_d(STEPS), batches=50, g="ns"))
    write(work / "healthy.log", pytorch_gan_lines(healthy(STEPS), batches=50))
    commands = {
        "sat": ["diagnose", "sat.log", "--format", "json", "--no-config"],
        "ns": ["diagnose", "ns.log", "--format", "json", "--no-config"],
        "healthy": ["diagnose", "healthy.log", "--no-config"],
        "bad": ["diagnose", "healthy.log", "--g-loss", "bce", "--no-config"],
    }

    def run(args):
        return subprocess.run([sys.executable, "-m", "ganlint", *args], cwd=work, env=_env(), capture_output=True,
                              text=True, timeout=300)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(commands, pool.map(run, commands.values()), strict=True))


def test_cli_loss_only_pytorch_gan_logs(cli_runs):
    sat, ns, ok = cli_runs["sat"], cli_runs["ns"], cli_runs["healthy"]
    assert sat.returncode == 1, sat.stderr
    assert json.loads(sat.stdout)["label"] == "vanishing-gradient"
    assert ns.returncode == 3, ns.stderr
    d = json.loads(ns.stdout)
    assert d["label"] == "inconclusive"
    assert next(f for f in d["findings"] if f["check"] == "vanishing_gradient")["status"] == "warn"
    assert ok.returncode == 3 and "inconclusive" in ok.stdout


def test_cli_bad_g_loss_is_one_line_exit_2(cli_runs, capsys):
    bad = cli_runs["bad"]
    assert bad.returncode == 2 and bad.stdout == ""
    assert "--g-loss: invalid choice: 'bce'" in _one_line_error(bad.stderr)
    with pytest.raises(SystemExit) as e:
        main(["diagnose", "x.log", "--d-loss-reduction", "avg"])
    assert e.value.code == 2
