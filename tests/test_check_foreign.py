"""`ganlint check` on GAN code as people run it: pytorch/examples dcgan/main.py at 32 px (G takes z of shape
(N, nz, 1, 1); BatchNorm in G and D; netG_epoch_N.pth / netD_epoch_N.pth side by side) and its training
script imported by mistake. The user's classes are written into tmp_path as a user's module would hold
them; the CLI runs in subprocesses where it is the point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

# The dcgan example's classes, shrunk (ngf = ndf = 8) and sized by --imageSize 32 as users run it.
MODELS = textwrap.dedent('''
    import torch
    from torch import nn

    nz, ngf, ndf = 100, 8, 8


    def weights_init(m):
        classname = m.__class__.__name__
        if classname.find("Conv") != -1:
            torch.nn.init.normal_(m.weight, 0.0, 0.02)
        elif classname.find("BatchNorm") != -1:
            torch.nn.init.normal_(m.weight, 1.0, 0.02)
            torch.nn.init.zeros_(m.bias)


    class Generator(nn.Module):
        def __init__(self, ngpu=1, nc=1):
            super().__init__()
            self.ngpu = ngpu
            self.main = nn.Sequential(
                nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
                nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
                nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
                nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh(),
            )

        def forward(self, input):
            return self.main(input)


    class Discriminator(nn.Module):
        def __init__(self, ngpu=1, nc=1):
            super().__init__()
            self.ngpu = ngpu
            self.main = nn.Sequential(
                nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False), nn.Sigmoid(),
            )

        def forward(self, input):
            return self.main(input).view(-1, 1).squeeze(1)
''')
# The training script itself: argparse at the top, as dcgan/main.py has it.
MAIN = MODELS.replace("import torch\n", "import argparse\nimport torch\n", 1) + textwrap.dedent('''
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", required=True)
    opt = parser.parse_args()
    print("training...")
''')
SMALL = ["--samples", "300"]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """dcgan_models.py and dcgan_main.py, and three epochs of netG/netD state_dicts (weights_init, then a
    few optimizer-free nudges so the epochs differ)."""
    work = tmp_path_factory.mktemp("dcgan")
    (work / "dcgan_models.py").write_text(MODELS)
    (work / "dcgan_main.py").write_text(MAIN)
    sys.path.insert(0, str(work))
    try:
        import dcgan_models as m
    finally:
        sys.path.remove(str(work))
    out = work / "out"
    out.mkdir()
    torch.manual_seed(0)
    g, d = m.Generator(1), m.Discriminator(1)
    g.apply(m.weights_init)
    d.apply(m.weights_init)
    for epoch in range(3):
        with torch.no_grad():
            for p in g.parameters():
                p.mul_(1.05)
        torch.save(g.state_dict(), out / f"netG_epoch_{epoch}.pth")
        torch.save(d.state_dict(), out / f"netD_epoch_{epoch}.pth")
    return work


def ganlint(work: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    return subprocess.run([sys.executable, "-m", "ganlint", "check", *args], cwd=work, env=env, capture_output=True,
                          text=True, timeout=600)


def check(work: Path, ckpt: str, **kw):
    from ganlint.check import check as run

    sys.path.insert(0, str(work))
    try:
        kw.setdefault("samples", 300)
        kw.setdefault("discriminator", "dcgan_models:Discriminator")
        return run(work / ckpt, generator="dcgan_models:Generator", **kw)
    finally:
        sys.path.remove(str(work))


def test_dcgan_at_32px_with_d_by_file_is_read_through_the_classifier(work):
    # The CLI as a user runs it: D by --discriminator-file, G's z as (N, 100, 1, 1), 32 px samples
    # resized for the MNIST classifier (classes, PRDC and its Frechet distance), D read on resized digits.
    p = ganlint(work, "out/netG_epoch_2.pth", "--generator", "dcgan_models:Generator", "--discriminator",
                "dcgan_models:Discriminator", "--discriminator-file", "out/netD_epoch_2.pth", "--data", "mnist",
                "--g-loss", "nonsaturating", "--format", "json", *SMALL)
    assert p.returncode in (0, 1, 3), p.stderr
    out = json.loads(p.stdout)
    assert "d_real" in out["metrics"] and "grad_g_loss" in out["metrics"]
    assert out["class_histogram"] is not None and sum(out["class_histogram"]) == 300
    assert any("samples 1x32x32 resized to 28x28" in n for n in out["notes"]), out["notes"]
    assert any("D read on the real digits resized to 1x32x32" in n for n in out["notes"])
    assert not any(f["check"] == "vanishing_gradient" and f["status"] == "fail" for f in out["findings"])


def test_dcgan_with_d_given_by_factory_in_one_checkpoint(work, tmp_path):
    import dcgan_models  # noqa: F401  (imported by check through sys.path)

    both = tmp_path / "ckpt.pth"
    torch.save({"netG": torch.load(work / "out/netG_epoch_1.pth"), "netD": torch.load(work / "out/netD_epoch_1.pth")},
               both)
    r = check(work, str(both), data="mnist", bn_mode="eval")
    assert "d_real" in r.metrics and r.metrics["d_kind"] == "probability", r.explain()
    assert r.class_histogram is not None


@pytest.fixture(autouse=True)
def _models_importable(work, monkeypatch):
    monkeypatch.syspath_prepend(str(work))


def test_a_failing_generator_is_blamed_not_d():
    from ganlint.check.snapshot import discriminator_metrics
    from ganlint.errors import DataError

    g = torch.nn.Sequential(torch.nn.ConvTranspose2d(100, 1, 4))
    d = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 1))
    with pytest.raises(DataError, match=r"G failed while D was being read: G\(z\) for z of shape \(512, 7\)"):
        discriminator_metrics(g, d, lambda n: torch.randn(n, 7), None, None)
    with pytest.raises(DataError, match=r"D failed on G's samples of shape \(512, 1, 4, 4\)"):
        discriminator_metrics(g, torch.nn.Linear(3, 1), lambda n: torch.randn(n, 100, 1, 1), None, None)


def test_d_that_cannot_read_the_samples_is_named_with_their_shape(work, tmp_path):
    # A D built for 64 px (nc=1) fed G's 32 px samples: the message names D and the shape it got.
    (tmp_path / "d64.py").write_text(MODELS + textwrap.dedent('''
        class D64(Discriminator):
            def forward(self, input):
                assert input.shape[-1] == 64, f"expected 64x64 images, got {tuple(input.shape)}"
                return super().forward(input)
    '''))
    sys.path.insert(0, str(tmp_path))
    try:
        from ganlint.check import check as run
        from ganlint.errors import GanlintError

        with pytest.raises(GanlintError, match=r"D(\(x\))? failed (on|for) .*shape \(\d+, 1, 32, 32\)"):
            run(work / "out/netG_epoch_2.pth", generator="dcgan_models:Generator", discriminator="d64:D64",
                discriminator_file=work / "out/netD_epoch_2.pth", samples=200)
    finally:
        sys.path.remove(str(tmp_path))


def test_sizes_the_classifier_cannot_read_are_one_line(work, tmp_path):
    src = MODELS.replace("nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh()",
                         "nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh(), nn.AvgPool2d(2)")
    (tmp_path / "small_models.py").write_text(src)
    torch.save(torch.load(work / "out/netG_epoch_0.pth"), tmp_path / "g.pth")
    p = ganlint(tmp_path, "g.pth", "--generator", "small_models:Generator", "--data", "mnist", *SMALL)
    assert p.returncode == 2 and p.stdout == ""
    assert "16x16 is smaller than MNIST's 28x28" in p.stderr and "Traceback" not in p.stderr
    assert len([line for line in p.stderr.splitlines() if "error" in line]) == 1, p.stderr


def test_training_script_as_factory_is_one_line(work):
    p = ganlint(work, "out/netG_epoch_0.pth", "--generator", "dcgan_main:Generator", "--data", "mnist", *SMALL)
    assert p.returncode == 2 and p.stdout == "", p.stdout
    assert "runs code at import" in p.stderr and "module of their own" in p.stderr and "SystemExit" in p.stderr
    assert "Traceback" not in p.stderr and "usage:" not in p.stderr
    assert len([line for line in p.stderr.splitlines() if "error" in line]) == 1, p.stderr


def test_history_pairs_netg_and_netd_by_epoch(work):
    r = check(work, "out/netG_epoch_2.pth", discriminator_file=work / "out/netD_epoch_2.pth", data="mnist",
              history=work / "out", samples=200, bn_mode="eval")
    assert any("3 of 3 G checkpoints paired" in n for n in r.notes), r.notes
    # a glob, as quoted on the command line: the D files beside the G files are paired too
    r = check(work, "out/netG_epoch_2.pth", discriminator_file=work / "out/netD_epoch_2.pth", data="mnist",
              history=str(work / "out" / "netG_epoch_*.pth"), samples=200, bn_mode="eval")
    assert any("3 of 3 G checkpoints paired" in n for n in r.notes), r.notes


def test_history_pairing_rule():
    from ganlint.check.history import pair, role
    from ganlint.errors import DataError

    names = {"netG_epoch_3.pth": "G", "G_100.pt": "G", "gen-5.pt": "G", "generator_2.pth": "G", "netD_epoch_3.pth": "D",
             "D_100.pt": "D", "disc_5.pt": "D", "critic-9.pt": "D", "ckpt_1000.pt": None, "gan_5.pt": None,
             "img_3.pt": None}
    assert {n: role(Path(n)) for n in names} == names
    files = [Path(f"/x/netG_epoch_{i}.pth") for i in range(3)] + [Path(f"/x/netD_epoch_{i}.pth") for i in (0, 2)]
    got = pair(files, "x")
    assert [(n, g.name, d.name if d else None) for n, g, d in got] == [
        (0, "netG_epoch_0.pth", "netD_epoch_0.pth"), (1, "netG_epoch_1.pth", None), (2, "netG_epoch_2.pth", "netD_epoch_2.pth")]
    with pytest.raises(DataError, match="2 G files for step 1"):
        pair([Path("/x/G_1.pt"), Path("/x/netG_1.pth")], "x")


def test_batchnorm_modes_disagreeing_are_judged_in_train_mode(work):
    """A young G's running statistics lag behind its weights: simulated by running variances 400x too large,
    so eval mode flattens the samples. auto judges in train mode and says so; the buffers stay put."""
    from ganlint.check import batchnorm as bn

    sd = torch.load(work / "out/netG_epoch_2.pth")
    for k in sd:
        if k.endswith("running_var"):
            sd[k] = sd[k] * 400
    torch.save(sd, work / "young.pth")
    r = check(work, "young.pth", data="mnist", discriminator=None)
    f = next(f for f in r.diagnosis.findings if f.check == "bn_mode")
    assert f.status == "warn" and "train mode" in f.message and "eval mode" in f.message, r.explain()
    r_eval = check(work, "young.pth", data="mnist", discriminator=None, bn_mode="eval")
    assert r_eval.metrics["diversity"] < r.metrics["diversity"] / 2
    assert not any(f.check == "bn_mode" for f in r_eval.diagnosis.findings)
    # Train-mode reads leave the module's running statistics untouched.
    from ganlint.loaders import load_checkpoint

    loaded = load_checkpoint(work / "young.pth", generator="dcgan_models:Generator")
    before = {k: v.clone() for k, v in loaded.generator.state_dict().items()}
    bn.probe(loaded, None, None, 0)
    with bn.batch_statistics(loaded.generator):
        loaded.sample(300, batch_size=bn.TRAIN_BATCH)
    assert all(torch.equal(before[k], v) for k, v in loaded.generator.state_dict().items())
    assert not loaded.generator.training


def test_batchnorm_modes_agreeing_stay_in_eval(work):
    # Running statistics settled on the current weights (a cumulative average over many batches): eval.
    from ganlint.loaders import load_checkpoint

    loaded = load_checkpoint(work / "out/netG_epoch_2.pth", generator="dcgan_models:Generator")
    g = loaded.generator
    for m in g.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    g.train()
    with torch.no_grad():
        for _ in range(20):
            g(torch.randn(128, 100, 1, 1))
    torch.save(g.state_dict(), work / "settled.pth")
    r = check(work, "settled.pth", data="mnist", discriminator=None)
    f = next(f for f in r.diagnosis.findings if f.check == "bn_mode")
    assert f.status == "pass" and "eval mode" in f.message, f.message


def test_resize_to_the_classifier_input():
    from ganlint.metrics.classifier import from_mnist_input, mnist_input_problem, to_mnist_input

    assert mnist_input_problem((1, 28, 28)) is None and mnist_input_problem((3, 64, 64)) is None
    assert "smaller" in mnist_input_problem((1, 16, 16)) and "channels" in mnist_input_problem((4, 32, 32))
    assert "square" in mnist_input_problem((1, 28, 64))
    from ganlint.data import get_dataset
    from ganlint.metrics.mnist_classifier import predict

    x = get_dataset("mnist").data[::25][:200]
    assert to_mnist_input(x) is x
    up = from_mnist_input(x, (3, 64, 64))  # as dcgan's transforms.Resize(64) made its training images
    assert up.shape == (200, 3, 64, 64)
    back = to_mnist_input(up)
    # Measured: mean absolute error 0.048 on [-1, 1]; the classifier's digit agrees on 99.9% of 1,000.
    assert back.shape == (200, 1, 28, 28) and (back - x).abs().mean() < 0.08
    assert (predict(back) == predict(x)).float().mean() >= 0.98


def test_rgb_images_of_other_data_are_measured_on_raw_pixels_and_said_so(work, tmp_path):
    from PIL import Image

    folder = tmp_path / "faces"
    folder.mkdir()
    g = torch.Generator().manual_seed(0)
    for i in range(40):
        arr = (torch.rand(8, 8, 3, generator=g) * 255).byte().numpy()
        Image.fromarray(arr).resize((32, 32)).save(folder / f"{i}.png")
    src = MODELS.replace("def __init__(self, ngpu=1, nc=1)", "def __init__(self, ngpu=1, nc=3)")
    (tmp_path / "rgb_models.py").write_text(src)
    sys.path.insert(0, str(tmp_path))
    try:
        import rgb_models

        torch.manual_seed(0)
        torch.save(rgb_models.Generator().state_dict(), tmp_path / "g.pth")
        from ganlint.check import check as run

        r = run(tmp_path / "g.pth", generator="rgb_models:Generator", data=str(folder), samples=200, bn_mode="eval")
    finally:
        sys.path.remove(str(tmp_path))
    assert any("raw pixels" in n and "not read as MNIST digits" in n for n in r.notes), r.notes
    assert r.class_histogram is None


def test_the_fixture_takes_the_cli_names():
    import inspect

    from ganlint.check import check

    params = inspect.signature(check).parameters
    for name in ("discriminator_file", "trust_checkpoint", "g_loss", "bn_mode", "d_output", "history", "data_root",
                 "g_key", "d_key", "discriminator_path"):
        assert name in params


def test_critic_outputs_read_as_logits_are_flagged():
    # Numbers from the calibration in ganlint.check.snapshot (CRITIC_SAME_SIDE, CRITIC_MAGNITUDE): a WGAN-GP
    # critic's D(x) +36, D(G(z)) +4.5; a BCE D's +1.3 / +0.3.
    from ganlint.check.snapshot import discriminator_findings, discriminator_metrics, looks_unbounded
    from ganlint.diagnostics.thresholds import DEFAULT_THRESHOLDS

    assert looks_unbounded(torch.full((64,), 36.0), torch.full((64,), 4.5))
    assert not looks_unbounded(torch.full((64,), 1.3), torch.full((64,), 0.3))
    assert not looks_unbounded(torch.full((64,), 9.0), torch.full((64,), -9.0))  # a winning BCE D

    class Critic(torch.nn.Module):
        def forward(self, x):
            return x.reshape(len(x), -1).sum(1) * 0 + 30 + x.reshape(len(x), -1).mean(1)

    g = torch.nn.Linear(4, 6)
    m = discriminator_metrics(g, Critic(), lambda n: torch.randn(n, 4), torch.randn(100, 6), None)
    assert m["d_kind"] == "critic" and m["d_kind_guessed"]
    found = {f.check: f for f in discriminator_findings(m, DEFAULT_THRESHOLDS, "")}
    assert found["vanishing_gradient.d_output"].status == "warn"
    assert "pass --d-output critic" in found["vanishing_gradient.d_output"].message
    assert found["vanishing_gradient.d_saturation"].status == "not-assessable"


def test_the_fixture_takes_discriminator_file(work, pytester):
    pytester.makepyfile(test_gan=textwrap.dedent(f"""
        def test_new_name(ganlint_check):
            r = ganlint_check({str(work / 'out/netG_epoch_2.pth')!r}, generator="dcgan_models:Generator",
                              discriminator="dcgan_models:Discriminator",
                              discriminator_file={str(work / 'out/netD_epoch_2.pth')!r}, g_loss="nonsaturating",
                              bn_mode="eval", data="mnist", samples=200)
            assert "d_real" in r.metrics

        def test_old_name(ganlint_check):
            r = ganlint_check({str(work / 'out/netG_epoch_2.pth')!r}, generator="dcgan_models:Generator",
                              discriminator="dcgan_models:Discriminator",
                              discriminator_path={str(work / 'out/netD_epoch_2.pth')!r}, bn_mode="eval", samples=200)
            assert "d_fake" in r.metrics

        def test_unknown(ganlint_check):
            ganlint_check("x.pt", discriminator_pth="d.pt")
    """))
    pytester._monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(work), os.environ.get("PYTHONPATH", "")]))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning")
    result.assert_outcomes(passed=2, failed=1)
    assert "unknown argument(s) discriminator_pth" in result.stdout.str()
