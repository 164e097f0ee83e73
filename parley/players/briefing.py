"""What an actor is told: the contexts of `llm/system.j2` and `llm/round.j2`, and what it remembers of
past rounds (the last few word for word, a digest of everything older, one line per other actor, so
the prompt stays the same size however long the negotiation runs).

Apart from the LLM client (and openai), so that a seat played by a person sees exactly what an
LLM persona in that seat would see.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from parley.engine.actions import Move
from parley.engine.issue_space import IssueSpace
from parley.engine.policy import Observation
from parley.world.scenario import Scenario
from parley.world.templates import and_list


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
            if item["kind"] in ("inject", "set_aside"):  # news, and word of my own offer: no one's stance
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


MODELLER = re.compile(r"\b(inference|inferred|hypothetical|the article|below|above|this card|modell?er)\b", re.I)
MARKED = re.compile(r"\s*\((?:an? )?(?:inference|inferred|hypothetical)[^)]*\)", re.I)
PREFIX = re.compile(r"^(?:inference|hypothetical)\s*(?:[:\-\u2013;,]\s*)", re.I)


def in_character(text: str) -> str:
    """A card's text as the persona may hear it: the modeller's notes taken out ("(inference)",
    "Hypothetical:", "Inference.", a clause about the article or the card), the rest kept."""
    text = MARKED.sub("", " ".join(str(text).split()))
    kept = []
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        sentence = PREFIX.sub("", sentence).strip()
        clauses = [c for c in re.split(r";\s+", sentence) if c and not MODELLER.search(c)]
        if not clauses:
            continue
        said = "; ".join(clauses)
        said = said[0].upper() + said[1:]
        kept.append(said if said[-1] in ".!?" else said + ".")
    return " ".join(kept)


def feeling(value: float) -> str:
    """An option's worth to the persona in words: ordinal, as a person weighs it, not an exact number."""
    if value >= 0.85:
        return "what you want"
    if value >= 0.6:
        return "acceptable"
    if value >= 0.35:
        return "a hard concession"
    if value >= 0.1:
        return "very bad for you"
    return "the worst"


def outcome_feeling(value: float) -> str:
    """What an outcome without a deal is to the persona, in words."""
    if value >= 0.6:
        return "bearable for you; you can live with it for a long time"
    if value >= 0.45:
        return "costly for you, though a bad deal could be worse"
    if value >= 0.3:
        return "bad for you"
    return "very bad for you"


def importance(share: float) -> str:
    if share >= 0.12:
        return "matters most to you"
    if share >= 0.08:
        return "matters a lot"
    if share >= 0.04:
        return "matters somewhat"
    return "matters little"


DISPOSITIONS = {  # trait -> (what a high value means, what a low one means), said to the persona
    "patience": ("You can wait: time is on your side.", "You want a result soon."),
    "reciprocity": ("You give ground only when others give ground too.", "You can move first."),
    "assertiveness": ("You answer refusals with pressure.", "You rarely threaten."),
    "walkout_propensity": ("You are ready to leave the table if talks go nowhere.", "You stay at the table."),
    "openness": ("You talk directly to your counterparts.", "You keep your distance from some of them."),
    "flattery_use": ("You use praise where it works.", ""),
}


def protocol_sentences(scenario: Scenario) -> list[str]:
    """How a deal passes on this world's protocol, in words (the same rules the engine applies)."""
    world, names = scenario.world, {a: p.called() for a, p in scenario.personas.items()}
    p = world.protocol
    signers = [names[a] for a in world.signatories()]

    def listed(ids: list[str]) -> str:
        return and_list([names.get(a, a) for a in ids])

    out = []
    if p.rule == "unanimity":
        out.append(f"A proposal becomes the deal when every signatory accepts it: {and_list(signers)}.")
    elif p.rule == "quorum":
        veto = f"; each of {listed(list(p.veto))} must be among them" if p.veto else ""
        out.append(f"A proposal becomes the deal when {p.quorum} of {and_list(signers)} accept it{veto}.")
    else:
        out.append(
            f"First {listed(list(p.framework))} must {'both' if len(p.framework) == 2 else 'all'} accept the same package: it then becomes a framework, "
            "and every other proposal is off the table."
        )
        out.append(
            f"The framework is then put to {listed(world.ratifiers())}, who have {p.ratify_rounds} "
            f"round{'s' if p.ratify_rounds != 1 else ''} to accept or refuse it."
        )
        if p.belligerents:
            out.append(
                f"It ends the war only if {listed(list(p.belligerents))} have {'both' if len(p.belligerents) == 2 else 'all'} signed it; if one of them refuses "
                "it, the war goes on, and who refused is on record."
            )
    out.append(
        "A proposal can pass only if it was sent to every actor whose acceptance it needs: a party that never "
        "received it cannot accept it."
    )
    if p.min_utility:
        out.append("No package passes that leaves a party with less than the least it can live with.")
    return out


