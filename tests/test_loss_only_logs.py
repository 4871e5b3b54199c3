"""Loss-only logs never pass the gate, and absent is not broken (issue 13), checked as a user checks them.

A run that is collapsed by construction is trained with `ganlint train` (the options of the scenario
`collapsed_reviews`, the cheapest collapsed scenario: no ring8 scenario collapses cleanly, see
scenarios/README.md), labelled collapsed from its own folder, and then its losses and D's outputs are
written the way other tools write them: TensorBoard event files (torch.utils.tensorboard), a Lightning
CSVLogger metrics.csv, a Hugging Face trainer_state.json, a Weights & Biases chart export and history
export, a CSV of pytorch/examples dcgan's printed fields, and one of PyTorch-GAN's. In these logs D sits
near 0.5/0.5 and the losses near equilibrium: they look healthy while the samples are collapsed. Losses
alone never show health, so `ganlint diagnose LOG` must say inconclusive with exit 3 for every one of
them, and `--fail-on any,error` (the documented way to let inconclusive through) exits 0 with the same
label.

Then small hand-made CSVs, each with its truth stated where it is built: a column that was never logged
(empty, or NaN from start to end) is absent, not diverged; 1 and 10 rows are too few to judge; a value
that turns NaN or inf after being finite is diverged.

Every Python start costs seconds (torch), so all commands run once for the module, two at a time.
"""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ganlint.suite.scenarios import load_scenarios

pytestmark = pytest.mark.slow  # one ~10 s training and ~25 `ganlint diagnose` subprocesses

SCENARIO = "collapsed_reviews"
WANDB_RUN = "dashing-river-3"  # W&B names runs adjective-noun-number; the chart export prefixes columns with it
WANDB_MAP = {"loss_d": "loss_D", "loss_g": "loss_G", "d_real": "D(x)", "d_fake": "D(G(z))"}  # ganlint: W&B key
LOGGING_STEPS = 10  # how often the Lightning and Hugging Face users log (log_every_n_steps / logging_steps)
FOREIGN = ("tensorboard", "tensorboard_add_scalars", "lightning", "huggingface", "wandb_chart", "wandb_history",
           "dcgan_csv", "pytorch_gan_csv")
# The gate's allowance does not depend on the format: two formats (a binary log, a CSV) are enough, and each
# diagnose is a ~5 s subprocess.
ALLOWED = ("tensorboard", "dcgan_csv")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GANLINT_DATA", "GITHUB_STEP_SUMMARY")}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def _ganlint(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ganlint", *args], cwd=cwd, env=_env(), capture_output=True,
                          text=True, timeout=600)


def _train_flags(train: dict) -> list[str]:
    """`ganlint train` flags for a scenario's [train] table."""
    flags = []
    for key, value in train.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            flags.append(flag if value else "--no-" + key.replace("_", "-"))
        else:
            flags += [flag, str(value)]
    return flags


# -- the foreign formats, written as each tool writes them ---------------------------------------------


def write_tensorboard(folder: Path, log: pd.DataFrame, add_scalars: bool = False) -> Path:
    """torch.utils.tensorboard, as most PyTorch GAN scripts use it: add_scalar("Loss/D", ...) per step,
    or add_scalars("Loss", {"D": .., "G": ..}), which writes one subfolder of event files per curve."""
    with warnings.catch_warnings():  # tensorboard's dependencies warn about their own deprecations
        warnings.simplefilter("ignore", DeprecationWarning)
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(log_dir=str(folder))
        for r in log.itertuples():
            if add_scalars:
                writer.add_scalars("Loss", {"D": r.loss_d, "G": r.loss_g}, r.step)
                writer.add_scalars("D", {"real": r.d_real, "fake": r.d_fake}, r.step)
            else:
                writer.add_scalar("Loss/D", r.loss_d, r.step)
                writer.add_scalar("Loss/G", r.loss_g, r.step)
                writer.add_scalar("D(x)", r.d_real, r.step)
                writer.add_scalar("D(G(z))", r.d_fake, r.step)
        writer.close()
    return folder


