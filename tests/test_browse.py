"""`parley runs` and `parley show`: real run folders (offline, LLM through the fake server, one cut off
as kill -9 leaves it), read back through parley.runs.saved and through the command line in subprocesses."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from parley.llm.backend import LLMBackend, LLMSettings
from parley.reports.text import describe
from parley.runs.play import play
from parley.runs.saved import (
    SavedRun,
    check_filters,
    filter_events,
    list_runs,
    persona_names,
    read_event_log,
    read_run,
    resolve_run,
)
from tests.conftest import MINI, parley
from tests.fake_openai import FakeOpenAI


@dataclass
class Runs:
    dir: Path
    converged: SavedRun  # seed 1: converges after several rounds
    hardliner: SavedRun  # north=hardliner, at most 3 rounds
    llm: SavedRun  # LLM personas through the fake server, priced
    killed: SavedRun  # a copy of `converged` without its outcome, ending in half a line
    cut_line: int  # the number of that half line


@dataclass
class Result:
    code: int
    out: str
    err: str


def cut_off_copy(source: Path, target: Path) -> int:
    """What kill -9 leaves: the events without the outcome, then half of the next line; returns its number."""
    target.mkdir()
    shutil.copy(source / "manifest.json", target / "manifest.json")
    lines = (source / "events.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    kept = lines[: len(lines) // 2]
    (target / "events.jsonl").write_text("".join(kept) + lines[len(kept)][:25], encoding="utf-8")
    return len(kept) + 1


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    base = tmp_path_factory.mktemp("browse")
    runs_dir = base / "runs"
    converged = play(MINI, seed=1, runs_dir=runs_dir)
    hardliner = play(MINI, seed=2, variants={"north": "hardliner"}, max_rounds=3, runs_dir=runs_dir)
    prices = base / "prices.yaml"
    prices.write_text("models:\n  fake: {input: 1000.0, output: 2000.0}\n", encoding="utf-8")
    with FakeOpenAI() as server:
        backend = LLMBackend(LLMSettings(model="fake", base_url=server.url, cache_dir=None, prices=prices))
        try:
            llm = play(MINI, seed=3, max_rounds=2, runs_dir=runs_dir, llm=backend)
        finally:
            backend.close()
    cut = cut_off_copy(converged.folder, runs_dir / "zz-killed")
    (runs_dir / "notes").mkdir()  # not a run
    (runs_dir / "notes" / "todo.txt").write_text("not a run\n", encoding="utf-8")
    return Runs(
        runs_dir,
        read_run(converged.folder),
        read_run(hardliner.folder),
        read_run(llm.folder),
        read_run(runs_dir / "zz-killed"),
        cut,
    )


def commands(r: Runs) -> dict[str, list[str]]:
    """What is run as a user in another folder would run it."""
    return {
        "runs": ["runs", "--runs-dir", str(r.dir)],
        "filtered": ["show", str(r.converged.folder), "--round", "2", "--actor", "east"],  # a path
        "killed": ["show", "zz", "--runs-dir", str(r.dir)],  # a prefix
        "unknown": ["show", "nosuchrun", "--runs-dir", str(r.dir)],
    }


@pytest.fixture(scope="module")
def cli(runs: Runs) -> dict[str, Result]:
    """Those commands, like a user in another folder, through the command's entry point in process."""
    env = {**os.environ, "COLUMNS": "400"}  # wide: no line is wrapped
    results = {}
    for name, args in commands(runs).items():
        done = parley(*args, cwd=runs.dir.parent, env=env)
        results[name] = Result(done.returncode, done.stdout, done.stderr)
    for result in results.values():
        assert "Traceback" not in result.out + result.err
    return results


def invoke(*args: str) -> Result:
    """The same command in process, for the many quick cases (an exception that escapes prints a traceback)."""
    r = parley(*args)
    assert "Traceback" not in r.stdout + r.stderr, r.stderr
    return Result(r.returncode, r.stdout, r.stderr)


def row_of(table: str, run_id: str) -> str:
    return next(line for line in table.splitlines() if line.startswith(run_id + " "))


# -- the command line ------------------------------------------------------------------------------


