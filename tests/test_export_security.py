"""torch.export archives that would run code: refused without --trust-checkpoint, whatever their layout.

Every hostile archive is a rewrite (with zipfile) of a real one: a tiny G exported with torch.export and
saved with torch.export.save to bytes, so its members sit under the root folder `archive/`. The payload
is a class-free pickle, GLOBAL os.mkdir applied to a marker path: if any reader unpickles it, the
marker folder appears. Each variant is refused in-process and the marker never appears; a few run as
`python -m ganlint check` in a subprocess, through the main checkpoint, `--discriminator-file` and a
`--history` folder, and must exit 2 with one stderr line naming the member and no traceback. With
trust, the same archives do run their payload, so the refusal (not a broken fixture) is what stopped
them. Item 10 of the same issue: torch's logged tracebacks and multi-line weights-only text stay out of
the terminal.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import struct
import subprocess
import sys
import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
from export_helpers import inject_expr
from torch import nn

from ganlint.loaders import CheckpointError, UnsafeCheckpointError, load_checkpoint
from ganlint.loaders.safe import quiet_library_logs

ROOT = "archive"  # torch.export.save's root folder for a buffer
Members = list[tuple[str, bytes]]


def _payload(marker: Path) -> bytes:
    """A pickle that calls os.mkdir(marker) when loaded: PROTO 2, GLOBAL, BINUNICODE, TUPLE1, REDUCE, STOP."""
    path = str(marker).encode()
    return b"\x80\x02cos\nmkdir\nX" + struct.pack("<I", len(path)) + path + b"\x85R."


def _generator() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2)).eval()


def _exported(module: nn.Module, example: torch.Tensor, dynamic: bool = False) -> bytes:
    shapes = ({0: torch.export.Dim("batch", min=2, max=1 << 16)},) if dynamic else None
    buf = io.BytesIO()
    torch.export.save(torch.export.export(module, (example,), dynamic_shapes=shapes), buf)
    return buf.getvalue()


def _read(blob: bytes) -> Members:
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        return [(info.filename, zf.read(info)) for info in zf.infolist()]


def _zip(members: Members) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buf, "w") as zf:
        warnings.simplefilter("ignore")  # zipfile warns about a duplicated name: that is the point
        for name, data in members:
            zf.writestr(name, data)
    return buf.getvalue()


def _get(m: Members, rel: str) -> bytes:
    return next(data for name, data in m if name == f"{ROOT}/{rel}")


def _set(m: Members, rel: str, data: bytes) -> Members:
    return [(n, data if n == f"{ROOT}/{rel}" else d) for n, d in m]


def _json(m: Members, rel: str, edit) -> Members:
    obj = json.loads(_get(m, rel))
    edit(obj)
    return _set(m, rel, json.dumps(obj).encode())


def _without(m: Members, *prefixes: str) -> Members:
    return [(n, d) for n, d in m if not n.startswith(tuple(f"{ROOT}/{p}" for p in prefixes))]


def _code(marker: Path) -> str:
    return f"__import__('os').mkdir({str(marker)!r})"


def _nested(m: Members, p: bytes, name: str) -> Members:
    """A second program `name` (models/<name>.json), complete, with hostile sample inputs."""
    return [*m, (f"{ROOT}/models/{name}.json", _get(m, "models/model.json")),
            (f"{ROOT}/data/sample_inputs/{name}.pt", p),
            (f"{ROOT}/data/weights/{name}_weights_config.json", _get(m, "data/weights/model_weights_config.json")),
            (f"{ROOT}/data/constants/{name}_constants_config.json",
             _get(m, "data/constants/model_constants_config.json"))]


def _pickled_entry(m: Members, kind: str, fqn: str, path_name: str, p: bytes) -> Members:
    """A use_pickle entry in data/<kind>/model_<kind>_config.json whose member is the payload."""
    entry = {"path_name": path_name, "is_param": False, "use_pickle": True, "tensor_meta": None}
    m = _json(m, f"data/{kind}/model_{kind}_config.json", lambda cfg: cfg["config"].update({fqn: entry}))
    return [*m, (f"{ROOT}/data/{kind}/{path_name}", p)]


def _use_pickle_weight(m: Members, p: bytes) -> Members:
    def edit(cfg):
        cfg["config"]["0.weight"]["use_pickle"] = True
    return _set(_json(m, "data/weights/model_weights_config.json", edit), "data/weights/weight_0", p)


def _guards(m: Members, marker: Path) -> Members:
    # no quotes in the guard: torch re-quotes the source it exec()s
    hostile = f"exec(bytes({tuple(_code(marker).encode())})) is None".replace(", ", ",")
    return _json(m, "models/model.json", lambda model: model.update(guards_code=[hostile]))


def _operator_call(m: Members) -> Members:
    """G's relu node calls `_operator.call` instead: a callable target the deserializer would accept."""
    def edit(model):
        for node in model["graph_module"]["graph"]["nodes"]:
            if node["target"] == "torch.ops.aten.relu.default":
                node["target"] = "_operator.call"
    return _json(m, "models/model.json", edit)


