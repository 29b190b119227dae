"""The package's shape: wings that import one way, small modules, a CLI that starts at once.

The wings of ``simsib/`` form a pipeline, and each may import only itself and the wings below
it (``simsib/__init__.py`` documents the order).  Imports inside functions count as much as
those at the top of a module: a lazy import against the direction is still a dependency.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "simsib"
# Bottom to top: a wing may import the wings before it in this list, never those after it.
WINGS = ("scenario", "model", "contract", "run", "analysis", "report", "app", "cli")
MAX_LINES = 400
HEAVY = ("scipy", "pandas", "numba", "matplotlib", "dask", "distributed", "pyarrow", "SALib", "openpyxl")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def simsib_imports(path: Path) -> set[str]:
    """Modules of simsib that ``path`` imports anywhere (``from a import b`` counts a and a.b)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("simsib"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("simsib"))
    return found


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def wing(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in WINGS else None


def import_graph() -> dict[str, set[str]]:
    """Module -> the simsib modules it imports (names that are not modules are dropped)."""
    return {name: {m for m in simsib_imports(path) if m in MODULES and m != name} for name, path in MODULES.items()}


def test_every_module_sits_in_a_wing():
    loose = [m for m in MODULES if wing(m) is None and m not in ("simsib", "simsib.__main__")]
    assert not loose, f"modules outside the wings {WINGS}: {loose}"


def test_every_wing_says_what_it_holds_and_may_import():
    for name in WINGS:
        init = PACKAGE / name / "__init__.py"
        if not init.exists():
            continue
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and "import" in doc, f"simsib/{name}/__init__.py needs a docstring saying what it may import"


def test_imports_flow_one_way():
    against = [
        f"{module} -> {target}"
        for module, targets in import_graph().items()
        for target in targets
        if wing(module) and wing(target) and WINGS.index(wing(target)) > WINGS.index(wing(module))
    ]
    assert not against, "imports against the direction " + " -> ".join(WINGS[::-1]) + ":\n" + "\n".join(against)


def test_no_import_cycles():
    graph = import_graph()
    # A package's __init__ importing its own modules is how packages work, not a cycle.
    graph = {m: {t for t in ts if not t.startswith(m + ".")} for m, ts in graph.items()}
    state: dict[str, int] = {}  # 1: on the path, 2: done
    stack: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)):
            pytest.fail("import cycle: " + " -> ".join(cycle))


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_over_400_lines(module):
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines; split it by job (at most {MAX_LINES})"


def imported_after(args: list[str]) -> set[str]:
    """Top-level modules loaded by running the CLI with ``args`` in a fresh interpreter."""
    code = (
        "import sys, io, contextlib\n"
        f"sys.argv = ['simsib', *{args!r}]\n"
        "from simsib.cli.main import app\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        app()\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["run", "--help"], ["schema"],
                                  ["validate", "essex"], ["validate", "essex-launch", "norfolk"]],
                         ids=" ".join)
def test_quick_commands_import_nothing_heavy(args):
    heavy = imported_after(args) & set(HEAVY)
    assert not heavy, f"simsib {' '.join(args)} imported {sorted(heavy)}; import them where they are used"


def test_python_dash_m_runs_the_cli():
    result = subprocess.run([sys.executable, "-m", "simsib", "--version"], capture_output=True, text=True,
                            timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    from simsib import __version__

    assert result.stdout.strip() == f"simsib {__version__}"


def test_import_simsib_is_lazy_but_complete():
    code = ("import sys, simsib\n"
            "before = {m.split('.')[0] for m in sys.modules}\n"
            "assert callable(simsib.load_scenario) and callable(simsib.simulate)\n"
            "print(' '.join(sorted(before)))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert not set(result.stdout.split()) & set(HEAVY) - {"numpy"}
