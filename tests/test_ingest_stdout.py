"""`ganlint diagnose train.log` on the raw stdout of the most-copied GAN scripts (issue 14).

The logs are written with the scripts' own print statements (pytorch/examples dcgan/main.py, the PyTorch
DCGAN tutorial's tab-separated copy, eriklindernoren/PyTorch-GAN's gan.py, acgan.py and wgan_gp.py),
fed by `simulate`: a D whose mean outputs on real and fake batches follow a chosen course, with the
losses computed from per-sample outputs through the BCE formulas exactly as those scripts compute them.
So each log's truth (the reduction of D's loss, the G loss, whether D saturates) is known by construction.

Error cases run `ganlint.cli.main` in-process; the CLI as a user runs it (`python -m ganlint`) once per
kind of outcome, the subprocesses together at module start (each Python start costs seconds).
"""

# The logs are written with the scripts' own %-format strings, byte for byte what they print.
# ruff: noqa: UP031

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ganlint.cli import main
from ganlint.diagnostics import diagnose, load_telemetry
from ganlint.errors import ConfigError, DataError
from ganlint.ingest.stdout import parse_stdout, sniff_text

BATCH = 64
# What these scripts print before training, and what a terminal leaves in a saved log.
NAMESPACE = ("Namespace(batchSize=64, beta1=0.5, cuda=False, dataroot='./data', dataset='mnist', imageSize=64, "
             "lr=0.0002, manualSeed=None, netD='', netG='', niter=3, nz=100, outf='.', workers=2)")
NOISE = [NAMESPACE, "Random Seed:  6271",
         "/usr/lib/python3/site-packages/torchvision/datasets/mnist.py:498: UserWarning: The given NumPy array "
         "is not writable",
         "100%|##########| 9912422/9912422 [00:02<00:00, 4230711.53it/s]"]


def simulate(steps: int, real_mean, fake_mean, seed: int = 0) -> list[dict]:
    """One dict per training step: D's per-sample outputs drawn around the given means (functions of the
    step index), and every logged quantity computed from them as the scripts compute it:
    real = mean -log D(x), fake = mean -log(1 - D(G(z))) (the two BCE terms of D's loss), D(G(z)) read
    before D's update (d_fake1) and after it (d_fake2, G's batch: D has learnt to push it down a little),
    G's non-saturating loss mean -log D(G(z)) and saturating loss mean log(1 - D(G(z))) on G's batch."""
    rng = np.random.default_rng(seed)
    out = []
    for t in range(steps):
        def draw(mean):
            logit = math.log(mean / (1 - mean)) + 0.3 * rng.standard_normal(BATCH)
            return 1 / (1 + np.exp(-logit))
        dx, dgz1 = draw(real_mean(t)), draw(fake_mean(t))
        dgz2 = draw(fake_mean(t) * 0.98)
        out.append({"real": float(np.mean(-np.log(dx))), "fake": float(np.mean(-np.log1p(-dgz1))),
                    "d_real": float(dx.mean()), "d_fake1": float(dgz1.mean()), "d_fake2": float(dgz2.mean()),
                    "ns": float(np.mean(-np.log(dgz2))), "sat": float(np.mean(np.log1p(-dgz2)))})
    return out


def healthy(steps: int, seed: int = 0) -> list[dict]:
    """D near equilibrium all along (0.55 / 0.45)."""
    return simulate(steps, lambda t: 0.55, lambda t: 0.45, seed)


def saturating_d(steps: int, seed: int = 0) -> list[dict]:
    """D wins from a fifth of the run on: D(x) -> 0.999, D(G(z)) -> 0.001."""
    return simulate(steps, lambda t: 0.55 if t < steps // 5 else 0.999, lambda t: 0.45 if t < steps // 5 else 0.001,
                    seed)


