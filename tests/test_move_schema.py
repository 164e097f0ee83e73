"""Parsing LLM answers into legal moves: JSON in prose, schema errors, illegal actions named."""

from __future__ import annotations

import json

import pytest

from parley.llm.rehearsal import sample_observation
from parley.players.move_schema import MoveError, extract_json, move_schema, parse_move
from parley.runs.play import prepare
from tests.conftest import MINI


@pytest.fixture(scope="module")
def setting():
    scenario, _, space = prepare(MINI)
    return scenario, space, sample_observation(scenario, space, "south")


def test_schema_lists_options_recipients_and_answerable_proposals(setting) -> None:
    scenario, _, obs = setting
    schema = move_schema(scenario.world, obs)
    kinds = {v["properties"]["type"]["enum"][0]: v for v in schema["properties"]["actions"]["items"]["anyOf"]}
    assert set(kinds) == {"propose", "respond", "counter", "message", "channel", "walkout", "pass"}
    assert kinds["respond"]["properties"]["proposal"]["enum"] == ["P1"]
    assert kinds["propose"]["properties"]["package"]["required"] == ["price", "border", "aid"]
    assert all(
        v["additionalProperties"] is False and set(v["required"]) == set(v["properties"]) for v in kinds.values()
    )


@pytest.mark.parametrize(
    "text",
    [
        '{"actions": [{"type": "pass", "reason": "x"}]}',
        'Sure! ```json\n{"actions": [{"type": "pass", "reason": "x"}]}\n``` done',
        'My move is {"actions": [{"type": "pass", "reason": "a } in text"}]} as you see.',
        '{"type": "pass", "reason": "a bare action"}',
    ],
)
def test_answers_with_json_somewhere_are_read(setting, text: str) -> None:
    scenario, _, obs = setting
    assert parse_move(text, scenario.world, obs).actions[0].type == "pass"


@pytest.mark.parametrize(
    ("action", "error"),
    [
        ({"type": "respond", "proposal": "P7", "accept": True, "reason": ""}, "no proposal 'P7'"),
        ({"type": "propose", "package": {"price": "mid"}, "to": ["north"], "text": ""}, "no option for issue 'border'"),
        (
            {
                "type": "propose",
                "package": {"price": "free", "border": "north_line", "aid": "none"},
                "to": ["north"],
                "text": "",
            },
            "has no option 'free'",
        ),
        ({"type": "message", "kind": "statement", "to": ["atlantis"], "text": "hi"}, "unknown actor 'atlantis'"),
        (
            {"type": "message", "kind": "shout", "to": ["north"], "text": "hi"},
            "does not fit the schema at actions.0.message.kind",
        ),
        ({"type": "dance"}, "does not fit the schema"),
    ],
)
def test_illegal_moves_are_named_for_the_reask(setting, action: dict, error: str) -> None:
    scenario, _, obs = setting
    with pytest.raises(MoveError, match=error.replace("(", r"\(").replace(")", r"\)")):
        parse_move(json.dumps({"actions": [action]}), scenario.world, obs)


def test_a_channel_to_someone_present_is_legal(setting) -> None:
    scenario, _, obs = setting
    move = parse_move(
        '{"actions": [{"type": "channel", "to": "north", "open": false, "reason": "r"}]}', scenario.world, obs
    )
    assert move.actions[0].to == "north"


def test_unclosed_or_missing_json_is_named() -> None:
    with pytest.raises(MoveError, match="not closed"):
        extract_json('text {"actions": [')
    with pytest.raises(MoveError, match="no JSON object"):
        extract_json("I pass.")
