"""Foreign training logs mapped onto ganlint's telemetry schema (ganlint.ingest)."""

from __future__ import annotations

import json
import re
import sys

import numpy as np
import pandas as pd
import pytest

from ganlint.diagnostics import diagnose, load_telemetry
from ganlint.errors import ConfigError, DataError
from ganlint.gating import validate_settings
from ganlint.ingest import needs_mapping, normalise, parse_mapping, to_telemetry


@pytest.mark.parametrize("name,expected", [
    ("errD", ("loss_d", "")), ("Loss_G", ("loss_g", "")), ("D(x)", ("d_real", "")), ("D(G(z))", ("d_fake", "")),
    ("train/d_loss_step", ("loss_d", "step")), ("g_loss_epoch", ("loss_g", "epoch")), ("global_step", ("step", "")),
    ("grad_norm_d", ("grad_norm_d", "")), ("val_acc", ("", "")),
])
def test_names(name, expected):
    assert normalise(name) == expected


def test_lightning_metrics_csv_rows_are_merged_per_step():
    # Lightning writes one sparse row per logging call, plus per-epoch aggregates.
    raw = pd.DataFrame([
        {"epoch": 0, "step": 49, "train/d_loss_step": 1.30, "train/g_loss_step": np.nan, "d_loss_epoch": np.nan},
        {"epoch": 0, "step": 49, "train/d_loss_step": np.nan, "train/g_loss_step": 0.80, "d_loss_epoch": np.nan},
        {"epoch": 0, "step": 99, "train/d_loss_step": 1.20, "train/g_loss_step": 0.90, "d_loss_epoch": np.nan},
        {"epoch": 0, "step": 99, "train/d_loss_step": np.nan, "train/g_loss_step": np.nan, "d_loss_epoch": 1.25},
    ])
    df = to_telemetry(raw)
    assert list(df.columns) == ["step", "loss_d", "loss_g"]
    assert df["step"].tolist() == [49, 99]
    assert df["loss_d"].tolist() == [1.30, 1.20] and df["loss_g"].tolist() == [0.80, 0.90]


def test_dcgan_tutorial_log():
    raw = pd.DataFrame({"iters": [1, 2], "errD": [1.4, 1.3], "errG": [0.7, 0.8], "D(x)": [0.5, 0.6], "D(G(z))": [0.5, 0.4]})
    raw = raw.rename(columns={"iters": "iteration"})
    df = to_telemetry(raw)
    assert set(df.columns) == {"step", "loss_d", "loss_g", "d_real", "d_fake"}