def dcgan_lines(sim: list[dict], batches: int, tab: bool = False) -> list[str]:
    """pytorch/examples dcgan/main.py's print (errD = errD_real + errD_fake; errG the non-saturating
    BCE against the real label), or the PyTorch DCGAN tutorial's tab-separated copy."""
    fmt = ("[%d/%d][%d/%d]\tLoss_D: %.4f\tLoss_G: %.4f\tD(x): %.4f\tD(G(z)): %.4f / %.4f" if tab else
           "[%d/%d][%d/%d] Loss_D: %.4f Loss_G: %.4f D(x): %.4f D(G(z)): %.4f / %.4f")
    epochs = -(-len(sim) // batches)
    return [fmt % (k // batches, epochs, k % batches, batches, r["real"] + r["fake"], r["ns"], r["d_real"],
                   r["d_fake1"], r["d_fake2"]) for k, r in enumerate(sim)]


def pytorch_gan_lines(sim: list[dict], batches: int, g: str = "ns", every: int = 1, acc: bool = False) -> list[str]:
    """PyTorch-GAN's print: d_loss = (real_loss + fake_loss) / 2; g_loss = adversarial_loss(D(G(z)), valid)
    (non-saturating) unless g="sat". wgan_gp.py prints only on batches that train G (every n_critic);
    acgan.py adds the auxiliary accuracy inside D's bracket."""
    epochs = -(-len(sim) // batches)
    out = []
    for k, r in enumerate(sim):
        if k % every:
            continue
        d_field = "[D loss: %f, acc: %d%%]" % ((r["real"] + r["fake"]) / 2, 50) if acc else \
            "[D loss: %f]" % ((r["real"] + r["fake"]) / 2)
        out.append("[Epoch %d/%d] [Batch %d/%d] %s [G loss: %f]" % (k // batches, epochs, k % batches, batches,
                                                                   d_field, r[g]))
    return out


def write(path: Path, lines: list[str], noise: list[str] = NOISE) -> Path:
    path.write_text("\n".join([*noise, *lines]) + "\n")
    return path


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GANLINT_DATA", "GITHUB_STEP_SUMMARY")}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def _one_line_error(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# -- the CLI as a user runs it ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    work = tmp_path_factory.mktemp("stdout_cli")
    write(work / "train.log", dcgan_lines(healthy(300), batches=100))
    (work / "garbage.out").write_bytes(b"\x00\x01binary\xff\xfe not a log\n" * 5)
    write(work / "loop.txt", ["it %d d=%.4f g=%.4f" % (k, r["real"] + r["fake"], r["ns"])
                              for k, r in enumerate(healthy(60))])
    commands = {
        "dcgan": ["diagnose", "train.log", "--format", "json", "--no-config"],
        "garbage": ["diagnose", "garbage.out", "--no-config"],
        "bad_regex": ["diagnose", "loop.txt", "--regex", "it (?P<step>\\d+", "--no-config"],
        "regex": ["diagnose", "loop.txt", "--regex", r"it (?P<step>\d+) d=(?P<errD>\S+) g=(?P<errG>\S+)",
                  "--format", "json", "--no-config"],
    }

    def run(args):
        return subprocess.run([sys.executable, "-m", "ganlint", *args], cwd=work, env=_env(), capture_output=True,
                              text=True, timeout=300)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(commands, pool.map(run, commands.values()), strict=True))


def test_cli_reads_the_dcgan_examples_stdout(cli_runs):
    """A healthy run's printed losses and D outputs: nothing to fault, nothing that shows health -> 3."""
    p = cli_runs["dcgan"]
    assert p.returncode == 3, p.stderr
    d = json.loads(p.stdout)
    assert d["label"] == "inconclusive"
    conv = next(f for f in d["findings"] if f["check"] == "vanishing_gradient.conventions")
    assert "D loss reduction sum (the pytorch/examples dcgan line format" in conv["message"]
    assert "G loss nonsaturating (inferred" in conv["message"]


def test_cli_garbage_and_bad_regex_are_one_line_exit_2(cli_runs):
    garbage, bad = cli_runs["garbage"], cli_runs["bad_regex"]
    assert garbage.returncode == 2 and garbage.stdout == ""
    assert "none of its 5 lines is a training-log line (5 skipped)" in _one_line_error(garbage.stderr)
    assert bad.returncode == 2 and bad.stdout == ""
    assert "is not a valid Python regular expression" in _one_line_error(bad.stderr)


def test_cli_regex_groups_map_like_columns(cli_runs):
    p = cli_runs["regex"]
    assert p.returncode == 3, p.stderr
    assert json.loads(p.stdout)["label"] == "inconclusive"


# -- the formats ----------------------------------------------------------------------------------------------


def test_dcgan_lines_with_the_namespace_line_and_noise(tmp_path):
    sim = healthy(120)
    tqdm = "\r 40%|####      | 2/5 [00:01<00:01,  1.9it/s]\r 60%|######    | 3/5 [00:01<00:00,  2.0it/s]"
    path = write(tmp_path / "train.log", dcgan_lines(sim, batches=40), noise=[*NOISE, tqdm])
    log = parse_stdout(path.read_text())
    assert log.format == "dcgan" and log.skipped == len(NOISE) + 2 and log.lines == 120 + len(NOISE) + 2
    df, meta = load_telemetry(path)
    assert list(df.columns) == ["step", "loss_d", "loss_g", "d_real", "d_fake"]
    assert meta["log"]["d_loss_reduction"] == "sum" and meta["log"]["skipped"] == len(NOISE) + 2
    # epoch * batches + batch: [1/3][0/40] is step 40, so steps increase across epochs
    assert df["step"].tolist() == list(range(120))
    # D(G(z)) is printed before / after D's update: the first is d_fake
    assert df["d_fake"].iloc[5] == pytest.approx(sim[5]["d_fake1"], abs=1e-4)
    assert df["loss_d"].iloc[5] == pytest.approx(sim[5]["real"] + sim[5]["fake"], abs=1e-4)


def test_the_tutorials_tab_separated_copy(tmp_path):
    path = write(tmp_path / "out.txt", dcgan_lines(healthy(60), batches=25, tab=True), noise=["Starting Training Loop..."])
    df, meta = load_telemetry(path)
    assert len(df) == 60 and df["step"].is_monotonic_increasing and meta["log"]["format"] == "pytorch/examples dcgan"


def test_pytorch_gan_lines_roll_over_epochs(tmp_path):
    sim = healthy(90)
    df, meta = load_telemetry(write(tmp_path / "gan.log", pytorch_gan_lines(sim, batches=30)))
    assert df["step"].tolist() == list(range(90))
    assert meta["log"] == {"format": "PyTorch-GAN", "d_loss_reduction": "mean",
                           "reduction_reason": "d_loss = (real_loss + fake_loss) / 2", "lines": 90 + len(NOISE),
                           "skipped": len(NOISE)}
    assert df["loss_d"].iloc[31] == pytest.approx((sim[31]["real"] + sim[31]["fake"]) / 2, abs=1e-6)


def test_acgan_and_wgan_gp_lines(tmp_path):
    """acgan's [D loss: x, acc: y%] keeps the loss and drops the unknown field; wgan_gp prints only every
    n_critic (5) batches, so its steps have gaps but stay in order."""
    sim = healthy(100)
    df, _ = load_telemetry(write(tmp_path / "acgan.log", pytorch_gan_lines(sim, batches=50, acc=True)))
    assert list(df.columns) == ["step", "loss_d", "loss_g"] and len(df) == 100
    df, _ = load_telemetry(write(tmp_path / "wgan_gp.log", pytorch_gan_lines(sim, batches=50, every=5)))
    assert df["step"].tolist() == list(range(0, 100, 5))


def test_key_value_lines_with_counters(tmp_path):
    """pytorch-tutorial's GAN: 'Epoch [e/E], Step [i/N], d_loss: .., g_loss: .., D(x): .., D(G(z)): ..'."""
    sim = healthy(40)
    lines = ["Epoch [{}/{}], Step [{}/{}], d_loss: {:.4f}, g_loss: {:.4f}, D(x): {:.2f}, D(G(z)): {:.2f}".format(
        k // 20, 2, k % 20 + 1, 20, r["real"] + r["fake"], r["ns"], r["d_real"], r["d_fake1"]) for k, r in enumerate(sim)]
    df, meta = load_telemetry(write(tmp_path / "tut.log", lines))
    assert meta["log"]["format"] == "key: value pairs" and meta["log"]["d_loss_reduction"] is None
    assert df["step"].tolist() == list(range(1, 41))
    assert {"loss_d", "loss_g", "d_real", "d_fake"} <= set(df.columns)


def test_a_table_under_a_text_name_is_still_a_table(tmp_path):
    (tmp_path / "log.txt").write_text("step,D_loss,G_loss\n1,1.3,0.7\n2,1.2,0.8\n")
    assert sniff_text((tmp_path / "log.txt").read_text()) == "csv"
    df, meta = load_telemetry(tmp_path / "log.txt")
    assert list(df.columns) == ["step", "loss_d", "loss_g"] and meta == {}


# -- --regex ------------------------------------------------------------------------------------------------


def test_regex_reads_any_lines_with_epoch_batch_or_step(tmp_path):
    sim = healthy(60)
    path = write(tmp_path / "my.log", ["ep %d it %d/%d errD=%.4f errG=%.4f" % (k // 30, k % 30, 30, r["real"] + r["fake"],
                                                                              r["ns"]) for k, r in enumerate(sim)])
    rx = r"ep (?P<epoch>\d+) it (?P<batch>\d+)/(?P<batches>\d+) errD=(?P<errD>\S+) errG=(?P<errG>\S+)"
    df, meta = load_telemetry(path, regex=rx)
    assert df["step"].tolist() == list(range(60)) and {"loss_d", "loss_g"} <= set(df.columns)
    assert meta["log"]["skipped"] == len(NOISE)
    # a group name that is no known alias is named with the mapping, as a table's column is
    df, _ = load_telemetry(path, regex=r"ep \d+ it (?P<step>\d+)/\d+ errD=(?P<dee>\S+)", mapping={"loss_d": "dee"})
    assert "loss_d" in df.columns


@pytest.mark.parametrize(("rx", "error", "match"), [
    ("(?P<step>\\d+", ConfigError, "not a valid Python regular expression"),
    (r"it (\d+) d=(\S+)", ConfigError, "no named groups"),
    (r"d=(?P<loss_d>\S+)", ConfigError, "gives no step"),
    (r"nothing (?P<step>\d+) like (?P<loss_d>\S+)", DataError, "matched none of the"),
])
def test_bad_regex_is_one_clear_error(tmp_path, rx, error, match):
    path = write(tmp_path / "my.log", ["it %d d=%.3f" % (k, 1.3) for k in range(30)])
    with pytest.raises(error, match=match):
        diagnose(path, regex=rx)


def test_regex_on_a_dataframe_or_a_folder_is_refused(tmp_path, capsys):
    with pytest.raises(ConfigError, match="give the log's path"):
        diagnose(pd.DataFrame({"step": [1], "loss_d": [1.0]}), regex=r"(?P<step>\d+)")
    assert main(["diagnose", str(tmp_path), "--regex", r"(?P<step>\d+) (?P<loss_d>\S+)", "--no-config"]) == 2
    assert "is a folder" in _one_line_error(capsys.readouterr().err)


# -- empty and garbage ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("content", "expected"), [
    (b"", "is empty (0 bytes)"),
    (b"\n\n   \n", "is empty (blank lines only)"),
    (("\n".join(NOISE) + "\n").encode(), "none of its 4 lines is a training-log line (4 skipped)"),
])
def test_empty_or_garbage_log_is_one_line_exit_2(tmp_path, capsys, content, expected):
    (tmp_path / "train.log").write_bytes(content)
    assert main(["diagnose", str(tmp_path / "train.log"), "--no-config"]) == 2
    err = capsys.readouterr()
    assert expected in _one_line_error(err.err) and err.out == ""


def test_unknown_extension_without_log_lines_is_unsupported(tmp_path):
    (tmp_path / "run.stdout").write_text("hello\nworld\n")
    with pytest.raises(DataError, match=r"unsupported format \(.stdout\).*none of its 2 lines"):
        load_telemetry(tmp_path / "run.stdout")
    write(tmp_path / "run.stdout", dcgan_lines(healthy(30), batches=10))
    assert len(load_telemetry(tmp_path / "run.stdout")[0]) == 30


# -- reductions ----------------------------------------------------------------------------------------------


def conventions(d) -> str:
    return next(f.message for f in d.findings if f.check == "vanishing_gradient.conventions")


def test_reduction_from_the_format_from_the_values_and_given(tmp_path):
    sim = healthy(80)
    assert "D loss reduction mean (the PyTorch-GAN line format" in conventions(
        diagnose(write(tmp_path / "pg.log", pytorch_gan_lines(sim, batches=40))))
    assert "D loss reduction sum (the pytorch/examples dcgan line format" in conventions(
        diagnose(write(tmp_path / "dc.log", dcgan_lines(sim, batches=40))))
    # a format that says nothing: the values decide (loss_d written as the mean of the two BCE terms)
    lines = ["step=%d loss_d=%.5f loss_g=%.5f d_real=%.5f d_fake=%.5f" % (k, (r["real"] + r["fake"]) / 2, r["ns"],
                                                                          r["d_real"], r["d_fake1"])
             for k, r in enumerate(sim)]
    path = write(tmp_path / "kv.log", lines)
    assert "D loss reduction mean (inferred" in conventions(diagnose(path))
    assert "D loss reduction sum (given)" in conventions(diagnose(path, d_loss_reduction="sum"))
    with pytest.raises(ConfigError, match="d_loss_reduction must be one of sum, mean"):
        diagnose(path, d_loss_reduction="avg")


def test_a_critic_log_in_pytorch_gan_format_is_not_read_as_bce(tmp_path):
    """wgan_gp.py prints the same line with a critic's loss, which goes negative: no BCE reduction then."""
    rng = np.random.default_rng(1)
    lines = ["[Epoch %d/%d] [Batch %d/%d] [D loss: %f] [G loss: %f]" % (k // 50, 4, k % 50, 50,
                                                                        -3 + 0.5 * rng.standard_normal(),
                                                                        2 + 0.5 * rng.standard_normal())
             for k in range(0, 200, 5)]
    d = diagnose(write(tmp_path / "wgan_gp.log", lines))
    assert "D loss reduction unknown (the PyTorch-GAN line format, but loss_d takes negative values" in conventions(d)
    assert "G loss unknown" in conventions(d)
