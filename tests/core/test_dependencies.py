"""Every third-party package our code imports is declared in pyproject.toml.

A package that arrives only as another's dependency (click through flask, urllib3 through
requests) can vanish or change major version when that other package is upgraded; a fresh
install would then fail at run time. The scan reads every import statement (inside functions
too) of the four packages we ship and maps each top-level module to the distribution that
installs it.
"""

from __future__ import annotations

import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from tests.imports import imported_modules, top_level

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("gateway", "handlers", "workers", "flows")
# Standard modules that need a distribution on some machines: zoneinfo reads the system's time
# zone database, which slim containers and Windows lack; tzdata is its fallback.
IMPLIED = {"zoneinfo": "tzdata"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared_distributions() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    # A requirement's name is what comes before its extras, version range or marker.
    return {
        canonical(re.split(r"[\s\[<>=!~;]", spec, maxsplit=1)[0])
        for spec in project["dependencies"]
    }


def third_party(modules: set[str]) -> set[str]:
    tops = {top_level(module) for module in modules}
    return {
        name
        for name in tops
        if name not in SHIPPED and name not in sys.stdlib_module_names and name != "__future__"
    }


def undeclared(modules: set[str], declared: set[str]) -> dict[str, str]:
    """Each imported module whose distribution is not declared, with that distribution (or
    "not installed")."""
    installers = packages_distributions()
    missing: dict[str, str] = {}
    for module in sorted(third_party(modules)):
        distributions = {canonical(d) for d in installers.get(module, [])}
        if not distributions:
            missing[module] = "not installed"
        elif not distributions & declared:
            missing[module] = ", ".join(sorted(distributions))
    for module, distribution in IMPLIED.items():
        if {top_level(m) for m in modules} & {module} and distribution not in declared:
            missing[module] = distribution
    return missing


def shipped_imports() -> set[str]:
    return {
        module
        for package in SHIPPED
        for path in (ROOT / package).rglob("*.py")
        for module in imported_modules(path.read_text(encoding="utf-8"))
    }


def test_every_imported_package_is_declared() -> None:
    modules = shipped_imports()

    # A real scan: it sees direct and lazy imports of libraries that arrive through others.
    assert {"flask", "click", "werkzeug", "urllib3", "sqlalchemy", "zoneinfo"} <= {
        top_level(m) for m in modules
    }
    assert undeclared(modules, declared_distributions()) == {}


def test_an_undeclared_import_is_named_with_its_distribution() -> None:
    source = "import flask\ndef later():\n    from werkzeug.exceptions import NotFound\n"
    declared = {"flask"}

    assert undeclared(imported_modules(source), declared) == {"werkzeug": "werkzeug"}
    assert undeclared({"yaml", "zoneinfo", "no_such_module_here"}, {"pyyaml"}) == {
        "no_such_module_here": "not installed",
        "zoneinfo": "tzdata",
    }


def locked_versions() -> dict[str, str]:
    """The version requirements.lock pins for each distribution."""
    text = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    return {canonical(name): version for name, version in re.findall(r"^(\S+)==(\S+)", text, re.M)}


def test_the_lock_file_pins_every_runtime_dependency_within_its_declared_range() -> None:
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    locked = locked_versions()
    problems = []
    for spec in project["dependencies"]:
        requirement = Requirement(spec)
        version = locked.get(canonical(requirement.name))
        if version is None:
            problems.append(f"{requirement.name} is not in requirements.lock")
        elif not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{requirement.name}=={version} is outside {requirement.specifier}")
    # Either pyproject.toml changed since the lock was made: `make lock` and commit the result.
    assert problems == []


def test_every_pin_of_the_lock_file_carries_its_hashes() -> None:
    text = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    pins = re.split(r"\n(?=\S)", text.split("\n", 2)[2].strip())

    unhashed = [pin.split(" ", 1)[0] for pin in pins if "--hash=sha256:" not in pin]

    assert len(pins) == len(locked_versions()) > 20
    assert unhashed == []
