"""The human-readable transcript of a run, rendered from its events by the world's template."""

from __future__ import annotations

from parley.world.scenario import Scenario
from parley.world.templates import Templates


def render_transcript(
    scenario: Scenario, templates: Templates, events: list[dict], run_id: str, seed: int, backend: str
) -> str:
    names = {a: p.name for a, p in scenario.personas.items()}
    rounds: dict[int, list[dict]] = {}
    for e in with_changes(events):
        if e["round"] > 0:
            rounds.setdefault(e["round"], []).append(e)
    outcome = next((e for e in reversed(events) if e["type"] == "outcome"), None)
    world = scenario.world
    templates.env.filters["name"] = lambda a: names.get(a, a)
    return (
        templates.render(
            "transcript.md.j2",
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


def with_changes(events: list[dict]) -> list[dict]:
    """Events with each proposal's `changes`: what differs from its proposer's previous proposal
    (None for a first proposal), so the transcript shows moves rather than whole packages again."""
    last: dict[str, dict] = {}
    out = []
    for e in events:
        if e["type"] == "proposal":
            before = last.get(e["actor"])
            changes = None if before is None else {k: v for k, v in e["package"].items() if before.get(k) != v}
            last[e["actor"]] = e["package"]
            e = {**e, "changes": changes}
        out.append(e)
    return out


def sample_events(scenario: Scenario) -> list[dict]:
    """One event of every kind the transcript shows, to rehearse its template before a run."""
    a, b, *rest = scenario.world.actor_ids()
    c = rest[0] if rest else b
    package = {i.id: i.options[0].id for i in scenario.world.issues}
    events = [
        {
            "type": "proposal",
            "actor": a,
            "proposal": "P1",
            "package": package,
            "to": [b],
            "counter_to": None,
            "text": "t",
        },
        {
            "type": "proposal",
            "actor": b,
            "proposal": "P2",
            "package": package,
            "to": [a],
            "counter_to": "P1",
            "text": "t",
        },
        {"type": "proposal_reaffirmed", "actor": a, "proposal": "P1", "text": "t"},
        {"type": "response", "actor": b, "proposal": "P1", "accept": True, "reason": "r", "countered": False},
        {"type": "response", "actor": b, "proposal": "P1", "accept": False, "reason": "r", "countered": True},
        {"type": "message", "actor": a, "kind": "threat", "to": [b], "text": "t"},
        {"type": "mediated", "actor": a, "to": b, "what": "proposal", "path": [a, c, b], "proposal": "P1"},
        {"type": "undeliverable", "actor": a, "to": b, "what": "message"},
        {"type": "channel", "actor": a, "to": b, "open": True, "reason": "r"},
        {"type": "channel", "actor": a, "to": b, "open": False, "reason": "r"},
        {"type": "walkout", "actor": b, "reason": "r"},
        {"type": "invalid_action", "actor": a, "action": {}, "error": "e"},
        {"type": "deal", "proposal": "P1", "package": package, "accepted_by": [a, b]},
        {"type": "inject", "to": [a, b], "text": "t", "effects": {}},
        {"type": "variant_switched", "actor": a, "variant": "v"},
        {"type": "proposal_dead", "proposal": "P1", "reason": "r"},
        {"type": "trust", "actor": a, "toward": b, "before": 0.0, "after": 0.1, "cause": "accepted"},
        {"type": "pass", "actor": a, "reason": "r"},
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
                "type": "outcome",
                "status": "converged",
                "deal": deal,
                "utilities": utilities,
                "no_deal": utilities,
                "closest": closest,
            }
        )
    return events
