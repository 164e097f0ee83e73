"""A move as JSON: the schema an LLM answers to, made per world and round, and the parser of answers.

The schema is strict (every property required, no extra ones) so that servers with constrained
decoding produce a well-formed move by construction, and it holds every legality rule a schema can
state, so that a server that follows it never needs to be asked again: packages offer only the
options the actor may put on the table, recipients are the actors still present, answerable
proposals are an enum of their ids (those crossing the actor's red lines can only be rejected), at
most `max_proposals_per_round` proposals or counters (a list of their own), and bounds on every
text and list so that an answer always finishes within the tokens it is given.

The parser is the one gate for every answer a server gives: it refuses what is too large or too
deep to read (the refusal goes back to the model as a re-ask), drops what repeats (a recipient named
fifty times, a second walkout, twenty thousand passes) and cuts text to its bound, saying what it
dropped or cut, so that one answer can never weigh more than one move.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from parley.engine.actions import Channel, Counter, Message, Move, Pass, Respond, WalkOut
from parley.engine.policy import Observation
from parley.engine.rules import crossing, move_problems, red_lines_of
from parley.world.world import Issue, World

KINDS = ["statement", "threat", "concession", "flattery"]


class MoveError(ValueError):
    """An answer that is not a legal move; the message is fed back to the model when it is asked again."""


@dataclass(frozen=True)
class MoveLimits:
    """How much one answer may hold. The schema states these bounds; the parser enforces them on
    servers that ignore them (some drop `maxLength` or `uniqueItems`)."""

    said_chars: int = 300  # what an actor says: a sentence or two of diplomacy
    reason_chars: int = 200  # why it answers, closes a channel, walks out or passes
    extra_actions: int = 3  # besides one answer per proposal: messages, a channel, a walkout or a pass
    answer_chars: int = 65_536  # a schema-following answer is a few thousand characters; more is refused unread
    depth: int = 16  # a move nests 5 deep; deeper JSON is refused before it is parsed

    def actions(self, answerable: int) -> int:
        """The most actions (proposals aside) a move may hold, with `answerable` proposals to answer."""
        return answerable + self.extra_actions


def schema_name(actor: str) -> str:
    return f"parley_move_{re.sub(r'[^a-zA-Z0-9_-]', '_', actor)}"


def _obj(properties: dict, description: str = "") -> dict:
    out = {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}
    if description:
        out["description"] = description
    return out


def _text(description: str, limit: int | None = None, at_least: int = 0) -> dict:
    out: dict = {"type": "string", "description": description}
    if at_least:
        out["minLength"] = at_least
    if limit is not None:
        out["maxLength"] = limit
    return out


def answerable_ids(obs: Observation) -> list[str]:
    """The proposals `obs.actor` may answer this round."""
    return [
        p["id"]
        for p in obs.table
        if p["status"] == "open"
        and obs.actor in p["recipients"]
        and obs.actor not in p["accepted_by"] + p["rejected_by"]
    ]


def move_schema(world: World, obs: Observation, limits: MoveLimits | None = None) -> dict:
    """The JSON schema of one actor's move this round; without `limits`, the unbounded one-list
    schema that runs recorded before bounds existed asked for (replay asks it again)."""
    if limits is None:
        return _unbounded_schema(world, obs)
    others = [a for a in obs.present if a != obs.actor]
    answerable = answerable_ids(obs)
    own = red_lines_of(obs.persona)
    said, why = limits.said_chars, limits.reason_chars

    def offered(issue: Issue) -> list[str]:
        """The options this actor may put in a package: not withdrawn, not across its own red lines."""
        barred = set(obs.withdrawn.get(issue.id, [])) | set(own.get(issue.id, []))
        return [o for o in issue.option_ids() if o not in barred]

    options = {i.id: offered(i) for i in world.issues}
    can_propose = bool(others) and all(options.values())
    package = _obj(
        {i.id: {"type": "string", "enum": options[i.id], "description": i.title} for i in world.issues},
        "one option for every issue",
    )
    recipients = {
        "type": "array",
        "items": {"type": "string", "enum": others},
        "minItems": 1,
        "maxItems": max(1, len(others)),
        "uniqueItems": True,
    }

    def variant(action: str, **props: dict) -> dict:
        return _obj({"type": {"type": "string", "enum": [action]}, **props})

    actions = []
    if answerable:
        tabled = {p["id"]: p for p in obs.table}
        acceptable = [i for i in answerable if crossing(tabled[i]["package"], own) is None]
        refusable = [i for i in answerable if i not in acceptable]
        reason = _text("why", why)
        if acceptable:
            actions.append(
                variant(
                    "respond",
                    proposal={"type": "string", "enum": acceptable},
                    accept={"type": "boolean"},
                    reason=reason,
                )
            )
        if refusable:  # they cross this actor's red lines: it may only reject them
            actions.append(
                variant(
                    "respond",
                    proposal={"type": "string", "enum": refusable, "description": "crosses your red lines"},
                    accept={"type": "boolean", "enum": [False]},
                    reason=reason,
                )
            )
    if others:
        actions.append(
            variant(
                "message",
                kind={"type": "string", "enum": KINDS},
                to=recipients,
                text=_text("what you say", said, at_least=1),
            )
        )
        actions.append(
            variant(
                "channel",
                to={"type": "string", "enum": [c["to"] for c in obs.channels if c["to"] in others] or others},
                open={"type": "boolean"},
                reason=_text("why", why),
            )
        )
        actions.append(variant("walkout", reason=_text("why you leave the table for good", why)))
    actions.append(variant("pass", reason=_text("why you do nothing this round", why)))
    properties: dict = {
        "actions": {
            "type": "array",
            "description": "answers to proposals, messages, channel changes, a walkout or a pass",
            "items": {"anyOf": actions},
            "maxItems": limits.actions(len(answerable)) if others else 1,
        }
    }
    if can_propose:
        proposals = [
            variant("propose", package=package, to=recipients, text=_text("what you say as you propose it", said))
        ]
        if answerable:
            proposals.append(
                variant(
                    "counter",
                    proposal={"type": "string", "enum": answerable},
                    package=package,
                    to=recipients,
                    reason=_text("why you reject theirs", why),
                    text=_text("what you say as you propose yours", said),
                )
            )
        properties["proposals"] = {
            "type": "array",
            "description": "your proposal or counter-proposal this round, if any",
            "items": {"anyOf": proposals},
            "maxItems": world.protocol.max_proposals_per_round,
        }
    return _obj(properties, f"the move of {obs.actor} this round")


def _unbounded_schema(world: World, obs: Observation) -> dict:
    """The schema of request format 1, kept word for word: the hashes of recorded requests depend on it."""
    others = [a for a in obs.present if a != obs.actor]
    answerable = answerable_ids(obs)
    own = red_lines_of(obs.persona)

    def offered(issue: Issue) -> list[str]:
        left = [
            o for o in issue.option_ids() if o not in obs.withdrawn.get(issue.id, []) and o not in own.get(issue.id, [])
        ]
        return left or [o for o in issue.option_ids() if o not in own.get(issue.id, [])] or issue.option_ids()

    package = _obj(
        {i.id: {"type": "string", "enum": offered(i), "description": i.title} for i in world.issues},
        "one option for every issue",
    )
    recipients = {"type": "array", "items": {"type": "string", "enum": others}, "minItems": 1}
    kinds: dict[str, dict[str, Any]] = {
        "propose": {"package": package, "to": recipients, "text": _text("what you say as you propose it")},
        "message": {"kind": {"type": "string", "enum": KINDS}, "to": recipients, "text": _text("what you say")},
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


# -- reading answers ------------------------------------------------------------------------------
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


def nesting(text: str) -> int:
    """How deep the brackets of a JSON text nest (outside strings), read without parsing it."""
    deepest = depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


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


@dataclass
class ParsedAnswer:
    """A legal move read from an answer, and what the parser dropped or cut on the way."""

    move: Move
    trimmed: list[str] = field(default_factory=list)


def parse_move(text: str, world: World, obs: Observation, limits: MoveLimits | None = None) -> Move:
    """A legal move from an answer, or MoveError saying exactly what is wrong with it."""
    return parse_answer(text, world, obs, limits).move


def parse_answer(
    text: str, world: World, obs: Observation, limits: MoveLimits | None = None, size: int | None = None
) -> ParsedAnswer:
    """A legal move from an answer and what was trimmed from it, or MoveError saying what is wrong.

    `size` is the answer's length as the server sent it, when `text` is only part of it (an answer
    too large to keep is recorded cut, and must be refused again when replayed)."""
    limits = limits or MoveLimits()
    size = len(text) if size is None else size
    if size > limits.answer_chars:
        raise MoveError(f"the answer is {size:,} characters long; at most {limits.answer_chars:,} are read")
    raw = extract_json(text)
    deepest = nesting(raw)
    if deepest > limits.depth:
        raise MoveError(f"the JSON nests {deepest:,} levels deep; a move nests at most {limits.depth}")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise MoveError(f"the answer is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:  # the depth check should make this unreachable; a bad answer never ends the run
        raise MoveError("the JSON nests too deep to read") from None
    trimmed: list[str] = []
    data = _one_list(_readable(data), trimmed)
    answerable = len(answerable_ids(obs))
    most = limits.actions(answerable) + world.protocol.max_proposals_per_round
    if isinstance(data, dict) and isinstance(data.get("actions"), list) and len(data["actions"]) > most:
        raise MoveError(f"the move has {len(data['actions']):,} different actions; at most {most} are allowed")
    try:
        move = Move.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise MoveError(f"the move does not fit the schema at {where or 'the top level'}: {first['msg']}") from None
    move = _without_repeats(move, trimmed)
    move = _within_bounds(move, limits, trimmed)
    problems = observed_move_problems(world, obs, move)
    if problems:
        raise MoveError("; ".join(f"actions[{i}]: {msg}" for i, msg in problems))
    return ParsedAnswer(move, trimmed)


def _readable(data: object) -> object:
    """The answer with every lone surrogate (`\\udead`, valid JSON but no character) shown as U+FFFD."""
    if isinstance(data, str):
        return data if data.isascii() else data.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if isinstance(data, list):
        return [_readable(v) for v in data]
    if isinstance(data, dict):
        return {_readable(k): _readable(v) for k, v in data.items()}
    return data


def _one_list(data: object, trimmed: list[str]) -> object:
    """The answer's actions as one list (answers, then proposals), each distinct action once."""
    if isinstance(data, Mapping) and "actions" not in data and "type" in data:
        data = {"actions": [data]}  # a single action given bare
    if not isinstance(data, Mapping):
        return data
    data = dict(data)
    proposals = data.pop("proposals", [])
    if not isinstance(proposals, list) or not isinstance(data.get("actions", []), list):
        return data if isinstance(proposals, list) else {**data, "proposals": proposals}  # let the schema say it
    actions = [*data.get("actions", []), *proposals]
    kept, seen, repeats = [], set(), 0
    for action in actions:
        key = json.dumps(action, sort_keys=True, ensure_ascii=False)
        if key in seen:
            repeats += 1
            continue
        seen.add(key)
        kept.append(action)
    if repeats:
        trimmed.append(f"{repeats:,} repeated action(s) dropped")
    return {**data, "actions": kept}


