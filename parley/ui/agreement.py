"""What the table has come to, in words a room reads: the deal (or the closest offer), issue by issue.

A board shows this when a game ends: which package passed, in issue and option titles (never ids),
who signed it, who refused, who walked out, whether the war goes on where the outcome says so, and
which red lines it crosses. Read from the model and its outcome event only, so it says what the log
says; an outcome from a protocol that records more (`signed`, `refused`, `war_continues`,
`framework` under rule ratify) is shown as recorded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from parley.engine.events import EventType
from parley.engine.model import NegotiationModel
from parley.engine.rules import red_lines_of
from parley.world.labels import Labels
from parley.world.world import World

ENDINGS = {
    "converged": "a deal",
    "stalled": "a stall: nobody moved",
    "breakdown": "a breakdown: a party walked out",
    "max_rounds": "no deal within the round limit",
    "budget_exhausted": "no money left for the language model",
    "abandoned": "the game abandoned",
    "halted": "the game halted",
}


def option_title(option_id: str, labels: Labels | None = None) -> str:
    """An option as a short title for a table cell: its id in the world's words (`return_to_ukraine`:
    Return to Ukraine), or, without the world's labels, its id in words."""
    words = labels(option_id) if labels is not None else option_id.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


@dataclass(frozen=True)
class Term:
    """One issue of a package: what it settles, and whose red line or ideal that is."""

    issue: str  # the issue's title
    option: str  # the option's short title
    meaning: str  # what the option means, in the world's words
    crosses: list[str] = field(default_factory=list)  # names of the actors whose red line it crosses
    ideal_for: list[str] = field(default_factory=list)  # names of the actors for whom it is the best option


@dataclass(frozen=True)
class Agreement:
    """What a game came to (or, while it goes on, the best-supported proposal on the table)."""

    kind: str  # deal | framework | closest | leading | none
    headline: str
    proposal: str | None
    proposer: str | None
    terms: list[Term]
    signed: list[str]
    refused: list[str]
    walked_out: list[str]
    war: str | None  # "The war goes on." / "The war ends." when the outcome says so
    utilities: list[tuple[str, float, float]]  # (name, utility of the package, no-deal value)


def terms_of(world: World, package: Mapping[str, str], model: NegotiationModel, names: Mapping[str, str]) -> list[Term]:
    """A package issue by issue, with the red lines it crosses and whose ideal each option is."""
    out = []
    labels = Labels(world)
    for issue in world.issues:
        chosen = package.get(issue.id)
        if chosen is None:
            continue
        meaning = next((o.meaning for o in issue.options if o.id == chosen), "")
        crosses, ideal = [], []
        for actor in world.actor_ids():
            persona = model.setting.personas[actor]
            if chosen in red_lines_of(persona).get(issue.id, []):
                crosses.append(names.get(actor, actor))
            pref = persona.preferences.get(issue.id)
            if pref is not None and pref.weight > 0 and pref.values:
                best = max(pref.values.get(o.id, 0.0) for o in issue.options)
                if pref.values.get(chosen, 0.0) == best:
                    ideal.append(names.get(actor, actor))
        out.append(Term(issue.title, option_title(chosen, labels), meaning, crosses, ideal))
    return out


def possessive(name: str) -> str:
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def outcome_event(model: NegotiationModel) -> dict[str, Any] | None:
    return next((e for e in reversed(model.events) if e["type"] == EventType.OUTCOME), None)


def _names(actors: Any, names: Mapping[str, str]) -> list[str]:
    return [names.get(str(a), str(a)) for a in actors] if isinstance(actors, Sequence) else []


