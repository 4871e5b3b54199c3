"""Reading a torch.export (.pt2) archive without letting torch run code from it.

What torch.export.load reads (torch 2.14.1: torch/export/__init__.py `load`, pt2_archive/_package.py
`load_pt2`, torch/_export/serde/serialize.py). A .pt2 is a zip whose members sit under one root folder
(torch's PyTorchFileReader takes the root from the first member; its name is free: `archive` for a
buffer, the file's stem for a path). Under that root:

* `archive_format` ("pt2") and `archive_version` ("0"): checked.
* every member under `models/`, at any depth, is a program, named by its path (`models/x/y.json` is
  program `x/y`); torch loads all of them and then returns the one named `model`. For each it reads
  - `data/sample_inputs/<name>.pt`: torch.load(weights_only=True), and when that fails *again with
    weights_only=False* (deserialize_torch_artifact): a malicious pickle runs during the load;
  - `data/weights/<name>.pt` (legacy; the same two-step load), else
    `data/weights/<name>_weights_config.json` and the members it names: raw tensor bytes, or for a
    `use_pickle` entry torch.load(weights_only=False);
  - `data/constants/<name>.pt` (legacy), else `data/constants/<name>_constants_config.json`: `tensor_*`
    members (raw, or use_pickle as above), `custom_obj_*` (torch._C._pickle_load_obj, TorchScript
    objects) and `opaque_obj_*` (plain pickle.loads);
  - the program JSON itself: every `expr_str` goes to sympy.sympify (which eval()s), operator `target`s
    (and `as_operator` arguments) are looked up by name and any callable is accepted, the pytree specs
    (`in_spec`, `out_spec`) are parsed with a hook that imports any module a context names, node names
    and parameter/buffer names (FQNs) are written unescaped into the Python source fx generates and
    exec()s for the forward, and `ExportedProgram.module()` exec()s each `guards_code` line.
* `extra/*`: read as text (harmless). `data/aotinductor/<name>/`: compiled native code that
  AOTIModelPackageLoader loads into the process.
* when that path raises a RuntimeError (logged with its traceback) or finds no program, the format
  before torch 2.7: top-level `serialized_exported_program.json` and `serialized_state_dict.pt`,
  `serialized_constants.pt`, `serialized_example_inputs.pt`, pickles loaded with the same fallback.

A scan that guesses which of these torch will pick (nesting, duplicated member names, which root)
can always be out-guessed. So without trust ganlint never hands the archive to torch.export.load: it
reads the members itself, from the bytes in memory, and gives torch's deserializer only the checked
pieces of the one program torch would return:

* the archive must have one root, no member name twice, and only members ganlint can place: the
  metadata above, `.data/` and `extra/`, and program `model`'s own parts. Anything else (a second
  program, native code, an unknown member) is refused, naming the member;
* weights and constants are built from their raw bytes (as torch does), a use_pickle or legacy one is
  read with weights_only=True only, and pickled objects (custom_obj_, opaque_obj_) are refused;
* the sample inputs are never passed on (calling the program does not need them); when present they
  must still load with weights_only=True, since a file that carries a payload is refused, not trimmed.
  Without them `module()` does not build the guard function at all (torch 2.14's _unlift builds it
  only when the program has example inputs); the checks from the graph's input shapes and range
  constraints still reject a wrong batch size;
* the program JSON must fit a strict grammar of what torch.export itself writes: size comparisons in
  guards, `Symbol('s0', positive=True, integer=True)` in expressions, `torch.ops.*` targets and the
  few builtins of shape arithmetic, pytree specs of plain containers, identifiers for node names,
  dotted identifiers for FQNs.

What cannot be shown safe raises UnsafeCheckpointError (one line, naming the member); only
`--trust-checkpoint` gets past it, and then torch.export.load reads the whole archive its own way.
A damaged archive raises CheckpointError. The deserializer used (ExportedProgramDeserializer,
_dict_to_dataclass, the serde helpers) is torch's private API: a torch without it is refused too.
"""