def _without_repeats(move: Move, trimmed: list[str]) -> Move:
    """One move's worth of actions: each recipient named once, one answer per proposal, one channel
    change per actor, one walkout, a pass only when nothing else is done, no message said twice."""
    out: list = []
    changed = False
    answered: set[str] = set()
    channels: set[str] = set()
    said: set[tuple] = set()
    walked = False
    for idx, action in enumerate(move.actions):
        to = getattr(action, "to", None)
        if isinstance(to, list) and len(set(to)) < len(to):
            once = list(dict.fromkeys(to))
            repeated = [t for t in once if to.count(t) > 1]
            trimmed.append(f"actions[{idx}].to: {', '.join(repeated)} named more than once, kept once")
            action = action.model_copy(update={"to": once})
            changed = True
        why = None
        if isinstance(action, (Respond, Counter)):
            why = f"a second answer to {action.proposal}" if action.proposal in answered else None
            answered.add(action.proposal)
        elif isinstance(action, WalkOut):
            why = "a second walkout" if walked else None
            walked = True
        elif isinstance(action, Message):
            key = (action.kind, frozenset(action.to), action.text)
            why = "the same message again" if key in said else None
            said.add(key)
        elif isinstance(action, Pass):
            why = "a pass beside other actions" if any(not isinstance(a, Pass) for a in move.actions) else None
            why = why or ("a second pass" if any(isinstance(a, Pass) for a in out) else None)
        elif isinstance(action, Channel):
            why = f"a second change of the channel to {action.to}" if action.to in channels else None
            channels.add(action.to)
        if why:
            trimmed.append(f"actions[{idx}] dropped: {why}")
            changed = True
            continue
        out.append(action)
    return Move(actions=out) if changed else move


def _within_bounds(move: Move, limits: MoveLimits, trimmed: list[str]) -> Move:
    """Every text cut to its bound (a server may ignore maxLength); what was cut is said."""
    out, changed = [], False
    for idx, action in enumerate(move.actions):
        update = {}
        for name, limit in (("text", limits.said_chars), ("reason", limits.reason_chars)):
            value = getattr(action, name, None)
            if isinstance(value, str) and len(value) > limit:
                update[name] = value[: limit - 1] + "…"
                trimmed.append(f"actions[{idx}].{name}: {len(value):,} characters cut to {limit}")
        if update:
            changed = True
            action = action.model_copy(update=update)
        out.append(action)
    return Move(actions=out) if changed else move
