"""The human-readable transcript of a run, rendered from its events by the world's template."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from parley.engine.events import EventType
from parley.world.labels import Labels
from parley.world.scenario import Scenario
from parley.world.templates import Templates


def render_transcript(
    scenario: Scenario, templates: Templates, events: list[dict], run_id: str, seed: int, backend: str
) -> str:
    """The run as Markdown a room can read: per round, one line per actor (its answers, its offer and
    what it says), a full package once and then only what changed, each thing said quoted once. Every
    value the template prints is escaped for Markdown: what actors wrote (and the names on their
    cards) reads as their words, never as a heading, a deal line or a tag. Everything else (relays,
    trust, exact options) stays in the event log and `parley show`."""
    names = {a: p.called() for a, p in scenario.personas.items()}
    world = scenario.world
    labels = Labels(world)
    changes = package_changes(events)  # `events`, each proposal with what it changed: what older templates read

    def with_changes(e: Mapping[str, Any]) -> dict[str, Any]:
        if e["type"] != EventType.PROPOSAL:
            return dict(e)
        moved = changes.get(e["seq"])
        return {**e, "changes": None if moved is None else {k: new for k, (_, new) in moved.items()}}

    rounds = [
        {"number": n, "events": [with_changes(e) for e in evs], **digest_round(evs, names, labels, seen)}
        for seen in [Seen()]
        for n, evs in sorted(by_round(events).items())
    ]
    outcome = next((e for e in reversed(events) if e["type"] == EventType.OUTCOME), None)
    framework = next((e for e in reversed(events) if e["type"] == EventType.FRAMEWORK), None)
    markdown = templates.for_markdown()
    markdown.env.filters["name"] = lambda a: names.get(a, a)
    markdown.env.filters["upper_first"] = lambda text: text[:1].upper() + text[1:]
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
            leaders={a: p.leader for a, p in scenario.personas.items()},
            issue_titles={i.id: i.title for i in world.issues},
            issue_labels={i.id: labels(i.id) for i in world.issues},
            option_meanings={i.id: {o.id: o.meaning for o in i.options} for i in world.issues},
            rounds=rounds,
            framework=framework,
            verbs=MESSAGE_VERBS,
            outcome=outcome or {"status": "unfinished", "deal": None, "closest": None, "utilities": {}, "no_deal": {}},
        )
        + "\n"
    )


MESSAGE_VERBS = {
    "threat": "threatens",
    "flattery": "flatters",
    "concession": "signals a concession to",
    "statement": "tells",
}


def by_round(events: Iterable[Mapping[str, Any]]) -> dict[int, list[Mapping[str, Any]]]:
    rounds: dict[int, list[Mapping[str, Any]]] = {}
    for e in events:
        if isinstance(e.get("round"), int) and e["round"] > 0 and e.get("type") != EventType.OUTCOME:
            rounds.setdefault(e["round"], []).append(e)
    return rounds


@dataclass
class Seen:
    """What the transcript has already shown: each actor's last package, and what each actor has said."""

    packages: dict[str, dict[str, str]] = field(default_factory=dict)
    by_id: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    said: dict[str, set[str]] = field(default_factory=dict)

    def new(self, actor: str, text: Any) -> str | None:
        """The text if this actor has not said it before in the transcript, else None."""
        if not isinstance(text, str) or not text.strip():
            return None
        said = self.said.setdefault(actor, set())
        if text in said:
            return None
        said.add(text)
        return text