from __future__ import annotations

import ast
import io
import json
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from ganlint.loaders.errors import CheckpointError, UnsafeCheckpointError, describe_exception, naming, shorten
from ganlint.loaders.safe import TRUST_OPTION, load_weights_only

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FQN = re.compile(r"([A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*)?")  # net.0.weight; empty for the root module
_SYMBOL = re.compile(r"[a-z]{1,4}\d+")  # torch's shape symbols: s0, u3, zuf1, ...
_TARGET = re.compile(
    r"torch\.ops\.\w+\.\w+(\.\w+)?"  # registered operators, e.g. torch.ops.aten.linear.default
    # symbolic-int arithmetic: the builtins torch's verifier and the deserializer's _SYM_OPS allow. Not
    # any `_operator.*`: the deserializer takes any callable as a target (call, attrgetter, methodcaller
    # chain into arbitrary code), and only torch's verifier, run after it, refuses those today.
    r"|_operator\.(getitem|add|mul|sub|truediv|floordiv|mod|pow|neg|pos|abs|eq|ne|lt|le|gt|ge|and_|or_|not_"
    r"|lshift|rshift)|math\.(ceil|floor|trunc)"
    r"|torch\._?sym_\w+"  # torch.sym_max, torch._sym_sqrt, ...
)
# Pytree specs (a program's in_spec/out_spec) name their container types; torch re-creates them from a
# registry, but a context holding a JSON object goes through an enum hook that imports any module it
# names (torch.utils._pytree.enum_object_hook), and a defaultdict's context names its factory. So: these
# plain containers only, and contexts without objects.
_TREESPEC_TYPES = {None, "builtins.tuple", "builtins.list", "builtins.dict", "collections.OrderedDict",
                   "torch.fx.immutable_collections.immutable_list", "torch.fx.immutable_collections.immutable_dict"}
_SYMPY_CALLS = {
    "Symbol", "Integer", "Float", "Rational", "Add", "Mul", "Pow", "Max", "Min", "Abs", "floor", "ceiling",
    "sqrt", "Eq", "Ne", "Lt", "Le", "Gt", "Ge", "StrictLessThan", "StrictGreaterThan", "LessThan",
    "GreaterThan", "Equality", "Unequality", "And", "Or", "Not", "Piecewise", "ITE",
    # torch.utils._sympy.functions, as the deserializer passes them to sympify
    "CeilDiv", "CeilToInt", "CleanDiv", "FloatPow", "FloatTrueDiv", "FloorDiv", "FloorToInt", "Identity",
    "IntTrueDiv", "IsNonOverlappingAndDenseIndicator", "LShift", "Mod", "ModularIndexing", "PowByNatural",
    "PythonMod", "RShift", "RoundDecimal", "RoundToInt", "ToFloat", "TruncToFloat", "TruncToInt", "Where",
}
_SYMPY_NAMES = {"True", "False", "true", "false", "oo", "zoo", "nan"}
_GUARD_NAMES = {"L", "torch", "math", "inf", "True", "False", "IsNonOverlappingAndDenseIndicator",
                "cast_symbool_to_symint_guardless"}
_TENSOR_METHODS = {"size", "stride", "storage_offset", "dim", "numel"}
_MATH_FUNCS = {"floor", "ceil", "trunc", "sqrt", "log2", "isfinite"}
_OPS = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.operator, ast.unaryop,
        ast.boolop, ast.cmpop, ast.expr_context, ast.keyword, ast.Call, ast.Name, ast.Constant,
        ast.Subscript, ast.Attribute)
_NATIVE_DIRS = ("data/aotinductor/", "data/executorch/", "data/mtia")

