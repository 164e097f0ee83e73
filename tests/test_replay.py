"""Saved runs: exact replay, divergence after an edit, resume after kill -9, fork, injects."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from parley.llm.backend import LLMBackend, LLMSettings
from parley.runs.compact import read_lines
from parley.runs.folder import read_events
from parley.runs.play import play
from parley.runs.replay import load_saved, replay
from tests.conftest import MINI, ROOT, UKRAINE, parley
from tests.fake_openai import FakeOpenAI

INJECTS = ROOT / "worlds" / "injects"


def without_transport(events: list[dict]) -> list[dict]:
    return [{k: v for k, v in e.items() if k != "transport"} for e in events]


def test_replay_of_an_offline_run_is_identical(tmp_path: Path) -> None:
    result = play(UKRAINE, seed=4, runs_dir=tmp_path)
    done = parley("replay", result.folder.name, "--runs-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "identical" in done.stdout and "digest" in done.stdout


def test_a_template_edit_is_named_as_the_cause_of_a_divergence(mini_copy: Path, tmp_path: Path) -> None:
    result = play(mini_copy, seed=1, runs_dir=tmp_path / "runs")
    template = mini_copy.parent / "prompts" / "offline" / "reject.j2"
    template.write_text(template.read_text().replace("Not good enough.", "No."))
    done = parley("replay", str(result.folder), cwd=mini_copy.parent)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    first_reject = next(
        e for e in read_events(result.folder / "events.jsonl") if e["type"] == "response" and not e["accept"]
    )
    assert f"diverges at event {first_reject['seq']}" in line
    assert "prompts/offline/reject.j2" in line


def test_an_llm_run_replays_with_its_server_stopped(tmp_path: Path) -> None:
    with FakeOpenAI() as server:
        backend = LLMBackend(LLMSettings(model="fake", base_url=server.url, cache_dir=None, prices=None))
        try:
            result = play(MINI, seed=2, max_rounds=3, runs_dir=tmp_path, llm=backend)
        finally:
            backend.close()
        url = server.url
    report = replay(result.folder)  # nothing listens at `url` any more
    assert report.identical, report.message
    assert report.events == len(read_events(result.folder / "events.jsonl"))
    assert url  # the run pointed at a real server


def test_an_llm_run_whose_prompt_changed_diverges_without_calling(tmp_path: Path, mini_copy: Path) -> None:
    with FakeOpenAI() as server:
        backend = LLMBackend(LLMSettings(model="fake", base_url=server.url, cache_dir=None, prices=None))
        try:
            result = play(mini_copy, seed=2, max_rounds=2, runs_dir=tmp_path, llm=backend)
        finally:
            backend.close()
    llm_dir = mini_copy.parent / "prompts" / "llm"
    llm_dir.mkdir()
    (llm_dir / "round.j2").write_text((ROOT / "prompts" / "llm" / "round.j2").read_text() + "\nBe brief.\n")
    report = replay(result.folder)
    assert not report.identical
    assert "no recorded answer" in json.dumps(report.first_divergence) and "round.j2" in report.message


def test_resume_after_kill_9_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    """A real subprocess is killed mid-run; `parley resume` finishes it; the log equals a run never killed.
    The server answers by content alone, so how fast it answers changes no answer: it is slow (0.25 s a
    call) only while the process to be killed plays, so that the kill lands mid-run."""
    with FakeOpenAI(by_content=True, accept=False) as server:
        args = [
            "run",
            str(UKRAINE),
            "--backend",
            "openai",
            "--model",
            "fake",
            "--base-url",
            server.url,
            "--no-cache",
            "--max-rounds",
            "12",
            "--seed",
            "3",
            "-q",
        ]
        whole = parley(*args, "--runs-dir", str(tmp_path / "whole"))
        assert whole.returncode == 0, whole.stderr
        killed_dir = tmp_path / "killed"
        server.configure(latency=0.25)
        proc = subprocess.Popen(
            [sys.executable, "-m", "parley", *args, "--runs-dir", str(killed_dir)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 300  # a readiness wait, not a bound: a busy machine is slow to start
        while time.monotonic() < deadline:  # wait until a few rounds are on disk
            logs = list(killed_dir.glob("*/events.jsonl"))
            if logs and logs[0].read_text().count('"type":"round_ended"') >= 3:
                break
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        server.configure(latency=0)
        (folder,) = killed_dir.iterdir()
        cut = read_events(folder / "events.jsonl")
        assert cut[-1]["type"] != "outcome"
        with (folder / "events.jsonl").open("a") as f:
            f.write('{"seq": 99999, "round": ')  # and a half-written last line
        done = parley("resume", str(folder), "--runs-dir", str(killed_dir))
    assert done.returncode == 0, done.stderr
    assert "half-written" in done.stderr
    (reference,) = (tmp_path / "whole").iterdir()
    assert without_transport(read_events(folder / "events.jsonl")) == without_transport(
        read_events(reference / "events.jsonl")
    )
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["resumed"][0]["half_written_line"] is True
    assert replay(folder).identical


def test_resume_of_a_finished_run_is_refused(tmp_path: Path) -> None:
    result = play(MINI, seed=1, runs_dir=tmp_path)
    done = parley("resume", str(result.folder))
    assert done.returncode == 2 and "finished" in done.stderr


def test_a_truncated_last_line_is_tolerated(tmp_path: Path) -> None:
    result = play(MINI, seed=1, runs_dir=tmp_path)
    path = result.folder / "events.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:10]) + "\n" + lines[10][:15])
    saved = load_saved(result.folder)
    assert saved.events == list(read_lines(lines[:10]))  # the lines whole before it, plain or compact
    assert saved.truncated is not None and saved.truncated.number == 11
    done = parley("resume", str(result.folder))
    assert done.returncode == 0, done.stderr
    assert read_events(path) == list(read_lines(lines))


@pytest.fixture(scope="module")
def long_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One long offline run (seed 5), played once for the module's forks."""
    return play(UKRAINE, seed=5, runs_dir=tmp_path_factory.mktemp("long-run")).folder


