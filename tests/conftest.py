"""Shared fixtures: the repository root, the mini world, and a copy of it to break."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
import traceback
from collections.abc import Mapping
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


def parley(
    *args: str, cwd: Path = ROOT, env: Mapping[str, str] | None = None, timeout: float | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m parley ARGS`, run in this process: the same entry point (`parley.ui.cli.main`), its
    exit code and both streams, as `subprocess.run` would give them. Starting Python and importing
    Parley costs 1-2 s a command, and the suite runs hundreds; tests of what only a real process shows
    (a kill, a terminal, concurrent commands, no traceback on the way out) start one themselves.

    `env` replaces the environment for the call, as it would for a child process. An exception that
    escapes `main` is printed as Python prints one (a traceback, exit 1), so a test that forbids
    tracebacks still sees it. `timeout` is the caller's bound for a child; in process there is none.
    """
    del timeout
    from rich.console import Console

    from parley.ui import cli as command_line

    stdout, stderr = io.StringIO(), io.StringIO()
    saved_env, saved_argv = dict(os.environ), sys.argv
    saved_consoles = command_line.out, command_line.err
    code = 0
    try:
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        sys.argv = ["parley", *args]
        with contextlib.chdir(cwd), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            command_line.out, command_line.err = Console(), Console(stderr=True)  # made under this environment
            try:
                command_line.main()
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
                if isinstance(exit_.code, str):
                    print(exit_.code, file=sys.stderr)
            except BaseException:  # a child process would print it and exit 1
                traceback.print_exc()
                code = 1
    finally:
        command_line.out, command_line.err = saved_consoles
        sys.argv = saved_argv
        os.environ.clear()
        os.environ.update(saved_env)
    return subprocess.CompletedProcess(["parley", *args], code, stdout.getvalue(), stderr.getvalue())