# The archive layout torch 2.14 writes, relative to the root folder.
_MODEL = "model"  # the program torch.export.load returns
_PROGRAM = f"models/{_MODEL}.json"
_SAMPLE_INPUTS = f"data/sample_inputs/{_MODEL}.pt"
_METADATA = ("archive_format", "archive_version", "byteorder")
_FREE_DIRS = (".data/", "extra/")  # the zip writer's own records; extra files torch reads as text
_PAYLOAD_NAME = re.compile(r"[A-Za-z0-9_]+")  # weight_0, tensor_3: a member's name within data/<kind>/
# What a damaged zip, member or JSON raises while it is read (never a ganlint error: those pass through).
_DAMAGED = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, ValueError, KeyError,
            IndexError, TypeError, AttributeError, AssertionError, NotImplementedError, RuntimeError)


@dataclass
class ExportParts:
    """The checked pieces of program `model`, as torch's deserializer takes them."""

    program: dict[str, Any]  # models/model.json
    state_dict: dict[str, Any]
    constants: dict[str, Any]


def load_untrusted_export(data: bytes, what: str) -> Any:
    """The ExportedProgram in the archive `data`, built without torch unpickling or running anything
    from it beyond the checked program; UnsafeCheckpointError for what cannot be shown safe."""
    parts = read_export(data, what)
    serde, schema = _serde(what)
    serialized = serde._dict_to_dataclass(schema.ExportedProgram, parts.program)
    # example_inputs=None: the sample inputs are the one part calling the program does not need
    return serde.ExportedProgramDeserializer().deserialize(serialized, parts.state_dict, parts.constants, None)


