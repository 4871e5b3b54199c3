"""`ganlint check` on checkpoints of a user's own GAN code (tests/userland/ringgan.py: plain PyTorch,
no ganlint), through the Python API. Each checkpoint's expected label follows from its weights and
its samples (see ringgan's docstring), never from what the engine happens to output."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

USERLAND = Path(__file__).parent / "userland"
FACTORIES = {"generator": "ringgan:RingGenerator", "discriminator": "ringgan:RingDiscriminator"}
SMALL = 2000  # samples per check: plenty for 8 modes, fast on a CPU


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    import sys

    sys.path.insert(0, str(USERLAND))
    import ringgan

    out = ringgan.save_all(tmp_path_factory.mktemp("ckpts"))
    yield out
    sys.path.remove(str(USERLAND))


@pytest.fixture(autouse=True)
def _userland_importable(monkeypatch):
    monkeypatch.syspath_prepend(str(USERLAND))


def check(path, **kw):
    from ganlint.check import check as run

    kw.setdefault("samples", SMALL)
    return run(path, **kw)


def statuses(result) -> dict[str, str]:
    return {f.check: f.status for f in result.diagnosis.findings}


def test_healthy_checkpoint_is_stable(ckpts):
    r = check(ckpts["healthy"], **FACTORIES, data="ring8")
    assert r.label == "stable" and r.healthy, r.explain()
    assert r.kind == "state-dict"
    assert r.metrics["modes_covered"] == 8 and r.metrics["diversity"] > 0.8
    assert abs(r.metrics["d_real"] - 0.5) < 1e-6 and abs(r.metrics["d_fake"] - 0.5) < 1e-6
    assert r.diagnosis.confidence > 0.5


def test_collapsed_checkpoint_is_collapsed(ckpts):
    r = check(ckpts["collapsed"], **FACTORIES, data="ring8")
    assert r.label == "collapsed" and not r.healthy
    s = statuses(r)
    assert s["collapse.modes"] == "fail" and s["collapse.diversity"] == "fail"
    assert r.metrics["modes_covered"] == 1
    assert "collapse.modes" in r.explain()


def test_saturated_discriminator_is_vanishing_gradient(ckpts):
    # Under the saturating (minimax) loss a saturated D starves G: the vanishing gradient.
    r = check(ckpts["saturated"], **FACTORIES, data="ring8", g_loss="minimax")
    assert r.label == "vanishing-gradient", r.explain()
    s = statuses(r)
    assert s["vanishing_gradient.d_saturation"] == "fail" and s["vanishing_gradient.grad_ratio"] == "fail"
    assert r.metrics["d_real"] > 0.99 and r.metrics["d_fake"] < 0.01
    assert r.metrics["grad_saturating"] < 1e-6 * r.metrics["grad_nonsaturating"]
    # Its samples sit in a small circle near the origin, nowhere near the ring: not realistic (still-weak),
    # so their mode counts decide nothing.
    assert "still-weak" in r.diagnosis.other_labels


def test_saturated_discriminator_under_an_unknown_loss_is_a_warning_naming_both(ckpts):
    # A checkpoint does not say which loss G trains with: the ratio is measured, but no vanishing-gradient
    # FAIL rests on it alone; the warning names both readings and asks for --g-loss.
    r = check(ckpts["saturated"], **FACTORIES, data="ring8")
    s = statuses(r)
    assert r.label != "vanishing-gradient" and s["vanishing_gradient"] == "pass", r.explain()
    assert s["vanishing_gradient.grad_ratio"] == "warn" and s["vanishing_gradient.d_saturation"] == "warn"
    ratio = next(f for f in r.diagnosis.findings if f.check == "vanishing_gradient.grad_ratio")
    assert "saturating" in ratio.message and "non-saturating" in ratio.message and "--g-loss" in ratio.message
    # Under the non-saturating loss G keeps its gradient: D overpowers G, no vanishing-gradient remedy.
    r = check(ckpts["saturated"], **FACTORIES, data="ring8", g_loss="nonsaturating")
    s = statuses(r)
    assert s["vanishing_gradient"] == "pass" and s["vanishing_gradient.d_saturation"] == "warn"
    assert s["vanishing_gradient.g_gradient"] == "pass" and r.metrics["grad_g_loss"] > 1
    sat = next(f for f in r.diagnosis.findings if f.check == "vanishing_gradient.d_saturation")
    assert "not a vanishing gradient" in sat.message and "--history" in sat.message
    assert not any("non-saturating" in x for x in r.diagnosis.remedies)


@pytest.mark.parametrize("kind", ["export", "torchscript"])
def test_self_contained_programs_need_no_user_code(ckpts, kind, monkeypatch):
    monkeypatch.syspath_prepend("/nonexistent")  # no factory is imported: the file is the program
    r = check(ckpts[kind], data="ring8", z_dim=10)
    assert r.kind == kind and r.label == "collapsed"
    assert any("discriminator" in s for s in r.skipped)
    assert statuses(r)["vanishing_gradient"] == "not-assessable"


def test_without_data_says_what_was_skipped(ckpts):
    r = check(ckpts["healthy"], **FACTORIES)
    assert any("need real data" in s for s in r.skipped)
    assert any("D(x)" in s for s in r.skipped)
    # No sample-based evidence: no failure either, so inconclusive (never a pass), naming what would decide it.
    assert r.label == "inconclusive" and not r.healthy and r.exit_code == 3, r.explain()
    assert r.diagnosis.needs


def test_generator_that_ignores_z_is_collapsed_without_data(ckpts, tmp_path):
    import ringgan

    g, d = ringgan.make("collapsed")
    with torch.no_grad():
        g.log_spread.fill_(-40.0)  # spread e^-40: every sample is the same point
    torch.save({"netG": g.state_dict(), "netD": d.state_dict(), "nz": 10}, tmp_path / "const.pt")
    r = check(tmp_path / "const.pt", **FACTORIES)
    assert r.label == "collapsed" and r.metrics["duplicates"] == 1.0


def test_nan_samples_are_diverged(ckpts):
    r = check(ckpts["healthy"], generator="ringgan:NaNGenerator", discriminator=FACTORIES["discriminator"], data="ring8")
    assert r.label == "diverged" and not r.healthy
    assert any("not finite" in s for s in r.skipped)


def test_samples_of_the_wrong_shape_are_a_clear_error(ckpts):
    from ganlint.errors import GanlintError

    with pytest.raises(GanlintError, match=r"shape \(3,\).*ring8.*\(2,\)"):
        check(ckpts["healthy"], generator="ringgan:FlatGenerator", data="ring8")


def test_oscillation_needs_history_and_is_found_in_it(ckpts, tmp_path):
    r = check(ckpts["healthy"], **FACTORIES, data="ring8")
    osc = next(f for f in r.diagnosis.findings if f.check == "oscillation")
    assert osc.status == "not-assessable" and "--history" in osc.message
    # A user's log in the DCGAN tutorial's names, where D's verdict on the fakes swings with period 100.
    steps = np.arange(1, 2001)
    swing = np.sin(2 * np.pi * steps / 100)
    log = pd.DataFrame({"iter": steps, "errD": 1.2 - 0.4 * swing, "errG": 0.9 + 0.5 * swing,
                        "D(x)": 0.6 + 0.1 * swing, "D(G(z))": 0.5 + 0.3 * swing})
    log.to_csv(tmp_path / "log.csv", index=False)
    r = check(ckpts["healthy"], **FACTORIES, data="ring8", history=tmp_path / "log.csv")
    assert r.label == "oscillating", r.explain()
    assert any(f.check.startswith("history:oscillation") and f.status == "fail" for f in r.diagnosis.findings)
    assert any("2000 rows" in n for n in r.notes)


def test_history_from_a_folder_of_checkpoints(ckpts, tmp_path):
    import shutil

    folder = tmp_path / "ckpts"
    folder.mkdir()
    for step in (1000, 2000, 3000):
        shutil.copy(ckpts["collapsed"], folder / f"ckpt_{step}.pt")
    r = check(ckpts["collapsed"], **FACTORIES, data="ring8", history=folder, samples=500)
    assert any("3 rows" in n and "steps 1000-3000" in n for n in r.notes)
    # Three rows are read, but the engine judges no time series from so few: the note says so.
    assert any("at least 20" in n for n in r.notes), r.notes
    for step in range(4000, 21000, 1000):
        shutil.copy(ckpts["collapsed"], folder / f"ckpt_{step}.pt")
    r = check(ckpts["collapsed"], **FACTORIES, data="ring8", history=folder, samples=200)
    assert any("20 rows" in n and "steps 1000-20000" in n for n in r.notes)
    assert any(f.check == "history:collapse" and f.status == "fail" for f in r.diagnosis.findings)


def test_run_folder_uses_its_own_dataset(train_tiny):
    run = train_tiny("run", steps=20)
    r = check(run.out_dir, samples=500)
    assert r.kind == "run-folder" and "distance" in r.metrics and math.isfinite(r.metrics["distance"])
    assert "d_real" in r.metrics  # ganlint's own D is rebuilt from the run folder


def test_ls_run_folder_is_read_as_ls_scores(train_tiny):
    """A ganlint LSGAN run's D returns ls-scores: check reads them raw (no sigmoid) and judges no saturation."""
    from ganlint.loaders import load_checkpoint

    run = train_tiny("ls", steps=20, loss="lsgan")
    assert load_checkpoint(run.out_dir).meta["d_raw_output"] == "ls-score"
    r = check(run.out_dir, samples=500)
    assert r.metrics["d_kind"] == "ls-score" and "grad_saturating" not in r.metrics
    assert statuses(r)["vanishing_gradient.d_saturation"] == "not-assessable"
    bce = train_tiny("bce", steps=20)
    assert load_checkpoint(bce.out_dir).meta["d_raw_output"] == "logit"


