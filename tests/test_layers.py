"""The house keeps its floors: a package of `parley/` imports only its own floor and the floors below.

Every import counts, those inside functions and under `TYPE_CHECKING` too: a lazy import that points up a
floor is still a dependency the other way.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PARLEY = Path(__file__).resolve().parents[1] / "parley"
FLOORS = ["world", "engine", "players", "llm", "runs", "ensembles", "reports", "ui"]


def modules() -> list[Path]:
    return sorted(p for p in PARLEY.rglob("*.py") if p.parent != PARLEY)


def package_of(path: Path) -> str:
    return path.relative_to(PARLEY).parts[0]


def imported_packages(path: Path) -> list[tuple[int, str]]:
    """(line, package) of every `parley.<package>` an import in the file names."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "parley" and len(parts) > 1:
                out.append((node.lineno, parts[1]))
    return out


def test_every_module_lives_on_a_floor() -> None:
    stray = [str(p.relative_to(PARLEY)) for p in modules() if package_of(p) not in FLOORS]
    assert not stray, f"modules outside the floors {FLOORS}: {stray}"
    loose = [p.name for p in PARLEY.glob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    assert not loose, f"modules loose in parley/ (put each on a floor): {loose}"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PARLEY)))
def test_no_module_imports_a_floor_above_its_own(path: Path) -> None:
    floor = FLOORS.index(package_of(path))
    upward = [
        f"{path.relative_to(PARLEY)}:{line} imports parley.{pkg}"
        for line, pkg in imported_packages(path)
        if pkg in FLOORS and FLOORS.index(pkg) > floor
    ]
    assert not upward, "; ".join(upward)


def test_the_layer_check_sees_an_upward_import(tmp_path: Path) -> None:
    """The check itself: an engine module that imports the CLI is caught."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from parley.ui.cli import main\n    return main\n")
    assert imported_packages(bad) == [(2, "ui")]
