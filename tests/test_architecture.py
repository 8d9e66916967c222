"""The architecture holds: packages depend one way, no import cycle, no stage imports another,
no oversized class or function, nothing happens on import, library code never reads tests/ or
../shared, and every terrlib name a benchmark imports is used by the product."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

from terrlib import config

PACKAGE = config.PROJECT_ROOT / "terrlib"
STAGES = {
    "alignment", "segmentation", "icp", "performance", "workload", "balancing", "whatif", "staffing"
}  # fmt: skip
STAGE_4 = {"workload", "balancing", "whatif", "staffing"}  # one stage, four modules
#: which packages each may import (the shared modules are terrlib.<module> at the top)
ALLOWED = {
    "inputs": {"shared", "inputs"},
    "territory": {"shared", "territory"},
    "stages": {"shared", "inputs", "territory", "stages"},
    "report": {"shared", "inputs", "report"},
    "shared": {"shared"},
}


def _modules() -> dict[str, set[str]]:
    """Every terrlib module and the terrlib modules it imports (anywhere in the file)."""
    files = {
        ".".join(f.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): f
        for f in PACKAGE.rglob("*.py")
    }
    graph = {}
    for name, path in files.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("terrlib"):
                deps.add(node.module)
                deps |= {f"{node.module}.{a.name}" for a in node.names} & set(files)
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("terrlib")}
        graph[name] = (deps & set(files)) - {name}
    return graph


def _package(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 2 or parts[1] in ALLOWED:
        return parts[1]
    return "top" if parts[1] in {"cli", "io", "optimize"} else "shared"


def test_no_import_cycle():
    graph = _modules()

    def reach(start):
        seen, todo = set(), [start]
        while todo:
            for nxt in graph.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    assert [m for m in graph if m in reach(m)] == []


def test_packages_depend_one_way_and_stages_stay_apart():
    for module, deps in _modules().items():
        if module == "terrlib" or _package(module) == "top":
            continue
        here = _package(module)
        for dep in deps - {"terrlib"}:
            assert _package(dep) in ALLOWED[here], f"{module} imports {dep}"
        if here == "stages":
            mine = module.split(".")[-1]
            for dep in deps:
                other = dep.split(".")[-1]
                if dep.startswith("terrlib.stages.") and other in STAGES and other != mine:
                    assert {mine, other} <= STAGE_4, f"{module} imports stage {dep}"


def test_no_class_over_400_lines_or_function_over_120():
    big = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                limit = 400 if isinstance(node, ast.ClassDef) else 120
                if node.end_lineno - node.lineno + 1 > limit:
                    big.append(f"{path.name}:{node.name}")
    assert big == []


def test_nothing_happens_on_import():
    """Importing every terrlib module leaves matplotlib's settings, the module table and the
    process's standard output as they were."""
    modules = sorted(m for m in _modules() if m != "terrlib")
    code = (
        "import json, os, sys\n"
        "import matplotlib\n"
        "before = dict(matplotlib.rcParams)\n"
        "fd = os.fstat(1).st_ino\n"
        "names = set(sys.modules)\n"
        f"for m in {modules!r}:\n"
        "    __import__(m)\n"
        "changed = sorted(k for k, v in matplotlib.rcParams.items() if before.get(k) != v)\n"
        "blocked = sorted(k for k, v in sys.modules.items() if v is None and k not in names)\n"
        "print(json.dumps([changed, blocked, os.fstat(1).st_ino == fd]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    changed, blocked, same_stdout = json.loads(out.splitlines()[-1])
    assert changed == [] and blocked == [] and same_stdout


def test_library_never_reads_tests_or_shared():
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert node.value not in {"tests", "shared", "fixtures"}, path
                assert "../shared" not in node.value, path


def test_every_terrlib_name_a_benchmark_imports_is_used_by_the_product():
    """A benchmark measures code users run: each terrlib name it imports is used by a
    notebook or by terrlib (beyond its own definition)."""
    root = config.PROJECT_ROOT
    product = {
        p: p.read_text() for p in [*PACKAGE.rglob("*.py"), *(root / "notebooks").glob("*.ipynb")]
    }
    for bench in (root / "benchmarks").glob("*.py"):
        for node in ast.walk(ast.parse(bench.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("terrlib"):
                home = PACKAGE.parent / Path(*node.module.split("."))
                for alias in node.names:
                    word = re.compile(rf"\b{alias.name}\b")
                    uses = sum(
                        len(word.findall(text)) - (p.with_suffix("") == home)
                        for p, text in product.items()
                    )
                    assert uses > 0, f"{bench.name}: {node.module}.{alias.name}"