def _variant(kind: str, m: Members, marker: Path) -> tuple[Members, str]:
    """The hostile archive `kind`, and the member its refusal must name."""
    p = _payload(marker)
    evil_root = [(f"evil/{n.split('/', 1)[1]}", p if n.endswith("sample_inputs/model.pt") else d) for n, d in m]
    variants = {
        "flat_sample_inputs": lambda: (_set(m, "data/sample_inputs/model.pt", p), "data/sample_inputs/model.pt"),
        "nested_program": lambda: (_nested(m, p, "x/y"), "models/x/y.json"),
        "deeply_nested_program": lambda: (_nested(m, p, "a/b/c/d"), "models/a/b/c/d.json"),
        "nested_sample_inputs_only": lambda: ([*m, (f"{ROOT}/data/sample_inputs/x/y.pt", p)],
                                              "data/sample_inputs/x/y.pt"),
        "flat_second_program": lambda: (_nested(m, p, "other"), "models/other.json"),
        "second_root_after": lambda: ([*m, *evil_root], evil_root[0][0]),
        "second_root_first": lambda: ([*evil_root, *m], m[0][0]),
        "duplicate_second_hostile": lambda: ([*m, (f"{ROOT}/data/sample_inputs/model.pt", p)],
                                             "data/sample_inputs/model.pt"),
        "duplicate_first_hostile": lambda: ([(f"{ROOT}/data/sample_inputs/model.pt", p), *m],
                                            "data/sample_inputs/model.pt"),
        "duplicate_program": lambda: ([*m, (f"{ROOT}/models/model.json",
                                            _get(_guards(m, marker), "models/model.json"))],
                                      "models/model.json"),
        "use_pickle_weight": lambda: (_use_pickle_weight(m, p), "data/weights/weight_0"),
        "use_pickle_constant": lambda: (_pickled_entry(m, "constants", "c", "tensor_0", p), "data/constants/tensor_0"),
        "legacy_weights": lambda: ([*_without(m, "data/weights/"), (f"{ROOT}/data/weights/model.pt", p)],
                                   "data/weights/model.pt"),
        "legacy_weights_beside_config": lambda: ([*m, (f"{ROOT}/data/weights/model.pt", p)], "data/weights/model.pt"),
        "legacy_constants": lambda: ([*_without(m, "data/constants/"), (f"{ROOT}/data/constants/model.pt", p)],
                                     "data/constants/model.pt"),
        "custom_obj": lambda: (_pickled_entry(m, "constants", "obj", "custom_obj_0", p), "data/constants/custom_obj_0"),
        "opaque_obj": lambda: (_pickled_entry(m, "constants", "obj", "opaque_obj_0", p), "data/constants/opaque_obj_0"),
        "guards_code": lambda: (_guards(m, marker), "models/model.json"),
        "operator_call": lambda: (_operator_call(m), "models/model.json"),
        "native_code": lambda: ([*m, (f"{ROOT}/data/aotinductor/model/model.so", b"\x7fELF" + p)],
                                "data/aotinductor/model/model.so"),
        "unknown_member": lambda: ([*m, (f"{ROOT}/data/weights/stray.pt", p)], "data/weights/stray.pt"),
        "outside_root": lambda: ([*m, ("serialized_example_inputs.pt", p)], "serialized_example_inputs.pt"),
    }
    return variants[kind]()


