"""The package's shape, pinned: what the light paths import, the public API, no import cycles, no private
names borrowed across modules.

The import checks run in fresh subprocesses (this test session has torch loaded already). They say what
is imported, never how long it takes: the start-up times are benchmarks/test_startup.py's.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import ganlint

PACKAGE = Path(ganlint.__file__).parent
HEAVY = ("torch", "pandas", "matplotlib", "scipy")

# The public API the README shows (README.md's Python API section).
PUBLIC_API = ["Diagnosis", "Finding", "Monitor", "Run", "TrainConfig", "TrainingInterrupted", "__version__",
              "diagnose", "load_run", "resume", "train"]


def _loaded_after(code: str) -> list[str]:
    """The heavy packages in sys.modules after `code` runs in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.splitlines()[-1])


def _cli(argv: list[str]) -> str:
    """Code that runs `ganlint ARGV` in-process (exit code and output swallowed)."""
    return (f"import contextlib, io\nfrom ganlint.cli import main\n"
            f"with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
            f"    try:\n        main({argv!r})\n    except SystemExit:\n        pass")


def test_import_ganlint_and_help_load_nothing_heavy():
    assert _loaded_after("import ganlint") == []
    assert _loaded_after(_cli(["--help"])) == []
    for command in ("train", "diagnose", "check", "run", "report", "bench", "list"):
        assert _loaded_after(_cli([command, "--help"])) == [], command


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_diagnose_of_a_table_imports_no_torch(tmp_path, suffix):
    rows = [{"step": i, "loss_d": 1.3 + 0.01 * (i % 7), "loss_g": 0.7, "d_real": 0.5, "d_fake": 0.45,
             "grad_norm_g": 1.0, "grad_norm_d": 1.0, "distance": 1.0 / i if i % 20 == 0 else None,
             "diversity": 0.9 if i % 20 == 0 else None} for i in range(1, 201)]
    log = tmp_path / f"log{suffix}"
    if suffix == ".csv":
        cols = list(rows[0])
        log.write_text("\n".join([",".join(cols)] + [",".join("" if r[c] is None else str(r[c]) for c in cols)
                                                     for r in rows]) + "\n")
    else:
        log.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert "torch" not in _loaded_after(_cli(["diagnose", str(log), "--no-config"]))
    assert "torch" not in _loaded_after(_cli(["diagnose", str(log), "--no-config", "--format", "json"]))


def test_pytest_plugin_imports_neither_torch_nor_pandas():
    loaded = _loaded_after("import ganlint.integrations.pytest_plugin")
    assert "torch" not in loaded and "pandas" not in loaded, loaded


# -- the public API -----------------------------------------------------------------------------------------------
def test_public_api_is_pinned():
    assert ganlint.__all__ == PUBLIC_API
    assert sorted([*ganlint._PUBLIC, "__version__"]) == sorted(ganlint.__all__)
    for name in ganlint.__all__:
        assert getattr(ganlint, name) is not None, name
    for name, module in ganlint._PUBLIC.items():
        assert getattr(ganlint, name) is getattr(sys.modules[module], name)
        assert name in dir(ganlint)
    with pytest.raises(AttributeError):
        ganlint.no_such_name  # noqa: B018


def test_light_name_tables_agree_with_the_registries():
    """The parser lists names without building anything; the registries hold the objects."""
    from ganlint.training.losses import LOSSES
    from ganlint.vocabulary import LOSS_DESCRIPTIONS

    assert LOSSES.names() == list(LOSS_DESCRIPTIONS)
    assert all(LOSSES.get(n).description == d for n, d in LOSS_DESCRIPTIONS.items())


# -- module-level imports -----------------------------------------------------------------------------------------
def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _module_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports executed when the module is imported: top level, in module-level if/try/with blocks, not
    under `if TYPE_CHECKING:` and not in functions or classes."""
    out: list[ast.Import | ast.ImportFrom] = []
    todo: list[ast.stmt] = list(tree.body)
    while todo:
        node = todo.pop(0)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out.append(node)
        elif isinstance(node, ast.If):
            todo += node.orelse if _is_type_checking(node) else node.body + node.orelse
        elif isinstance(node, ast.Try):
            todo += node.body + node.orelse + node.finalbody + [s for h in node.handlers for s in h.body]
        elif isinstance(node, ast.With):
            todo += node.body
    return out


def _absolute(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
    return f"{base}.{node.module}" if node.module else base


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The ganlint modules an import statement executes (named ones, not their parent packages)."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name in MODULES}
    base = _absolute(module, node)
    out = set()
    for a in node.names:
        sub = f"{base}.{a.name}"
        out.add(sub if sub in MODULES else base)
    return {m for m in out if m in MODULES}


def _graph() -> dict[str, set[str]]:
    graph = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph[module] = set().union(*(_targets(module, n) for n in _module_level_imports(tree))) - {module}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph)))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    """A module's module-level imports never lead back to it (a package's __init__ importing its own
    submodules counts like any other import)."""
    assert _cycles(_graph()) == []


def test_no_private_names_imported_across_modules():
    """`from ganlint.x import _name` anywhere in the package (functions included): a private name is its
    module's own; what another module needs is public, in its right home."""
    offences = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("ganlint")):
                source = _absolute(module, node)
                for a in node.names:
                    private = a.name.startswith("_") and not a.name.startswith("__")
                    if private and source != module and f"{source}.{a.name}" not in MODULES:
                        offences.append(f"{module}:{node.lineno} imports {a.name} from {source}")
    assert offences == []


def test_library_code_logs_instead_of_printing():
    """Only the command line prints (stdout is its data, stderr its chatter); every other module reports through
    the "ganlint" logger (ganlint/logs.py), so a notebook or pytest user can silence or capture it."""
    offenders = []
    for name, path in MODULES.items():
        if name == "ganlint.cli" or name.startswith("ganlint.cli."):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                offenders.append(f"{name}:{node.lineno}")
    assert offenders == []