def read_export(data: bytes, what: str) -> ExportParts:
    """Read and check the archive in `data` member by member (see the module docstring)."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        members = _members(zf, what)
        _check_layout(zf, members, what)
        program = json.loads(zf.read(members[_PROGRAM]))  # parsed only: checked below
        weights = _payload_plan(zf, members, "weights", what)
        constants = _payload_plan(zf, members, "constants", what)
        used = {_PROGRAM, _SAMPLE_INPUTS, *_METADATA, *weights.members, *constants.members}
        # A second program first: it is the member that says most about an archive built to attack.
        for rel in sorted(members, key=lambda r: (not r.startswith("models/"), r)):
            if rel not in used and not rel.startswith(_FREE_DIRS):
                raise _refused(what, rel, _unplaced(rel))
        if problems := _program_problems(program):
            raise _refused(what, _PROGRAM, f"holds parts that torch would run as code: {shorten(problems)}")
        if _SAMPLE_INPUTS in members:  # never passed on, but a payload is refused, not trimmed
            load_weights_only(zf.read(members[_SAMPLE_INPUTS]), _member(what, _SAMPLE_INPUTS))
        return ExportParts(program, weights.load(zf, members, what), constants.load(zf, members, what))
    except _DAMAGED as e:
        raise CheckpointError(f"{what} is a damaged torch.export archive ({describe_exception(e)})") from None


# A member is read whole into memory: a declared size past these is refused before it is read. Weights are
# stored uncompressed by torch.export (inflation 1), JSON compresses ~10-50x; 1,000x is only a bomb.
MAX_MEMBER_BYTES = 16 * 2**30
MAX_INFLATION = 1000


def _members(zf: zipfile.ZipFile, what: str) -> dict[str, zipfile.ZipInfo]:
    """Each file member by its path under the one root folder; a second root or a name twice is refused."""
    infos = zf.infolist()
    if not infos:
        raise CheckpointError(f"{what} is an empty zip archive, not a torch.export one")
    root = infos[0].filename.split("/", 1)[0]
    members: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        top, _, rel = info.filename.partition("/")
        if top != root:
            raise _refused(what, info.filename, f"lies outside the root folder {root + '/'!r} of the archive's "
                           "other members (torch's reader and ganlint's could then read different programs)")
        if info.is_dir():
            continue
        if rel in members:
            raise _refused(what, info.filename, "appears twice (a zip can hold two members of one name, and "
                           "readers differ on which of them counts)")
        if info.file_size > MAX_MEMBER_BYTES or info.file_size > max(info.compress_size, 1) * MAX_INFLATION:
            raise _refused(what, info.filename, f"would unpack to {info.file_size:,} bytes from {info.compress_size:,} "
                           "(a zip bomb, or a network far larger than any GAN ganlint checks)")
        members[rel] = info
    return members


def _check_layout(zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], what: str) -> None:
    if "archive_format" not in members or zf.read(members["archive_format"]).strip() != b"pt2":
        raise CheckpointError(f"{what} is not a torch.export archive (no archive_format 'pt2' in it)")
    version = zf.read(members["archive_version"]).strip() if "archive_version" in members else b"(none)"
    if version != b"0":
        raise CheckpointError(f"{what} is a torch.export archive of version {version.decode(errors='replace')!r}, "
                              "not 0, the one this torch reads: save it again with this torch version")
    if _PROGRAM not in members:
        raise CheckpointError(f"{what} is a torch.export archive without the program {_PROGRAM!r} that "
                              "torch.export.load returns")


def _unplaced(rel: str) -> str:
    """Why a member that is not part of program `model` is refused."""
    if rel.startswith("models/"):
        return ("is a second program: torch.export.load loads every member under models/, at any depth, and "
                "unpickles each one's sample inputs with weights_only=False when the safe load fails")
    if rel.startswith(_NATIVE_DIRS):
        return "is compiled native code, which torch.export.load loads into the process"
    if rel.startswith("data/sample_inputs/"):
        return "is the sample inputs of another program, which torch may unpickle with weights_only=False"
    return ("is not part of a torch.export program as torch writes one, so what would read it, and how, "
            "is unknown")


@dataclass
class _PayloadPlan:
    """What data/<kind>/ holds for program `model`: a legacy pickle, or a config and the members it names."""

    kind: str
    legacy: str | None = None
    config: Any = None  # torch's schema.PayloadConfig
    members: tuple[str, ...] = ()

    def load(self, zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], what: str) -> dict[str, Any]:
        if self.legacy is not None:
            obj = load_weights_only(zf.read(members[self.legacy]), _member(what, self.legacy))
            if not isinstance(obj, dict):
                raise CheckpointError(f"{_member(what, self.legacy)} holds a {type(obj).__name__}, not a dict of "
                                      "tensors")
            return obj
        if self.config is None:
            return {}
        return _tensors(zf, members, self.kind, self.config, what)


def _payload_plan(zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], kind: str, what: str) -> _PayloadPlan:
    legacy = f"data/{kind}/{_MODEL}.pt"
    config_name = f"data/{kind}/{_MODEL}_{kind}_config.json"
    if legacy in members:
        if config_name in members:
            raise _refused(what, legacy, f"sits beside {config_name!r}, and torch would read the pickle instead")
        return _PayloadPlan(kind, legacy=legacy, members=(legacy,))
    if config_name not in members:
        raise CheckpointError(f"{what} is a damaged torch.export archive: it lacks {config_name!r}")
    serde, schema = _serde(what)
    raw = json.loads(zf.read(members[config_name]))
    config = serde._dict_to_dataclass(schema.PayloadConfig, raw)
    used = [config_name]
    for fqn, meta in config.config.items():
        path = meta.path_name
        if not isinstance(fqn, str) or not _FQN.fullmatch(fqn) or not _PAYLOAD_NAME.fullmatch(str(path)):
            raise _refused(what, config_name, f"names module path {str(fqn)[:60]!r} or member {str(path)[:60]!r}, "
                           "which torch writes into code it runs")
        member = f"data/{kind}/{path}"
        if kind == "constants" and path.startswith("custom_obj_"):
            raise _refused(what, member, "is a pickled TorchScript object, which torch unpickles to load it")
        if kind == "constants" and path.startswith("opaque_obj_"):
            raise _refused(what, member, "is a pickled Python object, which torch loads with pickle.loads")
        if kind == "constants" and not path.startswith("tensor_"):
            raise _refused(what, member, "is a constant of a kind ganlint does not know")
        if member not in members:
            raise CheckpointError(f"{what} is a damaged torch.export archive: {config_name!r} names "
                                  f"{member!r}, which it lacks")
        used.append(member)
    return _PayloadPlan(kind, config=config, members=tuple(used))


def _tensors(zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], kind: str, config: Any,
             what: str) -> dict[str, Any]:
    """Weights or constants from raw bytes, as torch's _build_file_map and _load_state_dict build them:
    one flat tensor per member, shared by every entry that names it (aliasing kept), viewed through
    each entry's sizes and strides. A use_pickle entry is read with weights_only=True only."""
    serde, _ = _serde(what)
    flat: dict[str, torch.Tensor] = {}
    out: dict[str, Any] = {}
    for fqn, meta in config.config.items():
        member = f"data/{kind}/{meta.path_name}"
        if meta.use_pickle:
            obj = load_weights_only(zf.read(members[member]), _member(what, member))
            if not isinstance(obj, torch.Tensor):
                raise CheckpointError(f"{_member(what, member)} holds a {type(obj).__name__}, not a tensor")
            out[fqn] = obj
            continue
        tm = meta.tensor_meta
        if tm is None:
            raise ValueError(f"{member} has no tensor_meta")
        if meta.path_name not in flat:
            dtype = serde.deserialize_scalar_type(tm.dtype)
            raw = zf.read(members[member])
            # bytearray: a writable buffer (frombuffer warns on bytes), and a copy torch then owns
            base = (torch.frombuffer(bytearray(raw), dtype=dtype) if raw
                    else torch.zeros(serde.deserialize_size(tm.sizes), dtype=dtype))
            if tm.requires_grad:
                base.requires_grad_(True)
            device = serde.deserialize_device(tm.device)
            flat[meta.path_name] = base if device.type == "cpu" else base.to(device)
        t = torch.as_strided(flat[meta.path_name], serde.deserialize_size(tm.sizes),
                             serde.deserialize_stride(tm.strides), serde.deserialize_storage_offset(tm.storage_offset))
        out[fqn] = torch.nn.Parameter(t, requires_grad=tm.requires_grad) if kind == "weights" and meta.is_param else t
    return out


