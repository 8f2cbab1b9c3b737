"""Integrity scan: signs that a submission tried to game the grader rather than answer.

Scores never depend on the kernel (they are computed from answer artifacts by the grader
process), so these flags are for the instructor and the learner's feedback, not for the score.
The scan is static — an AST walk of the submitted source plus a look at the executed outputs —
because anything probed inside the kernel after the learner's cells is under the learner's
control. Dynamic code (exec, eval, compile, importlib) is flagged as such: it cannot be read.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass

from nbformat import NotebookNode

from exercises.student_version import HIDDEN_BEGIN, HIDDEN_END

HOOK_ATTRIBUTES = {
    "input_transformers_cleanup": "IPython input transformer",
    "input_transformers_post": "IPython input transformer",
    "input_transformer_manager": "IPython input transformer",
    "ast_transformers": "IPython AST transformer",
    "set_custom_exc": "IPython custom exception handler",
    "register_magic_function": "IPython magic registration",
    "run_cell": "IPython run_cell replacement",
    "showtraceback": "IPython traceback replacement",
}
EVENT_NAMES = ("pre_execute", "pre_run_cell", "post_execute", "post_run_cell", "shell_initialized")
DYNAMIC_CALLS = {"exec", "eval", "compile", "__import__"}
PROCESS_CALLS = {"_exit", "exit", "kill", "killpg", "fork", "system", "popen", "Popen", "execv", "execvp"}
SENSITIVE_WORDS = ("gradebook", ".theater", "secret", "/source/", "/submitted/", "/autograded/",
                   "/outbound/", "/feedback/", "nbgrader_config")
ALLOWED_PATH_PREFIXES = ("data/", "answers/", "./data", "./answers", "/tmp/")
OUTSIDE_PATH = re.compile(r"^(/|\.\./|~)")


def _looks_like_a_path(value: str) -> bool:
    """'../.theater/secret' or 'gradebook.db' is worth a flag; a sentence that says 'secret' is not."""
    return " " not in value.strip() and ("/" in value or "." in value or value.lower() in SENSITIVE_WORDS)


@dataclass(frozen=True)
class Flag:
    """One finding: what kind of tampering, where, and the evidence in a few words."""

    kind: str
    where: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind} ({self.where}): {self.detail}"


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _dotted(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # noqa: BLE001 - a best-effort label
        return "?"


def _is_always_true(func: ast.AST) -> bool:
    """A function or lambda whose every return is the constant True."""
    if isinstance(func, ast.Lambda):
        return isinstance(func.body, ast.Constant) and func.body.value is True
    returns = [n for n in ast.walk(func) if isinstance(n, ast.Return)]
    return bool(returns) and all(
        isinstance(r.value, ast.Constant) and r.value.value is True for r in returns
    )


class _Scanner(ast.NodeVisitor):
    def __init__(self, where: str, modules: set[str]) -> None:
        self.where = where
        self.modules = modules  # names bound to imported modules, across cells
        self.flags: list[Flag] = []

    def flag(self, kind: str, detail: str) -> None:
        self.flags.append(Flag(kind, self.where, detail[:160]))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.modules.add(alias.asname or alias.name.split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            name = alias.asname or alias.name
            if node.module in ("builtins", "IPython", "math", "numpy", "pandas", "numpy.testing", "os", "sys"):
                self.modules.add(name)  # `from numpy import testing` binds a module too

    def _check_target(self, target: ast.AST) -> None:
        if isinstance(target, ast.Attribute):
            root = _root_name(target)
            if target.attr in HOOK_ATTRIBUTES:
                self.flag("ipython-hook", f"assigns {_dotted(target)}")
            elif root in self.modules or root in ("__builtins__", "builtins"):
                self.flag("monkeypatch", f"replaces {_dotted(target)}")
            elif target.attr in ("__eq__", "__ne__", "__hash__", "__bool__"):
                self.flag("always-equal", f"sets {_dotted(target)}")
        elif isinstance(target, ast.Subscript) and _root_name(target) in ("__builtins__",):
            self.flag("monkeypatch", f"replaces {_dotted(target)}")
        elif isinstance(target, ast.Tuple | ast.List):
            for element in target.elts:
                self._check_target(element)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._check_target(target)
            if (isinstance(target, ast.Name) and target.id in ("__eq__", "__ne__")
                    and _is_always_true(node.value)):
                self.flag("always-equal", f"{target.id} always returns True")
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._check_target(node.target)
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        if node.name in ("__eq__", "__ne__", "__contains__") and _is_always_true(node):
            self.flag("always-equal", f"{node.name} always returns True")
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        text = _dotted(func)
        if name in ("append", "insert", "extend") and isinstance(func, ast.Attribute) \
                and isinstance(func.value, ast.Attribute) and func.value.attr in HOOK_ATTRIBUTES:
            self.flag("ipython-hook", f"adds to {_dotted(func.value)}")
        elif name == "register" and "events" in text:
            self.flag("ipython-hook", f"registers an IPython event callback ({text})")
        elif name in ("setattr", "delattr") and node.args and (
                _root_name(node.args[0]) in self.modules or _root_name(node.args[0]) in ("__builtins__", "builtins")):
            self.flag("monkeypatch", f"{name} on {_dotted(node.args[0])}")
        elif name in DYNAMIC_CALLS or text.startswith("importlib"):
            self.flag("dynamic-code", f"calls {text} (its code cannot be scanned)")
        elif name in PROCESS_CALLS and _root_name(func) in ("os", "sys", "subprocess"):
            self.flag("process-control", f"calls {text}")
        elif name in ("socket", "create_connection", "urlopen", "get", "post") and \
                _root_name(func) in ("socket", "urllib", "requests", "http", "httpx"):
            self.flag("network", f"calls {text}")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and 0 < len(node.value) < 300:
            value = node.value
            lowered = value.lower()
            if any(word in lowered for word in SENSITIVE_WORDS) and _looks_like_a_path(value):
                self.flag("outside-folder", f"refers to {value!r}")
            elif OUTSIDE_PATH.match(value) and not value.startswith(ALLOWED_PATH_PREFIXES) \
                    and "\n" not in value and " " not in value.strip():
                self.flag("outside-folder", f"path outside the working folder {value!r}")

    def visit_Name(self, node: ast.Name) -> None:
        if node.id == "get_ipython":
            self.flag("ipython-access", "uses get_ipython()")


def scan_sources(cells: Iterable[tuple[str, str]]) -> list[Flag]:
    """Flags for the learner-written code cells, given as (where, source) in notebook order."""
    flags: list[Flag] = []
    modules: set[str] = set()
    for where, source in cells:
        lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
        try:
            tree = ast.parse("\n".join(lines))
        except SyntaxError:
            continue
        scanner = _Scanner(where, modules)
        scanner.visit(tree)
        flags.extend(scanner.flags)
        for line in source.splitlines():
            stripped = line.lstrip()
            if stripped.startswith("!") or stripped.startswith("%%bash") or stripped.startswith("%sx"):
                flags.append(Flag("process-control", where, f"shell escape {stripped[:60]!r}"))
    return _unique(flags)


OUTSIDE_ERRORS = re.compile(r"(PermissionError|Read-only file system|No such file or directory).{0,80}'(/[^']*)'")


def scan_outputs(nb: NotebookNode) -> list[Flag]:
    """Flags from what the executed notebook printed: attempts blocked by the sandbox leave traces."""
    flags: list[Flag] = []
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        for out in cell.get("outputs", []):
            text = ""
            if out.get("output_type") == "error":
                text = f"{out.get('ename')}: {out.get('evalue')}"
            elif out.get("output_type") == "stream":
                text = str(out.get("text", ""))[:20000]
            for match in OUTSIDE_ERRORS.finditer(text):
                path = match.group(2)
                if not path.startswith(("/submission/data", "/submission/answers")):
                    flags.append(Flag("outside-folder", f"cell {index + 1}", f"blocked access to {path[:80]!r}"))
    return _unique(flags)


HIDDEN_REGION = re.compile(rf"^[ \t]*### {HIDDEN_BEGIN}.*?^[ \t]*### {HIDDEN_END}[^\n]*\n?", re.M | re.S)


def _comparable(source: str) -> str:
    """Source as released: hidden test regions (present only in the instructor's version) removed."""
    return "\n".join(line.rstrip() for line in HIDDEN_REGION.sub("", source).strip().splitlines())


def edited_cells(submitted: Iterable[tuple[str, str]], reference: dict[str, str]) -> list[Flag]:
    """Read-only cells (by grade_id) whose submitted source differs from the released one."""
    flags = []
    for grade_id, source in submitted:
        if grade_id in reference and _comparable(source) != _comparable(reference[grade_id]):
            flags.append(Flag("edited-read-only-cell", grade_id, "changed by the learner; restored before grading"))
    return _unique(flags)


def _unique(flags: list[Flag]) -> list[Flag]:
    seen: set[Flag] = set()
    return [f for f in flags if not (f in seen or seen.add(f))]