def test_d_output_takes_the_vocabulary_names_and_aliases(ckpts):
    from ganlint.errors import ConfigError
    from ganlint.vocabulary import D_RETURN_ALIASES, D_RETURNS

    r = check(ckpts["saturated"], **FACTORIES, data="ring8", d_output="probabilities", samples=500,
              g_loss="saturating")  # the old plural
    assert r.metrics["d_kind"] == "probability" and r.label == "vanishing-gradient"
    r = check(ckpts["saturated"], **FACTORIES, data="ring8", d_output="ls-score", samples=500)
    assert r.metrics["d_kind"] == "ls-score"
    sat = next(f for f in r.diagnosis.findings if f.check == "vanishing_gradient.d_saturation")
    assert sat.status == "not-assessable" and "least-squares" in sat.message
    with pytest.raises(ConfigError) as e:
        check(ckpts["healthy"], **FACTORIES, d_output="sigmoid")
    assert all(k in str(e.value) for k in (*D_RETURNS, *D_RETURN_ALIASES)) and "'sigmoid'" in str(e.value)


def test_g_loss_and_bn_mode_take_the_vocabulary_names(ckpts):
    from ganlint.errors import ConfigError
    from ganlint.vocabulary import G_LOSS_ALIASES, G_LOSSES

    with pytest.raises(ConfigError) as e:
        check(ckpts["healthy"], **FACTORIES, g_loss="bce")
    assert all(k in str(e.value) for k in (*G_LOSSES, *G_LOSS_ALIASES)) and "'bce'" in str(e.value)
    with pytest.raises(ConfigError, match=r"^bn_mode must be one of auto, train, eval, got 'batch'"):
        check(ckpts["healthy"], **FACTORIES, bn_mode="batch")
    # wgan-gp is an alias of wgan, and a wgan G's D is a critic: its scores are not read as probabilities.
    r = check(ckpts["healthy"], **FACTORIES, data="ring8", g_loss="wgan-gp", samples=500)
    assert r.metrics["d_kind"] == "critic" and "grad_g_loss" in r.metrics
    # No BatchNorm in the ring GAN: no bn_mode finding, no note.
    assert not any(f.check == "bn_mode" for f in r.diagnosis.findings)