def parent_in(long_run: Path, runs: Path) -> Path:
    """A copy of the long run's folder in `runs`, where a fork writes its child."""
    return shutil.copytree(long_run, runs / long_run.name)


def test_fork_with_a_variant_keeps_the_past_and_changes_the_future(long_run: Path, tmp_path: Path) -> None:
    parent = parent_in(long_run, tmp_path)
    done = parley("fork", parent.name, "--at-round", "4", "--variant", "us=hardliner", "--runs-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    (child,) = [p for p in tmp_path.iterdir() if p != parent]
    manifest = json.loads((child / "manifest.json").read_text())
    assert manifest["parent"] == {"run_id": parent.name, "round": 4}
    before = [e for e in read_events(parent / "events.jsonl") if e["round"] < 4]
    after = read_events(child / "events.jsonl")
    assert after[: len(before)] == before
    assert after[len(before)]["type"] == "round_started" and after[len(before) + 1]["type"] == "inject"
    assert any(e["type"] == "variant_switched" and e["actor"] == "us" for e in after)
    assert after != read_events(parent / "events.jsonl")
    assert replay(child).identical


def test_fork_with_an_inject_applies_it_from_that_round(long_run: Path, tmp_path: Path) -> None:
    parent = parent_in(long_run, tmp_path)
    done = parley(
        "fork",
        parent.name,
        "--at-round",
        "3",
        "--inject",
        str(INJECTS / "kursk-lost.yaml"),
        "--runs-dir",
        str(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    (child,) = [p for p in tmp_path.iterdir() if p != parent]
    events = read_events(child / "events.jsonl")
    (inject,) = [e for e in events if e["type"] == "inject"]
    assert inject["round"] == 4 and "Kursk" in inject["text"]
    later = [e for e in events if e["type"] == "proposal" and e["round"] >= 4]
    assert later and all(
        e["package"]["kherson_zaporizhzhia_kursk"] not in ("full_return_for_kursk", "partial_swap") for e in later
    )
    assert replay(child).identical


def test_a_fork_refuses_news_before_its_round(long_run: Path, tmp_path: Path) -> None:
    """The fork replays its parent's rounds before --at-round: news for one of them would never land."""
    parent = parent_in(long_run, tmp_path)
    inject = INJECTS / "china-mediates.yaml"  # its news is for round 2
    done = parley("fork", parent.name, "--at-round", "4", "--inject", str(inject), "--runs-dir", str(tmp_path))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "events[0].round: 2 is before the fork's round 4" in done.stderr
    assert [p for p in tmp_path.iterdir() if p != parent] == []  # nothing forked


@pytest.mark.parametrize("name", sorted(p.name for p in INJECTS.glob("*.yaml")))
def test_shipped_injects_run_and_replay(tmp_path: Path, name: str) -> None:
    done = parley("run", "--inject", str(INJECTS / name), "--runs-dir", str(tmp_path), "-q")
    assert done.returncode == 0, done.stderr
    (folder,) = tmp_path.iterdir()
    assert any(e["type"] == "inject" for e in read_events(folder / "events.jsonl"))
    assert replay(folder).identical


def test_a_bad_inject_file_is_a_clean_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "title: t\nevents:\n  - round: 2\n    text: x\n    effects:\n      withdraw: [{issue: nato, option: join_tomorrow}]\n      variants: {us: pacifist}\n"
    )
    done = parley("run", "--inject", str(bad), "--runs-dir", str(tmp_path / "runs"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert any("events[0].effects.withdraw[0].option" in x and "join_tomorrow" in x for x in lines)
    assert any("events[0].effects.variants.us" in x and "pacifist" in x for x in lines)
    assert not (tmp_path / "runs").exists()


def test_fork_an_offline_run_into_llm_personas(tmp_path: Path) -> None:
    parent = play(MINI, seed=1, runs_dir=tmp_path)
    with FakeOpenAI(accept=False) as server:
        done = parley(
            "fork",
            parent.folder.name,
            "--at-round",
            "2",
            "--backend",
            "openai",
            "--model",
            "fake",
            "--base-url",
            server.url,
            "--runs-dir",
            str(tmp_path),
        )
    assert done.returncode == 0, done.stderr
    (child,) = [p for p in tmp_path.iterdir() if p != parent.folder]
    events = read_events(child / "events.jsonl")
    assert not [e for e in events if e["type"] == "llm_call" and e["round"] < 2]
    assert [e for e in events if e["type"] == "llm_call" and e["round"] == 2]
    manifest = json.loads((child / "manifest.json").read_text())
    assert manifest["fork"]["backend_from_round"] == 2 and manifest["backend"] == "openai"
    assert replay(child).identical  # the server is gone: recorded answers only
