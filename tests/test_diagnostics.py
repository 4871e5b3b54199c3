"""The diagnostics engine on constructed telemetry whose answer is known by construction."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ganlint
from ganlint.diagnostics import LABELS, Thresholds, diagnose
from ganlint.diagnostics.findings import FAIL, NOT_ASSESSABLE, STATUSES
from ganlint.errors import DataError

N = 400
EVERY = 20
K = 8  # modes of the imagined dataset


def healthy(n: int = N, seed: int = 0) -> pd.DataFrame:
    """A run that converges: D near 0.5, fakes approach the data, samples as varied as the data."""
    rng = np.random.default_rng(seed)
    step = np.arange(1, n + 1)
    decay = np.exp(-step / (n / 5))
    df = pd.DataFrame({
        "step": step,
        "loss_d": 1.38 + 0.02 * rng.standard_normal(n),
        "loss_g": 0.70 + 0.02 * rng.standard_normal(n),
        "d_real": 0.52 + 0.02 * rng.standard_normal(n),
        "d_fake": 0.48 + 0.02 * rng.standard_normal(n),
        "grad_norm_g": 0.5 + 0.05 * rng.standard_normal(n),
        "grad_norm_d": 0.8 + 0.05 * rng.standard_normal(n),
        "update_ratio_g": 1e-3 * (1 + 0.1 * rng.standard_normal(n)),
        "update_ratio_d": 1e-3 * (1 + 0.1 * rng.standard_normal(n)),
        "fake_mean": 2.0 - 1.8 * decay + 0.01 * rng.standard_normal(n),
        "fake_std": 0.2 - 0.15 * decay,
        "real_mean": 2.0 + 0.01 * rng.standard_normal(n),
        "real_std": np.full(n, 0.2),
        "time_s": step * 0.01,
    })
    ev = (step % EVERY == 0) | (step == 1)
    df["distance"] = np.where(ev, 0.05 + 1.5 * decay, np.nan)
    df["diversity"] = np.where(ev, 0.95 - 0.5 * decay, np.nan)
    df["modes_covered"] = np.where(ev, np.round(K - 7 * decay), np.nan)
    df["mode_kl"] = np.where(ev, 0.05 + 1.5 * decay, np.nan)
    df["coverage"] = np.where(ev, 0.9 - 0.7 * decay, np.nan)
    return df


def finding(d, check):
    (f,) = [f for f in d.findings if f.check == check]
    return f


def test_healthy_run_is_stable_with_sample_evidence():
    d = diagnose(healthy(), num_modes=K)
    assert d.label == "stable", d.summary
    assert d.confidence > 0.7
    assert d.onset_step is None and d.remedies == [] and d.other_labels == []
    assert finding(d, "progress.distance").status == "pass"


def test_every_finding_is_well_formed():
    d = diagnose(healthy(), num_modes=K)
    for f in d.findings:
        assert f.status in STATUSES and f.label in LABELS and f.message
    json.dumps(d.to_dict())  # JSON-safe (no NaN)


# -- vanishing-gradient -----------------------------------------------------------------------------------


def overpowered(df: pd.DataFrame, start: int = 50, g_grad_floor: float = 1e-4) -> pd.DataFrame:
    df = df.copy()
    after = df["step"] >= start
    df.loc[after, "d_real"] = 0.999
    df.loc[after, "d_fake"] = 0.001
    df.loc[after, "loss_d"] = 0.002
    # G's gradient decays geometrically to g_grad_floor once D has won
    t = (df["step"] - start).clip(lower=0)
    df["grad_norm_g"] = np.where(after, np.maximum(0.5 * np.exp(-t / 20), g_grad_floor), df["grad_norm_g"])
    return df


def test_overpowered_d_with_dead_g_gradient_is_vanishing_gradient():
    d = diagnose(overpowered(healthy()), num_modes=K)
    assert d.label == "vanishing-gradient"
    assert 45 <= d.onset_step <= 60
    assert finding(d, "vanishing_gradient.grad_collapse").value < 1e-2
    assert any("non-saturating" in r for r in d.remedies)


def test_winning_d_with_strong_g_gradient_is_not_vanishing():
    """The non-saturating loss keeps G's gradient when D wins: no vanishing gradient."""
    df = overpowered(healthy())
    df["grad_norm_g"] = healthy()["grad_norm_g"] * 5
    d = diagnose(df, num_modes=K)
    assert d.label != "vanishing-gradient"
    assert finding(d, "vanishing_gradient").status == "pass"