def test_an_inconclusive_result_is_not_healthy_unless_the_gate_allows_it(ckpts):
    import dataclasses

    from ganlint.check import CheckResult
    from ganlint.diagnostics.findings import Finding
    from ganlint.gating import parse_fail_on

    r = check(ckpts["healthy"], **FACTORIES, data="ring8", samples=500)
    d = dataclasses.replace(r.diagnosis, label="inconclusive", other_labels=[], needs=["the run's history (--history)"])
    strict = CheckResult(d, r.source, r.kind, r.samples, r.metrics)
    assert strict.inconclusive and not strict.healthy and strict.exit_code == 3
    assert "to decide, record: the run's history (--history)" in strict.explain()
    lenient = dataclasses.replace(strict, fail_on=parse_fail_on("any,error"))
    assert lenient.healthy and lenient.exit_code == 0 and "passed without evidence" in lenient.explain()
    nothing = Finding("collapse", "collapsed", "not-assessable", None, None, "not assessable: needs samples")
    unchecked = dataclasses.replace(lenient, diagnosis=dataclasses.replace(d, findings=[nothing]))
    assert not unchecked.checked and unchecked.exit_code == 3  # nothing checked: 3 whatever the gate
    assert "nothing could be checked" in unchecked.explain()


def test_fail_on_policy(ckpts):
    r = check(ckpts["collapsed"], **FACTORIES, data="ring8", fail_on="vanishing-gradient")
    assert r.label == "collapsed" and r.healthy  # only vanishing-gradient fails this gate
    r = check(ckpts["collapsed"], **FACTORIES, data="ring8", fail_on="none")
    assert r.healthy