_SERDE_NAMES = ("ExportedProgramDeserializer", "_dict_to_dataclass", "deserialize_scalar_type", "deserialize_size",
                "deserialize_stride", "deserialize_storage_offset", "deserialize_device")


def _serde(what: str) -> tuple[Any, Any]:
    """torch's (private) export deserializer and schema; refused with a clear message if they moved."""
    try:
        from torch._export.serde import schema
        from torch._export.serde import serialize as serde

        for module, name in (*((serde, n) for n in _SERDE_NAMES), (schema, "ExportedProgram"),
                             (schema, "PayloadConfig")):
            getattr(module, name)
    except (ImportError, AttributeError) as e:
        raise naming(
            UnsafeCheckpointError,
            f"{what}: this torch ({torch.__version__}) lacks the export deserializer ganlint uses to load an "
            f"archive without running code from it ({describe_exception(e)}); only {TRUST_OPTION} loads it, "
            "with torch.export.load, and only for a file from a source you trust") from None
    return serde, schema


def _member(what: str, rel: str) -> str:
    return f"{what} (its member {rel!r})"


def _refused(what: str, member: str, why: str) -> UnsafeCheckpointError:
    return naming(
        UnsafeCheckpointError,
        f"{what} is a torch.export archive that ganlint cannot show safe: its member {member!r} {why}. Only "
        f"{TRUST_OPTION} loads it (with torch.export.load, which can run code from the file), and only for a file "
        "from a source you trust")


