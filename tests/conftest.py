"""Shared fixtures: the repository root, the mini world, and a copy of it to break."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MINI = ROOT / "tests" / "fixtures" / "mini" / "world.yaml"
UKRAINE = ROOT / "worlds" / "ukraine-2024.yaml"


@pytest.fixture
def mini_copy(tmp_path: Path) -> Path:
    """A writable copy of the mini world; returns the path of its world file."""
    shutil.copytree(MINI.parent, tmp_path / "mini")
    return tmp_path / "mini" / "world.yaml"