def digest_round(
    events: list[Mapping[str, Any]], names: Mapping[str, str], labels: Labels, seen: Seen
) -> dict[str, Any]:
    """One round as the transcript shows it: a line per actor that did something, the facilitator's
    news and the round's result, and a summary (offers, answers, the best-supported proposal)."""
    actors: dict[str, dict[str, Any]] = {}
    news: list[dict[str, Any]] = []

    def line(actor: str) -> dict[str, Any]:
        return actors.setdefault(
            actor,
            {
                "actor": actor,
                "accepts": [],
                "rejects": [],
                "quotes": [],
                "offer": None,
                "said": [],
                "channels": [],
                "walkout": None,
                "invalid": None,
            },
        )

    accepted: dict[str, list[str]] = {}
    set_aside: list[dict[str, Any]] = []  # offers made once a deal or framework closed the table
    offers = 0
    for e in events:
        t, actor = e.get("type"), str(e.get("actor", ""))
        if t == EventType.PROPOSAL:
            offers += 1
            line(actor)["offer"] = offer(e, seen, labels)
            if e.get("counter_to"):
                line(actor)["rejects"].append(e["counter_to"])
        elif t == EventType.PROPOSAL_REAFFIRMED:
            line(actor)["offer"] = {
                "id": e.get("proposal"),
                "reaffirmed": True,
                "counter_to": None,
                "terms": None,
                "changes": None,
                "against": None,
                "text": None,
            }
        elif t == EventType.RESPONSE:
            answer(e, line(actor), seen, accepted)
        elif t == EventType.MESSAGE:
            line(actor)["said"].append(
                {"kind": e.get("kind"), "to": list(e.get("to", [])), "text": seen.new(actor, e.get("text"))}
            )
        elif t == EventType.CHANNEL:
            line(actor)["channels"].append({"to": e.get("to"), "open": bool(e.get("open"))})
        elif t == EventType.SET_ASIDE and e.get("what") == "proposal":
            if e.get("counter_to"):
                line(actor)["rejects"].append(e["counter_to"])
            set_aside.append({"actor": actor, "counter_to": e.get("counter_to"), "closed": e.get("closed")})
        elif t == EventType.WALKOUT:
            line(actor)["walkout"] = {"reason": e.get("reason")}
        elif t == EventType.INVALID_ACTION:
            line(actor)["invalid"] = e.get("error")
        elif t in (
            EventType.INJECT,
            EventType.VARIANT_SWITCHED,
            EventType.DEAL,
            EventType.FRAMEWORK,
            EventType.FRAMEWORK_REFUSED,
        ):
            news.append(dict(e))
    best = max(accepted.items(), key=lambda kv: (len(kv[1]), kv[0]), default=None)
    summary = {"offers": offers, "best": None if best is None else {"proposal": best[0], "by": best[1]}}
    return {
        "actors": sorted(actors.values(), key=lambda a: list(names).index(a["actor"]) if a["actor"] in names else 99),
        "news": news,
        "set_aside": set_aside,
        "summary": summary,
    }


def answer(e: Mapping[str, Any], entry: dict[str, Any], seen: Seen, accepted: dict[str, list[str]]) -> None:
    """A response on its actor's line: what it accepts (counted toward the round's best-supported
    proposal) or rejects (a rejection with a counter shows as the counter), and one quote a round."""
    actor = str(e.get("actor", ""))
    if e.get("accept"):
        entry["accepts"].append(e.get("proposal"))
        accepted.setdefault(str(e.get("proposal")), []).append(actor)
    elif not e.get("countered"):
        entry["rejects"].append(e.get("proposal"))
    quote = seen.new(actor, e.get("reason"))
    if quote and not entry["quotes"]:  # one quote per actor and round, with the answer it gives
        entry["quotes"].append({"accept": bool(e.get("accept")), "text": quote})


def offer(e: Mapping[str, Any], seen: Seen, labels: Labels) -> dict[str, Any]:
    """A proposal as the transcript shows it: its terms in full the first time its proposer offers
    anything, then what changed against its proposer's last offer (or the one it counters)."""
    package = {str(k): str(v) for k, v in dict(e.get("package") or {}).items()}
    actor = str(e.get("actor"))
    before = seen.packages.get(actor)
    against = "its last offer"
    if before is None and e.get("counter_to") in seen.by_id:
        before = dict(seen.by_id[str(e["counter_to"])].get("package") or {})
        against = str(e["counter_to"])
    seen.packages[actor] = package
    seen.by_id[str(e.get("proposal"))] = e
    terms = [{"line": f"{labels(k)}: {labels(v)}"} for k, v in package.items()]
    if before is None:
        return {
            "id": e.get("proposal"),
            "counter_to": e.get("counter_to"),
            "terms": terms,
            "changes": None,
            "against": None,
            "text": seen.new(actor, e.get("text")),
            "reaffirmed": False,
        }
    changes = [{"line": f"{labels(k)} to {labels(v)}"} for k, v in package.items() if before.get(k) != v]
    return {
        "id": e.get("proposal"),
        "counter_to": e.get("counter_to"),
        "terms": None,
        "changes": changes,
        "against": against,
        "text": seen.new(actor, e.get("text")) if changes else None,
        "reaffirmed": False,
    }


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
    events: list[dict[str, Any]] = [
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