def test_pytorch_gan_csv_counts_steps_by_batches_done(tmp_path):
    """PyTorch-GAN's scripts log epoch, batch (restarting every epoch) and batches_done (counting on):
    every row is its own step, none merged into the first epoch's."""
    n, per_epoch = 600, 150
    rng = np.random.default_rng(0)
    path = tmp_path / "log.csv"
    pd.DataFrame({"epoch": np.repeat(np.arange(n // per_epoch), per_epoch), "batch": np.tile(np.arange(per_epoch), n // per_epoch),
                  "batches_done": np.arange(n), "D loss": rng.random(n), "G loss": rng.random(n)}).to_csv(path, index=False)
    df, _ = load_telemetry(path)
    assert len(df) == n and df["step"].tolist() == list(range(n))


def test_wandb_chart_export_reads_the_metrics_and_drops_the_bands():
    df = pd.DataFrame({"Step": [1, 2, 3], "run-3 - loss_D": [1.0, 0.9, 0.8], "run-3 - loss_D__MIN": [0.5] * 3,
                       "run-3 - loss_D__MAX": [1.5] * 3, "run-3 - D(G(z))": [0.4, 0.45, 0.5]})
    t = to_telemetry(df)
    assert t.columns.tolist() == ["step", "loss_d", "d_fake"] and t["loss_d"].tolist() == [1.0, 0.9, 0.8]


def test_no_step_or_no_signal_is_a_clear_error():
    with pytest.raises(DataError, match="no step column"):
        to_telemetry(pd.DataFrame({"loss_d": [1.0]}))
    with pytest.raises(DataError, match="none of the signals"):
        to_telemetry(pd.DataFrame({"step": [1], "val_acc": [0.3]}))


# -- logs that can be judged: 600 steps whose answer is known by construction -------------------------------


def gan_log(n: int = 600, vanishing: bool = True, seed: int = 0) -> pd.DataFrame:
    """A log in ganlint's names. vanishing: from step 60 D wins outright (D(x) 0.999, D(G(z)) 0.001, D's
    loss ~0) and G's gradient norm decays to 1/5000 of its early value; otherwise everything sits calmly
    at the equilibrium (stable, though without sample evidence)."""
    rng = np.random.default_rng(seed)
    step = np.arange(1, n + 1)
    df = pd.DataFrame({"step": step, "loss_d": 1.38 + 0.02 * rng.standard_normal(n),
                       "loss_g": 0.70 + 0.02 * rng.standard_normal(n), "d_real": 0.52 + 0.02 * rng.standard_normal(n),
                       "d_fake": 0.48 + 0.02 * rng.standard_normal(n), "grad_norm_g": 0.5 + 0.05 * rng.standard_normal(n),
                       "grad_norm_d": 0.8 + 0.05 * rng.standard_normal(n)})
    if vanishing:
        won = step >= 60
        df.loc[won, ["loss_d", "loss_g", "d_real", "d_fake"]] = [0.002, 6.9, 0.999, 0.001]
        df["grad_norm_g"] = np.where(won, np.maximum(0.5 * np.exp(-(step - 60) / 20), 1e-4), df["grad_norm_g"])
    return df


# Names no alias knows: only an explicit mapping can read them.
ODD = {"step": "iteration", "loss_d": "critic_total", "loss_g": "gen_total", "d_real": "disc_on_data",
       "d_fake": "disc_on_samples", "grad_norm_g": "gnorm_gen"}
ODD_MAP = {k: v for k, v in ODD.items() if k != "step"}


def odd_log(**kw) -> pd.DataFrame:
    return gan_log(**kw)[list(ODD)].rename(columns=ODD)


@pytest.mark.parametrize("name,expected", [
    ("Loss/D", ("loss_d", "")), ("losses/G", ("loss_g", "")), ("loss/D_step", ("loss_d", "step")),
    ("D_out_real", ("d_real", "")), ("grad/G", ("grad_norm_g", "")), ("critic_total", ("", "")),
])
def test_tensorboard_style_names(name, expected):
    assert normalise(name) == expected


def test_parse_mapping():
    assert parse_mapping(["loss_d=D loss, loss_g = G_loss,", "d_real=D(x)"]) == {
        "loss_d": "D loss", "loss_g": "G_loss", "d_real": "D(x)"}
    for bad, match in [("loss_d", "GANLINT_COLUMN=LOG_COLUMN"), ("=D_loss", "GANLINT_COLUMN=LOG_COLUMN"),
                       ("loss_d=a,loss_d=b", "maps loss_d twice"),
                       ("lossd=D_loss", r"'lossd' is not a ganlint telemetry column \(did you mean 'loss_d'.*valid columns: step, loss_d")]:
        with pytest.raises(ConfigError, match=match):
            parse_mapping([bad])


def test_explicit_mapping_is_applied_first_and_wins():
    raw = odd_log().assign(errD=0.5)  # errD is an alias of loss_d: the explicit mapping must win over it
    df = to_telemetry(raw, ODD_MAP)
    assert list(df.columns) == ["step", "loss_d", "loss_g", "d_real", "d_fake", "grad_norm_g"]
    assert df["loss_d"].iloc[-1] == pytest.approx(0.002) and len(df) == 600
    assert diagnose(df).label == "vanishing-gradient"
    # Without the mapping only errD and the step are recognised.
    assert list(to_telemetry(raw).columns) == ["step", "loss_d"]


def test_mapped_column_missing_names_it_and_lists_the_columns():
    with pytest.raises(DataError, match=r"the log has no column 'critic_totl' \(mapped to loss_d\) "
                       r"\(did you mean 'critic_total'\?\); its columns: iteration, critic_total, gen_total"):
        to_telemetry(odd_log(), {"loss_d": "critic_totl"})
    with pytest.raises(DataError, match="did you mean 'gnorm_gen'"):
        to_telemetry(odd_log(), {"grad_norm_g": "GNORM_GEN"})
    with pytest.raises(ConfigError, match="not a ganlint telemetry column"):
        to_telemetry(odd_log(), {"D_loss": "critic_total"})


def test_non_numeric_mapped_column_is_a_clear_error():
    raw = odd_log()
    raw["critic_total"] = raw["critic_total"].map(lambda v: f"tensor({v:.3f})")
    with pytest.raises(DataError, match=r"column 'critic_total' \(read as loss_d\) is not numeric \(e.g. 'tensor"):
        to_telemetry(raw, ODD_MAP)


def test_needs_mapping_leaves_ganlint_tables_alone():
    ours = gan_log()
    assert not needs_mapping(ours)
    assert not needs_mapping(ours.assign(epoch=0, lr=1e-4, d_loss_epoch=1.0))  # nothing new to map
    assert needs_mapping(ours.drop(columns="grad_norm_g").assign(G_grad_norm=1.0))  # a new signal under another name
    assert needs_mapping(ours.rename(columns={"step": "global_step"}))
    assert needs_mapping(pd.concat([ours, ours]))  # sparse rows, one step twice


def test_load_telemetry_keeps_a_ganlint_table_exactly_and_maps_a_foreign_one(tmp_path):
    gan_log().to_csv(tmp_path / "ours.csv", index=False)
    df, meta = load_telemetry(tmp_path / "ours.csv")
    pd.testing.assert_frame_equal(df, pd.read_csv(tmp_path / "ours.csv"))
    assert meta == {}
    odd_log().to_csv(tmp_path / "odd.csv", index=False)
    odd_log().rename(columns={"iteration": "step"}).to_json(tmp_path / "odd.jsonl", orient="records", lines=True)
    for name in ("odd.csv", "odd.jsonl"):
        df, _ = load_telemetry(tmp_path / name, mapping=ODD_MAP)
        assert list(df.columns) == ["step", "loss_d", "loss_g", "d_real", "d_fake", "grad_norm_g"]
        assert diagnose(df).label == "vanishing-gradient"
    with pytest.raises(DataError, match="has no column 'nope'"):
        load_telemetry(tmp_path / "odd.csv", mapping={"loss_d": "nope"})
    with pytest.raises(ConfigError, match="valid columns"):
        load_telemetry(tmp_path / "absent.csv", mapping={"lossd": "x"})  # a bad key needs no file


def test_lightning_metrics_csv_folder(tmp_path):
    log = gan_log(vanishing=False)
    rows = []
    for r in log.itertuples():  # D's and G's metrics logged by separate calls: two sparse rows per step
        rows.append({"epoch": 0, "step": r.step, "train/d_loss_step": r.loss_d, "d_real": r.d_real, "d_fake": r.d_fake})
        rows.append({"epoch": 0, "step": r.step, "train/g_loss_step": r.loss_g})
    rows.append({"epoch": 0, "step": 600, "d_loss_epoch": 1.0})
    folder = tmp_path / "lightning_logs" / "version_0"
    folder.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(folder / "metrics.csv", index=False)
    df, _ = load_telemetry(folder)
    assert list(df.columns) == ["step", "loss_d", "loss_g", "d_real", "d_fake"] and len(df) == 600
    assert df["loss_g"].tolist() == pytest.approx(log["loss_g"].tolist())
    # Losses and D's outputs of a healthy-looking run: no failure, and no sample evidence either.
    assert diagnose(df).label == "inconclusive"


def trainer_state(log: pd.DataFrame) -> dict:
    """Hugging Face's trainer_state.json: training entries, evaluation entries, and a final summary."""
    history = []
    for r in log.itertuples():
        history.append({"epoch": r.step / 200, "step": r.step, "d_loss": r.loss_d, "g_loss": r.loss_g,
                        "D(x)": r.d_real, "D(G(z))": r.d_fake, "g_grad": r.grad_norm_g, "learning_rate": 2e-4})
        if r.step % 200 == 0:
            history.append({"epoch": r.step / 200, "step": r.step, "eval_loss": 0.3, "eval_runtime": 1.0})
    history.append({"epoch": 3.0, "step": len(log), "train_runtime": 12.0, "train_loss": 1.0})
    return {"global_step": len(log), "epoch": 3.0, "log_history": history}


def test_hugging_face_trainer_state(tmp_path):
    ckpt = tmp_path / "out" / "checkpoint-600"
    ckpt.mkdir(parents=True)
    (ckpt / "trainer_state.json").write_text(json.dumps(trainer_state(gan_log())))
    (ckpt / "config.json").write_text(json.dumps({"model_type": "gan"}))  # the model's config, not ganlint's
    (tmp_path / "out" / "checkpoint-90").mkdir()
    (tmp_path / "out" / "checkpoint-90" / "trainer_state.json").write_text(json.dumps(trainer_state(gan_log(90))))
    for path in (ckpt / "trainer_state.json", ckpt, tmp_path / "out"):  # the file, its folder, the output folder
        df, meta = load_telemetry(path, mapping={"grad_norm_g": "g_grad"})
        assert meta == {} and len(df) == 600, path
        assert list(df.columns) == ["step", "loss_d", "loss_g", "d_real", "d_fake", "grad_norm_g"]
        assert diagnose(df).label == "vanishing-gradient"
    (tmp_path / "empty.json").write_text(json.dumps({"log_history": []}))
    with pytest.raises(DataError, match=r"the log '.*empty.json' is empty \(log_history has no entries\)"):
        load_telemetry(tmp_path / "empty.json")
    (tmp_path / "other.json").write_text(json.dumps({"a": 1}))
    with pytest.raises(DataError, match=r"neither a Hugging Face trainer_state\.json"):
        load_telemetry(tmp_path / "other.json")


@pytest.mark.parametrize("name,content,why", [
    ("zero.csv", "", r" \(0 bytes\)"), ("header.csv", "step,D_loss,G_loss\n", r" \(column names, no rows\)"),
    ("blank.jsonl", "\n\n", r" \(blank lines only\)"), ("zero.parquet", "", r" \(0 bytes\)"),
    ("state.json", "  ", ""),
])
def test_empty_logs_say_so(tmp_path, name, content, why):
    (tmp_path / name).write_text(content)
    with pytest.raises(DataError, match=rf"the log '.*{name}' is empty{why}"):
        load_telemetry(tmp_path / name)


def write_tensorboard(folder, log: pd.DataFrame) -> None:
    """A log as a plain PyTorch loop writes it: add_scalar, add_scalars (one subfolder per curve) and a
    TF2-style scalar (stored as a tensor)."""
    from torch.utils.tensorboard import SummaryWriter

    w = SummaryWriter(str(folder))
    for r in log.itertuples():
        w.add_scalar("Loss/D", r.loss_d, r.step)
        w.add_scalar("Loss/G", r.loss_g, r.step)
        w.add_scalars("D_out", {"real": r.d_real, "fake": r.d_fake}, r.step)
        w.add_scalar("gnorm_gen", r.grad_norm_g, r.step, new_style=True)
    w.close()


def test_tensorboard_round_trip(tmp_path):
    pytest.importorskip("tensorboard")
    log = gan_log()
    write_tensorboard(tmp_path / "runs" / "exp1", log)
    df, meta = load_telemetry(tmp_path / "runs", mapping={"grad_norm_g": "gnorm_gen"})  # the one run below
    assert meta == {} and list(df.columns) == ["step", "loss_d", "loss_g", "d_real", "d_fake", "grad_norm_g"]
    assert df["step"].tolist() == list(range(1, 601))
    for c in df.columns[1:]:  # float32 in the event file
        np.testing.assert_allclose(df[c], log[c], rtol=1e-6)
    assert diagnose(df).label == "vanishing-gradient"
    (event,) = (tmp_path / "runs" / "exp1").glob("events.out.tfevents.*")
    assert list(load_telemetry(event)[0].columns) == ["step", "loss_d", "loss_g"]  # one file: its own tags
    with pytest.raises(DataError, match=r"has no column 'grad_norm'.*its columns: step, Loss/D, Loss/G, gnorm_gen, D_out_fake, D_out_real$"):
        load_telemetry(tmp_path / "runs" / "exp1", mapping={"grad_norm_g": "grad_norm"})
    write_tensorboard(tmp_path / "runs" / "exp2", log.iloc[:5])
    with pytest.raises(DataError, match=r"holds 2 TensorBoard runs \(exp1, exp2\); point at one of them"):
        load_telemetry(tmp_path / "runs")
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(tmp_path / "text_only")) as w:
        w.add_text("note", "no scalars here", 1)
    with pytest.raises(DataError, match=r"is empty \(no scalars\)"):
        load_telemetry(tmp_path / "text_only")


def test_tensorboard_missing_gives_the_install_hint(tmp_path, monkeypatch):
    (tmp_path / "events.out.tfevents.1.host").write_bytes(b"")
    for mod in ("tensorboard", "tensorboard.backend.event_processing", "tensorboard.util"):
        monkeypatch.setitem(sys.modules, mod, None)  # None in sys.modules: the import fails
    with pytest.raises(DataError, match=re.escape("needs the tensorboard package: pip install 'ganlint[tensorboard]'")):
        load_telemetry(tmp_path)


def test_settings_map_is_validated():
    assert validate_settings({"map": {"loss_d": "D_loss"}})["map"] == {"loss_d": "D_loss"}
    with pytest.raises(ConfigError, match=r"map must be a table of ganlint column = .*'lossd' is not one \(did you mean 'loss_d'"):
        validate_settings({"map": {"lossd": "D_loss"}}, where="pyproject.toml")
    with pytest.raises(ConfigError, match="map must be a table"):
        validate_settings({"map": {"loss_d": 3}})
    with pytest.raises(ConfigError, match="map must be a table"):
        validate_settings({"map": "loss_d=D_loss"})