def test_shrinking_g_gradient_without_dominant_d_is_not_vanishing():
    df = healthy()
    df["grad_norm_g"] = 0.5 * np.exp(-df["step"] / 40) + 1e-6
    d = diagnose(df, num_modes=K)
    assert d.label != "vanishing-gradient"


def test_runaway_critic_gap_with_dead_gradient():
    df = healthy()
    df["d_real"] = 0.1 + df["step"] * 0.05
    df["d_fake"] = -0.1 - df["step"] * 0.05
    df["grad_norm_g"] = np.maximum(0.5 * np.exp(-df["step"] / 30), 1e-5)
    assert diagnose(df, d_output="critic", num_modes=K).label == "vanishing-gradient"
    # The same gap, bounded, is fine.
    df["d_real"], df["d_fake"] = 0.1, -0.1
    assert diagnose(df, d_output="critic", num_modes=K).label != "vanishing-gradient"


# -- collapsed --------------------------------------------------------------------------------------------


def collapsed(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    ev = df["distance"].notna()
    df.loc[ev, "diversity"] = 0.08
    df.loc[ev, "modes_covered"] = 1
    df.loc[ev, "mode_kl"] = math.log(K) * 0.98
    df.loc[ev, "coverage"] = 0.1
    return df


def test_collapse_with_d_at_half_is_collapsed_not_stable():
    df = collapsed(healthy())
    assert ((df["d_real"] - 0.5).abs() < 0.1).all()  # D looks perfect
    d = diagnose(df, num_modes=K)
    assert d.label == "collapsed"
    assert finding(d, "collapse.modes").status == FAIL
    assert finding(d, "collapse.diversity").status == FAIL


@pytest.mark.parametrize("only", ["diversity", "modes_covered", "mode_kl"])
def test_each_collapse_measure_alone_is_enough(only):
    df = healthy()
    bad = collapsed(df)
    df[only] = bad[only]
    assert diagnose(df, num_modes=K).label == "collapsed"


def test_low_coverage_decides_only_with_high_precision_and_no_mode_count():
    """Low coverage with realistic fakes is collapse; with imprecise fakes, or mode counts at hand, it is not."""
    df = healthy()
    ev = df["distance"].notna()
    df.loc[ev, "coverage"] = 0.1
    df.loc[ev, "precision"] = 0.9
    assert diagnose(df, num_modes=K).label == "stable"  # modes say 8 of 8: they decide
    no_modes = df.drop(columns=["modes_covered", "mode_kl"])
    assert diagnose(no_modes).label == "collapsed"
    no_modes.loc[ev, "precision"] = 0.2
    d = diagnose(no_modes)
    # Imprecise fakes (precision 0.2) whose distance fell to a few % of its start: wide, not collapsed.
    assert d.label == "stable" and finding(d, "collapse.coverage").status == "warn"
    # Fakes that all miss the data (precision 0.02) are not realistic yet: still-weak, not collapsed.
    no_modes.loc[ev, "precision"] = 0.02
    d = diagnose(no_modes)
    assert d.label == "still-weak" and finding(d, "collapse.coverage").status == "warn"


def test_thresholds_live_in_one_place_and_override():
    df = healthy()
    ev = df["distance"].notna()
    df.loc[ev, "diversity"] = 0.25
    assert diagnose(df, num_modes=K).label == "collapsed"
    assert diagnose(df, num_modes=K, thresholds=Thresholds(diversity_fail=0.2)).label == "stable"


# -- oscillating ------------------------------------------------------------------------------------------


def oscillating(df: pd.DataFrame, period: float = 50, amplitude: float = 1.0, damping: float = 0.0) -> pd.DataFrame:
    df = df.copy()
    t = df["step"].to_numpy(dtype=float)
    env = amplitude * np.exp(-damping * t)
    df["fake_mean"] = 2.0 + env * np.sin(2 * np.pi * t / period)
    df["d_fake"] = 0.5 + 0.3 * env * np.sin(2 * np.pi * t / period + 1.0)
    return df


def test_sustained_cycle_is_oscillating():
    d = diagnose(oscillating(healthy()), num_modes=K)
    assert d.label == "oscillating"
    assert "period ~50 steps" in finding(d, "oscillation.fake_mean").message


def test_damped_cycle_is_not_oscillating():
    d = diagnose(oscillating(healthy(), damping=0.02), num_modes=K)
    assert d.label == "stable", [f.message for f in d.findings if f.status == FAIL]


def test_large_noise_without_a_cycle_is_not_oscillating():
    df = healthy()
    rng = np.random.default_rng(3)
    df["fake_mean"] = 2.0 + rng.standard_normal(N)  # swings of 5 real std, but white noise
    d = diagnose(df, num_modes=K)
    assert d.label != "oscillating"


def test_small_cycle_is_not_oscillating():
    assert diagnose(oscillating(healthy(), amplitude=0.02), num_modes=K).label != "oscillating"


# -- stalled ----------------------------------------------------------------------------------------------


def stalled(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df["update_ratio_g"] = 1e-5
    df["update_ratio_d"] = 1e-5
    ev = df["distance"].notna()
    df.loc[ev, "distance"] = 1.5
    df["fake_mean"] = 0.2
    return df


def test_tiny_updates_and_no_progress_is_stalled_even_with_d_at_half():
    d = diagnose(stalled(healthy()), num_modes=K)
    assert d.label == "stalled"
    assert any("learning rate" in r for r in d.remedies)


def test_a_run_never_healthy_by_its_measure_has_its_onset_from_the_start(tmp_path):
    """Stalled from step 1 (update ratios tiny throughout): the onset is "from the start", in the
    diagnosis and in what the CLI prints, never a bare "at step 1"."""
    d = diagnose(stalled(healthy()), num_modes=K)
    assert d.onset_step == 1 and d.onset_from_start and d.onset_text == "from the start (step 1)"
    stalled(healthy()).to_csv(tmp_path / "stalled.csv", index=False)
    p = subprocess.run([sys.executable, "-m", "ganlint", "diagnose", str(tmp_path / "stalled.csv"), "--num-modes", str(K)],
                       capture_output=True, text=True)
    assert p.returncode == 1 and p.stdout.startswith("label: stalled") and "onset from the start (step 1)" in p.stdout
    late = healthy()
    late.loc[late["step"] >= 300, ["loss_g", "grad_norm_g", "update_ratio_g"]] = np.nan
    assert diagnose(late).onset_text == "at step 300"


def test_a_run_folders_config_reaches_the_engine_through_every_entry(tmp_path):
    """The folder's config.json (here: MNIST-classifier evaluations) decides the same verdict through
    ganlint.diagnose(folder), `ganlint diagnose folder` and `ganlint report folder`. Fakes the classifier
    calls realistic (precision 0.9) whose distance stays at ~90% of its start are still-weak, not collapsed."""
    df = collapsed(healthy())
    ev = df["distance"].notna()
    df.loc[ev, "precision"], df.loc[ev, "distance"], df.loc[ev, "diversity"] = 0.9, 1.5, 0.8
    df.loc[df["step"] == 1, "distance"] = 1.65
    folder = tmp_path / "run"
    folder.mkdir()
    df.to_csv(folder / "telemetry.csv", index=False)
    (folder / "config.json").write_text(json.dumps({"dataset": {"num_modes": K, "distance_kind": "classifier_frechet"}}))
    assert diagnose(df, num_modes=K).label == "collapsed"  # without the config: samples' own space, modes decide
    assert ganlint.diagnose(folder).label == "still-weak"
    run = [sys.executable, "-m", "ganlint"]
    p = subprocess.run([*run, "diagnose", str(folder), "--format", "json"], capture_output=True, text=True)
    assert json.loads(p.stdout)["label"] == "still-weak", p.stderr
    p = subprocess.run([*run, "report", str(folder)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert json.loads((folder / "diagnosis.json").read_text())["label"] == "still-weak"


def test_tiny_updates_with_progress_is_not_stalled():
    df = healthy()
    df["update_ratio_g"] = 1e-5
    assert diagnose(df, num_modes=K).label != "stalled"


# -- diverged ---------------------------------------------------------------------------------------------


def test_trailing_nan_is_diverged_with_onset():
    df = healthy().iloc[:300].copy()
    for c in ("loss_d", "loss_g", "grad_norm_d", "grad_norm_g"):
        df.loc[df.index[-1], c] = np.nan
    d = diagnose(df, num_modes=K)
    assert d.label == "diverged" and d.onset_step == 300


def test_inf_anywhere_is_diverged():
    df = healthy()
    df.loc[100, "grad_norm_d"] = np.inf
    d = diagnose(df, num_modes=K)
    assert d.label == "diverged" and d.onset_step == 101


def test_exploding_gradient_is_diverged():
    df = healthy()
    df["grad_norm_d"] = 0.5 * np.exp(df["step"] / 25)
    assert diagnose(df, num_modes=K).label == "diverged"


def test_a_gap_in_a_user_log_is_not_divergence():
    df = healthy().drop(columns=["update_ratio_g", "update_ratio_d"])  # a user's log, not ganlint's schema
    df.loc[10:20, "loss_g"] = np.nan  # e.g. a logger that skipped some rows
    df.loc[df.index[-1], "loss_g"] = np.nan  # and the last row
    assert diagnose(df, num_modes=K).label == "stable"


def test_in_ganlint_schema_a_nan_after_finite_values_is_divergence():
    """The trainer records every step column every step: a value that turns NaN mid-run is a divergence."""
    df = healthy()
    df.loc[df["step"] >= 300, ["loss_g", "grad_norm_g", "update_ratio_g"]] = np.nan
    d = diagnose(df)
    assert d.label == "diverged" and d.onset_step == 300 and not d.onset_from_start


def test_a_column_never_logged_is_absent_not_diverged():
    """NaN from the first row to the last is a column that was never logged (a Monitor without opt_d)."""
    df = healthy()
    df[["grad_norm_d", "update_ratio_d"]] = np.nan
    d = diagnose(df, num_modes=K)
    assert d.label == "stable", d.summary
    assert finding(d, "divergence.non_finite").status == "pass"
    empty = healthy().assign(loss_g=np.nan)
    assert diagnose(empty, num_modes=K).label == "stable"
    # Nothing finite at all: no verdict, and no divergence either.
    nothing = healthy()[["step", "loss_d", "loss_g"]].assign(loss_d=np.nan, loss_g=np.nan)
    d = diagnose(nothing)
    assert d.label == "inconclusive" and finding(d, "divergence.non_finite").status == NOT_ASSESSABLE


def test_an_infinity_after_finite_values_is_divergence_in_any_log():
    df = healthy()[["step", "loss_d", "loss_g"]]
    df.loc[df["step"] == 250, "loss_d"] = np.inf
    d = diagnose(df)
    assert d.label == "diverged" and d.onset_step == 250


@pytest.mark.parametrize("rows", [1, 10])
def test_too_few_rows_are_inconclusive(rows):
    """A handful of rows shows neither trend nor swing: even a collapsed-looking table is no verdict."""
    df = collapsed(healthy()).iloc[-rows:]
    d = diagnose(df, num_modes=K)
    assert d.label == "inconclusive", d.summary
    assert any("at least 20 logged steps" in n for n in d.needs)


# -- priority, missing columns, bad input ------------------------------------------------------------------


def test_several_labels_pick_the_documented_primary():
    df = collapsed(overpowered(healthy()))
    d = diagnose(df, num_modes=K)
    assert d.label == "vanishing-gradient"
    assert "collapsed" in d.other_labels
    assert LABELS.index("vanishing-gradient") < LABELS.index("collapsed")


def test_bare_table_is_assessed_with_what_it_has():
    df = healthy()[["step", "loss_d", "loss_g", "d_real", "d_fake"]]
    d = diagnose(df)
    # D near 0.5 and calm losses never show a healthy run: no verdict, and what to record to reach one.
    assert d.label == "inconclusive" and d.confidence == 0.0
    assert d.needs and "samples" in d.needs[0]
    na = {f.check for f in d.findings if f.status == NOT_ASSESSABLE}
    assert {"collapse", "stall", "progress.distance", "vanishing_gradient.grad_collapse"} <= na


def test_bare_table_still_sees_oscillation_and_saturation():
    bare = ["step", "loss_d", "loss_g", "d_real", "d_fake"]
    assert diagnose(oscillating(healthy())[bare]).label == "oscillating"
    assert diagnose(overpowered(healthy())[bare]).label == "vanishing-gradient"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drop=st.sets(st.sampled_from([c for c in healthy(50).columns if c != "step"]), max_size=18),
       n=st.integers(min_value=1, max_value=120))
def test_missing_columns_never_crash(drop, n):
    df = healthy(n).drop(columns=sorted(drop))
    if not any(c in df.columns for c in ("loss_d", "loss_g", "d_real", "d_fake", "grad_norm_g", "grad_norm_d", "distance")):
        with pytest.raises(DataError):
            diagnose(df)
        return
    d = diagnose(df, num_modes=K)
    assert d.label in LABELS
    assert not [f for f in d.findings if f.status == "error"], [f.message for f in d.findings if f.status == "error"]


def test_input_errors_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="no 'step' column"):
        diagnose(pd.DataFrame({"loss_d": [1.0]}))
    with pytest.raises(DataError, match="not numeric"):
        diagnose(pd.DataFrame({"step": [1, 2], "loss_d": ["a", "b"]}))
    with pytest.raises(DataError, match="does not exist"):
        diagnose(tmp_path / "nope.csv")
    (tmp_path / "t.xlsx").write_text("x")
    with pytest.raises(DataError, match="unsupported"):
        diagnose(tmp_path / "t.xlsx")
    with pytest.raises(DataError, match="no telemetry"):
        diagnose(tmp_path)


def test_file_inputs_round_trip(tmp_path):
    df = collapsed(healthy())
    df.to_csv(tmp_path / "t.csv", index=False)
    df.to_parquet(tmp_path / "t.parquet", index=False)
    df.to_json(tmp_path / "t.jsonl", orient="records", lines=True)
    labels = {diagnose(tmp_path / f"t.{ext}", num_modes=K).label for ext in ("csv", "parquet", "jsonl")}
    assert labels == {"collapsed"}


def test_cli_diagnose_json_and_exit_codes(tmp_path):
    healthy()[["step", "loss_d", "loss_g", "d_real", "d_fake"]].to_csv(tmp_path / "bare.csv", index=False)
    collapsed(healthy()).to_csv(tmp_path / "collapsed.csv", index=False)
    run = [sys.executable, "-m", "ganlint", "diagnose"]
    bare = subprocess.run([*run, str(tmp_path / "bare.csv"), "--format", "json"], capture_output=True, text=True)
    assert bare.returncode == 3, bare.stderr  # losses alone: inconclusive, which the default gate fails
    out = json.loads(bare.stdout)
    assert {"label", "confidence", "onset_step", "findings", "needs"} <= set(out)
    assert out["label"] == "inconclusive" and out["needs"]
    allowed = subprocess.run([*run, str(tmp_path / "bare.csv"), "--fail-on", "any,error"], capture_output=True, text=True)
    assert allowed.returncode == 0 and allowed.stdout.startswith("label: inconclusive"), allowed.stderr
    bad = subprocess.run([*run, str(tmp_path / "collapsed.csv"), "--num-modes", str(K)], capture_output=True, text=True)
    assert bad.returncode == 1 and bad.stdout.startswith("label: collapsed")
    assert "not assessable" not in bad.stderr
    missing = subprocess.run([*run, str(tmp_path / "none.csv")], capture_output=True, text=True)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr and missing.stdout == ""


def test_real_short_run_folder(tmp_path, train_tiny):
    run = train_tiny(steps=60)
    d = ganlint.diagnose(run.out_dir)
    assert d.label in LABELS
    # The run folder's config supplied the context: ring8 has 8 modes.
    assert finding(d, "collapse.modes").status != NOT_ASSESSABLE


@pytest.mark.parametrize("eval_steps,collapsed", [((1, 10, 20, 30), False), ((100, 300, 500, 700), True)])
def test_low_diversity_on_noise_is_collapse_only_after_training(eval_steps, collapsed):
    """Samples far from realistic (precision and high-quality share ~0) with a narrow output (diversity
    0.06) at four evaluations: within a run's first 30 steps that is G's initialisation (still-weak); held
    over 600 steps of training it is a collapse."""
    import pandas as pd

    last = eval_steps[-1]
    steps = np.linspace(1, last, 40).round().astype(int)
    steps = np.unique(np.concatenate([steps, eval_steps]))
    df = pd.DataFrame({"step": steps, "loss_d": 1.2, "loss_g": 0.9, "d_real": 0.6, "d_fake": 0.4})
    at = df["step"].isin(eval_steps)
    df.loc[at, "diversity"] = 0.06
    df.loc[at, "precision"] = 0.0
    df.loc[at, "high_quality"] = 0.0
    df.loc[at, "distance"] = 2000.0
    d = ganlint.diagnose(df)
    assert (d.label == "collapsed") is collapsed, d.summary
    assert d.label in ("collapsed", "still-weak")


def test_update_ratios_recorded_every_tenth_step_still_count():
    """The Monitor measures update ratios every 10th step: the last rows of a 30-step run hold none. A G
    moving at 4e-3 per step with noise for samples is still-weak, never stable (the foreign zoo's 30-step
    DCGAN read stable when the empty late window made G look unmoving)."""
    import pandas as pd

    steps = np.arange(1, 31)
    df = pd.DataFrame({"step": steps, "loss_d": 1.2, "loss_g": 0.9, "d_real": 0.8, "d_fake": 0.35,
                       "grad_norm_g": 12.0})
    df.loc[df["step"].isin([1, 11, 21]), "update_ratio_g"] = 4e-3
    at = df["step"].isin([1, 10, 20, 30])
    df.loc[at, "distance"] = [1880.0, 1765.0, 1867.0, 1741.0]
    df.loc[at, "precision"] = 1.0
    df.loc[at, "high_quality"] = 0.0
    d = ganlint.diagnose(df, distance_kind="classifier_frechet")
    assert d.label == "still-weak", d.summary
    ratio = next(f for f in d.findings if f.check == "stall.update_ratio_g")
    assert ratio.value == pytest.approx(4e-3) and ratio.status == "pass"


@pytest.mark.parametrize("g_loss,label", [("saturating", "vanishing-gradient"), ("nonsaturating", "inconclusive")])
def test_a_dominant_d_under_the_saturating_loss_needs_only_a_tenfold_gradient_fall(g_loss, label):
    """D sure of everything from the first steps (so G's early gradient is already small) and G's gradient
    falling a further 20x: under log(1 - D(G(z))) that is the vanishing gradient the loss's formula
    predicts; under the non-saturating loss G keeps its gradient by the same formula, so no verdict."""
    import pandas as pd

    n = 300
    steps = np.arange(1, n + 1)
    grad = np.geomspace(0.45, 0.0225, n)  # 0.05x its early value: below the warning line, above the failing one
    df = pd.DataFrame({"step": steps, "loss_d": 0.003, "loss_g": -0.001, "d_real": 0.999, "d_fake": 0.001,
                       "grad_norm_g": grad})
    d = ganlint.diagnose(df, g_loss=g_loss)
    assert d.label == label, d.summary
