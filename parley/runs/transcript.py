"""The human-readable transcript of a run, rendered from its events by the world's template."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from parley.engine.events import EventType
from parley.world.scenario import Scenario
from parley.world.templates import Templates


def render_transcript(
    scenario: Scenario, templates: Templates, events: list[dict], run_id: str, seed: int, backend: str
) -> str:
    """The run as Markdown. Every value the template prints is escaped for Markdown: what actors wrote
    (and the names on their cards) reads as their words, never as a heading, a deal line or a tag."""
    names = {a: p.name for a, p in scenario.personas.items()}
    changes = package_changes(events)
    rounds: dict[int, list[dict]] = {}
    for e in events:
        if e["type"] == EventType.PROPOSAL:  # what it changes, as the template shows it: the new options
            moved = changes.get(e["seq"])
            e = {**e, "changes": None if moved is None else {k: new for k, (_, new) in moved.items()}}
        if e["round"] > 0:
            rounds.setdefault(e["round"], []).append(e)
    outcome = next((e for e in reversed(events) if e["type"] == EventType.OUTCOME), None)
    world = scenario.world
    markdown = templates.for_markdown()
    markdown.env.filters["name"] = lambda a: names.get(a, a)
    return (
        markdown.render_run_page(
            "transcript.md.j2",
            len(events),
            world=world,
            run_id=run_id,
            seed=seed,
            backend=backend,
            variants=scenario.variants,
            names=names,
            issue_titles={i.id: i.title for i in world.issues},
            option_meanings={i.id: {o.id: o.meaning for o in i.options} for i in world.issues},
            rounds=[{"number": n, "events": evs} for n, evs in sorted(rounds.items())],
            outcome=outcome or {"status": "unfinished", "deal": None, "closest": None, "utilities": {}, "no_deal": {}},
        )
        + "\n"
    )


def package_changes(events: Iterable[Mapping[str, Any]]) -> dict[int, dict[str, tuple[str | None, str]]]:
    """For each proposal (by seq) that is not its proposer's first: the issues it changes, old -> new,
    so a reader sees moves rather than whole packages again ({} when it repeats the last package).

    Worked out over the whole run, so a filtered view still shows a move against the proposer's
    real previous offer; a damaged line (no package, no seq) is skipped.
    """
    last: dict[str, Mapping[str, Any]] = {}
    out: dict[int, dict[str, tuple[str | None, str]]] = {}
    for e in events:
        package = e.get("package")
        if e.get("type") != EventType.PROPOSAL or not isinstance(package, dict):
            continue
        before = last.get(str(e.get("actor")))
        if before is not None and isinstance(e.get("seq"), int):
            out[e["seq"]] = {k: (before.get(k), str(v)) for k, v in package.items() if before.get(k) != v}
        last[str(e.get("actor"))] = package
    return out


def sample_events(scenario: Scenario) -> list[dict]:
    """One event of every kind the transcript shows, to rehearse its template before a run."""
    a, b, *rest = scenario.world.actor_ids()
    c = rest[0] if rest else b
    package = {i.id: i.options[0].id for i in scenario.world.issues}
    events = [
        {
            "type": EventType.PROPOSAL,
            "actor": a,
            "proposal": "P1",
            "package": package,
            "to": [b],
            "counter_to": None,
            "text": "t",
        },
        {
            "type": EventType.PROPOSAL,
            "actor": b,
            "proposal": "P2",
            "package": package,
            "to": [a],
            "counter_to": "P1",
            "text": "t",
        },
        {"type": EventType.PROPOSAL_REAFFIRMED, "actor": a, "proposal": "P1", "text": "t"},
        {"type": EventType.RESPONSE, "actor": b, "proposal": "P1", "accept": True, "reason": "r", "countered": False},
        {"type": EventType.RESPONSE, "actor": b, "proposal": "P1", "accept": False, "reason": "r", "countered": True},
        {"type": EventType.MESSAGE, "actor": a, "kind": "threat", "to": [b], "text": "t"},
        {"type": EventType.MEDIATED, "actor": a, "to": b, "what": "proposal", "path": [a, c, b], "proposal": "P1"},
        {"type": EventType.UNDELIVERABLE, "actor": a, "to": b, "what": "message"},
        {"type": EventType.CHANNEL, "actor": a, "to": b, "open": True, "reason": "r"},
        {"type": EventType.CHANNEL, "actor": a, "to": b, "open": False, "reason": "r"},
        {"type": EventType.WALKOUT, "actor": b, "reason": "r"},
        {"type": EventType.INVALID_ACTION, "actor": a, "action": {}, "error": "e"},
        {"type": EventType.DEAL, "proposal": "P1", "package": package, "accepted_by": [a, b]},
        {"type": EventType.INJECT, "to": [a, b], "text": "t", "effects": {}},
        {"type": EventType.VARIANT_SWITCHED, "actor": a, "variant": "v"},
        {"type": EventType.PROPOSAL_DEAD, "proposal": "P1", "reason": "r"},
        {"type": EventType.TRUST, "actor": a, "toward": b, "before": 0.0, "after": 0.1, "cause": "accepted"},
        {"type": EventType.PASS, "actor": a, "reason": "r"},
    ]
    events = [{"seq": n, "round": 1, **e} for n, e in enumerate(events, 1)]
    utilities = dict.fromkeys(scenario.world.actor_ids(), 0.5)
    closest = {
        "proposal": "P1",
        "proposer": a,
        "package": package,
        "accepted_by": [a],
        "rejected_by": [b],
        "utilities": utilities,
    }
    for deal in (package, None):
        events.append(
            {
                "seq": len(events) + 1,
                "round": 1,
                "type": EventType.OUTCOME,
                "status": "converged",
                "deal": deal,
                "utilities": utilities,
                "no_deal": utilities,
                "closest": closest,
            }
        )
    return events
