"""Training end to end: telemetry schema, run folder, reproducibility, checkpoints, NaN stops, overwrite."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

import ganlint
from ganlint.errors import ConfigError, DataError
from ganlint.training.losses import LOSSES, get_loss
from ganlint.training.skeleton import eval_steps, picture_steps
from ganlint.training.telemetry import COLUMNS, EVAL_COLUMNS, FINITE_COLUMNS, STEP_COLUMNS

DATASETS = ("gaussian1d", "ring8", "grid25", "mnist", "reviews")
TRAIN_COLUMNS = ["step", *STEP_COLUMNS]  # everything but the host clock and the evaluations

# -- the smoke runs: one per dataset, shared by the tests that only read them ------------------------------------

SMOKE_STEPS, SMOKE_EVERY = 25, 10
SMOKE_EVALS = [1, 10, 20, 25]  # step 1, every 10th, and the last


@pytest.fixture(scope="module")
def smoke(tmp_path_factory, shipped_mnist):
    """smoke(dataset) -> Run of 25 tiny steps (trained once per module)."""
    cache: dict[str, ganlint.Run] = {}

    def get(dataset: str) -> ganlint.Run:
        if dataset not in cache:
            with pytest.MonkeyPatch.context() as mp:
                import importlib

                mnist_mod = importlib.import_module("ganlint.data.mnist")
                images, labels = shipped_mnist
                mp.setattr(mnist_mod, "_read_shipped", lambda: (images.clone(), labels.clone()))
                mp.delenv("GANLINT_DATA", raising=False)
                cache[dataset] = ganlint.train(
                    dataset=dataset, steps=SMOKE_STEPS, eval_every=SMOKE_EVERY, batch_size=32, eval_samples=200,
                    pictures=2, flush_every=8, g_width=32, d_width=32, device="cpu", seed=1,
                    out=str(tmp_path_factory.mktemp(f"smoke-{dataset}")),
                )
        return cache[dataset]

    return get


def test_eval_and_picture_step_helpers() -> None:
    assert list(eval_steps(25, 10)) == SMOKE_EVALS
    assert list(eval_steps(5, 100)) == [1, 5]
    assert list(eval_steps(1, 1)) == [1]
    assert picture_steps(eval_steps(25, 10), 2) == [1, 25]
    assert picture_steps(SMOKE_EVALS, 2) == [1, 25]
    assert picture_steps(SMOKE_EVALS, 0) == []
    assert picture_steps(SMOKE_EVALS, 10) == SMOKE_EVALS


@pytest.mark.parametrize("dataset", DATASETS)
def test_smoke_telemetry_schema(smoke, dataset: str) -> None:
    run = smoke(dataset)
    tel = run.telemetry
    assert tuple(tel.columns) == COLUMNS
    assert tel["step"].tolist() == list(range(1, SMOKE_STEPS + 1))
    assert tel["step"].dtype == np.int64
    assert np.isfinite(tel[list(STEP_COLUMNS)].to_numpy()).all()
    assert tel["time_s"].is_monotonic_increasing and (tel["time_s"] >= 0).all()
    assert run.summary["stop_reason"] == "completed"
    assert run.summary["steps_completed"] == run.summary["steps_requested"] == SMOKE_STEPS


@pytest.mark.parametrize("dataset", DATASETS)
def test_smoke_evaluation_rows(smoke, dataset: str) -> None:
    tel = smoke(dataset).telemetry
    evaluated = tel.dropna(subset=["distance"])
    assert evaluated["step"].tolist() == SMOKE_EVALS
    assert tel.loc[~tel["step"].isin(SMOKE_EVALS), list(EVAL_COLUMNS)].isna().all().all()
    assert np.isfinite(evaluated[["distance", "diversity"]].to_numpy()).all()
    assert (evaluated["distance"] >= 0).all() and (evaluated["diversity"] >= 0).all()
    modes = {"gaussian1d": 1, "ring8": 8, "grid25": 25, "mnist": 10, "reviews": 3}[dataset]
    assert np.isfinite(evaluated[["modes_covered", "high_quality"]].to_numpy()).all()
    assert evaluated["modes_covered"].between(0, modes).all()
    assert (evaluated["modes_covered"] == evaluated["modes_covered"].round()).all()
    assert evaluated["high_quality"].between(0, 1).all()
    # mode_kl is NaN when no fake belongs to a mode (a mixture early on), else within [0, log K]
    kl = evaluated["mode_kl"].dropna()
    assert kl.between(0, math.log(modes) + 1e-9).all()
    assert np.isfinite(evaluated[["precision", "recall", "density", "coverage"]].to_numpy()).all()
    assert evaluated[["precision", "recall", "coverage"]].stack().between(0, 1).all()
    assert (evaluated["density"] >= 0).all()
    if dataset == "reviews":
        assert evaluated["category_coverage"].between(0, 1).all()
    else:
        assert evaluated["category_coverage"].isna().all()


@pytest.mark.parametrize("dataset", DATASETS)
def test_smoke_step_statistics_make_sense(smoke, dataset: str) -> None:
    run = smoke(dataset)
    tel = run.telemetry
    # nonsaturating: D's recorded outputs are probabilities
    assert tel["d_real"].between(0, 1).all() and tel["d_fake"].between(0, 1).all()
    assert (tel["loss_d"] > 0).all() and (tel["loss_g"] > 0).all()
    assert (tel[["grad_norm_g", "grad_norm_d"]] > 0).all().all()
    assert (tel[["update_ratio_g", "update_ratio_d"]] > 0).all().all()
    assert (tel[["update_ratio_g", "update_ratio_d"]] < 0.5).all().all()
    assert (tel[["real_std", "fake_std"]] > 0).all().all()
    # step 1: D has seen almost nothing, so the BCE loss is near 2 ln 2 and D near 0.5
    assert tel["loss_d"].iloc[0] == pytest.approx(2 * math.log(2), abs=0.15)
    n = 32 * math.prod(run.meta["dataset"]["shape"])
    if dataset == "gaussian1d":  # real batches of N(2, 0.2^2)
        assert (tel["real_mean"] - 2.0).abs().max() < 5 * 0.2 / math.sqrt(n)
        assert tel["real_std"].between(0.2 * 0.6, 0.2 * 1.4).all()
    elif dataset == "ring8":  # coordinates: mean 0, E[c_x^2] = 2 on a radius-2 ring
        assert tel["real_mean"].abs().max() < 0.8
        assert tel["real_std"].mean() == pytest.approx(math.sqrt(2 + 0.02**2), rel=0.1)
    elif dataset == "mnist":  # pixels in [-1, 1], G ends in tanh
        assert tel["real_mean"].between(-1, 0).all()
        assert tel[["fake_mean"]].abs().max().item() <= 1
    elif dataset == "reviews":  # each row: three one-hot blocks (sum 3) and one standardised value
        assert (tel["real_mean"] - 3 / 59).abs().max() < 5 / math.sqrt(32) / 59
        assert (tel["fake_mean"] - 3 / 59).abs().max() < 0.05


@pytest.mark.parametrize("dataset", DATASETS)
def test_smoke_run_folder(smoke, dataset: str) -> None:
    run = smoke(dataset)
    out = Path(run.out_dir)
    for name in ("config.json", "summary.json", "telemetry.parquet", "telemetry.csv",
                 "generator.safetensors", "discriminator.safetensors"):
        assert (out / name).is_file(), name
    assert all(p.exists() for p in run.paths.values())
    pngs = sorted(p.name for p in (out / "samples").glob("*.png"))
    assert pngs == ["step_000001.png", "step_000025.png"]
    for p in (out / "samples").glob("*.png"):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fakes = load_file(str(out / "samples" / "step_000025.safetensors"))["fake"]
    assert fakes.shape == (200, *run.meta["dataset"]["shape"])
    assert not list(out.glob(".*tmp"))  # no leftovers of the atomic writes


@pytest.mark.parametrize("dataset", DATASETS)
def test_smoke_parquet_and_csv_agree(smoke, dataset: str) -> None:
    out = Path(smoke(dataset).out_dir)
    pq = pd.read_parquet(out / "telemetry.parquet")
    csv = pd.read_csv(out / "telemetry.csv")
    assert list(pq.columns) == list(COLUMNS) == list(csv.columns)
    pd.testing.assert_frame_equal(pq, csv, check_exact=False, rtol=1e-12, atol=0)
    pd.testing.assert_frame_equal(pq, smoke(dataset).telemetry)


@pytest.mark.parametrize("dataset", DATASETS)
def test_smoke_config_and_summary_files(smoke, dataset: str) -> None:
    run = smoke(dataset)
    out = Path(run.out_dir)
    meta = json.loads((out / "config.json").read_text())
    assert meta["config"] == run.config.to_dict()
    assert meta["config"]["out"] == str(out)
    assert meta["config"]["model"] == ("tabular" if dataset == "reviews" else "mlp")
    assert meta["dataset"]["name"] == dataset
    assert meta["d_output"] == "probability"
    assert meta["device"] == "cpu"
    assert meta["parameters"]["generator"] == sum(p.numel() for p in run.generator.parameters())
    assert meta["parameters"]["discriminator"] == sum(p.numel() for p in run.discriminator.parameters())
    if dataset == "mnist":
        assert meta["dataset"]["source"].startswith("ganlint:")
    summary = json.loads((out / "summary.json").read_text(), parse_constant=_reject_constant)
    assert summary == json.loads(json.dumps(run.summary))
    last = run.telemetry.iloc[-1]
    for c in ("loss_d", "loss_g", "d_real", "d_fake"):
        assert summary["final"][c] == pytest.approx(last[c])
    assert summary["final_eval"]["step"] == SMOKE_STEPS
    assert summary["final_eval"]["distance"] == pytest.approx(last["distance"])


def _reject_constant(name: str):
    raise ValueError(f"summary.json holds {name}, which is not JSON")


# -- reproducibility -----------------------------------------------------------------------------------------------


def _training_part(run: ganlint.Run) -> pd.DataFrame:
    return run.telemetry[TRAIN_COLUMNS]


@pytest.mark.parametrize(
    "overrides",
    [{"dataset": "ring8"}, {"dataset": "reviews"}, {"dataset": "gaussian1d", "batch_norm": True, "dropout": 0.3}],
    ids=["ring8", "reviews", "gaussian1d-bn-dropout"],
)
def test_same_seed_same_telemetry(train_tiny, overrides: dict) -> None:
    a = train_tiny("a", **overrides)
    b = train_tiny("b", **overrides)
    pd.testing.assert_frame_equal(a.telemetry.drop(columns="time_s"), b.telemetry.drop(columns="time_s"),
                                  check_exact=True)
    c = train_tiny("c", seed=1, **overrides)
    assert not np.array_equal(_training_part(a).to_numpy(), _training_part(c).to_numpy())


def test_evaluations_do_not_perturb_training(train_tiny) -> None:
    often = train_tiny("often", eval_every=3, pictures=2, batch_norm=True, dropout=0.2)
    rarely = train_tiny("rarely", eval_every=1000, pictures=0, batch_norm=True, dropout=0.2)
    assert often.telemetry["distance"].notna().sum() > rarely.telemetry["distance"].notna().sum() == 2
    pd.testing.assert_frame_equal(_training_part(often), _training_part(rarely), check_exact=True)


def test_evaluations_do_not_perturb_tabular_training(train_tiny) -> None:
    often = train_tiny("often", dataset="reviews", eval_every=3)
    rarely = train_tiny("rarely", dataset="reviews", eval_every=1000)
    pd.testing.assert_frame_equal(_training_part(often), _training_part(rarely), check_exact=True)


def test_mnist_run_does_not_depend_on_the_classifier_being_loaded_already(train_tiny, fast_mnist) -> None:
    """The classifier is loaded at the first MNIST evaluation of a process; loading it must not shift the
    run's random stream (found when a resumed suite gave another FID than the uninterrupted one)."""
    from ganlint.metrics import mnist_classifier

    mnist_classifier._load.cache_clear()
    first = train_tiny("first", dataset="mnist", g_width=32, d_width=32)  # loads the classifier
    second = train_tiny("second", dataset="mnist", g_width=32, d_width=32)  # finds it loaded
    pd.testing.assert_frame_equal(first.telemetry.drop(columns="time_s"), second.telemetry.drop(columns="time_s"),
                                  check_exact=True)


