"""The compact line form of events.jsonl: what a run logs reads back as exactly the events it made,
plain logs recorded before read and replay as they did, and a damaged line never misreads another."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

import pytest

from benchmarks.big_world import write_world
from parley.engine.events import DERIVED
from parley.llm.backend import LLMBackend, LLMSettings
from parley.runs.compact import MARK, LogEncoder, read_lines
from parley.runs.folder import LINE, read_events
from parley.runs.play import play
from parley.runs.replay import replay
from parley.runs.saved import read_event_log
from tests.conftest import MINI, ROOT, UKRAINE, parley
from tests.fake_openai import FakeOpenAI

PLAIN_FIXTURE = (
    ROOT / "tests" / "fixtures" / "runs" / "20261202-172521-mini-s2"
)  # plain lines (as before the compact log), rules 3


def as_logged(events: list[dict]) -> list[dict]:
    """Events as a plain JSON line gives them back (tuples become lists, a StrEnum its string)."""
    return [json.loads(LINE.encode(e)) for e in events]


def plain_bytes(events: list[dict]) -> int:
    return sum(len(LINE.encode(e).encode()) + 1 for e in events)


def check_log(folder: Path, made: list[dict]) -> list[str]:
    """The log of `folder` reads back as `made`, key order included; returns its lines."""
    lines = (folder / "events.jsonl").read_text(encoding="utf-8").splitlines()
    back = read_events(folder / "events.jsonl")
    assert back == as_logged(made)
    assert [list(e) for e in back] == [list(e) for e in as_logged(made)]
    parsed = [json.loads(line) for line in lines]
    assert all(isinstance(line, dict) for line in parsed)  # still JSONL
    plain = [line for line in parsed if MARK not in line]  # what a replay cannot make again: plain, one a line
    assert [e for e in back if e["type"] not in DERIVED] == [e for e in plain if e["type"] not in DERIVED]
    assert parsed[-1]["type"] == "outcome"  # what an ensemble's index reads from the end
    return lines


def played(world: Path, tmp_path: Path, **kwargs: object) -> tuple[Path, list[dict]]:
    made: list[dict] = []
    result = play(world, runs_dir=tmp_path, on_event=made.append, **kwargs)  # type: ignore[arg-type]
    return result.folder, made


RUNS: dict[str, Callable[[Path], tuple[Path, list[dict]]]] = {
    "ukraine-s1": lambda tmp: played(UKRAINE, tmp, seed=1),
    "ukraine-s5": lambda tmp: played(UKRAINE, tmp, seed=5),  # the longest of seeds 1-6
    "ukraine-variant": lambda tmp: played(UKRAINE, tmp, seed=7, variants={"us": "dealmaker"}),
    "ukraine-inject": lambda tmp: played(UKRAINE, tmp, seed=3, injects=ROOT / "worlds/injects/china-mediates.yaml"),
    "mini": lambda tmp: played(MINI, tmp, seed=2),
    "big-12": lambda tmp: played(write_world(tmp / "big", 12), tmp, seed=1, max_rounds=6),
}


@pytest.mark.parametrize("name", list(RUNS))
def test_a_compact_log_reads_back_as_the_events_the_run_made(name: str, tmp_path: Path) -> None:
    folder, made = RUNS[name](tmp_path)
    lines = check_log(folder, made)
    assert any(MARK in json.loads(line) for line in lines)
    assert len(lines) < len(made)


def test_an_llm_runs_log_reads_back_as_its_events(tmp_path: Path) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text("models: {}\n")
    with FakeOpenAI() as server:
        backend = LLMBackend(
            LLMSettings(model="fake", base_url=server.url, cache_dir=tmp_path / "cache", prices=prices, timeout=5.0)
        )
        try:
            folder, made = played(MINI, tmp_path / "runs", seed=1, max_rounds=3, llm=backend)
        finally:
            backend.close()
    lines = check_log(folder, made)
    calls = [json.loads(line) for line in lines if '"type":"llm_call"' in line and MARK not in json.loads(line)]
    assert calls and len(calls) == sum(e["type"] == "llm_call" for e in made)  # each plain, on its own line


class Kind(StrEnum):
    TRUST = "trust"


def encode_all(events: list[dict]) -> list[str]:
    encoder = LogEncoder(DERIVED)
    lines = [line for e in events for line in encoder.encode(e)]
    return lines + encoder.flush()


def test_encoding_is_lossless_for_odd_values_and_orders() -> None:
    base = {"a": "x", "b": "y", "c": "z"}
    events = [
        {"seq": 1, "round": 1, "type": "round_started"},
        {"seq": 2, "round": 1, "type": "proposal", "actor": "n", "proposal": "P1", "package": base, "to": ["s"]},
        {"seq": 3, "round": 1, "type": "proposal", "actor": "s", "proposal": "P2", "package": dict(base), "to": []},
        {"seq": 4, "round": 1, "type": "proposal", "actor": "n", "proposal": "P3", "package": {**base, "c": "w"}},
        {"seq": 5, "round": 1, "type": "proposal", "actor": "e", "proposal": "P4", "package": {"c": "z", "b": "y"}},
        {"seq": 6, "round": 1, "type": "proposal", "actor": "e", "proposal": "P5", "package": {"a": 1, "b": None}},
        {"seq": 7, "round": 1, "type": "proposal", "actor": "e", "proposal": "P6", "package": "not a dict"},
        {"seq": 8, "round": 1, "type": "proposal", "actor": "e", "proposal": "P7", "package": ["a", "b"]},
        {"seq": 9, "round": 1, "type": Kind.TRUST, "actor": "n", "toward": "s", "before": 0.1, "after": 0.1 + 0.2},
        {"seq": 10, "round": 1, "type": "trust", "actor": None, "toward": 3, "before": 1.0, "after": 1e-7},
        {"seq": 11, "round": 1, "type": "trust", "actor": ["n"], "toward": {"x": 1}, "before": 1, "after": -0.0},
        {"seq": 12, "round": 1, "type": "response", "actor": "s", "accept": True, "to": ["n", "e"]},
        {"seq": 13, "round": 1, "type": "response", "actor": "s", "accept": 1, "to": "n"},
        {"seq": 14, "round": 1, "type": "response", "actor": "s", "accept": [False], "to": ["n", 2]},
        {"round": 1, "type": "message", "seq": 15, "text": "order of keys kept", "actor": "n"},
        {"seq": 16, "round": 1, "type": "message", "actor": "n", "text": 'déjà vu \u2028 "quoted" ~'},
        {"seq": 18, "round": 1, "type": "message", "actor": "n", "text": "a gap in seqs"},
        {"seq": 19, "round": 2, "type": "message", "actor": "n", "text": 'déjà vu \u2028 "quoted" ~'},
        {"seq": 20, "round": 2, "type": "round_ended", "open_proposals": 1},
        {"seq": 21, "round": 3, "type": "proposal", "actor": "s", "proposal": "P8", "package": dict(base), "to": ["n"]},
        {"seq": 22, "round": 3, "type": "response", "actor": "n", "accept": False, "to": ["n", "e"]},
        {"seq": 23, "round": 3, "type": "outcome", "status": "stalled", "deal": None},
    ]
    lines = encode_all(events)
    back = list(read_lines(lines))
    assert back == as_logged(events)
    assert [list(e) for e in back] == [list(e) for e in events]
    assert [type(v) for e in back for v in e.values()] == [type(v) for e in as_logged(events) for v in e.values()]
    assert json.loads(lines[-1]) == as_logged(events)[-1] and json.loads(lines[-3])["type"] == "round_ended"
    rows = [row for line in lines if MARK in json.loads(line) for row in json.loads(line)["rows"]]
    assert '"P1"' in json.dumps(rows[2])  # P2's package: P1's by reference
    assert rows[3][3] == ["P1", {"c": "w"}]  # P3's: P1's with one option changed


def test_an_event_that_has_the_marker_key_is_refused() -> None:
    with pytest.raises(ValueError, match="marks a compact line"):
        LogEncoder().encode({"seq": 1, "round": 1, "type": "pass", MARK: "rows"})


def test_a_damaged_line_costs_only_the_lines_that_need_it(tmp_path: Path) -> None:
    events = [
        {"seq": 1, "round": 1, "type": "pass", "actor": "north", "reason": "nothing to add"},
        {"seq": 2, "round": 1, "type": "round_ended"},
        {"seq": 3, "round": 2, "type": "pass", "actor": "south", "reason": "a new reason"},
        {"seq": 4, "round": 2, "type": "message", "actor": "south", "text": "hello"},
        {"seq": 5, "round": 2, "type": "round_ended"},
        {"seq": 6, "round": 3, "type": "pass", "actor": "north", "reason": "nothing to add"},  # only line 1's
        {"seq": 7, "round": 3, "type": "round_ended"},
        {"seq": 8, "round": 4, "type": "pass", "actor": "south", "reason": "a new reason"},  # line 3's string
        {"seq": 9, "round": 4, "type": "round_ended"},
        {"seq": 10, "round": 5, "type": "message", "actor": "north", "text": "hello"},  # line 3's shape
        {"seq": 11, "round": 5, "type": "round_ended"},
        {"seq": 12, "round": 6, "type": "pass", "actor": "west", "reason": "late"},  # new string, after the lost
        {"seq": 13, "round": 6, "type": "pass", "actor": "west", "reason": "late"},
        {"seq": 14, "round": 6, "type": "round_ended"},
    ]
    lines = encode_all(events)
    assert len(lines) == 12
    lines[2] = lines[2][: len(lines[2]) // 2] + "#"  # round 2's rows, damaged
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    read, skipped = read_event_log(path)
    lost = {3, 4, 8, 10}
    assert read == [e for e in events if e["seq"] not in lost]  # the rest read right, never misread
    assert [str(s) for s in skipped] == [
        "events.jsonl line 3 is not valid JSON (and 2 compact lines after it that refer to it); skipped"
    ]


def test_a_plain_log_recorded_before_reads_and_replays_identical(tmp_path: Path) -> None:
    lines = (PLAIN_FIXTURE / "events.jsonl").read_text(encoding="utf-8").splitlines()
    assert not any(MARK in json.loads(line) for line in lines)
    events, skipped = read_event_log(PLAIN_FIXTURE / "events.jsonl")
    assert events == [json.loads(line) for line in lines] and not skipped
    folder = tmp_path / PLAIN_FIXTURE.name
    shutil.copytree(PLAIN_FIXTURE, folder)
    assert replay(folder).identical


def test_show_jsonl_gives_plain_lines_that_replay_as_the_compact_log_does(tmp_path: Path) -> None:
    folder, made = played(MINI, tmp_path / "runs", seed=3)
    done = parley("show", str(folder), "--jsonl")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout.splitlines() == [LINE.encode(e) for e in as_logged(made)]
    plain = tmp_path / "plain" / folder.name
    shutil.copytree(folder, plain)
    (plain / "events.jsonl").write_text(done.stdout, encoding="utf-8")
    assert replay(plain).identical and replay(folder).identical
    assert (plain / "events.jsonl").stat().st_size > 2 * (folder / "events.jsonl").stat().st_size
    one = parley("show", str(folder), "--jsonl", "--round", "2", "--actor", "north")
    assert one.stdout and all(json.loads(x)["round"] == 2 for x in one.stdout.splitlines())


def test_a_run_stopped_at_a_round_end_goes_on_from_its_logs_own_references(tmp_path: Path) -> None:
    """Resumed where nothing is dropped, the log is kept as it is and later lines refer to its shapes,
    strings and packages; the whole equals a run never stopped."""
    folder, made = played(MINI, tmp_path / "runs", seed=1)
    lines = (folder / "events.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    ends = [i for i, line in enumerate(lines) if '"type":"round_ended"' in line and MARK not in json.loads(line)]
    kept = "".join(lines[: ends[2] + 1])
    (folder / "events.jsonl").write_text(kept, encoding="utf-8")
    (folder / "transcript.md").unlink()
    done = parley("resume", str(folder))
    assert done.returncode == 0, done.stderr
    log = (folder / "events.jsonl").read_text(encoding="utf-8")
    assert log.startswith(kept)  # not written again
    later = [json.loads(line) for line in log[len(kept) :].splitlines()]
    assert any(MARK in line and "shapes" not in line for line in later)  # rows on shapes declared before
    assert without_transport(read_events(folder / "events.jsonl")) == without_transport(as_logged(made))
    assert replay(folder).identical


def without_transport(events: list[dict]) -> list[dict]:
    return [{k: v for k, v in e.items() if k != "transport"} for e in events]


def test_a_compact_log_is_a_fraction_of_the_plain_one(tmp_path: Path) -> None:
    """Bytes are deterministic: 12 actors x 20 issues, 10 rounds logs 0.21 of its plain bytes (measured)."""
    folder, made = played(write_world(tmp_path / "big", 12), tmp_path / "runs", seed=1, max_rounds=10)
    size = (folder / "events.jsonl").stat().st_size
    assert size < 0.3 * plain_bytes(made)
