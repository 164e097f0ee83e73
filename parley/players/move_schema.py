"""A move as JSON: the schema an LLM answers to, made per world and round, and the parser of answers.

The schema is strict (every property required, no extra ones) so that servers with constrained
decoding produce a well-formed move by construction: a package is an object with one property per
issue whose value is the enum of that issue's option ids; recipients are enums of actor ids;
proposals answerable this round are an enum of their ids.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from pydantic import ValidationError

from parley.engine.actions import Move
from parley.engine.policy import Observation
from parley.engine.rules import move_problems, red_lines_of
from parley.world.world import Issue, World

KINDS = ["statement", "threat", "concession", "flattery"]


class MoveError(ValueError):
    """An answer that is not a legal move; the message is fed back to the model when it is asked again."""


def schema_name(actor: str) -> str:
    return f"parley_move_{re.sub(r'[^a-zA-Z0-9_-]', '_', actor)}"


def _obj(properties: dict, description: str = "") -> dict:
    out = {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}
    if description:
        out["description"] = description
    return out


def _text(description: str) -> dict:
    return {"type": "string", "description": description}


def move_schema(world: World, obs: Observation) -> dict:
    """The JSON schema of one actor's move this round."""
    others = [a for a in obs.present if a != obs.actor]
    answerable = [
        p["id"]
        for p in obs.table
        if p["status"] == "open"
        and obs.actor in p["recipients"]
        and obs.actor not in p["accepted_by"] + p["rejected_by"]
    ]
    own = red_lines_of(obs.persona)

    def offered(issue: Issue) -> list[str]:
        """The options this actor may put in a package: not withdrawn, not across its own red lines."""
        left = [
            o for o in issue.option_ids() if o not in obs.withdrawn.get(issue.id, []) and o not in own.get(issue.id, [])
        ]
        return left or [o for o in issue.option_ids() if o not in own.get(issue.id, [])] or issue.option_ids()

    package = _obj(
        {i.id: {"type": "string", "enum": offered(i), "description": i.title} for i in world.issues},
        "one option for every issue",
    )
    recipients = {"type": "array", "items": {"type": "string", "enum": others}, "minItems": 1}
    kinds = {
        "propose": {"package": package, "to": recipients, "text": _text("what you say as you propose it")},
        "message": {
            "kind": {"type": "string", "enum": KINDS},
            "to": recipients,
            "text": _text("what you say"),
        },
        "channel": {
            "to": {"type": "string", "enum": [c["to"] for c in obs.channels if c["to"] in others] or others},
            "open": {"type": "boolean"},
            "reason": _text("why"),
        },
        "walkout": {"reason": _text("why you leave the table for good")},
        "pass": {"reason": _text("why you do nothing this round")},
    }
    if answerable:
        ids = {"type": "string", "enum": answerable}
        kinds["respond"] = {"proposal": ids, "accept": {"type": "boolean"}, "reason": _text("why")}
        kinds["counter"] = {
            "proposal": ids,
            "package": package,
            "to": recipients,
            "reason": _text("why you reject theirs"),
            "text": _text("what you say as you propose yours"),
        }
    if not others:
        kinds = {"pass": kinds["pass"]}
    variants = [_obj({"type": {"type": "string", "enum": [kind]}, **props}) for kind, props in kinds.items()]
    return _obj({"actions": {"type": "array", "items": {"anyOf": variants}}}, f"the move of {obs.actor} this round")


def extract_json(text: str) -> str:
    """The JSON object in an answer: the whole text, a fenced block, or the first balanced {...}."""
    text = text.strip()
    if text.startswith("{"):
        return text
    fenced = re.search(r"```(?:json)?\s*(\{.*?\})\s*```", text, re.DOTALL)
    if fenced:
        return fenced.group(1)
    start = text.find("{")
    if start < 0:
        raise MoveError("the answer has no JSON object in it")
    depth, in_string, escaped = 0, False, False
    for i, ch in enumerate(text[start:], start):
        if in_string:
            escaped = ch == "\\" and not escaped
            if ch == '"' and not escaped:
                in_string = False
            continue
        if ch == '"':
            in_string = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
    raise MoveError("the JSON object in the answer is not closed")


def observed_move_problems(world: World, obs: Observation, move: Move) -> list[tuple[int, str]]:
    """(index, problem) for every action of `move` the engine would drop, judged from what `obs` shows."""
    proposals = {p["id"]: p for p in obs.table}
    problems = move_problems(
        world, obs.actor, move, proposals, obs.withdrawn, red_lines_of(obs.persona), obs.persona.core
    )
    for idx, action in enumerate(move.actions):
        to = getattr(action, "to", [])
        gone = [t for t in ([to] if isinstance(to, str) else to) if t not in obs.present]
        if gone and not any(i == idx for i, _ in problems):
            problems.append((idx, f"{', '.join(gone)} left the table"))
    return problems


def parse_move(text: str, world: World, obs: Observation) -> Move:
    """A legal move from an answer, or MoveError saying exactly what is wrong with it."""
    raw = extract_json(text)
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise MoveError(f"the answer is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    if isinstance(data, Mapping) and "actions" not in data and "type" in data:
        data = {"actions": [data]}  # a single action given bare
    try:
        move = Move.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise MoveError(f"the move does not fit the schema at {where or 'the top level'}: {first['msg']}") from None
    problems = observed_move_problems(world, obs, move)
    if problems:
        raise MoveError("; ".join(f"actions[{i}]: {msg}" for i, msg in problems))
    return move