@pytest.mark.parametrize("n", [0, 10, 10**7])
def test_samples_out_of_range(ckpts, n):
    from ganlint.errors import ConfigError

    # The library names its parameter; the command line re-spells it as its flag (test_check_cli).
    with pytest.raises(ConfigError, match=r"^samples must be between"):
        check(ckpts["healthy"], **FACTORIES, samples=n)


def test_one_options_table_feeds_the_flags_the_plugin_and_the_settings():
    from ganlint.check.options import OPTIONS, CheckOptions, spell_flag
    from ganlint.cli.parser import build_parser
    from ganlint.errors import ConfigError
    from ganlint.gating.settings import KEYS
    from ganlint.integrations.pytest_plugin import OPTIONS as PLUGIN
    from ganlint.loaders.errors import respell

    check_parser = build_parser()._subparsers._group_actions[0].choices["check"]
    flags = {s for a in check_parser._actions for s in a.option_strings} - {"-h", "--help"}
    assert flags == {row.cli_flag for row in OPTIONS if row.flag}
    assert set(PLUGIN) == {"--ganlint-samples", "--ganlint-data", "--ganlint-fail-on", "--ganlint-device", "--ganlint-seed"}
    assert {row.name for row in OPTIONS if row.toml} <= set(KEYS)
    assert "samples drawn from G [default: 10000]" in check_parser.format_help().replace("\n", " ").replace("  ", " ")
    with pytest.raises(ConfigError) as e:
        CheckOptions.from_given(seed=-1)
    assert str(e.value).startswith("seed must be between")
    assert str(respell(e.value, spell_flag)).startswith("--seed must be between")
    assert CheckOptions.from_given(trust=True, discriminator_path="d.pt", g_loss="ns") == CheckOptions(
        trust_checkpoint=True, discriminator_file="d.pt", g_loss="nonsaturating")
    with pytest.raises(TypeError, match="smaples"):
        CheckOptions.from_given(smaples=100)


@pytest.mark.parametrize("dims", [1, 2, 8])
def test_near_duplicates_count_copies_not_density_in_few_dimensions(dims):
    """A G half as wide as the data (a healthy-looking Gaussian G) has no copies; a G that ignores its
    input has only copies, in one dimension as in eight (issue 14: a 1-D checkpoint read as collapsed,
    from cdist's cancellation and a radius that measured density)."""
    from ganlint.check.snapshot import duplicate_fraction

    g = torch.Generator().manual_seed(0)
    real = 2 + 0.2 * torch.randn(4000, dims, generator=g)
    narrow = 2 + 0.1 * torch.randn(4000, dims, generator=g)
    assert duplicate_fraction(narrow, real) < 0.01
    assert duplicate_fraction(torch.full((3000, dims), 1.7), real) == 1.0