def test_runs_table_lists_every_run_newest_first(runs: Runs, cli: dict[str, Result]) -> None:
    r = cli["runs"]
    assert r.code == 0
    conv, hard, llm, killed = runs.converged, runs.hardliner, runs.llm, runs.killed
    ids = [llm.run_id, hard.run_id, conv.run_id]  # newest first (the killed copy has the date of its original)
    assert [r.out.index(f"\n{i} ") for i in ids] == sorted(r.out.index(f"\n{i} ") for i in ids)
    assert "4 run(s)" in r.out
    row = row_of(r.out, conv.run_id)
    assert "converged" in row and f" {conv.rounds} " in row and "offline" in row and " mini " in row
    assert row.split()[-2:] == ["-", "-"]  # no tokens, no cost offline
    row = row_of(r.out, hard.run_id)
    assert "north=hardliner" in row and f"{hard.status.replace('_', ' ')}" in row and f" {hard.rounds} " in row
    row = row_of(r.out, llm.run_id)
    assert "openai: fake" in row and f"{llm.tokens:,}" in row and f"${llm.cost_usd:.4f}" in row
    assert llm.tokens and llm.cost_usd  # the price table made the calls cost something
    row = row_of(r.out, killed.run_id)
    assert "interrupted" in row and "(1 bad line)" in row
    assert r.err.strip() == "warning: notes: not a run folder (no manifest.json); skipped"


def test_show_prints_every_round_with_names_and_the_outcome(runs: Runs) -> None:
    r = invoke("show", runs.converged.run_id, "--runs-dir", str(runs.dir))
    assert r.code == 0 and r.err == ""
    assert all(f"Round {n} " in r.out for n in range(1, runs.converged.rounds + 1))
    assert "North proposes P1" in r.out  # the name from the persona card, not the id `north`
    last = " ".join(r.out.rstrip().split("\n\n")[-1].split())  # in-process, lines wrap at 80 columns
    assert last.startswith(f"Outcome: converged after {runs.converged.rounds} round(s); deal P")
    assert "North 0." in last and "(no deal 0." in last


def test_show_filters_by_round_and_actor(runs: Runs, cli: dict[str, Result]) -> None:
    r = cli["filtered"]
    assert r.code == 0, r.err
    assert "Round 2 " in r.out and "Round 1 " not in r.out and "Round 3 " not in r.out
    names = persona_names(runs.converged)
    events = runs.converged.events
    wanted = [describe(e, names) for e in filter_events(events, round=2, actor="east")]
    others = [describe(e, names) for e in events if e["round"] == 2 and e not in filter_events(events, actor="east")]
    others = [line for line in others if line and line not in wanted]
    assert wanted and others  # the test means something: east is in some of round 2 and out of some
    assert all(line in r.out for line in wanted if line)
    assert not any(f"  {line}\n" in r.out for line in others)
    assert "Outcome: converged" in r.out  # the outcome line whatever the filter


def test_interrupted_run_is_shown_and_its_cut_line_reported(runs: Runs, cli: dict[str, Result]) -> None:
    r = cli["killed"]
    assert r.code == 0
    assert (
        r.err.strip()
        == f"warning: events.jsonl line {runs.cut_line} is cut off (the run stopped while writing it); skipped"
    )
    assert "Round 1 " in r.out
    assert r.out.rstrip().splitlines()[-1] == (
        f"Outcome: none; the run was interrupted in round {runs.killed.rounds} (no outcome line)"
    )


def test_unknown_run_is_one_line_and_exit_2(runs: Runs, cli: dict[str, Result]) -> None:
    r = cli["unknown"]
    assert r.code == 2 and r.out == ""
    assert r.err == f"error: unknown run 'nosuchrun': no run in {runs.dir} starts with it (see `parley runs`)\n"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["show", "{prefix}"], ["ambiguous run '{prefix}'", "3 runs"]),
        (["show", "{id}", "--round", "99"], ["round 99 is out of range", "{id}", "rounds 1-"]),
        (["show", "{id}", "--round", "0"], ["round 0 is out of range"]),
        (["show", "{id}", "--actor", "west"], ["unknown actor 'west'", "north, south, east"]),
        (["show", "{id}", "--round", "1", "--actor", "west"], ["unknown actor 'west'"]),
        (["show", "notes"], ["notes: not a run folder (no manifest.json)"]),
        (["runs", "--runs-dir", "{dir}/nowhere"], ["no runs folder at {dir}/nowhere"]),
        (["show", "x", "--runs-dir", "{dir}/nowhere"], ["unknown run 'x'", "no runs folder at {dir}/nowhere"]),
    ],
)
def test_errors_are_one_line_and_exit_2(runs: Runs, args: list[str], words: list[str]) -> None:
    fill = {"prefix": runs.converged.run_id[:8], "id": runs.converged.run_id, "dir": str(runs.dir)}
    args = [a.format(**fill) for a in args]
    r = invoke(*args, *([] if "--runs-dir" in args else ["--runs-dir", str(runs.dir)]))
    assert r.code == 2 and r.out == ""
    assert len(r.err.strip().splitlines()) == 1 and r.err.startswith("error: "), r.err
    assert all(w.format(**fill) in r.err for w in words), r.err


