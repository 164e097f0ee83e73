"""Shared fixtures: the repository root, the mini world, and a copy of it to break; the command in
process; and, for the board's browser tests, `parley board` on a free port and one headless Chromium."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import socket
import subprocess
import sys
import time
import traceback
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
MINI = ROOT / "tests" / "fixtures" / "mini" / "world.yaml"
UKRAINE = ROOT / "worlds" / "ukraine-2024.yaml"


# The files that take longest, longest first (measured: `pytest --durations`, or a junit report summed per
# file). `make test` hands whole files to its workers in this order (`--no-loadscope-reorder`): each of the
# two workers starts with two files (the first and third to one, the second and fourth to the other), so
# the two browser files, each driving a board server and a Chromium, go one after the other to the first
# worker rather than slowing each other down, while the second plays the long process-heavy files; the
# short ones fill the gaps at the end. (By default xdist orders files by their number of tests, which left
# a three-test browser file alone at the end while the other core idled.)
LONGEST_FIRST = [
    "test_board.py",
    "test_human.py",
    "test_board_room.py",
    "test_run_folder.py",
    "test_other_worlds.py",
    "test_replay.py",
    "test_cluster.py",
    "test_llm.py",
    "test_runs.py",
    "test_hostile_worlds.py",
    "test_hostile_server.py",
    "test_compare.py",
    "test_validation.py",
    "test_run_report.py",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: a file's tests keep their order


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


# -- the board in a browser ---------------------------------------------------------------------------
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
READY_WITHIN = 180  # seconds: a board starts in well under a minute, but a busy machine can be slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_serving(server: subprocess.Popen, url: str, log: Path) -> None:
    """Wait until the board answers (up to READY_WITHIN s: a readiness wait, not a bound under test)."""
    deadline = time.monotonic() + READY_WITHIN
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            pytest.fail(f"the board did not start: {log.read_text()[-2000:]}")
        time.sleep(0.3)


@dataclass
class Board:
    """A running `parley board`: its address (`http://HOST:PORT`), runs folder, server log and what it
    printed by the time it served (the links it gives out)."""

    base: str
    runs: Path
    log: Path
    printed: str


def needs_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium: install Debian's chromium (CI does) to run the board in a browser")


@contextlib.contextmanager
def board_server(folder: Path, *options: str, host: str = "127.0.0.1", ready: str = "/") -> Iterator[Board]:
    """`parley board OPTIONS --host HOST` on a free port, runs in `folder`/runs, ready once `ready`
    answers; stopped afterwards."""
    runs, log = folder / "runs", folder / "server.log"
    port = free_port()
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "parley", "board", "--port", str(port), "--runs-dir", str(runs), *options]
            + (["--host", host] if host != "127.0.0.1" else []),
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://{host}:{port}"
    try:
        wait_until_serving(server, base + ready, log)
        yield Board(base, runs, log, log.read_text())
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One headless Chromium for a module's tests; each test opens its own contexts (own cookies and
    storage), as separate browsers would have. Module-scoped, not session-scoped: while Playwright's
    sync API is up, its event loop is this thread's running loop, which asyncio.Runner refuses."""
    needs_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
