"""No package imports a higher one: datasets < exercises < grader < course < theater.

`theater` (the console script) sits above everything because it runs every package's commands;
nothing imports it. Read from the source, so an import inside a function, or a module named in a
string for importlib (the way the CLI finds each package's commands), counts as well.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("datasets", "exercises", "grader", "course", "theater")
# (module file, imported package): the known exceptions, each with why.
ALLOWED = {
    ("grader/cli.py", "theater"): "kept so `python -m grader.cli` goes on working; it only re-exports theater.cli",
}


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _project_module(name: str) -> bool:
    """Whether `name` is a dotted module path of this project, like "course.commands" (a bare word
    such as "course" is a subcommand or a folder far more often than a module)."""
    parts = name.split(".")
    if len(parts) < 2 or parts[0] not in LAYERS or not all(part.isidentifier() for part in parts):
        return False
    base = ROOT.joinpath(*parts)
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imported_packages(path: Path) -> dict[str, int]:
    """Each project package the module imports, or names as a module in a string, with a line number."""
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _project_module(node.value):
            names = [node.value]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in LAYERS:
                found.setdefault(top, node.lineno)
    return found


@pytest.mark.parametrize("package", LAYERS)
def test_no_module_imports_a_higher_package(package):
    rank = LAYERS.index(package)
    upward = []
    for path in _modules(package):
        where = str(path.relative_to(ROOT))
        for imported, line in imported_packages(path).items():
            if LAYERS.index(imported) > rank and (where, imported) not in ALLOWED:
                upward.append(f"{where}:{line} imports {imported}")
    assert not upward, f"{package} sits below what it imports: {upward}"


def test_the_theater_command_runs_every_packages_commands_and_nothing_imports_it():
    from theater.cli import COMMAND_MODULES

    assert {name.split(".")[0] for name in COMMAND_MODULES} == {"datasets", "course", "grader"}
    assert imported_packages(ROOT / "theater" / "cli.py").keys() >= {"datasets", "course", "grader"}
    importers = [str(path.relative_to(ROOT)) for package in LAYERS[:-1] for path in _modules(package)
                 if "theater" in imported_packages(path)]
    assert importers == ["grader/cli.py"]


def test_the_scan_sees_imports_inside_functions_and_module_names_in_strings(tmp_path):
    module = tmp_path / "m.py"
    module.write_text('def f():\n    from course.auth import issue_access_codes\n\n'
                      'COMMANDS = ("theater.cli",)\nNOTE = "see course.auth for codes"\n', encoding="utf-8")
    assert imported_packages(module) == {"course": 2, "theater": 4}
