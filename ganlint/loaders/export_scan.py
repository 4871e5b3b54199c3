"""A static check of a torch.export (.pt2) archive before torch.export.load touches it.

torch.export.load is not a safe loader in torch 2.15 (its own docstring says never to load untrusted
files). Reading its code and trying crafted archives here, these parts of a .pt2 run code from the file:

* `data/sample_inputs/*.pt`: unpickled with weights_only=True, and on failure *again with
  weights_only=False* (torch/_export/serde/serialize.py, deserialize_torch_artifact): a malicious pickle
  runs at load time.
* weights or constants whose payload config says `use_pickle` (loaded with weights_only=False), legacy
  `data/weights/<model>.pt` / `data/constants/<model>.pt` files, `custom_obj_*` (TorchScript objects) and
  `opaque_obj_*` constants (plain `pickle.loads`).
* `guards_code` in models/*.json: Python source that `ExportedProgram.module()` exec()s.
* every `expr_str` (symbolic shapes): parsed with `sympy.sympify`, which eval()s the string.
* parameter, buffer and constant names (FQNs): written unescaped into the Python source that fx
  generates and exec()s for the program's forward (`getattr(self.net, "0")...`), so a quote in one
  injects code.
* `data/aotinductor/`: compiled native code.

So without trust, ganlint loads a .pt2 only when every pickled entry loads with weights_only=True, no
pickled object or native code is present, and every guard, symbolic expression, operator target and
node name fits a strict grammar of what torch.export itself writes (size comparisons, `Symbol('s0',
positive=True, integer=True)`, `torch.ops.aten.*` ...). This covers the paths known in torch 2.15; it is a
best effort, not a sandbox, which is why `--trust-checkpoint` stays the only way past a refusal.
"""

from __future__ import annotations

import ast
import io
import json
import re
import zipfile
from collections.abc import Iterator
from typing import Any

from ganlint.loaders.errors import CheckpointError, UnsafeCheckpointError, shorten
from ganlint.loaders.safe import TRUST_FLAG, check_weights_only

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FQN = re.compile(r"([A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*)?")  # net.0.weight; empty for the root module
_SYMBOL = re.compile(r"[a-z]{1,4}\d+")  # torch's shape symbols: s0, u3, zuf1, ...
_TARGET = re.compile(
    r"torch\.ops\.\w+\.\w+(\.\w+)?"  # registered operators, e.g. torch.ops.aten.linear.default
    r"|_operator\.\w+|math\.\w+"  # symbolic-int arithmetic (torch's verifier allows only these builtins)
    r"|torch\._?sym_\w+"  # torch.sym_max, torch._sym_sqrt, ...
)
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


def scan_export(data: bytes, what: str) -> None:
    """Raise UnsafeCheckpointError when the archive in `data` holds anything torch.export.load runs as code."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        entries = {(n.split("/", 1)[1] if "/" in n else n): n for n in zf.namelist()}
        problems: list[str] = []
        for rel, name in sorted(entries.items()):
            if rel.startswith(_NATIVE_DIRS):
                problems.append(f"compiled native code ({rel})")
            elif re.fullmatch(r"data/sample_inputs/[^/]+\.pt|data/(weights|constants)/[^/]+\.pt", rel):
                check_weights_only(zf.read(name), f"{what} (its entry {rel})")
            elif m := re.fullmatch(r"data/(weights|constants)/[^/]+_config\.json", rel):
                problems += _payloads(zf, entries, m.group(1), json.loads(zf.read(name)), what)
            elif re.fullmatch(r"models/[^/]+\.json", rel):
                problems += _program_problems(json.loads(zf.read(name)))
    except (zipfile.BadZipFile, ValueError, KeyError, TypeError, AttributeError) as e:
        raise CheckpointError(f"{what} is a damaged torch.export archive ({type(e).__name__}: {e})") from None
    if problems:
        raise UnsafeCheckpointError(
            f"{what} is a torch.export archive with parts that torch.export.load would run as code: "
            f"{shorten(sorted(dict.fromkeys(problems)))}; only {TRUST_FLAG} loads it, and only for a file "
            "from a source you trust")


def _payloads(zf: zipfile.ZipFile, entries: dict[str, str], kind: str, cfg: dict, what: str) -> list[str]:
    problems = []
    for fqn, meta in cfg.get("config", {}).items():
        path = str(meta.get("path_name", ""))
        if not _FQN.fullmatch(fqn) or not _FQN.fullmatch(path):
            problems.append(f"module path {fqn[:60]!r}")
        elif kind == "constants" and not path.startswith("tensor_"):
            problems.append(f"a pickled object for constant {fqn!r} ({path})")
        elif meta.get("use_pickle"):
            check_weights_only(zf.read(entries[f"data/{kind}/{path}"]), f"{what} (its entry data/{kind}/{path})")
    return problems


def _program_problems(model: dict) -> list[str]:
    problems = [f"guard code {g[:60]!r}" for g in model.get("guards_code") or [] if not _safe(g, _guard_node)]
    for key, value in _walk(model):
        if key == "expr_str" and not _safe(value, _sym_node):
            problems.append(f"symbolic expression {value[:60]!r}")
        elif key == "target" and isinstance(value, str) and ("__" in value or not _TARGET.fullmatch(value)):
            problems.append(f"operator {value[:60]!r}")
        elif key == "name" and isinstance(value, str) and not _IDENT.fullmatch(value):
            problems.append(f"node name {value[:60]!r}")
        elif (key.endswith("_name") or key == "fqn") and isinstance(value, str) and not _FQN.fullmatch(value):
            problems.append(f"module path {value[:60]!r}")
    return problems


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
