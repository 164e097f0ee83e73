"""Answers that always finish (issue 16), one call per actor per round (issue 11 item 4) and a parser
that one answer cannot overload (issue 14 items 3 and 5), over real HTTP to tests/fake_openai.py."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from parley.llm.bounds import answer_tokens
from parley.llm.grammar import gbnf
from parley.runs.folder import read_events
from tests.conftest import MINI, ROOT
from tests.fake_openai import FakeOpenAI, Grammar, draw_from_schema, longest_answer, schema_problems
from tests.test_hostile_server import llm_run, only_run
from tests.test_llm import llm_play, of_type

UKRAINE = ROOT / "worlds" / "ukraine-2024.yaml"


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


def move_schemas(server: FakeOpenAI) -> list[dict]:
    return [
        r["body"]["response_format"]["json_schema"]["schema"]
        for r in server.requests
        if "response_format" in r["body"] and r["body"]["response_format"]["type"] == "json_schema"
    ]


def walk(node: object, where: str = "$") -> Iterator[tuple[str, dict]]:
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from walk(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{where}[{i}]")


# -- 1. schemas that bound what a model can write ----------------------------------------------------
def test_every_text_and_list_of_a_move_schema_is_bounded_and_max_tokens_leaves_room(
    server: FakeOpenAI, tmp_path: Path
) -> None:
    llm_play(server, tmp_path, world=UKRAINE, max_rounds=3)
    bodies = [r["body"] for r in server.requests]
    schemas = move_schemas(server)
    assert schemas and len(schemas) == len(bodies)
    for body, schema in zip(bodies, schemas, strict=True):
        for where, node in walk(schema):
            if node.get("type") == "string" and "enum" not in node:
                assert 0 < node["maxLength"] <= 300, where
            if node.get("type") == "array":
                assert "maxItems" in node, where
                if where.endswith(".to"):
                    assert node["uniqueItems"] is True and node["items"]["enum"], where
        proposals = schema["properties"].get("proposals")
        if proposals is not None:
            assert proposals["maxItems"] == 1  # the world's max_proposals_per_round
        longest = json.dumps(longest_answer(schema), ensure_ascii=False)
        # a token is at least a character: the longest answer, with llama.cpp's whitespace in every gap, fits
        assert body["max_tokens"] == answer_tokens(schema) >= len(longest)


def test_the_compact_grammar_admits_only_answers_that_follow_the_schema(server: FakeOpenAI, tmp_path: Path) -> None:
    llm_play(server, tmp_path, world=UKRAINE, max_rounds=2)
    rng = random.Random(7)
    for schema in move_schemas(server)[:5]:
        grammar = Grammar(gbnf(schema, "parley_move_x"))
        schema = json.loads(json.dumps(schema).replace('"uniqueItems": true', '"uniqueItems": false'))  # as llama.cpp
        for _ in range(40):
            text = grammar.draw(rng)
            assert "  " not in text.replace('": ', "").replace(", ", "")  # no whitespace runs outside text
            assert schema_problems(json.loads(text), schema) == [], text
        assert len(json.dumps(longest_answer(schema), separators=(",", ":"))) <= answer_tokens(schema, 1)


# -- one call per actor per round against a server that follows the schema ------------------------------
@pytest.mark.parametrize("owned_by", ["fake", "llamacpp"])
def test_a_schema_following_server_gets_one_call_per_actor_per_round(tmp_path: Path, owned_by: str) -> None:
    with FakeOpenAI(owned_by=owned_by, follow="random", seed=3) as fake:
        result = llm_play(fake, tmp_path, world=UKRAINE, max_rounds=4)
        bodies = [r["body"] for r in fake.requests]
    calls = of_type(result, "llm_call")
    per_actor_round = Counter((c["actor"], c["round"]) for c in calls)
    assert set(per_actor_round.values()) == {1}, [c["error"] for c in calls if c["error"]]
    assert all(c["error"] is None and "finish_reason" not in c for c in calls)
    assert {c["reask"] for c in calls} == {0}
    if owned_by == "llamacpp":  # llama.cpp gets the compact grammar alone (a response_format would win over it)
        assert all("grammar" in b and "response_format" not in b for b in bodies)
        assert {c["params"]["mode"] for c in calls} == {"grammar"}
    else:  # every other server is asked as before
        assert all("grammar" not in b and b["response_format"]["type"] == "json_schema" for b in bodies)


# -- 2. a cut-off answer is diagnosed, and the re-ask differs -----------------------------------------
def test_a_cut_off_answer_is_diagnosed_and_asked_again_differently(server: FakeOpenAI, tmp_path: Path) -> None:
    server.script("north", {"kind": "cut_off"})
    result = llm_play(server, tmp_path, max_rounds=1)
    north = [e for e in of_type(result, "llm_call") if e["actor"] == "north"]
    assert [c["reask"] for c in north] == [0, 1]
    assert north[0]["finish_reason"] == "length" and "cut off" in north[0]["error"]
    assert north[1]["error"] is None and "finish_reason" not in north[1]
    first, second = (r["body"] for r in server.calls_for("north"))
    assert first != second
    assert second["max_tokens"] > first["max_tokens"]  # room for any escaped text this time
    assert "shorter" in second["messages"][-1]["content"]
    assert len(second["messages"]) == len(first["messages"]) + 1  # the cut answer is not sent back


def test_reasks_stay_bounded_however_long_the_bad_answers(server: FakeOpenAI, tmp_path: Path) -> None:
    bad = "not json " * 5000
    server.script("north", {"kind": "content", "content": bad}, {"kind": "content", "content": bad + "!"})
    llm_play(server, tmp_path, max_rounds=1)
    sizes = [len(json.dumps(r["body"]["messages"])) for r in server.calls_for("north")]
    assert len(sizes) == 3
    assert sizes[2] <= sizes[1] + 2  # the third ask is no longer than the second (the re-asks do not pile up)
    assert sizes[1] - sizes[0] < 3000  # the 45,000-character answer is shown back cut short


# -- issue 14 items 3 and 5: what one answer can do ------------------------------------------------------
def test_deeply_nested_json_is_a_refused_answer_not_a_traceback(server: FakeOpenAI, tmp_path: Path) -> None:
    server.script("north", {"kind": "content", "content": '{"actions": ' + "[" * 1500 + "]" * 1500 + "}"})
    done = llm_run(tmp_path, "--base-url", server.url)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    events = read_events(only_run(tmp_path) / "events.jsonl")
    north = [e for e in events if e["type"] == "llm_call" and e["actor"] == "north"]
    assert "nests 1,501 levels deep" in north[0]["error"] and north[1]["error"] is None


def test_repeated_actions_and_recipients_count_once(server: FakeOpenAI, tmp_path: Path) -> None:
    flattery = {"type": "message", "kind": "flattery", "to": ["east"] * 50, "text": "x" * 1000}
    walkout = {"type": "walkout", "reason": "enough"}
    move = {"actions": [flattery] * 20 + [walkout, walkout] + [{"type": "pass", "reason": "p"}] * 200}
    server.script("north", {"kind": "move", "move": move})
    done = llm_run(tmp_path, "--base-url", server.url)
    assert done.returncode == 0, done.stderr
    events = read_events(only_run(tmp_path) / "events.jsonl")
    calls = [e for e in events if e["type"] == "llm_call" and e["actor"] == "north" and e["round"] == 1]
    assert len(calls) == 1, [c["error"] for c in calls]
    call = calls[0]
    assert call["error"] is None
    actions = call["move"]["actions"]
    assert [a["type"] for a in actions] == ["message", "walkout"]
    assert actions[0]["to"] == ["east"] and len(actions[0]["text"]) == 300
    assert any("repeated action" in t for t in call["trimmed"]) and any("kept once" in t for t in call["trimmed"])
    round_one = [e for e in events if e.get("round") == 1 and e.get("actor") == "north"]
    assert sum(e["type"] == "message" for e in round_one) == 1
    assert sum(e["type"] in ("walkout", "walked_out") for e in round_one) <= 1


def test_a_random_draw_of_a_schema_follows_it() -> None:
    schema = {
        "type": "object",
        "properties": {"to": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 2, "uniqueItems": True}},
        "required": ["to"],
        "additionalProperties": False,
    }
    rng = random.Random(1)
    assert all(schema_problems(draw_from_schema(schema, rng), schema) == [] for _ in range(50))
    assert schema_problems({"to": ["a", "a"]}, schema) == ["$.to: items repeat"]
    assert MINI.exists()
