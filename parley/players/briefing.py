"""What an actor is told: the contexts of `llm/system.j2` and `llm/round.j2`, and what it remembers of
past rounds (the last few word for word, a digest of everything older, one line per other actor, so
the prompt stays the same size however long the negotiation runs).

Apart from the LLM client (and openai), so that a seat played by a person sees exactly what an
LLM persona in that seat would see.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from parley.engine.actions import Move
from parley.engine.issue_space import IssueSpace
from parley.engine.policy import Observation
from parley.world.scenario import Scenario


@dataclass
class Stance:
    last_proposal: str | None = None
    last_proposal_round: int | None = None
    accepted_mine: int = 0
    rejected_mine: int = 0
    said: dict[str, int] = field(default_factory=dict)
    last_words: str = ""


@dataclass
class RoundMemory:
    window: int = 2
    rounds: list[dict] = field(default_factory=list)  # {"round", "heard": [...], "did": [...]}
    stances: dict[str, Stance] = field(default_factory=dict)

    def remember(self, round_: int, inbox: list[dict], table: list[dict], move: Move, me: str) -> None:
        mine = {p["id"] for p in table if p["proposer"] == me}
        for item in inbox:
            if item["kind"] == "inject":
                continue
            stance = self.stances.setdefault(item["from"], Stance())
            if item["kind"] == "proposal":
                stance.last_proposal, stance.last_proposal_round = item["proposal"], item["round"]
            elif item["kind"] == "response" and item["proposal"] in mine:
                if item["accept"]:
                    stance.accepted_mine += 1
                else:
                    stance.rejected_mine += 1
            elif item["kind"] == "message":
                stance.said[item["message_kind"]] = stance.said.get(item["message_kind"], 0) + 1
                stance.last_words = item["text"][:300]
        did = [a.model_dump() for a in move.actions]
        self.rounds.append({"round": round_, "heard": inbox, "did": did})
        self.rounds = self.rounds[-self.window :]

    def digest(self) -> list[dict]:
        return [
            {
                "actor": actor,
                "last_proposal": s.last_proposal,
                "last_proposal_round": s.last_proposal_round,
                "accepted_mine": s.accepted_mine,
                "rejected_mine": s.rejected_mine,
                "said": dict(s.said),
                "last_words": s.last_words,
            }
            for actor, s in sorted(self.stances.items())
        ]


def system_context(scenario: Scenario, space: IssueSpace, actor: str) -> dict:
    """The persona card, the issues as this actor values them, the table and the rules of a round."""
    world, persona = scenario.world, scenario.personas[actor]
    me = space.index(actor)
    issues = []
    for i, issue in enumerate(world.issues):
        options = [
            {"id": o.id, "meaning": o.meaning, "value": float(space.scores[me, i, j])}
            for j, o in enumerate(issue.options)
        ]
        issues.append({"id": issue.id, "title": issue.title, "weight": float(space.weights[me, i]), "options": options})
    issues.sort(key=lambda d: -d["weight"])
    traits = [
        (name, getattr(persona.traits, name))
        for name in type(persona.traits).model_fields
        if getattr(persona.traits, name) is not None
    ]
    p = world.protocol
    signers = ", ".join(world.signatories())
    if p.rule == "unanimity":
        rule = f"A proposal becomes the deal when every signatory accepts it ({signers})."
    else:
        veto = f"; each of {', '.join(p.veto)} must be among them" if p.veto else ""
        rule = f"A proposal becomes the deal when {p.quorum} of {signers} accept it{veto}."
    actors = [
        {"id": a, "name": scenario.personas[a].name, "leader": scenario.personas[a].leader} for a in world.actor_ids()
    ]
    return {
        "me": persona,
        "world": world,
        "issues": issues,
        "traits": traits,
        "actors": actors,
        "rule": rule,
        "max_rounds": p.max_rounds,
        "stall_patience": p.stall_patience,
        "max_proposals": p.max_proposals_per_round,
    }


def round_context(scenario: Scenario, space: IssueSpace, obs: Observation, memory: RoundMemory) -> dict:
    """The table as `obs.actor` sees it this round, each open proposal valued for it, and its memory."""
    actor = obs.actor
    me = space.index(actor)
    persona = scenario.personas[actor]
    table = []
    for p in obs.table:
        if p["status"] != "open":
            continue
        value = float(space.utilities(space.encode(p["package"]))[me])
        crosses = [line.issue for line in persona.red_lines if p["package"][line.issue] in line.excludes]
        answerable = actor in p["recipients"] and actor not in p["accepted_by"] + p["rejected_by"]
        table.append({**p, "value": value, "crosses": crosses, "answerable": answerable})
    return {
        "round": obs.round,
        "max_rounds": obs.max_rounds,
        "present": obs.present,
        "required": obs.required,
        "channels": obs.channels,
        "table": table,
        "inbox": obs.inbox,
        "digest": memory.digest(),
        "withdrawn": obs.withdrawn,
        "recent": memory.rounds,
    }