def test_empty_runs_folder_is_one_friendly_line(tmp_path: Path) -> None:
    r = invoke("runs", "--runs-dir", str(tmp_path))
    assert r.code == 0 and r.err == "" and len(r.out.strip().splitlines()) == 1 and "No runs" in r.out


# -- parley.runs.saved --------------------------------------------------------------------------------


def test_read_run_summarises_each_kind_of_run(runs: Runs) -> None:
    assert runs.converged.status == "converged" and runs.converged.finished and not runs.converged.skipped
    assert runs.converged.tokens is None and runs.converged.cost_usd is None
    assert runs.hardliner.variants == {"north": "hardliner"} and runs.hardliner.rounds <= 3
    calls = [e for e in runs.llm.events if e["type"] == "llm_call"]
    assert runs.llm.tokens == sum(e["tokens"]["prompt"] + e["tokens"]["completion"] for e in calls) > 0
    assert runs.llm.models == {"north": "fake", "south": "fake", "east": "fake"}
    assert runs.llm.cost_usd == runs.llm.outcome["transport"]["cost"]["usd"]
    assert runs.killed.status == "interrupted" and runs.killed.outcome is None
    assert [s.number for s in runs.killed.skipped] == [runs.cut_line]
    assert persona_names(runs.converged) == {"north": "North", "south": "South", "east": "East"}


def test_an_interrupted_llm_run_costs_what_its_calls_cost(runs: Runs, tmp_path: Path) -> None:
    cut_off_copy(runs.llm.folder, tmp_path / "cut")
    run = read_run(tmp_path / "cut")
    calls = [e for e in run.events if e["type"] == "llm_call"]
    assert calls and run.cost_usd == pytest.approx(sum(e["transport"]["usd"] for e in calls))
    assert run.tokens == sum(e["tokens"]["prompt"] + e["tokens"]["completion"] for e in calls)


def test_read_events_skips_what_it_cannot_read_and_says_which_line(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    good = [{"seq": 1, "round": 1, "type": "round_started"}, {"seq": 3, "round": 1, "type": "pass", "actor": "a"}]
    cut = json.dumps({"seq": 4, "round": 1, "type": "message", "text": "déjà vu"}, ensure_ascii=False).encode()
    path.write_bytes(
        json.dumps(good[0]).encode() + b"\n{not json\n\n[1, 2]\n" + json.dumps(good[1]).encode() + b"\n" + cut[:-6]
    )
    events, skipped = read_event_log(path)
    assert events == good
    assert [(s.number, s.reason.split()[1]) for s in skipped] == [(2, "not"), (4, "not"), (6, "cut")]
    assert read_event_log(tmp_path / "absent.jsonl") == ([], [])


def test_filter_events_matches_actor_target_and_toward_exactly() -> None:
    events = [
        {"seq": 1, "round": 1, "type": "message", "actor": "a", "to": ["east"]},
        {"seq": 2, "round": 1, "type": "mediated", "actor": "a", "to": "eastern"},  # `to` is a string here
        {"seq": 3, "round": 2, "type": "trust", "actor": "b", "toward": "east"},
        {"seq": 4, "round": 2, "type": "response", "actor": "east"},
        {"seq": 5, "round": 2, "type": "proposal_dead"},
    ]
    assert [e["seq"] for e in filter_events(events, actor="east")] == [1, 3, 4]
    assert [e["seq"] for e in filter_events(events, round=2)] == [3, 4, 5]
    assert [e["seq"] for e in filter_events(events, round=2, actor="east")] == [3, 4]
    assert filter_events(events) == events


def test_resolve_run_by_id_prefix_and_path(runs: Runs) -> None:
    conv = runs.converged
    assert resolve_run(conv.run_id, runs.dir) == conv.folder
    assert resolve_run("zz", runs.dir) == runs.killed.folder
    assert resolve_run(str(conv.folder), "elsewhere") == conv.folder
    with pytest.raises(Exception, match="ambiguous"):
        resolve_run(conv.run_id[:4], runs.dir)
    with pytest.raises(Exception, match="out of range"):
        check_filters(conv, round=0)


def test_list_runs_puts_folders_that_are_not_runs_last(runs: Runs, tmp_path: Path) -> None:
    shutil.copytree(runs.converged.folder, tmp_path / "a")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "manifest.json").write_text("{", encoding="utf-8")
    (tmp_path / "c.txt").write_text("", encoding="utf-8")
    listed = list_runs(tmp_path)
    assert [(s.run_id, s.problem) for s in listed] == [("a", None), ("b", "manifest.json is not valid JSON (line 1)")]
