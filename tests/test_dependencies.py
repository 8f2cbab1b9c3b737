"""Every package the project imports is declared in pyproject.toml under its own distribution name
(argon2 comes from argon2-cffi, jwt from PyJWT, pylti1p3 from pylti1p3next, vl_convert from
vl-convert-python, google.protobuf from protobuf), so a fresh machine's `make install` brings it."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OWN = {"course", "datasets", "exercises", "grader", "theater", "tests", "benchmarks"}
SCANNED = ("course", "datasets", "exercises", "grader", "theater", "tests", "benchmarks")


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    return {_normal(re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0]) for r in requirements}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported() -> dict[str, str]:
    """Top-level module -> the first file importing it, over the project's own code."""
    found: dict[str, str] = {}
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if ".ipynb_checkpoints" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                         [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
                for name in names:
                    found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def test_every_imported_package_is_declared_under_its_distribution_name():
    declared, owners = _declared(), packages_distributions()
    missing = []
    for module, where in sorted(_imported().items()):
        if module in OWN or module in sys.stdlib_module_names or module == "__future__":
            continue
        distributions = {_normal(d) for d in owners.get(module, [])}
        if not distributions & declared:
            missing.append(f"{module} ({where}; installed by {sorted(distributions) or 'nothing'})")
    assert not missing, "imported but not declared in pyproject.toml: " + ", ".join(missing)
