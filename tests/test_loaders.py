"""ganlint.loaders: every checkpoint source, the latent spec, and the refusal of files that run code.

The users' models live in a small module written to tmp_path and put on sys.path, so the loader imports
its factories the way it would import a user's `mypkg.models:Generator`. Fixture files are made in
tmp_path by each test; nothing is downloaded or shipped.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
import io
import json
import sys
import warnings
import zipfile
from pathlib import Path

import pytest
import torch
from export_helpers import inject_expr
from safetensors.torch import save_file

import ganlint
from ganlint.errors import ConfigError
from ganlint.loaders import (
    CheckpointError,
    LatentSpec,
    UnsafeCheckpointError,
    detect_format,
    import_factory,
    load_checkpoint,
)

MODELS = "ganlint_test_models"
MODELS_SRC = '''
import torch
from torch import nn


class TinyG(nn.Module):
    def __init__(self, z_dim=16, width=32, out=2):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(z_dim, width), nn.ReLU(), nn.Linear(width, out))

    def forward(self, z):
        return self.net(z)


class ScriptableG(TinyG):
    def __init__(self, z_dim=16):
        super().__init__(z_dim)
        self.z_dim = z_dim


class TinyD(nn.Module):
    def __init__(self, width=32, inp=2):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(inp, width), nn.LeakyReLU(0.2), nn.Linear(width, 1))

    def forward(self, x):
        return self.net(x).squeeze(1)


class CondG(nn.Module):
    def __init__(self, z_dim=16, num_classes=10):
        super().__init__()
        self.embed = nn.Embedding(num_classes, 4)
        self.net = nn.Sequential(nn.Linear(z_dim + 4, 32), nn.ReLU(), nn.Linear(32, 2))

    def forward(self, z, labels):
        return self.net(torch.cat([z, self.embed(labels)], 1))


class IdentityG(nn.Module):
    def __init__(self, z_dim=16):
        super().__init__()
        self.lin = nn.Linear(z_dim, z_dim)
        with torch.no_grad():
            self.lin.weight.copy_(torch.eye(z_dim))
            self.lin.bias.zero_()

    def forward(self, z):
        return self.lin(z)


class ConvG(nn.Module):
    """DCGAN-style: z of shape (n, z_dim, 1, 1) into a transposed convolution."""

    def __init__(self, z_dim=8, sn=False):
        super().__init__()
        first = nn.ConvTranspose2d(z_dim, 4, 4)
        self.net = nn.Sequential(nn.utils.parametrizations.spectral_norm(first) if sn else first, nn.Tanh())

    def forward(self, z):
        return self.net(z)


class NoLayerG(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(16, 2))

    def forward(self, z):
        return z @ self.w
'''


class Payload:
    """Unpickling this runs builtins.exec, which writes the marker file: the visible side effect."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (builtins.exec, (f"__import__('pathlib').Path({str(self.marker)!r}).write_text('pwned')",))


@pytest.fixture
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The user's model module, importable as `ganlint_test_models` (a fresh import per test)."""
    folder = tmp_path / "userpkg"
    folder.mkdir()
    (folder / f"{MODELS}.py").write_text(MODELS_SRC)
    monkeypatch.syspath_prepend(str(folder))
    sys.modules.pop(MODELS, None)
    torch.manual_seed(0)
    yield importlib.import_module(MODELS)
    sys.modules.pop(MODELS, None)


def _save(obj, path: Path, legacy: bool = False) -> Path:
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    return path


def _same_outputs(a, b, z_dim: int = 16) -> bool:
    z = torch.randn(8, z_dim)
    with torch.no_grad():
        return torch.allclose(a(z), b(z))


def _export(module, path: Path, example: tuple, dynamic: bool = False) -> Path:
    shapes = None
    if dynamic:
        batch = torch.export.Dim("batch", min=1, max=1 << 16)
        shapes = tuple({0: batch} for _ in example)
    torch.export.save(torch.export.export(module.eval(), example, dynamic_shapes=shapes), path)
    return path