def _program_problems(model: dict) -> list[str]:
    problems = [f"guard code {g[:60]!r}" for g in model.get("guards_code") or [] if not _safe(g, _guard_node)]
    for key, value in _walk(model):
        if key == "expr_str" and not _safe(value, _sym_node):
            problems.append(f"symbolic expression {value[:60]!r}")
        elif key in ("target", "as_operator") and isinstance(value, str) and not _TARGET.fullmatch(value):
            problems.append(f"operator {value[:60]!r}")
        elif key in ("in_spec", "out_spec") and not _treespec_ok(value):
            problems.append(f"pytree spec {str(value)[:60]!r}")
        elif key == "treespec_namedtuple_fields" and value:
            problems.append(f"named-tuple types {shorten(sorted(map(str, value)))}")
        elif key == "name" and isinstance(value, str) and not _IDENT.fullmatch(value):
            problems.append(f"node name {value[:60]!r}")
        elif (key.endswith("_name") or key == "fqn") and isinstance(value, str) and not _FQN.fullmatch(value):
            problems.append(f"module path {value[:60]!r}")
    return problems


def _treespec_ok(text: Any) -> bool:
    """A serialized pytree spec of plain containers whose contexts hold no JSON object (see _TREESPEC_TYPES)."""
    try:
        protocol, spec = json.loads(text)
    except (TypeError, ValueError):
        return False
    return protocol == 1 and _spec_node_ok(spec)


def _spec_node_ok(node: Any) -> bool:
    if not isinstance(node, dict) or node.get("type") not in _TREESPEC_TYPES:
        return False
    context = node.get("context")
    if context is not None:
        try:
            if not isinstance(context, str) or not _no_objects(json.loads(context)):
                return False
        except ValueError:
            return False
    children = node.get("children_spec", [])
    return isinstance(children, list) and all(_spec_node_ok(c) for c in children)


def _no_objects(value: Any) -> bool:
    if isinstance(value, list):
        return all(_no_objects(v) for v in value)
    return isinstance(value, (str, int, float, bool)) or value is None


def _walk(obj: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in ("metadata", "stack_trace"):  # free text torch never parses back into code
                continue
            yield k, v
            yield from _walk(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _walk(v)


def _safe(source: Any, allowed) -> bool:
    """True when `source` parses as one Python expression whose every node passes `allowed`."""
    if not isinstance(source, str):
        return False
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError, RecursionError):
        return False
    return all(isinstance(n, _OPS) and allowed(n) for n in ast.walk(tree))


def _sym_node(n: ast.AST) -> bool:
    """sympy's str() of a shape expression: Symbol('s0', positive=True, integer=True), Mul(Integer(2), ...)."""
    if isinstance(n, ast.Call):
        return isinstance(n.func, ast.Name) and n.func.id in _SYMPY_CALLS
    if isinstance(n, ast.Name):
        return n.id in _SYMPY_CALLS or n.id in _SYMPY_NAMES or bool(_SYMBOL.fullmatch(n.id))
    if isinstance(n, ast.keyword):
        return n.arg is not None and _IDENT.fullmatch(n.arg) is not None and not n.arg.startswith("_")
    if isinstance(n, ast.Constant):
        return not isinstance(n.value, str) or bool(_IDENT.fullmatch(n.value))
    return not isinstance(n, (ast.Subscript, ast.Attribute))


def _guard_node(n: ast.AST) -> bool:
    """Guards as torch writes them: L['z'].size()[0] == 4, torch.sym_min(...), math.floor(...)."""
    if isinstance(n, ast.Name):
        return n.id in _GUARD_NAMES
    if isinstance(n, ast.Attribute):
        if isinstance(n.value, ast.Name) and n.value.id == "torch":
            return re.fullmatch(r"_?sym_\w+", n.attr) is not None and "__" not in n.attr
        if isinstance(n.value, ast.Name) and n.value.id == "math":
            return n.attr in _MATH_FUNCS
        return isinstance(n.value, ast.Subscript) and n.attr in _TENSOR_METHODS
    if isinstance(n, ast.Call):
        return isinstance(n.func, (ast.Name, ast.Attribute)) and not n.keywords
    if isinstance(n, ast.Constant):
        return not isinstance(n.value, str) or bool(_IDENT.fullmatch(n.value))
    return not isinstance(n, ast.keyword)