def test_flush_interval_does_not_change_training(train_tiny) -> None:
    a = train_tiny("a", flush_every=1)
    b = train_tiny("b", flush_every=50)
    pd.testing.assert_frame_equal(a.telemetry.drop(columns="time_s"), b.telemetry.drop(columns="time_s"))


# -- checkpoints ---------------------------------------------------------------------------------------------------


def _same_modules(run: ganlint.Run, loaded: ganlint.Run, z: torch.Tensor, x: torch.Tensor, reseed: bool = False) -> None:
    assert not loaded.generator.training and not loaded.discriminator.training
    assert not run.generator.training and not run.discriminator.training
    with torch.no_grad():
        if reseed:
            torch.manual_seed(123)
        a = run.generator(z)
        if reseed:
            torch.manual_seed(123)
        b = loaded.generator(z)
        torch.testing.assert_close(a, b, rtol=0, atol=0)
        torch.testing.assert_close(run.discriminator(x), loaded.discriminator(x), rtol=0, atol=0)
    sd_run, sd_loaded = run.generator.state_dict(), loaded.generator.state_dict()
    assert sd_run.keys() == sd_loaded.keys()
    for k in sd_run:
        assert torch.equal(sd_run[k], sd_loaded[k]), k


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"spectral_norm": True, "minibatch_std": True, "batch_norm": True, "pack": 2, "dropout": 0.2},
        {"loss": "wgan-gp", "spectral_norm": True, "n_critic": 2},
    ],
    ids=["mlp", "mlp-sn-mbstd-bn-pack", "wgan-gp-sn"],
)
def test_checkpoint_round_trip_mlp(train_tiny, overrides: dict) -> None:
    run = train_tiny(**overrides)
    loaded = ganlint.load_run(run.out_dir)
    z = torch.randn(64, run.config.z_dim, generator=torch.Generator().manual_seed(0))
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(1))
    _same_modules(run, loaded, z, x)
    assert loaded.config == run.config
    assert loaded.summary == json.loads(json.dumps(run.summary))
    pd.testing.assert_frame_equal(loaded.telemetry, run.telemetry)


