"""Parley against a real llama.cpp server and a real small model (issue 16): `make test-local-llm`.

Skipped unless LLAMA_SERVER and LLAMA_MODEL name the server binary and the GGUF
(scripts/test-local-llm installs both and sets them). The model is a 270M base model: its play is
nonsense; this checks the plumbing every local model goes through.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from parley.runs.folder import read_events
from tests.conftest import ROOT

pytestmark = [
    pytest.mark.local_llm,
    pytest.mark.skipif(
        not (os.environ.get("LLAMA_SERVER") and os.environ.get("LLAMA_MODEL")),
        reason="needs LLAMA_SERVER and LLAMA_MODEL (make test-local-llm)",
    ),
]
ROUNDS = 2
STARTUP_S = float(os.environ.get("PARLEY_LOCAL_LLM_STARTUP", "600"))
CALL_TIMEOUT_S = os.environ.get("PARLEY_LOCAL_LLM_TIMEOUT", "3600")  # 2 shared cores: a call can take minutes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> object:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


class SlotWatch(threading.Thread):
    """Polls /slots: the most slots processing at once, and when."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.base, self.most, self.samples = base, 0, 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.5):
            try:
                slots = get(f"{self.base}/slots")
            except Exception:
                continue
            busy = sum(1 for s in slots if isinstance(s, dict) and s.get("is_processing"))  # type: ignore[union-attr]
            self.most, self.samples = max(self.most, busy), self.samples + 1


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, subprocess.Popen]]:
    port = free_port()
    log = (tmp_path_factory.mktemp("llama") / "server.log").open("w")
    server = subprocess.Popen(
        [os.environ["LLAMA_SERVER"], "-m", os.environ["LLAMA_MODEL"], "--host", "127.0.0.1", "--port", str(port),
         "-np", "5", "-t", "2", "--metrics", "--offline", "--no-ui"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_S
    while True:
        try:
            if get(f"{base}/health") == {"status": "ok"}:
                break
        except Exception:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            pytest.fail(f"llama-server did not come up on {base} (see {log.name})")
        time.sleep(1)
    try:
        yield base, server
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=60)
        log.close()


def parley(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")} | {"NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "parley", *args], cwd=ROOT, env=env, capture_output=True, text=True)


def test_two_rounds_against_llama_server(llama: tuple[str, subprocess.Popen], tmp_path: Path) -> None:
    base, server = llama
    assert get(f"{base}/v1/models")["data"][0]["owned_by"] == "llamacpp"  # type: ignore[index]
    watch = SlotWatch(base)
    watch.start()
    start = time.monotonic()
    done = parley(
        "run", "--backend", "openai", "--base-url", f"{base}/v1", "--model", "gemma", "--seed", "1",
        "--max-rounds", str(ROUNDS), "--timeout", CALL_TIMEOUT_S, "--max-retries", "1",
        "--runs-dir", str(tmp_path / "runs"), "--cache-dir", str(tmp_path / "cache"),
    )  # fmt: skip
    span = time.monotonic() - start
    watch.stop.set()
    watch.join()
    assert done.returncode == 0, done.stderr
    (folder,) = (tmp_path / "runs").iterdir()
    events = read_events(folder / "events.jsonl")
    calls = [e for e in events if e["type"] == "llm_call"]
    rounds = max(e["round"] for e in calls)
    cut = [c for c in calls if c.get("finish_reason") == "length"]
    firsts = [c for c in calls if c["reask"] == 0]
    figures = {
        "rounds": rounds,
        "seconds_per_round": round(span / rounds, 1),
        "calls": len(calls),
        "calls_per_actor_round": round(len(calls) / len(firsts), 3),
        "completion_tokens_per_answer": [c["tokens"]["completion"] for c in calls],
        "mean_completion_tokens": round(sum(c["tokens"]["completion"] for c in calls) / len(calls), 1),
        "prompt_tokens": [c["tokens"]["prompt"] for c in calls],
        "max_tokens": sorted({c["params"]["max_tokens"] for c in calls}),
        "modes": sorted({c["params"]["mode"] for c in calls}),
        "cut_off": len(cut),
        "first_answers_refused": [c["error"] for c in firsts if c["error"]],
        "most_slots_busy": watch.most,
        "trimmed": [t for c in calls for t in c.get("trimmed", [])],
    }
    print("\nlocal-llm figures:", json.dumps(figures))
    Path(os.environ.get("PARLEY_LOCAL_LLM_REPORT", ROOT / "local-llm-report.json")).write_text(
        json.dumps(figures, indent=2) + "\n"
    )
    assert rounds == ROUNDS or any(e["type"] == "outcome" for e in events)
    assert figures["modes"] == ["grammar"]  # llama.cpp was recognised and got the compact grammar
    assert cut == [], "answers cut off at max_tokens"
    assert figures["first_answers_refused"] == []  # every first answer parsed and followed the schema
    assert watch.most > 1, "the actors' calls were not served at once"
    server.terminate()
    server.wait(timeout=60)
    replayed = parley("replay", str(folder))  # the server is gone: the log alone must give the same run
    assert replayed.returncode == 0 and "identical" in replayed.stdout, replayed.stdout + replayed.stderr