KINDS = ["flat_sample_inputs", "nested_program", "deeply_nested_program", "nested_sample_inputs_only",
         "flat_second_program", "second_root_after", "second_root_first", "duplicate_second_hostile",
         "duplicate_first_hostile", "duplicate_program", "use_pickle_weight", "use_pickle_constant",
         "legacy_weights", "legacy_weights_beside_config", "legacy_constants", "custom_obj", "opaque_obj",
         "guards_code", "operator_call", "native_code", "unknown_member", "outside_root"]
# torch.export.load runs the payload of these (checked with trust below); the rest are refused because
# ganlint cannot place a member, whatever torch would make of it.
RUN_BY_TORCH = ["flat_sample_inputs", "nested_program", "deeply_nested_program", "flat_second_program",
                "use_pickle_weight", "use_pickle_constant", "legacy_weights", "legacy_weights_beside_config",
                "legacy_constants", "opaque_obj", "guards_code"]


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> dict[str, Path]:
    """The clean G (static batch 4, z of 8), G with a dynamic batch, and a D, as .pt2 files."""
    folder = tmp_path_factory.mktemp("export_clean")
    g = _generator()
    torch.manual_seed(1)
    d = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1), nn.Sigmoid()).eval()
    blobs = {"G.pt2": _exported(g, torch.randn(4, 8)), "G_dynamic.pt2": _exported(g, torch.randn(4, 8), dynamic=True),
             "D.pt2": _exported(d, torch.randn(6, 2), dynamic=True)}
    for name, blob in blobs.items():
        (folder / name).write_bytes(blob)
    return {name.split(".")[0]: folder / name for name in blobs}


def _hostile(clean: dict[str, Path], kind: str, folder: Path) -> tuple[Path, Path, str]:
    """(hostile archive, its marker, the member its refusal names) for `kind`, written into `folder`."""
    marker = folder / f"pwned_{kind}"
    members, member = _variant(kind, _read(clean["G"].read_bytes()), marker)
    path = folder / f"{kind}.pt2"
    path.write_bytes(_zip(members))
    return path, marker, member


# -- refused in-process ------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_hostile_archive_is_refused_naming_its_member(clean, tmp_path: Path, kind: str, capfd) -> None:
    path, marker, member = _hostile(clean, kind, tmp_path)
    capfd.readouterr()
    with pytest.raises(UnsafeCheckpointError) as e:
        load_checkpoint(path)
    message = str(e.value)
    assert repr(member)[1:-1] in message and "trust_checkpoint loads it" in message, message
    assert "\n" not in message
    assert not marker.exists()
    assert capfd.readouterr().err == ""  # no library log on top of the error


