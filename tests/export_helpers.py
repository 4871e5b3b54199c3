"""Rewriting torch.export archives for the loader and security tests."""

from __future__ import annotations


def inject_expr(obj, prefix: str) -> bool:
    """Prefix the first symbolic-shape expression (`expr_str`) in a program JSON with `prefix`."""
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else []
    for k, v in items:
        if k == "expr_str" and isinstance(v, str):
            obj[k] = prefix + v
            return True
        if inject_expr(v, prefix):
            return True
    return False