def write_lightning(save_dir: Path, log: pd.DataFrame) -> Path:
    """Lightning's CSVLogger, fed as a LightningModule with manual optimization feeds it: self.log("d_loss",
    ...) etc. in training_step (on_step by default there), flushed every log_every_n_steps with the epoch
    added, at Lightning's 0-based step."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from lightning.pytorch.loggers import CSVLogger

        logger = CSVLogger(save_dir=str(save_dir), name="lightning_logs")
        for r in log.itertuples():
            if r.step % LOGGING_STEPS == 0:
                logger.log_metrics({"d_loss": r.loss_d, "g_loss": r.loss_g, "d_real": r.d_real, "d_fake": r.d_fake,
                                    "epoch": (r.step - 1) // 100}, step=r.step - 1)
        logger.save()
        logger.finalize("success")
    return Path(logger.log_dir) / "metrics.csv"


def write_trainer_state(folder: Path, log: pd.DataFrame) -> Path:
    """transformers' TrainerState.save_to_json: the dataclass as sorted, indented JSON. A GAN trained with
    the HF Trainer logs its own metrics with self.log({...}) every logging_steps; the Trainer adds its own
    entry (loss averaged over the window, grad_norm, learning_rate) at the same step, each with epoch and
    step, and a last entry with the training summary."""
    steps, per_epoch = int(log["step"].max()), 100
    history = []
    for r in log.itertuples():
        if r.step % LOGGING_STEPS:
            continue
        epoch = round(r.step / per_epoch, 4)
        window = log[(log["step"] > r.step - LOGGING_STEPS) & (log["step"] <= r.step)]
        history.append({"loss": round(float(window["loss_g"].mean()), 4), "grad_norm": float(r.grad_norm_g),
                        "learning_rate": 2e-4, "epoch": epoch, "step": int(r.step)})
        history.append({"d_loss": float(r.loss_d), "g_loss": float(r.loss_g), "d_real": float(r.d_real),
                        "d_fake": float(r.d_fake), "epoch": epoch, "step": int(r.step)})
    history.append({"epoch": steps / per_epoch, "step": steps, "total_flos": 0.0,
                    "train_loss": float(log["loss_g"].mean()), "train_runtime": 9.44,
                    "train_samples_per_second": 6778.5, "train_steps_per_second": 105.9})
    state = {
        "best_global_step": None, "best_metric": None, "best_model_checkpoint": None, "epoch": steps / per_epoch,
        "eval_steps": 500, "global_step": steps, "is_hyper_param_search": False, "is_local_process_zero": True,
        "is_world_process_zero": True, "log_history": history, "logging_steps": LOGGING_STEPS, "max_steps": steps,
        "num_input_tokens_seen": 0, "num_train_epochs": steps // per_epoch, "save_steps": 500,
        "stateful_callbacks": {"TrainerControl": {"args": {"should_epoch_stop": False, "should_evaluate": False,
                                                           "should_log": False, "should_save": True,
                                                           "should_training_stop": True}, "attributes": {}}},
        "total_flos": 0.0, "train_batch_size": 128, "trial_name": None, "trial_params": None,
    }
    path = folder / f"checkpoint-{steps}" / "trainer_state.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    return path


def write_wandb_chart(folder: Path, log: pd.DataFrame) -> Path:
    """A W&B line chart's "Download CSV" (wandb.log({"loss_D": .., "loss_G": .., "D(x)": .., "D(G(z))": ..})):
    every field quoted, a "Step" column, then per metric "<run> - <metric>" and its __MIN and __MAX
    (the same value for a single run; see wandb/wandb issues 5222 and 5349)."""
    metrics = {m: k for k, m in WANDB_MAP.items()}
    header = ["Step"] + [f"{WANDB_RUN} - {m}{s}" for m in metrics for s in ("", "__MIN", "__MAX")]
    path = folder / "wandb_export_2025-01-15T10_42_07.512+01_00.csv"
    folder.mkdir(parents=True)
    with path.open("w", newline="") as f:
        w = csv.writer(f, quoting=csv.QUOTE_ALL)
        w.writerow(header)
        for r in log.itertuples():
            w.writerow([r.step - 1] + [v for col in metrics.values() for v in (getattr(r, col),) * 3])
    return path


def write_wandb_history(folder: Path, log: pd.DataFrame) -> Path:
    """W&B's API export, `wandb.Api().run(path).history().to_csv("history.csv")`: history() samples 500
    rows by default; columns _step, _runtime, _timestamp and the logged keys; pandas writes its index."""
    rows = log.iloc[:: max(1, len(log) // 500)]
    df = pd.DataFrame({"D(G(z))": rows["d_fake"].to_numpy(), "D(x)": rows["d_real"].to_numpy(),
                       "_runtime": rows["time_s"].to_numpy(), "_step": (rows["step"] - 1).to_numpy(),
                       "_timestamp": 1.7369e9 + rows["time_s"].to_numpy(), "loss_D": rows["loss_d"].to_numpy(),
                       "loss_G": rows["loss_g"].to_numpy()})
    folder.mkdir(parents=True)
    path = folder / "history.csv"
    df.to_csv(path)
    return path


def write_dcgan_csv(folder: Path, log: pd.DataFrame) -> Path:
    """pytorch/examples dcgan's printed fields (Loss_D, Loss_G, D(x), D(G(z)) at D's update) written to a
    CSV by a user, one row per iteration, with the global iteration count."""
    folder.mkdir(parents=True)
    path = folder / "dcgan_log.csv"
    pd.DataFrame({"iteration": log["step"], "Loss_D": log["loss_d"], "Loss_G": log["loss_g"],
                  "D(x)": log["d_real"], "D(G(z))": log["d_fake"]}).to_csv(path, index=False)
    return path


def write_pytorch_gan_csv(folder: Path, log: pd.DataFrame, batches_per_epoch: int = 250) -> Path:
    """eriklindernoren/PyTorch-GAN's printed fields ([Epoch e/E] [Batch i/N] [D loss: x] [G loss: y]) as
    a CSV, with the script's own global count batches_done = epoch * len(dataloader) + i. Its D loss is
    (real + fake) / 2, so the run's summed loss_d is halved."""
    folder.mkdir(parents=True)
    path = folder / "pytorch_gan_log.csv"
    i = log["step"] - 1
    pd.DataFrame({"epoch": i // batches_per_epoch, "batch": i % batches_per_epoch, "batches_done": i,
                  "D loss": log["loss_d"] / 2, "G loss": log["loss_g"]}).to_csv(path, index=False)
    return path