def test_hostile_symbolic_expression_is_refused(clean, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    members = _json(_read(clean["G_dynamic"].read_bytes()), "models/model.json",
                    lambda model: inject_expr(model, f"exec({_code(marker)!r}) or "))
    assert "exec(" in _get(members, "models/model.json").decode()  # the dynamic program does have an expr_str
    path = tmp_path / "sympy.pt2"
    path.write_bytes(_zip(members))
    with pytest.raises(UnsafeCheckpointError, match=r"'models/model\.json'.*symbolic expression"):
        load_checkpoint(path)
    assert not marker.exists()
    with contextlib.suppress(Exception):  # trusted, torch's sympify runs it
        load_checkpoint(path, trust=True)
    assert marker.exists()


def test_pytree_spec_that_imports_a_module_is_refused(clean, tmp_path: Path, monkeypatch) -> None:
    """torch parses in_spec contexts with a hook that imports the module an `__enum__` object names: any
    module on sys.path (the working folder, for `python -m ganlint`) would run on import."""
    module = "ganlint_test_import_payload"
    marker = tmp_path / "pwned"
    (tmp_path / f"{module}.py").write_text(f"import enum, os\nos.mkdir({str(marker)!r})\n"
                                           "class E(enum.Enum):\n    A = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, module, raising=False)

    def edit(model):
        signature = model["graph_module"]["module_call_graph"][0]["signature"]
        protocol, spec = json.loads(signature["in_spec"])
        spec["children_spec"][1]["context"] = json.dumps([{"__enum__": True, "fqn": f"{module}:E", "name": "A"}])
        signature["in_spec"] = json.dumps([protocol, spec])

    path = tmp_path / "enum.pt2"
    path.write_bytes(_zip(_json(_read(clean["G"].read_bytes()), "models/model.json", edit)))
    with pytest.raises(UnsafeCheckpointError, match=r"'models/model\.json'.*pytree spec"):
        load_checkpoint(path)
    assert not marker.exists()
    with contextlib.suppress(Exception):
        load_checkpoint(path, trust=True)
    assert marker.exists()


@pytest.mark.parametrize("kind", RUN_BY_TORCH)
def test_trusted_hostile_archive_does_run_its_payload(clean, tmp_path: Path, kind: str) -> None:
    """The fixtures are real attacks: torch.export.load (or the program's guards) runs each payload."""
    path, marker, _ = _hostile(clean, kind, tmp_path)
    with contextlib.suppress(Exception):
        load_checkpoint(path, trust=True).sample(4)
    assert marker.exists()


# -- refused through the command line ------------------------------------------------------------------------

def _ganlint(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env.pop("GITHUB_STEP_SUMMARY", None)
    return subprocess.run([sys.executable, "-m", "ganlint", "check", *args, "--no-config"], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=300)


def _error_lines(p: subprocess.CompletedProcess) -> list[str]:
    return [line for line in p.stderr.splitlines() if line.startswith("ganlint: error:")]


@pytest.fixture(scope="module")
def cli(clean, tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, Path, str]]:
    """Each command line run once, in a subprocess, two at a time: (result, marker, the text to name).

    A subprocess costs a torch import (seconds on a busy machine), so the other variants go through
    ganlint.cli.main in-process below; these are the ones where the process boundary matters most.
    """
    work = tmp_path_factory.mktemp("export_cli")
    runs: dict[str, tuple[list[str], Path, str]] = {}
    for kind in ("nested_program", "duplicate_first_hostile"):
        path, marker, member = _hostile(clean, kind, work)
        runs[kind] = ([str(path), "--data", "ring8"], marker, member)
    d_path, d_marker, d_member = _hostile(clean, "deeply_nested_program", work)
    runs["discriminator_file"] = ([str(clean["G"]), "--discriminator-file", str(d_path)], d_marker, d_member)
    history = work / "history"
    history.mkdir()
    h_path, h_marker, h_member = _hostile(clean, "flat_second_program", history)
    h_path.rename(history / "ckpt_1.pt2")
    for step in (2, 3):
        (history / f"ckpt_{step}.pt2").write_bytes(clean["G"].read_bytes())
    runs["history"] = ([str(clean["G"]), "--history", str(history), "--samples", "500"], h_marker, h_member)
    (work / "garbage.pt2").write_bytes(_garbage_zip())
    runs["garbage_zip_trusted"] = ([str(work / "garbage.pt2"), "--trust-checkpoint"], work / "nothing", "garbage.pt2")
    data_marker = work / "pwned_data"
    (work / "evil.pt").write_bytes(_payload(data_marker))
    runs["payload_as_data"] = ([str(clean["G"]), "--data", str(work / "evil.pt")], data_marker, "os.mkdir")
    # G with a dynamic batch: D's gradient checks call G with batches of their own size
    runs["clean"] = ([str(clean["G_dynamic"]), "--discriminator-file", str(clean["D"]), "--data", "ring8", "--samples", "1000",
                      "--format", "json"], work / "nothing", "")

    with ThreadPoolExecutor(max_workers=2) as pool:
        done = dict(zip(runs, pool.map(lambda args: _ganlint(args, work), [a for a, _, _ in runs.values()]), strict=True))
    return {name: (done[name], marker, member) for name, (_, marker, member) in runs.items()}


def _garbage_zip() -> bytes:
    """Looks like a .pt2 from its member names; its program is not JSON (torch logs a traceback for it)."""
    return _zip([(f"{ROOT}/archive_format", b"pt2"), (f"{ROOT}/archive_version", b"0"),
                 (f"{ROOT}/models/model.json", b"\x00garbage{"), (f"{ROOT}/data/sample_inputs/model.pt", b"junk")])


def _assert_one_line_refusal(returncode: int, out: str, err: str, marker: Path, member: str, trust_hint: bool) -> None:
    assert returncode == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ganlint: error:"), err
    assert member in lines[0]
    assert "Traceback" not in err + out
    assert not marker.exists()
    if trust_hint:
        assert "--trust-checkpoint" in lines[0]


@pytest.mark.parametrize("name", ["nested_program", "duplicate_first_hostile", "discriminator_file",
                                  "garbage_zip_trusted", "payload_as_data"])
def test_cli_refusal_is_one_line_exit_2(cli, name: str) -> None:
    p, marker, member = cli[name]
    _assert_one_line_refusal(p.returncode, p.stdout, p.stderr, marker, member,
                             trust_hint=name not in ("garbage_zip_trusted", "payload_as_data"))


def test_cli_history_folder_with_a_hostile_checkpoint(cli) -> None:
    """--history prints a progress line per checkpoint; the error is still one line, and the last."""
    p, marker, member = cli["history"]
    assert p.returncode == 2, p.stderr
    errors = _error_lines(p)
    assert len(errors) == 1 and p.stderr.splitlines()[-1] == errors[0], p.stderr
    assert member in errors[0] and "--trust-checkpoint" in errors[0]
    assert all(line.startswith("ganlint: ") for line in p.stderr.splitlines())  # chatter, no library text
    assert "Traceback" not in p.stderr + p.stdout
    assert not marker.exists()


def test_cli_checks_a_clean_archive(cli) -> None:
    p, _, _ = cli["clean"]
    assert p.returncode in (0, 1), p.stderr
    out = json.loads(p.stdout)
    assert out["kind"] == "export" and out["samples"] == 1000
    assert "Traceback" not in p.stderr and not _error_lines(p)


@pytest.mark.parametrize("kind", ["second_root_after", "use_pickle_weight", "guards_code", "junk_bytes", "garbage_zip"])
def test_cli_main_refusal_is_one_line_exit_2(clean, tmp_path: Path, kind: str, capfd) -> None:
    """The same command line in-process (ganlint.cli.main), for more variants at no subprocess cost."""
    from ganlint.cli import main

    marker, member, trust_hint = tmp_path / "nothing", f"{kind}.pt2", False
    if kind == "junk_bytes":
        (tmp_path / f"{kind}.pt2").write_bytes(torch.randint(0, 256, (4096,), dtype=torch.uint8,
                                                             generator=torch.Generator().manual_seed(0)).numpy().tobytes())
    elif kind == "garbage_zip":
        (tmp_path / f"{kind}.pt2").write_bytes(_garbage_zip())
        member = "damaged torch.export archive"
    else:
        _, marker, member = _hostile(clean, kind, tmp_path)
        trust_hint = True
    capfd.readouterr()
    code = main(["check", str(tmp_path / f"{kind}.pt2"), "--data", "ring8", "--no-config"])
    out, err = capfd.readouterr()
    _assert_one_line_refusal(code, out, err, marker, member, trust_hint)


# -- clean archives still load ---------------------------------------------------------------------------------

def test_clean_archive_loads_like_torch_export_load(clean) -> None:
    ck = load_checkpoint(clean["G"], discriminator_path=clean["D"])
    assert ck.kind == "export" and ck.latent.z_dim == 8 and ck.meta["g_fixed_batch"] == 4
    z = torch.randn(4, 8, generator=torch.Generator().manual_seed(2))
    trusted = torch.export.load(clean["G"]).module()
    with torch.no_grad():
        assert torch.allclose(ck.generator(z), trusted(z)) and torch.allclose(ck.generator(z), _generator()(z))
    x = ck.sample(10, seed=3)  # static batch of 4: three calls, the last trimmed
    assert x.shape == (10, 2) and ck.discriminate(x).numel() == 10


def test_clean_dynamic_archive_with_directory_entries_and_extra_files_loads(clean, tmp_path: Path) -> None:
    """Symbolic shapes pass the grammar; zip folder entries, .data/ and extra/ members are harmless."""
    members = _read(clean["G_dynamic"].read_bytes())
    path = tmp_path / "rezipped.pt2"
    path.write_bytes(_zip([(f"{ROOT}/", b""), (f"{ROOT}/models/", b""), *members, (f"{ROOT}/extra/notes.txt", b"hi")]))
    ck = load_checkpoint(path)
    assert ck.meta["g_fixed_batch"] is None and ck.sample(10, seed=0).shape == (10, 2)


def test_clean_archive_saved_to_a_path_has_its_own_root(tmp_path: Path) -> None:
    path = tmp_path / "my_generator.pt2"
    torch.export.save(torch.export.export(_generator(), (torch.randn(4, 8),)), path)
    assert zipfile.ZipFile(path).namelist()[0].startswith("my_generator/")
    assert load_checkpoint(path).latent.z_dim == 8


# -- library logs (item 10) ------------------------------------------------------------------------------------

def test_damaged_archive_is_one_line_trusted_or_not(tmp_path: Path, capfd) -> None:
    path = tmp_path / "garbage.pt2"
    path.write_bytes(_zip([(f"{ROOT}/archive_format", b"pt2"), (f"{ROOT}/archive_version", b"0"),
                           (f"{ROOT}/models/model.json", b"not json")]))
    for trust in (False, True):
        with pytest.raises(CheckpointError) as e:
            load_checkpoint(path, trust=trust)
        assert not isinstance(e.value, UnsafeCheckpointError) and "\n" not in str(e.value)
    assert capfd.readouterr().err == ""  # torch.export.load's logged traceback (trusted) stayed quiet


def test_quiet_library_logs_silences_torch_and_restores_levels(capfd) -> None:
    export_log = logging.getLogger("torch.export")
    levels = (logging.getLogger("torch").level, export_log.level)
    with quiet_library_logs():
        export_log.warning("hidden")
        logging.getLogger("torch._export.serde.serialize").error("hidden too")
    assert "hidden" not in capfd.readouterr().err
    assert (logging.getLogger("torch").level, export_log.level) == levels


def test_zip_bomb_member_is_refused_before_it_is_read(tmp_path) -> None:
    import io
    import zipfile

    from ganlint.loaders.errors import UnsafeCheckpointError
    from ganlint.loaders.export_scan import read_export

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("archive/archive_format", "pt2")
        zf.writestr("archive/models/model.json", b" " * (64 * 2**20))  # 64 MiB of spaces: ~64 KiB deflated
    with pytest.raises(UnsafeCheckpointError, match=r"models/model\.json.*zip bomb"):
        read_export(buf.getvalue(), "'bomb.pt2'")