def agreement(model: NegotiationModel) -> Agreement:
    """The deal, the framework, the closest offer at the end, or (a game still going) the proposal
    most signatories have said yes to."""
    names = {a: p.name for a, p in model.setting.personas.items()}
    voters = list(model.rule.voters)
    outcome = outcome_event(model) or {}
    walked = _names(outcome.get("walked_out") or model.walked_out, names)
    war = None
    if isinstance(outcome.get("war_continues"), bool):
        war = "The war goes on." if outcome["war_continues"] else "The war ends."
    framework = outcome.get("framework") if isinstance(outcome.get("framework"), dict) else None
    package: Mapping[str, str] | None = None
    proposal = proposer = None
    signed: list[str] = []
    refused: list[str] = []
    if isinstance(outcome.get("deal"), dict) or (model.deal is not None and not outcome):
        kind = "deal"
        package = outcome.get("deal") or (model.deal.package if model.deal else None)
        proposal = outcome.get("proposal") or (model.deal.id if model.deal else None)
        passed = model.table.proposals.get(str(proposal)) if proposal else None
        proposer = names.get(passed.proposer, passed.proposer) if passed else None
        accepted = [a for a in (passed.accepted_by if passed else []) if a in voters]
        signed = _names(outcome["signed"], names) if "signed" in outcome else _names(accepted, names)
        refused = _names(outcome.get("refused") or (passed.rejected_by if passed else []), names)
        headline = f"Deal in round {outcome.get('round', model.round)}: {possessive(proposer or 'a party')} proposal {proposal} passed"
    elif framework is not None and isinstance(framework.get("package"), dict):
        kind = "framework"
        package = framework["package"]
        proposal = framework.get("proposal")
        signed = _names(outcome.get("signed") or framework.get("signed") or [], names)
        refused = _names(outcome.get("refused") or [], names)
        headline = f"A framework signed by {', '.join(signed) or 'some'}, refused by {', '.join(refused) or 'nobody'}"
    elif outcome:
        closest = outcome.get("closest") if isinstance(outcome.get("closest"), dict) else None
        ending = ENDINGS.get(str(outcome.get("status")), str(outcome.get("status")))
        if closest is not None and isinstance(closest.get("package"), dict):
            kind = "closest"
            package = closest["package"]
            proposal = closest.get("proposal")
            proposer = names.get(str(closest.get("proposer")), str(closest.get("proposer")))
            signed = _names(closest.get("accepted_by") or [], names)
            refused = _names(closest.get("rejected_by") or [], names)
            headline = f"No deal ({ending}). The closest offer: {possessive(proposer)} {proposal}"
        else:
            kind, headline = "none", f"No deal ({ending}), and no proposal was ever made."
    else:
        open_now = model.table.open()
        if not open_now:
            kind, headline = "none", "No proposal is open yet."
        else:
            best = max(open_now, key=lambda p: (len([a for a in p.accepted_by if a in voters]), p.round))
            kind, package, proposal = "leading", best.package, best.id
            proposer = names.get(best.proposer, best.proposer)
            signed = _names([a for a in best.accepted_by if a in voters], names)
            refused = _names(best.rejected_by, names)
            headline = (
                f"Leading now: {possessive(proposer)} {proposal}, yes from {len(signed)} of {len(voters)} signatories"
            )
    utilities = []
    if package:
        values = model.utilities_of(dict(package)) if set(package) >= set(model.space.issues) else {}
        for actor in model.world.actor_ids():
            persona = model.setting.personas[actor]
            if actor in values:
                utilities.append((names[actor], values[actor], persona.no_deal.value))
    return Agreement(
        kind=kind,
        headline=headline,
        proposal=proposal,
        proposer=proposer,
        terms=terms_of(model.world, package or {}, model, names),
        signed=signed,
        refused=refused,
        walked_out=walked,
        war=war,
        utilities=utilities,
    )


def in_words(a: Agreement) -> list[str]:
    """The agreement as sentences: what a debrief reads out."""
    lines = [a.headline + "."]
    if a.signed:
        lines.append(("Signed by " if a.kind in ("deal", "framework") else "Yes from ") + ", ".join(a.signed) + ".")
    if a.refused:
        lines.append(("Refused by " if a.kind in ("deal", "framework") else "No from ") + ", ".join(a.refused) + ".")
    if a.walked_out:
        lines.append("Walked out: " + ", ".join(a.walked_out) + ".")
    if a.war:
        lines.append(a.war)
    for t in a.terms:
        crossing = f" (crosses the red line of {', '.join(t.crosses)})" if t.crosses else ""
        lines.append(f"{t.issue}: {t.meaning or t.option}{crossing}")
    return lines