# -- hand-made CSVs for "absent is not broken" ------------------------------------------------------------


def calm_losses(steps: int = 200, seed: int = 0) -> pd.DataFrame:
    """Losses and D outputs at the BCE equilibrium with a little noise: finite everywhere."""
    rng = np.random.default_rng(seed)
    n = rng.normal(0.0, 0.02, size=(4, steps))
    return pd.DataFrame({"step": np.arange(1, steps + 1), "loss_d": 2 * math.log(2) + n[0], "loss_g": math.log(2) + n[1],
                         "d_real": 0.5 + n[2], "d_fake": 0.5 + n[3]})


def write_absent_cases(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True)
    out = {}
    # Truth: grad_norm_g was never logged (the header is there, every cell empty); the losses are finite
    # from start to end. Nothing diverged; the log holds losses only, so it cannot be judged: inconclusive.
    df = calm_losses()
    df["grad_norm_g"] = ""
    out["empty_column"] = folder / "empty_column.csv"
    df.to_csv(out["empty_column"], index=False)
    # Truth: the same, with the missing values written as "nan" (a logger that writes float('nan') for a
    # quantity it never computed). NaN from the first row to the last is absence, not divergence.
    df = calm_losses(seed=1)
    df["grad_norm_g"] = float("nan")
    out["all_nan_column"] = folder / "all_nan_column.csv"
    df.to_csv(out["all_nan_column"], index=False, na_rep="nan")
    # Truth: one logged step cannot show a trend, a collapse or health: inconclusive.
    out["one_row"] = folder / "one_row.csv"
    calm_losses(steps=1).to_csv(out["one_row"], index=False)
    # Truth: ten steps of a fresh run, in ganlint's own schema with evaluations at steps 1 and 10. A generator
    # at initialisation draws a narrow blob (low diversity, one class), which is where every run starts,
    # not a collapse: ten steps are too few to judge, so inconclusive and never collapsed.
    df = calm_losses(steps=10, seed=2)
    df["grad_norm_g"], df["grad_norm_d"] = 0.2, 0.5
    for col, value in {"distance": 2700.0, "diversity": 0.15, "modes_covered": 1.0, "high_quality": 0.0,
                       "mode_kl": 2.3, "precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}.items():
        df[col] = np.where(df["step"].isin([1, 10]), value, np.nan)
    out["ten_rows"] = folder / "ten_rows.csv"
    df.to_csv(out["ten_rows"], index=False)
    # Truth: finite losses until step 150, then D's loss overflows to inf and both losses are NaN after:
    # a value that turns non-finite after being finite is divergence.
    df = calm_losses(seed=3)
    df.loc[df["step"] == 150, "loss_d"] = float("inf")
    df.loc[df["step"] > 150, ["loss_d", "loss_g"]] = float("nan")
    out["turns_nan"] = folder / "turns_nan.csv"
    df.to_csv(out["turns_nan"], index=False, na_rep="nan")
    # Truth: grad_norm_g (the column that is absent above) is logged and finite for 120 steps, then NaN
    # while the losses stay finite: G's gradient blew up, which is divergence, not absence.
    df = calm_losses(seed=4)
    df["grad_norm_g"] = np.where(df["step"] <= 120, 0.5, np.nan)
    out["column_turns_nan"] = folder / "column_turns_nan.csv"
    df.to_csv(out["column_turns_nan"], index=False, na_rep="nan")
    return out


# -- the module's runs --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """Train the collapsed run, write every log, run every command; {name: (path, CompletedProcess)}."""
    work = tmp_path_factory.mktemp("loss_only")
    sc = {s.name: s for s in load_scenarios(None, suite="quick")}[SCENARIO]
    run_dir = work / "run"
    trained = _ganlint(["train", *_train_flags(sc.train), "--seed", "0", "--device", "cpu", "--out", str(run_dir),
                        "--no-report", "--quiet"], work)
    assert trained.returncode == 0, trained.stderr[-3000:]
    log = pd.read_parquet(run_dir / "telemetry.parquet")
    paths = {
        "tensorboard": write_tensorboard(work / "runs" / "Jan15_10-42-07_gan", log),
        "tensorboard_add_scalars": write_tensorboard(work / "runs_scalars" / "exp1", log, add_scalars=True),
        "lightning": write_lightning(work / "pl", log),
        "huggingface": write_trainer_state(work / "hf_out", log),
        "wandb_chart": write_wandb_chart(work / "wandb_chart", log),
        "wandb_history": write_wandb_history(work / "wandb_api", log),
        "dcgan_csv": write_dcgan_csv(work / "dcgan", log),
        "pytorch_gan_csv": write_pytorch_gan_csv(work / "pytorch_gan", log),
        **write_absent_cases(work / "absent"),
    }
    commands = {"own_folder": ["diagnose", str(run_dir), "--format", "json", "--no-config"]}
    for name, path in paths.items():
        commands[name] = ["diagnose", str(path), "--format", "json", "--no-config"]
    for name in ALLOWED:
        commands[f"{name}+fail_on"] = ["diagnose", str(paths[name]), "--format", "json", "--no-config",
                                       "--fail-on", "any,error"]
    # The chart export's columns carry the run's name: the user names them, as ganlint's error tells them to.
    commands["wandb_chart+map"] = ["diagnose", str(paths["wandb_chart"]), "--format", "json", "--no-config", "--map",
                                   ",".join(f"{k}={WANDB_RUN} - {m}" for k, m in WANDB_MAP.items())]
    with ThreadPoolExecutor(max_workers=2) as pool:
        procs = dict(zip(commands, pool.map(lambda a: _ganlint(a, work), commands.values()), strict=True))
    return {"sc": sc, "log": log, "paths": paths, "procs": procs}


def _verdict(proc: subprocess.CompletedProcess) -> dict:
    assert proc.stdout.strip(), f"exit {proc.returncode}, nothing on stdout; stderr: {proc.stderr.strip()[-2000:]}"
    return json.loads(proc.stdout)


def _said(proc: subprocess.CompletedProcess, out: dict) -> str:
    return f"label {out['label']!r}, exit {proc.returncode}: {out.get('summary')}"


def test_the_run_is_collapsed_by_its_own_telemetry(ran):
    assert ran["sc"].expect == "collapsed"  # the scenario file, not this test, states the truth
    proc = ran["procs"]["own_folder"]
    out = _verdict(proc)
    assert out["label"] == "collapsed", _said(proc, out)
    assert proc.returncode == 1, _said(proc, out)


def test_its_losses_look_calm(ran):
    """Why a loss-only log deceives: over the last 10% of the collapsed run, D's outputs sit near 0.5 and
    nothing in the losses is out of range (the numbers every foreign log below carries)."""
    tail = ran["log"].tail(max(1, len(ran["log"]) // 10))
    assert 0.35 < tail["d_real"].mean() < 0.65 and 0.35 < tail["d_fake"].mean() < 0.65, tail[["d_real", "d_fake"]].mean()
    assert np.isfinite(ran["log"][["loss_d", "loss_g", "d_real", "d_fake"]].to_numpy()).all()


@pytest.mark.parametrize("name", FOREIGN)
def test_loss_only_log_is_inconclusive_exit_3(ran, name):
    proc = ran["procs"][name]
    out = _verdict(proc)
    said = f"ganlint diagnose {ran['paths'][name].name}: " + _said(proc, out)
    assert out["label"] != "stable", said  # losses alone never show health
    assert out["label"] == "inconclusive", said
    assert proc.returncode == 3, said
    assert out["passed"] is False, said


@pytest.mark.parametrize("name", ALLOWED)
def test_fail_on_any_error_lets_inconclusive_through(ran, name):
    proc = ran["procs"][f"{name}+fail_on"]
    out = _verdict(proc)
    said = f"ganlint diagnose {ran['paths'][name].name} --fail-on any,error: " + _said(proc, out)
    assert out["label"] == "inconclusive", said  # the gate changes the exit code, never the label
    assert proc.returncode == 0, said


def test_wandb_chart_export_named_with_map_is_inconclusive(ran):
    """The W&B chart export with its columns named explicitly by --map (which wins over the recognised
    "<run> - loss_D" names): the same loss-only verdict."""
    proc = ran["procs"]["wandb_chart+map"]
    out = _verdict(proc)
    assert out["label"] == "inconclusive", _said(proc, out)
    assert proc.returncode == 3, _said(proc, out)


@pytest.mark.parametrize("name", ["empty_column", "all_nan_column"])
def test_a_column_never_logged_is_absent_not_diverged(ran, name):
    proc = ran["procs"][name]
    out = _verdict(proc)
    assert out["label"] != "diverged", _said(proc, out)
    assert "diverged" not in out["other_labels"], _said(proc, out)
    assert out["label"] == "inconclusive" and proc.returncode == 3, _said(proc, out)  # still a loss-only log


@pytest.mark.parametrize("name", ["one_row", "ten_rows"])
def test_too_few_rows_are_inconclusive(ran, name):
    proc = ran["procs"][name]
    out = _verdict(proc)
    assert out["label"] != "collapsed", _said(proc, out)
    assert out["label"] == "inconclusive", _said(proc, out)
    assert proc.returncode == 3, _said(proc, out)


@pytest.mark.parametrize("name", ["turns_nan", "column_turns_nan"])
def test_a_value_that_turns_non_finite_is_diverged(ran, name):
    proc = ran["procs"][name]
    out = _verdict(proc)
    assert out["label"] == "diverged", _said(proc, out)
    assert proc.returncode == 1, _said(proc, out)
