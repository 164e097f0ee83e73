"""The command line's options: declared once and shared, every number bounded, one line per mistake."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from parley.ui.cli import app
from tests.conftest import MINI, ROOT

LLM_OPTIONS = [
    "--model", "--model-for", "--base-url", "--temperature", "--max-tokens", "--budget-usd", "--max-reasks",
    "--max-retries", "--timeout", "--concurrency", "--cache", "--cache-dir", "--prices",
]  # fmt: skip


def invoke(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(app, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    return r.exit_code, r.stdout + r.stderr


def test_a_run_of_a_billion_rounds_is_refused_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "parley", "run", str(MINI), "--max-rounds", "1000000000", "--runs-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == "error: --max-rounds 1000000000: must be at most 10000 (a world may not play more)"
    assert not any(tmp_path.iterdir())  # refused before anything is written


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["run", "--max-rounds", "0"], "--max-rounds 0: must be at least 1"),
        (["run", "--seed", "-1"], "--seed -1: must be at least 0"),
        (["run", "--temperature", "nan"], "--temperature nan: must be a number"),
        (["run", "--temperature", "2.5"], "--temperature 2.5: must be at most 2"),
        (["run", "--timeout", "inf"], "--timeout inf: must be a number"),
        (["run", "--timeout", "0"], "--timeout 0.0: must be at least 0.1"),
        (["run", "--timeout", "86400"], "--timeout 86400.0: must be at most 3600"),
        (["run", "--max-retries", "1000000000"], "--max-retries 1000000000: must be at most 100"),
        (["run", "--max-reasks", "-1"], "--max-reasks -1: must be at least 0"),
        (["run", "--max-reasks", "1000"], "--max-reasks 1000: must be at most 20"),
        (["run", "--max-tokens", "8"], "--max-tokens 8: must be at least 16"),
        (["run", "--concurrency", "0"], "--concurrency 0: must be at least 1"),
        (["run", "--concurrency", "1000000"], "--concurrency 1000000: must be at most 1024"),
        (["run", "--budget-usd", "-0.5"], "--budget-usd -0.5: must be at least 0"),
        (["run", "--budget-usd", "nan"], "--budget-usd nan: must be a number"),
        (["compare", "--seeds", "1000000000", "--out", "x"], "--seeds 1000000000: must be at most 1000000"),
        (["compare", "--workers", "0", "--out", "x"], "--workers 0: must be at least 1"),
        (["compare", "--workers", "100000", "--out", "x"], "--workers 100000: must be at most 1024"),
        (["compare", "--first-seed", "-3", "--out", "x"], "--first-seed -3: must be at least 0"),
        (["compare", "--max-rounds", "10001", "--out", "x"], "--max-rounds 10001: must be at most 10000"),
        (["compare", "--timeout", "inf", "--out", "x"], "--timeout inf: must be a number"),
        (["fork", "RUN", "--at-round", "0"], "--at-round 0: must be at least 1"),
        (["board", "--port", "70000"], "--port 70000: must be at most 65535"),
        (["board", "--port", "0"], "--port 0: must be at least 1"),
    ],
)
def test_numbers_out_of_bounds_are_one_line(tmp_path: Path, args: list[str], line: str) -> None:
    code, output = invoke(*args)
    assert code == 2
    (said,) = [x for x in output.splitlines() if x.strip()]
    assert said.startswith(f"error: {line}")


def test_run_and_compare_take_the_same_llm_options() -> None:
    def options(command: str) -> list[str]:
        _, text = invoke(command, "--help")
        listed = [m.group(1) for m in re.finditer(r"^\W*(--[a-z-]+)", text, re.MULTILINE)]  # each row's option
        return [o for o in listed if o in LLM_OPTIONS]

    assert options("run") == options("compare") == LLM_OPTIONS
    _, fork = invoke("fork", "--help")
    assert "--model" in fork and "--base-url" in fork


@pytest.mark.parametrize(
    "args",
    [
        ["run", str(MINI), "--model", "gpt-4o"],
        ["run", str(MINI), "--backend", "offline", "--base-url", "http://127.0.0.1:9/v1"],
        ["compare", str(MINI), "--variant", "baseline", "--seeds", "1", "--temperature", "0.2"],
    ],
)
def test_an_llm_chosen_for_an_offline_game_is_refused(tmp_path: Path, args: list[str]) -> None:
    """Without `--backend openai` the game is offline: an LLM option would be ignored without a word."""
    if args[0] == "run":
        args = [*args, "--runs-dir", str(tmp_path)]
    else:
        args = [*args, "--out", str(tmp_path / "o")]
    code, out = invoke(*args)
    assert code == 2 and "add --backend openai" in out and len(out.strip().splitlines()) == 1, out
    assert not any(tmp_path.iterdir())  # nothing played, nothing written
