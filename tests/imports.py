"""Reading the import statements of a module's source, for the tests that check what our
packages may import (the engine's purity, the declared dependencies)."""

from __future__ import annotations

import ast


def top_level(module: str) -> str:
    return module.split(".", 1)[0]


def imported_modules(source: str) -> set[str]:
    """Every module an import statement in ``source`` names, at any depth."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None))
            in {"import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value)
    return found