def test_checkpoint_round_trip_tabular(train_tiny) -> None:
    run = train_tiny(dataset="reviews", batch_norm=True)
    loaded = ganlint.load_run(run.out_dir)
    z = torch.randn(64, run.config.z_dim, generator=torch.Generator().manual_seed(0))
    # the tabular G draws Gumbel noise from the global RNG, so seed it alike for both
    _same_modules(run, loaded, z, run.generator(z).detach(), reseed=True)


def test_checkpoint_round_trip_dcgan(train_tiny, fast_mnist) -> None:
    run = train_tiny(dataset="mnist", model="dcgan", g_width=4, d_width=4, steps=4, eval_every=4, eval_samples=64,
                     spectral_norm=True, minibatch_std=True)
    assert run.config.batch_norm is True
    loaded = ganlint.load_run(run.out_dir)
    z = torch.randn(16, run.config.z_dim, generator=torch.Generator().manual_seed(0))
    x = torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1
    _same_modules(run, loaded, z, x)
    assert loaded.generator(z).shape == (16, 1, 28, 28)


def test_load_run_of_a_folder_without_a_run(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a ganlint run folder"):
        ganlint.load_run(tmp_path)


def test_load_run_without_weights(train_tiny) -> None:
    run = train_tiny()
    (Path(run.out_dir) / "discriminator.safetensors").unlink()
    with pytest.raises(DataError, match="discriminator"):
        ganlint.load_run(run.out_dir)


# -- every loss and the D/G options ------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", ["minimax", "nonsaturating", "wgan", "wgan-gp", "lsgan", "hinge"])
def test_every_loss_trains(train_tiny, loss: str) -> None:
    run = train_tiny(loss=loss, steps=6, n_critic=2, eval_every=3)
    tel = run.telemetry
    assert run.summary["stop_reason"] == "completed" and len(tel) == 6
    assert np.isfinite(tel[list(STEP_COLUMNS)].to_numpy()).all()
    assert run.meta["d_output"] == get_loss(loss).output
    if get_loss(loss).output == "probability":
        assert tel["d_real"].between(0, 1).all()
    if loss == "wgan":  # weight clipping: every D parameter within [-0.01, 0.01] after each step
        assert run.config.clip == 0.01
        for p in run.discriminator.parameters():
            assert p.abs().max().item() <= 0.01 + 1e-9
    if loss == "wgan-gp":
        assert run.config.gp_weight == 10.0
    if loss in ("wgan", "wgan-gp"):
        # the recorded D loss is the critic objective E[f(fake)] - E[f(real)]
        torch.testing.assert_close(torch.tensor(tel["loss_d"].to_numpy()),
                                   torch.tensor((tel["d_fake"] - tel["d_real"]).to_numpy()), rtol=1e-4, atol=1e-5)


def test_wgan_clipping_is_applied_with_a_large_clip_bound_too(train_tiny) -> None:
    run = train_tiny(loss="wgan", clip=0.05, steps=4, lr_d=0.1)
    largest = max(p.abs().max().item() for p in run.discriminator.parameters())
    assert largest <= 0.05 + 1e-9
    assert largest > 0.01  # the bound is the configured one, not the default


@pytest.mark.parametrize(
    "overrides",
    [
        {"label_smoothing": 0.1, "r1_gamma": 1.0},
        {"loss": "wgan-gp", "pack": 2, "minibatch_std": True},
        {"loss": "hinge", "spectral_norm": True, "dropout": 0.3, "batch_norm": True},
        {"loss": "lsgan", "pack": 4, "n_critic": 3},
    ],
    ids=["smoothing-r1", "wgangp-pack-mbstd", "hinge-sn-dropout-bn", "lsgan-pack4"],
)
def test_option_combinations_train(train_tiny, overrides: dict) -> None:
    run = train_tiny(steps=5, eval_every=5, **overrides)
    assert run.summary["stop_reason"] == "completed"
    assert np.isfinite(run.telemetry[list(STEP_COLUMNS)].to_numpy()).all()


# -- non-finite runs -----------------------------------------------------------------------------------------------

BAD_STEP = 7


@pytest.fixture
def nan_loss(monkeypatch: pytest.MonkeyPatch) -> str:
    """A loss named 'nan-after-7': the non-saturating loss whose G loss turns NaN at its 7th call (= step 7)."""
    base = get_loss("nonsaturating")
    calls = {"n": 0}

    def g_loss(fake: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        value = base.g_loss(fake)
        return value * float("nan") if calls["n"] >= BAD_STEP else value

    monkeypatch.setitem(LOSSES._items, "nan-after-7", dataclasses.replace(base, g_loss=g_loss))
    return "nan-after-7"


def test_non_finite_loss_stops_cleanly(train_tiny, nan_loss: str, caplog) -> None:
    run = train_tiny(loss=nan_loss, steps=40, flush_every=16, eval_every=5, pictures=3)
    expected_reason = f"non-finite loss_g at step {BAD_STEP}"
    assert run.stop_reason == expected_reason
    assert [r.getMessage() for r in caplog.records if r.name == "ganlint.training.loop"] == [f"stopping: {expected_reason}"]
    tel = run.telemetry
    assert tel["step"].tolist() == list(range(1, BAD_STEP + 1))  # up to and including the bad step
    assert np.isfinite(tel[list(FINITE_COLUMNS)].iloc[:-1].to_numpy()).all()
    assert math.isnan(tel["loss_g"].iloc[-1])
    assert math.isfinite(tel["loss_d"].iloc[-1])  # D's update came before G's loss went bad
    out = Path(run.out_dir)
    summary = json.loads((out / "summary.json").read_text(), parse_constant=_reject_constant)
    assert summary["stop_reason"] == expected_reason
    assert "non-finite" in summary["stop_reason"]
    assert summary["steps_completed"] == BAD_STEP and summary["steps_requested"] == 40
    assert summary["final"]["loss_g"] is None
    assert summary["final_eval"]["step"] == 5
    pd.testing.assert_frame_equal(pd.read_parquet(out / "telemetry.parquet"), tel)
    assert len(pd.read_csv(out / "telemetry.csv")) == BAD_STEP
    loaded = ganlint.load_run(out)  # a stopped run is still a run folder
    assert loaded.summary["stop_reason"] == expected_reason


def test_huge_learning_rate_diverges_and_stops(train_tiny, capsys) -> None:
    run = train_tiny(lr_g=1e30, lr_d=1e30, steps=50, flush_every=10, eval_every=10)
    reason = run.summary["stop_reason"]
    assert reason.startswith("non-finite")
    bad_step = int(reason.rsplit(" ", 1)[1])
    assert 1 <= bad_step < 50
    tel = run.telemetry
    assert tel["step"].max() == bad_step == run.summary["steps_completed"]
    assert not np.isfinite(tel[list(FINITE_COLUMNS)].iloc[-1].to_numpy()).all()
    summary = json.loads((Path(run.out_dir) / "summary.json").read_text(), parse_constant=_reject_constant)
    assert summary["stop_reason"] == reason


# -- run folders ---------------------------------------------------------------------------------------------------


def test_existing_run_is_not_overwritten(train_tiny, tiny: dict, tmp_path: Path) -> None:
    first = train_tiny("run", pictures=2)
    out = Path(first.out_dir)
    assert len(list((out / "samples").glob("step_*.png"))) == 2
    (out / "notes.txt").write_text("mine")
    before = (out / "telemetry.parquet").read_bytes()
    with pytest.raises(DataError, match="overwrite"):
        train_tiny("run", seed=5)
    assert (out / "telemetry.parquet").read_bytes() == before
    second = ganlint.train({**tiny, "seed": 5, "pictures": 0, "out": str(out)}, overwrite=True)
    assert second.config.seed == 5
    assert json.loads((out / "config.json").read_text())["config"]["seed"] == 5
    assert list((out / "samples").glob("step_*")) == []  # no stale pictures from the first run
    assert (out / "notes.txt").read_text() == "mine"  # only ganlint's own files are replaced


def test_empty_existing_folder_is_fine(train_tiny, tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    assert train_tiny("run").summary["stop_reason"] == "completed"


def test_out_that_is_a_file_is_a_data_error(train_tiny, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError):
        train_tiny("file")


def test_model_error_leaves_no_folder(train_tiny, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="28x28"):
        train_tiny("dc", model="dcgan")
    assert not (tmp_path / "dc").exists()


def test_train_accepts_config_objects_and_overrides(tmp_path: Path, tiny: dict) -> None:
    cfg = ganlint.TrainConfig(**{**tiny, "steps": 3, "out": str(tmp_path / "a")})
    run = ganlint.train(cfg, steps=2)
    assert len(run.telemetry) == 2 and run.config.steps == 2
    with pytest.raises(ConfigError, match="stepz"):
        ganlint.train({**tiny, "stepz": 3, "out": str(tmp_path / "b")})
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("impl", ["loop", "foreach", "fused"])
def test_adam_implementations_train_and_stay_close(train_tiny, impl) -> None:
    """The same run with another Adam implementation: the same arithmetic in another order."""
    base = train_tiny("default")
    other = train_tiny(impl, adam=impl)
    assert other.config.adam == impl
    a, b = _training_part(base), _training_part(other)
    assert np.isfinite(b.to_numpy()).all()
    np.testing.assert_allclose(b["loss_d"].to_numpy(), a["loss_d"].to_numpy(), rtol=1e-3, atol=1e-4)


def test_unknown_adam_implementation_is_a_config_error(tiny) -> None:
    from ganlint.errors import ConfigError

    with pytest.raises(ConfigError, match="adam must be one of default, loop, foreach, fused"):
        ganlint.train({**tiny, "adam": "apex"})
