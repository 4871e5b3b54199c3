"""User factories: `module:callable` strings that build G or D, imported only from the caller's arguments.

A state_dict holds weights, not the network, so the user names the code that builds it:
`--generator mypkg.models:Generator` (a module importable from sys.path or the working folder, as
`python -c` would find it) or `--generator path/to/train.py:Generator` (a file: its folder is put on
sys.path while it imports, so its sibling imports work). Import strings never come from a checkpoint's
contents: a checkpoint naming its own factory would be a way to run code without --trust-checkpoint.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from torch import nn

from ganlint.loaders.errors import CheckpointError, describe_exception, naming, option, shorten

_FORM = "must be 'module:callable', e.g. 'mypkg.models:Generator' or 'path/to/models.py:Generator'"


def import_factory(spec: str, option_name: str = "generator") -> Callable[..., Any]:
    """The callable named by `spec` ('module:attr' or 'file.py:attr', attr may be dotted)."""
    opt = option(option_name)
    if not isinstance(spec, str) or ":" not in spec:
        raise naming(CheckpointError, f"{opt} {spec!r} {_FORM}")
    mod_name, _, attr = spec.rpartition(":")  # rpartition: a Windows drive letter keeps its colon
    if not mod_name.strip() or not attr.strip():
        raise naming(CheckpointError, f"{opt} {spec!r} {_FORM}")
    is_file = mod_name.endswith(".py") or "/" in mod_name or os.sep in mod_name
    module = _import_file(mod_name, option_name) if is_file else _import_module(mod_name, option_name)
    obj: Any = module
    for i, part in enumerate(attr.split(".")):
        if not hasattr(obj, part):
            owner = mod_name if i == 0 else f"{mod_name}:{'.'.join(attr.split('.')[:i])}"
            public = sorted(n for n, v in vars(obj).items() if not n.startswith("_") and callable(v)) \
                if hasattr(obj, "__dict__") else []
            has = f"; it has {shorten(public, 8)}" if public else ""
            raise naming(CheckpointError, f"{opt} {spec!r}: {owner!r} has no attribute {part!r}{has}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise naming(CheckpointError, f"{opt} {spec!r} is a {type(obj).__name__}, not a callable that builds a "
                     "module")
    return obj


def build(factory: Callable[..., Any], kwargs: dict[str, Any], spec: str, option_name: str) -> nn.Module:
    """factory(**kwargs) in eval mode; CheckpointError naming the call when it fails or returns no module."""
    opt = option(option_name)
    try:
        model = factory(**kwargs)
    except Exception as e:
        raise naming(CheckpointError, f"{opt} {spec}(**{kwargs!r}) failed: {describe_exception(e)}") from None
    if not isinstance(model, nn.Module):
        raise naming(CheckpointError, f"{opt} {spec} returned a {type(model).__name__}, not a "
                     "torch.nn.Module")
    return model


def split_kwargs(factory: Callable[..., Any], shared: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The shared --kwargs this factory accepts, and the names it does not (G and D often differ)."""
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return dict(shared), []
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return dict(shared), []
    names = {p.name for p in params if p.kind is not inspect.Parameter.POSITIONAL_ONLY}
    return {k: v for k, v in shared.items() if k in names}, [k for k in shared if k not in names]


@contextlib.contextmanager
def on_path(folder: str) -> Iterator[None]:
    """`folder` on sys.path for the duration (added first, removed after, unless it was there already)."""
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        yield
    finally:
        if added and folder in sys.path:
            sys.path.remove(folder)


def _import_module(name: str, option_name: str) -> ModuleType:
    opt = option(option_name)
    with on_path(os.getcwd()):
        try:
            with _quiet_import():
                return importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name and (name == e.name or name.startswith(e.name + ".")):
                raise naming(CheckpointError, f"{opt}: no module named {e.name!r} (looked on sys.path and in the "
                             f"working folder {os.getcwd()!r})") from None
            raise naming(CheckpointError, f"{opt}: importing {name!r} failed: {describe_exception(e)} "
                         "(a module it imports is missing)") from None
        except (Exception, SystemExit) as e:
            raise naming(CheckpointError, _import_failed(option_name, repr(name), e)) from None


# A training script imported for its classes runs its top level: its argparse reads ganlint's command
# line and exits, or it starts loading data. What it prints goes to stderr (stdout is ganlint's data); a
# SystemExit never escapes (it would end ganlint with the script's exit code); KeyboardInterrupt does.
_OWN_MODULE = "put the classes (Generator, Discriminator) in a module of their own, without top-level code, and name that"


def _import_failed(option_name: str, what: str, e: BaseException) -> str:
    opt = option(option_name)
    if isinstance(e, SystemExit):
        return (f"{opt}: importing {what} ran its code and it exited (SystemExit: {e.code}; its argparse read "
                f"ganlint's command line, probably): the module runs code at import; {_OWN_MODULE}")
    return (f"{opt}: importing {what} failed: {describe_exception(e)} (if the module runs code at import, such as "
            f"a training script, {_OWN_MODULE})")


@contextlib.contextmanager
def _quiet_import() -> Iterator[None]:
    """A module's import-time printing goes to stderr, and argparse's usage of an exiting script is dropped."""
    import io

    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(sys.stderr), contextlib.redirect_stderr(buffer):
            yield
    except SystemExit:
        raise
    except BaseException:
        sys.stderr.write(buffer.getvalue())
        raise
    else:
        sys.stderr.write(buffer.getvalue())


def _import_file(path_str: str, option_name: str) -> ModuleType:
    opt = option(option_name)
    path = Path(path_str).expanduser().resolve()
    if not path.is_file():
        raise naming(CheckpointError, f"{opt}: no such file {path_str!r}")
    # A private, path-derived module name: two files called models.py do not collide, and the module is
    # registered in sys.modules so dataclasses and pickling inside it work.
    name = f"_ganlint_factory_{path.stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise naming(CheckpointError, f"{opt}: {path_str!r} cannot be imported as a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    with on_path(str(path.parent)):
        try:
            with _quiet_import():
                spec.loader.exec_module(module)
        except (Exception, SystemExit) as e:
            del sys.modules[name]
            raise naming(CheckpointError, _import_failed(option_name, repr(path_str), e)) from None
    return module
