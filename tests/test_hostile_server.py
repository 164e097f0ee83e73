"""A careless user and a hostile server, through the command line over real HTTP on 127.0.0.1:
keys never written (wherever they come from, however they are spelled), a dripping answer cut
off at the deadline, and cached answers that belong to the server that gave them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from parley.runs.folder import read_events
from tests.conftest import MINI
from tests.conftest import parley as in_process
from tests.fake_openai import FakeOpenAI, credential, spell

SECRET = "sk-hostile-0123456789abcdef"
SPELLINGS = [SECRET, spell(SECRET, "unicode"), spell(SECRET, "url"), spell(SECRET, "unicode").upper()]


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


def parley(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The command line (its `main`, in this process: what it prints, its exit code, a traceback if one
    escaped), with no OPENAI_ variable but those given. `test_llm` runs it as a process of its own."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    environment |= {"NO_COLOR": "1", "COLUMNS": "200", **(env or {})}
    return in_process(*args, env=environment)


def llm_run(tmp_path: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return parley(
        "run", str(MINI), "--backend", "openai", "--model", "fake-model", "--max-rounds", "2",
        "--runs-dir", str(tmp_path / "runs"), "--cache-dir", str(tmp_path / "cache"), *extra, env=env,
    )  # fmt: skip


def error_lines(done: subprocess.CompletedProcess) -> list[str]:
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    return [line for line in done.stderr.splitlines() if line.strip()]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_never_written(folder: Path, *shown: str) -> None:
    """No spelling of the secret in any file of the run folder, nor in what the commands showed."""
    texts = {str(p): p.read_text(encoding="utf-8") for p in folder.rglob("*") if p.is_file()}
    texts |= {f"output {i}": text for i, text in enumerate(shown)}
    for where, text in texts.items():
        for spelling in SPELLINGS:
            assert spelling not in text, f"{spelling} in {where}"


def only_run(tmp_path: Path) -> Path:
    (folder,) = (tmp_path / "runs").iterdir()
    return folder


# -- 1. a key in the base URL ----------------------------------------------------------------------
def test_a_key_in_the_base_url_reaches_the_server_and_nothing_else(server: FakeOpenAI, tmp_path: Path) -> None:
    with_user = server.url.replace("http://", f"http://someone:{SECRET}@")
    server.script("north", {"kind": "echo_key", "spelling": "unicode"})  # and the server says it back
    done = llm_run(tmp_path, "--base-url", with_user)
    assert done.returncode == 0, done.stderr
    assert credential(server.requests[0]["headers"]) == SECRET  # basic auth, as the URL said
    folder = only_run(tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["llm"]["base_url"] == server.url.replace("http://", "http://***@")
    shown = parley("show", str(folder))
    assert_never_written(folder, done.stdout, done.stderr, shown.stdout, shown.stderr)


@pytest.mark.parametrize("how", ["user info, no server there", "query parameter in OPENAI_BASE_URL"])
def test_a_key_in_the_base_url_is_kept_out_of_the_error_line(server: FakeOpenAI, tmp_path: Path, how: str) -> None:
    if how.startswith("user info"):
        done = llm_run(tmp_path, "--base-url", f"http://u:{SECRET}@127.0.0.1:{closed_port()}/v1", "--max-retries", "0")
    else:  # the key rides in the query: the server answers 404 to the path the client makes of it
        done = llm_run(tmp_path, "--max-retries", "0", env={"OPENAI_BASE_URL": f"{server.url}?api-key={SECRET}"})
    assert done.returncode == 1
    (line,) = error_lines(done)
    assert "***" in line and "fake-model" in line
    folder = only_run(tmp_path)
    assert read_events(folder / "events.jsonl")[-1]["type"] == "error"
    assert_never_written(folder, done.stdout, done.stderr)


# -- 2. a key echoed back, JSON-escaped or URL-encoded ---------------------------------------------
def test_a_key_the_server_echoes_back_in_any_spelling_is_scrubbed_everywhere(
    server: FakeOpenAI, tmp_path: Path
) -> None:
    server.script("north", {"kind": "echo_key", "spelling": "unicode"})
    server.script("south", {"kind": "echo_key", "spelling": "url", "say": "Mine is"})
    done = llm_run(tmp_path, "--base-url", server.url, env={"OPENAI_API_KEY": SECRET})
    assert done.returncode == 0, done.stderr
    folder = only_run(tmp_path)
    events = read_events(folder / "events.jsonl")
    said = [a.get("text") for e in events if e["type"] == "llm_call" and e["move"] for a in e["move"]["actions"]]
    assert "My key is ***" in said and "Mine is ***" in said  # the echo came, and was scrubbed
    shown = parley("show", str(folder))
    report = parley("report", str(folder))
    assert report.returncode == 0, report.stderr
    assert_never_written(folder, done.stdout, done.stderr, shown.stdout, shown.stderr)
    # nor did it reach the other actors in round 2
    later = [r for r in server.requests if r["actor"] == "east"][1:]
    assert later and "My key is ***" in json.dumps(later)
    for spelling in SPELLINGS:
        assert spelling not in json.dumps([r["body"] for r in later])


# -- 4. a whole-call deadline ----------------------------------------------------------------------
def test_a_server_that_drips_its_answer_is_cut_off_at_the_timeout(server: FakeOpenAI, tmp_path: Path) -> None:
    """A byte every half second, each read well within the timeout: only a deadline on the whole
    call ends it (without one, the run waits for the whole answer, minutes per call)."""
    for actor in ("north", "south", "east"):
        server.script(actor, {"kind": "drip", "seconds": 0.5, "pad": 2000})
    done = llm_run(tmp_path, "--base-url", server.url, "--timeout", "1", "--max-retries", "0", "--no-cache")
    assert done.returncode == 1
    (line,) = error_lines(done)
    assert "timed out" in line
    for _ in range(600):  # the server sees each hang-up when it next writes
        if len(server.requests) == 3:
            break
        time.sleep(0.01)
    assert len(server.requests) == 3
    assert all(r["dripped"] < r["length"] for r in server.requests)


# -- 16. the cache knows its server ----------------------------------------------------------------
def test_cached_answers_come_only_from_the_server_that_gave_them(server: FakeOpenAI, tmp_path: Path) -> None:
    first = llm_run(tmp_path, "--base-url", server.url, "--seed", "4")
    assert first.returncode == 0, first.stderr
    asked = len(server.requests)
    dead = f"http://127.0.0.1:{closed_port()}/v1"
    elsewhere = llm_run(tmp_path, "--base-url", dead, "--seed", "4", "--max-retries", "0")
    assert elsewhere.returncode == 1
    (line,) = error_lines(elsewhere)
    assert dead in line and "is the server running?" in line
    again = llm_run(tmp_path, "--base-url", server.url, "--seed", "4")
    assert again.returncode == 0, again.stderr
    assert len(server.requests) == asked  # the same server: every answer from the cache