def system_context(scenario: Scenario, space: IssueSpace, actor: str) -> dict:
    """The persona as it would see itself: its own aims, beliefs and red lines in words (the modeller's
    notes left out), how it speaks, its options in order of preference (no exact numbers), what the
    others have said in public, the date, and how a deal passes."""
    world, persona = scenario.world, scenario.personas[actor]
    me = space.index(actor)
    excluded = {(line.issue, o) for line in persona.red_lines for o in line.excludes}
    total = float(space.weights[me].sum()) or 1.0
    issues: list[dict[str, Any]] = []
    for i, issue in enumerate(world.issues):
        options: list[dict[str, Any]] = [
            {
                "id": o.id,
                "meaning": o.meaning,
                "value": float(space.scores[me, i, j]),
                "feel": "never (your red line)"
                if (issue.id, o.id) in excluded
                else feeling(float(space.scores[me, i, j])),
            }
            for j, o in enumerate(issue.options)
        ]
        options.sort(key=lambda o: -o["value"])
        weight = float(space.weights[me, i])
        issues.append(
            {
                "id": issue.id,
                "title": issue.title,
                "weight": weight,
                "matters": importance(weight / total),
                "options": options,
            }
        )
    issues.sort(key=lambda d: -d["weight"])
    traits = [
        (name, getattr(persona.traits, name))
        for name in type(persona.traits).model_fields
        if getattr(persona.traits, name) is not None
    ]
    disposition = [
        DISPOSITIONS[name][0 if trait.value >= 0.6 else 1]
        for name, trait in traits
        if name in DISPOSITIONS
        and (trait.value >= 0.6 or trait.value <= 0.3)
        and DISPOSITIONS[name][0 if trait.value >= 0.6 else 1]
    ]
    titles = {i.id: i for i in world.issues}
    voice = persona.voice

    def own_words(issue: str) -> str:
        lines = voice.lines("red_line", None, issue) if voice is not None else []
        return lines[0].said("") if lines and issue in lines[0].issues else ""

    red_lines = [
        {
            "issue": titles[line.issue].title,
            "never": [o.meaning for o in titles[line.issue].options if o.id in line.excludes],
            "why": own_words(line.issue) or in_character(line.why),
        }
        for line in persona.red_lines
    ]
    core = None
    if persona.core is not None:
        core = {
            "at_least": persona.core.at_least,
            "aims": [
                f"{titles[a.issue].title}: "
                + " or ".join(o.meaning.rstrip(".") for o in titles[a.issue].options if o.id in a.options)
                for a in persona.core.of
            ],
        }
    others = []
    for other in world.actor_ids():
        if other == actor:
            continue
        card = scenario.personas[other]
        others.append(
            {
                "id": other,
                "name": card.called(),
                "leader": card.leader,
                "summary": in_character(card.summary.text),
                "never": [
                    f"{titles[line.issue].title}: "
                    + " or ".join(o.meaning.rstrip(".") for o in titles[line.issue].options if o.id in line.excludes)
                    for line in card.red_lines
                    if line.public
                ],
            }
        )
    p = world.protocol
    actors = [
        {"id": a, "name": scenario.personas[a].name, "leader": scenario.personas[a].leader} for a in world.actor_ids()
    ]
    return {
        "me": persona,
        "world": world,
        "date": world.date,
        "description": in_character(world.description),
        "summary": in_character(persona.summary.text),
        "variant_description": in_character(persona.variant_description),
        "objectives": [t for t in (in_character(o.text) for o in persona.objectives) if t],
        "beliefs": [t for t in (in_character(b.text) for b in persona.beliefs) if t],
        "disposition": disposition,
        "voice": voice,
        "stresses": [titles[i].title for i in (voice.stresses if voice is not None else []) if i in titles],
        "called": persona.called(),
        "no_deal": outcome_feeling(persona.no_deal.value),
        "refused": outcome_feeling(persona.refused_value()) if p.rule == "ratify" else None,
        "red_lines": red_lines,
        "core": core,
        "others": others,
        "issues": issues,
        "traits": traits,
        "actors": actors,
        "rule": " ".join(protocol_sentences(scenario)),
        "protocol": protocol_sentences(scenario),
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
