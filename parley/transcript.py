"""The human-readable transcript of a run, rendered from its events by the world's template."""

from __future__ import annotations

from parley.scenario import Scenario
from parley.speech import Templates


def render_transcript(
    scenario: Scenario, templates: Templates, events: list[dict], run_id: str, seed: int, backend: str
) -> str:
    names = {a: p.name for a, p in scenario.personas.items()}
    rounds: dict[int, list[dict]] = {}
    for e in events:
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
