"""Names a package offers but loads on first use (PEP 562), so importing the package stays light.

    # in ganlint/__init__.py
    __getattr__, __dir__ = lazy.attach(__name__, {"train": "ganlint.training.loop", ...})

`ganlint --help`, the pytest plugin and `ganlint diagnose log.csv` import ganlint and ganlint.check without
paying for torch; the first `ganlint.train` or `ganlint.check.check` imports its module then. One home for
the mechanism; each package keeps its own table of names (and a TYPE_CHECKING block for type checkers).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def attach(package: str, names: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The package's __getattr__ and __dir__ for `names` (public name -> module that defines it)."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)  # later lookups skip __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(names))

    return __getattr__, __dir__