def _rewrite_zip(src: Path, dst: Path, edit) -> Path:
    """Copy a zip, passing each entry through edit(relative name, bytes): crafting a hostile archive."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, edit(info.filename.split("/", 1)[1], zin.read(info.filename)))
    return dst


# -- run folders ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("loaders") / "run"
    ganlint.train(dataset="ring8", steps=10, batch_size=32, eval_every=10, eval_samples=100, pictures=0,
                  g_width=16, d_width=16, device="cpu", out=str(out))
    return out


def test_run_folder(run_dir: Path) -> None:
    assert detect_format(run_dir) == "run-folder"
    ck = load_checkpoint(run_dir)
    assert ck.kind == "run-folder" and ck.source == run_dir
    assert ck.meta["dataset"] == "ring8" and ck.meta["config"]["g_width"] == 16
    assert ck.meta["d_output"] == "probability" and ck.meta["d_raw_output"] == "logit"
    assert ck.latent == LatentSpec(16, "normal", None)
    x = ck.sample(300, seed=1, batch_size=128)
    assert x.shape == (300, 2) and torch.equal(x, ck.sample(300, seed=1, batch_size=128))
    assert not torch.equal(x, ck.sample(300, seed=2, batch_size=128))
    assert ck.discriminate(x, batch_size=100).shape == (300,)
    assert not ck.generator.training and all(p.requires_grad for p in ck.generator.parameters())
    with pytest.raises(CheckpointError, match="not used with a run folder"):
        load_checkpoint(run_dir, generator="x:y")


def test_run_folder_config_json_is_not_a_checkpoint(run_dir: Path) -> None:
    with pytest.raises(CheckpointError, match="pass the run folder"):
        detect_format(run_dir / "config.json")


# -- state_dict files ----------------------------------------------------------------------------------

def test_bare_state_dict_infers_z_dim_from_first_linear(models, tmp_path: Path) -> None:
    g = models.TinyG()
    path = _save(g.state_dict(), tmp_path / "G.pth")
    assert detect_format(path) == "torch-zip"
    ck = load_checkpoint(path, generator=f"{MODELS}:TinyG")
    assert ck.kind == "state-dict" and ck.discriminator is None
    assert ck.latent == LatentSpec(16)
    assert any("z_dim 16 inferred from G's first layer (Linear 'net.0'" in n for n in ck.notes)
    assert any("holds no discriminator" in n for n in ck.notes)
    assert _same_outputs(ck.generator, g)
    assert not ck.generator.training
    with pytest.raises(CheckpointError, match="no discriminator"):
        ck.discriminate(torch.zeros(4, 2))


def test_no_factory_for_a_state_dict(models, tmp_path: Path) -> None:
    path = _save(models.TinyG().state_dict(), tmp_path / "G.pt")
    with pytest.raises(CheckpointError, match=r"holds state_dicts \(weights only\); give generator module:callable"):
        load_checkpoint(path)


def test_netg_netd_container(models, tmp_path: Path) -> None:
    g, d = models.TinyG(), models.TinyD()
    path = _save({"netG": g.state_dict(), "netD": d.state_dict(), "epoch": 7,
                  "optimizerG": {"state": {}, "param_groups": []}}, tmp_path / "ckpt.pt")
    ck = load_checkpoint(path, generator=f"{MODELS}:TinyG", discriminator=f"{MODELS}:TinyD")
    assert ck.meta["g_source"] == "key 'netG'" and ck.meta["d_source"] == "key 'netD'"
    assert ck.meta["recorded"] == {"epoch": 7}
    x = ck.sample(50)
    assert torch.allclose(ck.discriminate(x, batch_size=16), d(x).detach())
    only_g = load_checkpoint(path, generator=f"{MODELS}:TinyG")
    assert only_g.discriminator is None
    assert ("the checkpoint has a discriminator state_dict (key 'netD') but no --discriminator factory was given: "
            "D-based checks are skipped") in only_g.notes


def test_custom_keys_and_ema(models, tmp_path: Path) -> None:
    g, ema, d = models.TinyG(), models.TinyG(), models.TinyD()
    path = _save({"my_gen": g.state_dict(), "my_critic": d.state_dict()}, tmp_path / "c.pt")
    ck = load_checkpoint(path, generator=f"{MODELS}:TinyG", discriminator=f"{MODELS}:TinyD",
                         g_key="my_gen", d_key="my_critic")
    assert _same_outputs(ck.generator, g) and ck.discriminator is not None
    with pytest.raises(CheckpointError, match=r"^g_key 'gen' is not a state_dict .* it has: my_gen, my_critic"):
        load_checkpoint(path, generator=f"{MODELS}:TinyG", g_key="gen")
    with pytest.raises(CheckpointError, match="no generator state_dict that ganlint recognises"):
        load_checkpoint(path, generator=f"{MODELS}:TinyG")
    both = _save({"g": g.state_dict(), "g_ema": ema.state_dict(), "d": d.state_dict()}, tmp_path / "sg2.pt")
    ck = load_checkpoint(both, generator=f"{MODELS}:TinyG")
    assert _same_outputs(ck.generator, ema) and "EMA" in ck.meta["g_source"]
    two = _save({"G": g.state_dict(), "generator": ema.state_dict()}, tmp_path / "two.pt")
    with pytest.raises(CheckpointError, match=r"several generator state_dicts.*: pass g_key to choose one$"):
        load_checkpoint(two, generator=f"{MODELS}:TinyG")


@pytest.mark.parametrize(("gp", "dp"), [("generator.", "discriminator."), ("G.", "D."), ("netG.", "netD.")])
def test_safetensors_flat_with_prefixes(models, tmp_path: Path, gp: str, dp: str) -> None:
    g, d = models.TinyG(), models.TinyD()
    flat = {**{gp + k: v for k, v in g.state_dict().items()}, **{dp + k: v for k, v in d.state_dict().items()}}
    path = tmp_path / "gan.bin"
    save_file(flat, str(path), metadata={"z_dim": "16"})
    assert detect_format(path) == "safetensors"
    ck = load_checkpoint(path, generator=f"{MODELS}:TinyG", discriminator=f"{MODELS}:TinyD")
    assert ck.meta["g_source"] == f"keys prefixed {gp!r}"
    assert any("z_dim 16 from" in n and "safetensors metadata key 'z_dim'" in n for n in ck.notes)
    assert _same_outputs(ck.generator, g)
    x = torch.randn(5, 2)
    assert torch.allclose(ck.discriminate(x), d(x).detach())


@pytest.mark.parametrize("prefix", ["module.", "_orig_mod.", "module._orig_mod.", "_orig_mod.module."])
def test_wrapper_prefixes_are_stripped(models, tmp_path: Path, prefix: str) -> None:
    g = models.TinyG()
    path = _save({"G": {prefix + k: v for k, v in g.state_dict().items()}}, tmp_path / "ddp.pt")
    ck = load_checkpoint(path, generator=f"{MODELS}:TinyG", z_dim=16)
    assert _same_outputs(ck.generator, g)
    for p in ("module.", "_orig_mod."):
        assert any(f"stripped {p!r} from 4 keys" in n for n in ck.notes) == (p in prefix)


def test_factory_kwargs(models, tmp_path: Path) -> None:
    g, d = models.TinyG(z_dim=8, width=64), models.TinyD(width=8)
    path = _save({"generator": g.state_dict(), "discriminator": d.state_dict()}, tmp_path / "k.pt")
    ck = load_checkpoint(path, generator=f"{MODELS}:TinyG", discriminator=f"{MODELS}:TinyD",
                         kwargs={"z_dim": 8, "width": 64}, discriminator_kwargs={"width": 8})
    assert ck.latent.z_dim == 8 and _same_outputs(ck.generator, g, z_dim=8)
    assert any("--kwargs key(s) z_dim not taken by ganlint_test_models:TinyD" in n for n in ck.notes)
    ck = load_checkpoint(path, generator=f"{MODELS}:TinyG", generator_kwargs={"z_dim": 8, "width": 64})
    assert _same_outputs(ck.generator, g, z_dim=8)
    with pytest.raises(ConfigError, match="zdim"):
        load_checkpoint(path, generator=f"{MODELS}:TinyG", kwargs={"zdim": 8})
    with pytest.raises(CheckpointError, match=r"TinyG\(\*\*\{'colour': 1\}\) failed: TypeError"):
        load_checkpoint(path, generator=f"{MODELS}:TinyG", generator_kwargs={"colour": 1})


def test_state_dict_that_does_not_fit(models, tmp_path: Path) -> None:
    sd = models.TinyG(width=64).state_dict()
    path = _save({"G": sd}, tmp_path / "wide.pt")
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path, generator=f"{MODELS}:TinyG")
    msg = str(e.value)
    assert "does not fit ganlint_test_models:TinyG" in msg and "\n" not in msg
    assert "3 shape(s) differ" in msg and "net.0.weight: checkpoint (64, 16) vs model (32, 16)" in msg
    assert "missing" not in msg and "and 0 more" not in msg
    odd = {k: v for k, v in models.TinyG().state_dict().items() if k != "net.2.bias"}
    odd["head.weight"] = torch.zeros(3)
    with pytest.raises(CheckpointError, match=r"1 missing key\(s\) \(net\.2\.bias\); 1 unexpected key\(s\) "
                                              r"\(head\.weight\)"):
        load_checkpoint(_save(odd, tmp_path / "odd.pt"), generator=f"{MODELS}:TinyG")


def test_factory_import_errors(models, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no module named 'no_such_pkg_xyz'"):
        import_factory("no_such_pkg_xyz.models:G")
    with pytest.raises(CheckpointError, match=r"has no attribute 'Generator'; it has .*TinyG"):
        import_factory(f"{MODELS}:Generator")
    with pytest.raises(CheckpointError, match="must be 'module:callable'"):
        import_factory("TinyG")
    bad = tmp_path / "broken.py"
    bad.write_text("import not_installed_dep_xyz\n")
    with pytest.raises(CheckpointError, match=r"importing .*broken.py.* failed: ModuleNotFoundError"):
        import_factory(f"{bad}:G")
    from_file = import_factory(f"{tmp_path / 'userpkg' / (MODELS + '.py')}:TinyG")
    assert from_file().net[0].in_features == 16


def test_factory_from_working_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cwd_models_xyz.py").write_text("def make():\n    return 42\n")
    monkeypatch.chdir(tmp_path)
    try:
        assert import_factory("cwd_models_xyz:make")() == 42
    finally:
        sys.modules.pop("cwd_models_xyz", None)


# -- files that are not checkpoints ----------------------------------------------------------------------

def test_files_that_are_not_checkpoints(models, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no such file or folder"):
        detect_format(tmp_path / "missing.pt")
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"is empty \(0 bytes\)"):
        detect_format(tmp_path / "empty.pt")
    whole = _save(models.TinyG().state_dict(), tmp_path / "whole.pt").read_bytes()
    (tmp_path / "half.pt").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(CheckpointError, match=r"starts like a zip archive .* truncated or corrupt"):
        load_checkpoint(tmp_path / "half.pt", generator=f"{MODELS}:TinyG")
    (tmp_path / "noise.pt").write_bytes(torch.randint(0, 256, (4096,), generator=torch.Generator().manual_seed(3),
                                                      dtype=torch.uint8).numpy().tobytes())
    with pytest.raises(CheckpointError, match="unrecognised binary content"):
        detect_format(tmp_path / "noise.pt")
    (tmp_path / "weights.pt").write_text(json.dumps({"net.0.weight": [[0.1, 0.2]]}))
    with pytest.raises(CheckpointError, match="a JSON text file, not a checkpoint"):
        detect_format(tmp_path / "weights.pt")
    (tmp_path / "notes.pt").write_text("these are not weights\n")
    with pytest.raises(CheckpointError, match="a text file"):
        detect_format(tmp_path / "notes.pt")
    with zipfile.ZipFile(tmp_path / "other.pt", "w") as zf:
        zf.writestr("hello.txt", "hi")
    with pytest.raises(CheckpointError, match="zip archive but not a PyTorch one"):
        detect_format(tmp_path / "other.pt")
    (tmp_path / "folder").mkdir()
    with pytest.raises(CheckpointError, match="not a ganlint run folder"):
        load_checkpoint(tmp_path / "folder")


# -- safety ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_malicious_pickle_does_not_run_without_trust(models, tmp_path: Path, legacy: bool) -> None:
    marker = tmp_path / "pwned"
    path = _save({"netG": models.TinyG().state_dict(), "extra": Payload(marker)}, tmp_path / "evil.pt", legacy)
    assert detect_format(path) == ("legacy-pickle" if legacy else "torch-zip")
    with pytest.raises(UnsafeCheckpointError) as e:
        load_checkpoint(path, generator=f"{MODELS}:TinyG")
    assert "builtins.exec" in str(e.value) and "only trust_checkpoint loads it" in str(e.value)
    from ganlint.check.options import spell_flag
    from ganlint.loaders.errors import respell

    assert "only --trust-checkpoint loads it" in str(respell(e.value, spell_flag))  # the CLI names its flag
    assert not marker.exists()  # the payload never ran
    ck = load_checkpoint(path, generator=f"{MODELS}:TinyG", trust=True)
    assert marker.exists()  # ... and trust really does run it: the refusal above was what stopped it
    assert ck.generator is not None and any("weights_only=False" in n for n in ck.notes)


def test_pickled_module_needs_trust(models, tmp_path: Path) -> None:
    g = models.TinyG()
    path = _save(g, tmp_path / "whole_model.pth")
    with pytest.raises(UnsafeCheckpointError, match=r"ganlint_test_models\.TinyG.*save model\.state_dict\(\)"):
        load_checkpoint(path)
    ck = load_checkpoint(path, trust=True)
    assert ck.kind == "pickled-module" and _same_outputs(ck.generator, g)


def _pt2_attack(entry: str, data: bytes, marker: Path, kind: str) -> bytes:
    code = f"__import__('pathlib').Path({str(marker)!r}).write_text('pwned')"
    if kind == "fqn" and entry in ("models/model.json", "data/weights/model_weights_config.json"):
        # fx writes parameter paths unescaped into the forward it generates: getattr(self.net, "0")...
        hostile = f'net.0") and exec(bytes({tuple(code.encode())})) and ("x.weight'.replace(", ", ",")
        return data.replace(b'"net.0.weight"', json.dumps(hostile).encode())
    if kind == "sample_inputs" and entry == "data/sample_inputs/model.pt":
        buf = io.BytesIO()
        torch.save(((Payload(marker),), {}), buf)
        return buf.getvalue()
    if entry == "models/model.json":
        model = json.loads(data)
        if kind == "guards":
            model["guards_code"] = [f"exec(bytes({tuple(code.encode())})) is None"]  # no quotes: torch re-quotes it
        elif kind == "sympy":
            assert inject_expr(model, f"exec({code!r}) or ")
        return json.dumps(model).encode()
    return data


@pytest.mark.parametrize("kind", ["sample_inputs", "guards", "sympy", "fqn"])
def test_hostile_export_archive_is_refused(models, tmp_path: Path, kind: str) -> None:
    """Each hostile part is refused before torch sees it; trusted, the same archive does run its payload."""
    marker = tmp_path / "pwned"
    good = _export(models.TinyG(), tmp_path / "g.pt2", (torch.randn(4, 16),), dynamic=True)
    evil = _rewrite_zip(good, tmp_path / "evil.pt2", lambda e, b: _pt2_attack(e, b, marker, kind))
    with pytest.raises(UnsafeCheckpointError, match="trust_checkpoint loads it") as e:
        load_checkpoint(evil)
    expected = {"sample_inputs": "builtins.exec", "guards": "guard code", "sympy": "symbolic expression",
                "fqn": "module path"}
    assert expected[kind] in str(e.value)
    assert not marker.exists()
    with contextlib.suppress(CheckpointError):  # with trust, torch.export.load (or G's call) runs the payload
        load_checkpoint(evil, trust=True).sample(4)
    assert marker.exists()  # so the scan, not luck, is what kept it from running above


# -- programs --------------------------------------------------------------------------------------------

def test_export_program_detected_by_contents(models, tmp_path: Path) -> None:
    g, d = models.TinyG(), models.TinyD()
    path = _export(g, tmp_path / "generator.bin", (torch.randn(4, 16),))
    dpath = _export(d, tmp_path / "D.pt2", (torch.randn(8, 2),), dynamic=True)
    assert detect_format(path) == "export"
    ck = load_checkpoint(path, discriminator_path=dpath)
    assert ck.kind == "export" and ck.latent == LatentSpec(16)
    assert any("z_dim 16 from the exported program's input shape (4, 16)" in n for n in ck.notes)
    assert ck.meta["g_fixed_batch"] == 4
    x = ck.sample(10, seed=3)  # static batch of 4: three runs, the last trimmed
    assert x.shape == (10, 2)
    assert torch.allclose(ck.discriminate(x), d(x).detach(), atol=1e-6)
    assert load_checkpoint(path).discriminator is None
    with pytest.raises(CheckpointError, match=r"^generator not used") as e:  # the library names its parameter
        load_checkpoint(path, generator=f"{MODELS}:TinyG")
    from ganlint.check.options import spell_flag
    from ganlint.loaders.errors import respell

    assert str(respell(e.value, spell_flag)).startswith("--generator not used")  # the CLI names its flag


def test_torchscript_detected_by_contents(models, tmp_path: Path) -> None:
    with warnings.catch_warnings():  # torch 2.15 deprecates jit.script/trace/save; making the fixture is fine
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.save(torch.jit.script(models.ScriptableG(z_dim=12)), tmp_path / "scripted.weights")
        torch.jit.save(torch.jit.trace(models.TinyG(), torch.randn(3, 16)), tmp_path / "traced.pth")
    assert detect_format(tmp_path / "scripted.weights") == "torchscript"
    ck = load_checkpoint(tmp_path / "scripted.weights")
    assert ck.kind == "torchscript" and ck.latent.z_dim == 12
    assert any("z_dim 12 from G's attribute 'z_dim'" in n for n in ck.notes)
    assert ck.sample(7).shape == (7, 2)
    traced = load_checkpoint(tmp_path / "traced.pth")
    assert traced.latent.z_dim == 16 and any("inferred from G's first layer (Linear" in n for n in traced.notes)


# -- the latent spec -------------------------------------------------------------------------------------

def test_missing_z_dim_asks_for_the_flag(models, tmp_path: Path) -> None:
    path = _save(models.NoLayerG().state_dict(), tmp_path / "g.pt")
    with pytest.raises(CheckpointError, match=r"does not record z_dim .* pass z_dim$"):
        load_checkpoint(path, generator=f"{MODELS}:NoLayerG")
    assert load_checkpoint(path, generator=f"{MODELS}:NoLayerG", z_dim=16).sample(3).shape == (3, 2)


@pytest.mark.parametrize("sn", [False, True])
def test_conv_generator_gets_4d_latents(models, tmp_path: Path, sn: bool) -> None:
    path = _save(models.ConvG(sn=sn).state_dict(), tmp_path / "dcgan.pt")
    ck = load_checkpoint(path, generator=f"{MODELS}:ConvG", generator_kwargs={"sn": sn})
    assert ck.latent == LatentSpec(8, z_shape=(8, 1, 1))
    assert any("in_channels 8" in n for n in ck.notes)
    assert ck.sample(5).shape == (5, 4, 4, 4)


def test_conditional_generator(models, tmp_path: Path) -> None:
    g = models.CondG()
    path = _save({"G": g.state_dict(), "nz": 16, "n_classes": 10}, tmp_path / "cgan.pt")
    ck = load_checkpoint(path, generator=f"{MODELS}:CondG")
    assert ck.latent == LatentSpec(16, "normal", 10)
    assert any("num_classes 10 from" in n and "'n_classes'" in n for n in ck.notes)
    assert ck.sample(50, batch_size=20).shape == (50, 2)
    bare = _save(g.state_dict(), tmp_path / "bare.pt")
    inferred = load_checkpoint(bare, generator=f"{MODELS}:CondG", z_dim=16)
    assert inferred.latent.num_classes == 10 and any("inferred from G's first Embedding" in n for n in inferred.notes)
    with pytest.raises(CheckpointError, match=r"pass z_dim$"):
        load_checkpoint(bare, generator=f"{MODELS}:CondG")
    assert load_checkpoint(bare, generator=f"{MODELS}:CondG", z_dim=16, num_classes=3).latent.num_classes == 3


def test_sample_reports_a_failing_generator(models, tmp_path: Path) -> None:
    path = _save(models.TinyG().state_dict(), tmp_path / "g.pt")
    ck = load_checkpoint(path, generator=f"{MODELS}:TinyG", z_dim=100)  # the caller's value wins, and is wrong
    with pytest.raises(CheckpointError, match=r"G\(z\) failed for z of shape \(1024, 100\): RuntimeError: .*mat1"):
        ck.sample(2000)


def test_uniform_latent(models, tmp_path: Path) -> None:
    path = _save(models.IdentityG().state_dict(), tmp_path / "id.pt")
    ck = load_checkpoint(path, generator=f"{MODELS}:IdentityG", z_dist="uniform")
    z = ck.sample(4000, seed=5)
    assert ck.latent.z_dist == "uniform" and z.min() >= -1 and z.max() <= 1
    assert z.min() < -0.99 and z.max() > 0.99 and abs(z.mean()) < 0.02
    normal = load_checkpoint(path, generator=f"{MODELS}:IdentityG")
    assert normal.sample(4000, seed=5).abs().max() > 3 and any("N(0, 1) assumed" in n for n in normal.notes)
    with pytest.raises(ConfigError, match="unknown z_dist 'cauchy'"):
        load_checkpoint(path, generator=f"{MODELS}:IdentityG", z_dist="cauchy")
