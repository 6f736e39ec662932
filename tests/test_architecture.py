"""The house rules: the serving core imports neither app/ nor tools/, and modules stay small."""

from __future__ import annotations

import ast
from pathlib import Path

import qa_demo

PACKAGE = Path(qa_demo.__file__).parent
#: The serving core: flat at the top of the package. cli.py is the front door above all floors.
CORE = (
    "decode",
    "errors",
    "inputs",
    "model_dir",
    "kernels",
    "ner",
    "options",
    "ort",
    "pipeline",
    "precision",
    "qa",
    "runtime",
    "segment",
    "tokenization",
    "types",
    "windows",
    "__init__",
)
UPPER_FLOORS = ("app", "tools")
MAX_MODULE_LINES = 400
#: Data tables, not logic (bench contexts are long texts).
LINE_LIMIT_EXEMPT = ("tools/bench/contexts.py", "tools/calibration.py")


def _imported_modules(path: Path) -> set[str]:
    """Absolute dotted names of everything ``path`` imports, relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = ["qa_demo", *path.relative_to(PACKAGE).with_suffix("").parts[:-1]]
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            names.add(module)
            names.update(f"{module}.{a.name}" for a in node.names)
    return names


def test_core_never_imports_app_or_tools():
    for name in CORE:
        path = PACKAGE / f"{name}.py"
        bad = sorted(
            m
            for m in _imported_modules(path)
            if any(m == f"qa_demo.{f}" or m.startswith(f"qa_demo.{f}.") for f in UPPER_FLOORS)
        )
        assert not bad, f"qa_demo/{name}.py imports {bad}: the core must not import app/tools"


def test_every_core_module_is_listed():
    flat = {p.stem for p in PACKAGE.glob("*.py")} - {"cli", "__main__"}
    assert flat == set(CORE), "a new top-level module: is it core? list it in CORE"


def test_modules_stay_under_the_line_limit():
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel in LINE_LIMIT_EXEMPT:
            continue
        lines = len(path.read_text(encoding="utf-8").splitlines())
        assert lines <= MAX_MODULE_LINES, f"qa_demo/{rel} has {lines} lines"
