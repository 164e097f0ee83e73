"""The report of one saved run: `RUN/report.html`, a single page that opens from disk with no server
and no network (plots are base64 PNG, relationship graphs inline SVG).

It shows how the run ended, the deal (or the closest offer) issue by issue against each actor's
ideal and red lines, the relationship graph at chosen rounds, utility and trust over time, and the
transcript with links between proposals and their answers. Everything is worked out from the run's
own files: the manifest, `events.jsonl`, and the world and persona cards the manifest names (with
the run's variants, and any switched mid-run, applied).

The layout is the Jinja2 template `run_report.html.jinja`, from the world's prompts folder or else
Parley's own, rendered with autoescape on: messages come from LLMs and are shown as text only. The
template is not a `.j2` file on purpose: `.j2` templates are part of a run's identity (their hashes
are in every manifest and decide what a compare may reuse), and restyling a report changes no run.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from parley.engine.events import EventType
from parley.engine.graph import RelationshipGraph
from parley.engine.issue_space import IssueSpace
from parley.llm.ledger import costs_of
from parley.reports.compare import Plot, arm_colour, png
from parley.reports.debrief import FILTERS, Debrief, section_context
from parley.reports.text import describe
from parley.runs.replay import load_saved
from parley.runs.saved import SavedRun, persona_names
from parley.runs.transcript import package_changes
from parley.world.escaping import plot_label
from parley.world.problems import InvalidInput, Problem, display_path
from parley.world.scenario import Scenario, load_scenario
from parley.world.templates import Templates
from parley.world.world import World

TEMPLATE = "run_report.html.jinja"
REPORT_FILE = "report.html"

# Events the transcript shows in full; the rest of a round (trust moves, relays, LLM calls) is folded.
FOLDED = {
    EventType.TRUST,
    EventType.MEDIATED,
    EventType.LLM_CALL,
    EventType.ROUND_STARTED,
    EventType.ROUND_ENDED,
    EventType.OUTCOME,
}

TRUST_LOW, TRUST_MID, TRUST_HIGH = "#c62828", "#bdbdbd", "#2e7d32"


def _ids(value: Any) -> list[str]:
    """Actor or proposal ids from a field that holds one or a list (logs may be damaged: anything else is none)."""
    return [str(v) for v in value] if isinstance(value, list) else ([] if value is None else [str(value)])


def _dict(value: Any) -> dict[str, Any]:
    """A mapping field of a log (logs may be damaged: anything else is empty)."""
    return value if isinstance(value, dict) else {}


# -- the run and its world -------------------------------------------------------------------------
def final_variants(run: SavedRun) -> tuple[dict[str, str], set[str]]:
    """The variant each actor was played as when the run ended (a fork or inject may switch one),
    and the actors switched, whose workshop variant files (if any) no longer apply."""
    variants = dict(run.variants)
    switched: set[str] = set()
    for e in run.events:
        if e.get("type") == EventType.VARIANT_SWITCHED and isinstance(e.get("actor"), str):
            actor, variant = e["actor"], str(e.get("variant", "base"))
            switched.add(actor)
            if variant == "base":
                variants.pop(actor, None)
            else:
                variants[actor] = variant
    return variants, switched


def scenario_of(run: SavedRun) -> Scenario:
    """The world and persona cards as the run ended, with its variants (and variant files) applied."""
    assert run.manifest is not None  # a run read with load_saved
    variants, switched = final_variants(run)
    files = {a: f for a, f in run.manifest.variant_files_of(run.folder).items() if a not in switched}
    world = run.manifest.world_file(run.folder)
    return load_scenario(world, {a: v for a, v in variants.items() if a not in files}, overlays=files)


# -- the relationship graph, rebuilt from the events -----------------------------------------------
@dataclass(frozen=True)
class GraphState:
    """The relationship graph after a round (round 0: as the world draws it, before round 1)."""

    round: int
    trust: dict[tuple[str, str], float]
    open: dict[tuple[str, str], bool]  # the channel's own state; a walked-out actor's channels stay as they were
    present: frozenset[str]

    def mean_trust(self) -> float:
        return sum(self.trust.values()) / len(self.trust) if self.trust else 0.0

    def trust_in(self, actor: str) -> float | None:
        """How much the others trust `actor`, on average over the edges toward it."""
        values = [t for (a, b), t in self.trust.items() if b == actor and a != actor]
        return sum(values) / len(values) if values else None


def _snapshot(graph: RelationshipGraph, round_: int) -> GraphState:
    edges = list(graph.g.edges(data=True))
    return GraphState(
        round_,
        {(a, b): float(d["trust"]) for a, b, d in edges},
        {(a, b): bool(d["open"]) for a, b, d in edges},
        frozenset(graph.present),
    )


def graph_states(world: World, events: list[dict[str, Any]], last_round: int) -> list[GraphState]:
    """The graph after every round from 0 to `last_round`, replaying the trust, channel and walkout
    events on the world's graph (the engine changes the graph only through what these events say)."""
    graph = RelationshipGraph(world)
    actors = set(world.actor_ids())
    by_round: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        by_round[e["round"]].append(e)
    states = [_snapshot(graph, 0)]
    for round_ in range(1, last_round + 1):
        for e in by_round.get(round_, []):
            kind, actor = e.get("type"), e.get("actor", "")  # "" is no actor's id, as None is not
            if (
                kind == EventType.TRUST
                and {actor, e.get("toward")} <= actors
                and isinstance(e.get("after"), int | float)
            ):
                graph.adjust_trust(actor, e["toward"], float(e["after"]) - graph.trust(actor, e["toward"]))
            elif kind == EventType.CHANNEL and {actor, e.get("to")} <= actors:
                graph.set_open(actor, e["to"], bool(e.get("open")))
            elif kind == EventType.WALKOUT and actor in actors:
                graph.leave(actor)
        states.append(_snapshot(graph, round_))
    return states


def trust_colour(trust: float) -> str:
    """Red for distrust, grey for none, green for trust: a linear blend, as #rrggbb."""
    t = max(-1.0, min(1.0, trust))
    a, b = (TRUST_MID, TRUST_HIGH) if t >= 0 else (TRUST_MID, TRUST_LOW)
    w = abs(t)
    mixed = [round((1 - w) * int(a[i : i + 2], 16) + w * int(b[i : i + 2], 16)) for i in (1, 3, 5)]
    return "#" + "".join(f"{c:02x}" for c in mixed)


def graph_drawing(
    state: GraphState, actors: list[str], names: dict[str, str], colours: dict[str, str], caption: str
) -> dict[str, Any]:
    """Where the template draws the graph: actors on a fixed circle (the world's order, the first at
    the top), each directed edge a straight arrow set off to its side so both directions show."""
    width, height, radius, node = 540, 400, 130, 18  # room beside the circle for the names
    cx, cy = width / 2, height / 2
    pos = {}
    for i, actor in enumerate(actors):
        angle = math.pi / 2 - 2 * math.pi * i / len(actors)
        pos[actor] = (cx + radius * math.cos(angle), cy - radius * math.sin(angle))
    nodes = []
    for actor in actors:
        x, y = pos[actor]
        dx, dy = x - cx, y - cy
        norm = math.hypot(dx, dy) or 1.0
        lx, ly = x + dx / norm * (node + 16), y + dy / norm * (node + 16)
        nodes.append(
            {
                "id": actor,
                "name": names.get(actor, actor),
                "x": round(x, 1),
                "y": round(y, 1),
                "r": node,
                "label_x": round(lx, 1),
                "label_y": round(ly + 4, 1),
                "anchor": "middle" if abs(dx) < 20 else ("start" if dx > 0 else "end"),
                "colour": colours[actor],
                "present": actor in state.present,
            }
        )
    edges = []
    for (a, b), trust in sorted(state.trust.items(), key=lambda kv: (actors.index(kv[0][0]), actors.index(kv[0][1]))):
        (xa, ya), (xb, yb) = pos[a], pos[b]
        length = math.hypot(xb - xa, yb - ya) or 1.0
        ux, uy = (xb - xa) / length, (yb - ya) / length
        nx_, ny_ = -uy * 4.5, ux * 4.5  # to the side: a->b and b->a run parallel, not on top of each other
        tip = (xb - ux * (node + 2) + nx_, yb - uy * (node + 2) + ny_)
        base = (tip[0] - ux * 10, tip[1] - uy * 10)
        head = [tip, (base[0] - uy * 4.5, base[1] + ux * 4.5), (base[0] + uy * 4.5, base[1] - ux * 4.5)]
        is_open = state.open.get((a, b), False)
        present = a in state.present and b in state.present
        edges.append(
            {
                "source": a,
                "target": b,
                "trust": trust,
                "open": is_open,
                "present": present,
                "colour": trust_colour(trust),
                "x1": round(xa + ux * (node + 3) + nx_, 1),
                "y1": round(ya + uy * (node + 3) + ny_, 1),
                "x2": round(base[0], 1),
                "y2": round(base[1], 1),
                "head": " ".join(f"{x:.1f},{y:.1f}" for x, y in head),
                "title": f"{names.get(a, a)} → {names.get(b, b)}: trust {trust:+.2f}, "
                + ("channel open" if is_open else "no open channel")
                + ("" if present else " (walked out)"),
            }
        )
    matrix = [
        {
            "name": names.get(a, a),
            "cells": [
                None
                if a == b or (a, b) not in state.trust
                else {
                    "trust": state.trust[(a, b)],
                    "open": state.open.get((a, b), False),
                    "colour": trust_colour(state.trust[(a, b)]),
                }
                for b in actors
            ],
        }
        for a in actors
    ]
    return {
        "round": state.round,
        "caption": caption,
        "width": width,
        "height": height,
        "nodes": nodes,
        "edges": edges,
        "matrix": matrix,
        "walked_out": [names.get(a, a) for a in actors if a not in state.present],
    }


def default_rounds(last: int) -> list[int]:
    """The start, a middle round and the end."""
    return sorted({0, (last + 1) // 2, last})


def parse_rounds(text: str) -> list[int]:
    """`--rounds 1,5,10`: round numbers (0 is the start), in any order, repeats ignored."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts or not all(p.isdigit() for p in parts):
        raise InvalidInput(
            [Problem("--rounds", text, "expected round numbers separated by commas, e.g. --rounds 0,5,10")]
        )
    return sorted({int(p) for p in parts})


# -- plots -----------------------------------------------------------------------------------------
def utility_plot(
    events: list[dict[str, Any]], actors: list[str], names: dict[str, str], colours: dict[str, str], no_deal: dict
) -> Plot:
    ended = [e for e in events if e.get("type") == EventType.ROUND_ENDED]
    fig = Figure(figsize=(8, 3.6))
    ax = fig.subplots()
    x = [e["round"] for e in ended]
    for actor in actors:
        best = [(e.get("best_offer_utility") or {}).get(actor) for e in ended]
        y = [float(v) if isinstance(v, int | float) else np.nan for v in best]
        ax.plot(x, y, marker="o", ms=3, lw=1.6, color=colours[actor], label=names.get(actor, actor))
        if isinstance(no_deal.get(actor), int | float):
            ax.axhline(no_deal[actor], color=colours[actor], lw=0.9, ls=":")
    if not ended:
        ax.text(0.5, 0.5, "no round was completed", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("round")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("utility (0..1)")
    if x:
        ax.set_xlim(min(x) - 0.5, max(x) + 0.5)
    ax.legend(ncol=min(len(actors), 5), loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False, fontsize=9)
    return Plot(
        "utility",
        "Utility over time",
        "Each actor's utility of the best offer it has received so far, at the end of every round; the dotted "
        "line of its colour is its no-deal value. A gap: no offer has reached it yet.",
        png(fig),
    )


def trust_plot(states: list[GraphState], actors: list[str], names: dict[str, str], colours: dict[str, str]) -> Plot:
    fig = Figure(figsize=(8, 3.6))
    ax = fig.subplots()
    x = [s.round for s in states]
    for actor in actors:
        y = [s.trust_in(actor) for s in states]
        ax.plot(
            x,
            [np.nan if v is None else v for v in y],
            marker="o",
            ms=3,
            lw=1.6,
            color=colours[actor],
            label=names.get(actor, actor),
        )
    ax.plot(x, [s.mean_trust() for s in states], color="black", lw=1.2, ls="--", label="every edge")
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel("round (0: before round 1)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("trust (-1..1)")
    ax.legend(ncol=min(len(actors) + 1, 6), loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False, fontsize=9)
    return Plot(
        "trust",
        "Trust over time",
        "How much the others trust each actor (the mean over the edges toward it) after every round; "
        "dashed: the mean over every edge of the graph.",
        png(fig),
    )


# -- the deal against ideals and red lines ---------------------------------------------------------
def ideal_options(scenario: Scenario, actor: str, issue: str) -> list[str]:
    """The options an actor values most on an issue, within its red lines; none if it does not care."""
    persona = scenario.personas[actor]
    pref = persona.preferences.get(issue)
    if pref is None or pref.weight <= 0:
        return []
    excluded = red_line_options(scenario, actor, issue)
    options = [o.id for i in scenario.world.issues if i.id == issue for o in i.options if o.id not in excluded]
    best = max((pref.values.get(o, 0.0) for o in options), default=None)
    return [o for o in options if pref.values.get(o, 0.0) == best]


def red_line_options(scenario: Scenario, actor: str, issue: str) -> list[str]:
    return [o for line in scenario.personas[actor].red_lines if line.issue == issue for o in line.excludes]


def utilities_of(space: IssueSpace, package: dict[str, Any]) -> dict[str, float] | None:
    """Each actor's utility of a package, or None when it names an issue or option the world lacks."""
    try:
        u = space.utilities(space.encode({i: str(package[i]) for i in space.issues}))
    except (KeyError, TypeError):
        return None
    return {a: round(float(x), 6) for a, x in zip(space.actors, u, strict=True)}


def best_supported(run: SavedRun, voters: tuple[str, ...]) -> dict[str, Any] | None:
    """An unfinished run's best offer so far: the proposal most voters have accepted (the latest on a tie)."""
    proposals = {
        e["proposal"]: e
        for e in run.events
        if e.get("type") == EventType.PROPOSAL and isinstance(e.get("package"), dict)
    }
    if not proposals:
        return None
    accepted: dict[str, set[str]] = {p: {str(e.get("actor"))} for p, e in proposals.items()}
    rejected: dict[str, list[str]] = defaultdict(list)
    for e in run.events:
        if e.get("type") == EventType.RESPONSE and e.get("proposal") in proposals:
            (accepted[e["proposal"]].add if e.get("accept") else rejected[e["proposal"]].append)(str(e.get("actor")))
    order = list(proposals)
    pid = max(order, key=lambda p: (len(accepted[p] & set(voters)), order.index(p)))
    e = proposals[pid]
    return {
        "proposal": pid,
        "proposer": e.get("actor"),
        "package": e["package"],
        "accepted_by": sorted(accepted[pid], key=lambda a: (a not in voters, a)),
        "rejected_by": rejected[pid],
    }


def deal_section(run: SavedRun, scenario: Scenario, space: IssueSpace, names: dict[str, str]) -> dict[str, Any]:
    """The package the run ended on (deal, else closest offer, else the best so far of an unfinished
    run) issue by issue against each actor's ideal and red lines, and each actor's utility of it."""
    world = scenario.world
    actors = world.actor_ids()
    outcome = run.outcome or {}
    voters = tuple(world.signatories())
    closest = outcome.get("closest") if isinstance(outcome.get("closest"), dict) else None
    passed = next(
        (e for e in reversed(run.events) if e.get("type") == EventType.DEAL and isinstance(e.get("package"), dict)),
        None,
    )
    if isinstance(outcome.get("deal"), dict):
        kind, package, pid = "deal", outcome["deal"], outcome.get("proposal")
        about: dict[str, Any] = {}
    elif run.outcome is None and passed is not None:  # killed after the deal passed, before its outcome line
        kind, package, pid, about = "deal", passed["package"], passed.get("proposal"), {}
    elif closest is not None and isinstance(closest.get("package"), dict):
        kind, package, pid, about = "closest", closest["package"], closest.get("proposal"), closest
    elif run.outcome is None and (so_far := best_supported(run, voters)) is not None:
        kind, package, pid, about = "so_far", so_far["package"], so_far["proposal"], so_far
    else:
        kind, package, pid, about = "none", {}, None, {}
    recorded = outcome.get("utilities") if kind == "deal" and run.outcome is not None else about.get("utilities")
    utilities = recorded if isinstance(recorded, dict) else (utilities_of(space, package) if package else None)
    recorded_no_deal = _dict(outcome.get("no_deal"))
    no_deal = {a: recorded_no_deal.get(a, scenario.personas[a].no_deal.value) for a in actors}
    nash = _dict(outcome.get("nash"))
    nash_package = _dict(nash.get("package"))
    nash_utilities = _dict(nash.get("utilities"))
    withdrawn = {
        (str(w.get("issue")), str(w.get("option")))
        for e in run.events
        if e.get("type") == EventType.INJECT and isinstance(e.get("effects"), dict)
        for w in (e["effects"].get("withdraw") or [])
        if isinstance(w, dict)
    }
    last_best = next(
        (e.get("best_offer_utility") for e in reversed(run.events) if e.get("type") == EventType.ROUND_ENDED), None
    )
    last_best = _dict(last_best)
    rows: list[dict[str, Any]] = []
    for issue in world.issues:
        meanings = {o.id: o.meaning for o in issue.options}
        agreed = package.get(issue.id)
        cells: list[dict[str, Any]] = []
        for actor in actors:
            pref = scenario.personas[actor].preferences.get(issue.id)
            total = sum(p.weight for p in scenario.personas[actor].preferences.values()) or 1.0
            excluded = red_line_options(scenario, actor, issue.id)
            ideal = ideal_options(scenario, actor, issue.id)
            cells.append(
                {
                    "actor": actor,
                    "ideal": [{"id": o, "meaning": meanings.get(o, o)} for o in ideal],
                    "weight": 0.0 if pref is None else pref.weight / total,
                    "value": None if pref is None or agreed is None else pref.values.get(str(agreed), 0.0),
                    "red_line": [{"id": o, "meaning": meanings.get(o, o)} for o in excluded],
                    "crosses": agreed in excluded,
                    "at_ideal": agreed is not None and agreed in ideal,
                }
            )
        nash_option = nash_package.get(issue.id)
        rows.append(
            {
                "issue": issue.id,
                "title": issue.title,
                "agreed": None if agreed is None else {"id": str(agreed), "meaning": meanings.get(agreed, "")},
                "nash": None
                if nash_option is None
                else {"id": str(nash_option), "meaning": meanings.get(nash_option, "")},
                "withdrawn": [o.id for o in issue.options if (issue.id, o.id) in withdrawn],
                "cells": cells,
            }
        )
    min_utility = dict(world.protocol.min_utility)
    actor_rows: list[dict[str, Any]] = []
    for actor in actors:
        u = (utilities or {}).get(actor)
        actor_rows.append(
            {
                "actor": actor,
                "name": names.get(actor, actor),
                "signatory": actor in voters,
                "utility": u if isinstance(u, int | float) else None,
                "no_deal": no_deal[actor],
                "margin": u - no_deal[actor] if isinstance(u, int | float) else None,
                "min_utility": min_utility.get(actor),
                "nash": nash_utilities.get(actor),
                "best_offer": last_best.get(actor),
                "crosses": [r["title"] for r in rows for c in r["cells"] if c["actor"] == actor and c["crosses"]],
                "walked_out": actor in (outcome.get("walked_out") or [])
                or any(e.get("type") == EventType.WALKOUT and e.get("actor") == actor for e in run.events),
            }
        )
    return {
        "kind": kind,
        "proposal": pid,
        "proposer": None
        if about.get("proposer") is None
        else names.get(str(about["proposer"]), str(about["proposer"])),
        "accepted_by": [names.get(str(a), str(a)) for a in _ids(about.get("accepted_by"))],
        "rejected_by": [names.get(str(a), str(a)) for a in _ids(about.get("rejected_by"))],
        "rows": rows,
        "actors": actor_rows,
        "has_min_utility": bool(min_utility),
        "nash_note": nash.get("note"),
        "nash_exact": nash.get("exact"),
        "pareto_optimal": outcome.get("pareto_optimal"),
    }


# -- the transcript --------------------------------------------------------------------------------
def transcript(run: SavedRun, world: World, space: IssueSpace, names: dict[str, str]) -> list[dict[str, Any]]:
    """The events round by round, as the template shows them.

    A proposal carries its terms (what changed from its proposer's previous one), what it is worth
    to each actor, and every answer to it; an answer carries the proposal it answers. Links point
    only at proposals the log holds, so a page built from a damaged log has no dangling link.
    """
    titles = {i.id: i.title for i in world.issues}
    meanings = {i.id: {o.id: o.meaning for o in i.options} for i in world.issues}
    proposals = {str(e["proposal"]) for e in run.events if e.get("type") == EventType.PROPOSAL and "proposal" in e}
    changes = package_changes(run.events)
    answers: dict[str, list[dict[str, Any]]] = defaultdict(list)
    counter_of = counters(run.events)

    def name(actor: Any) -> str:
        return names.get(str(actor), str(actor))

    items_by_round: dict[int, list[dict[str, Any]]] = defaultdict(list)
    folded: dict[int, list[str]] = defaultdict(list)
    for e in run.events:
        kind = e.get("type")
        seq = e.get("seq")
        item: dict[str, Any] = {
            "type": kind,
            "seq": seq,
            "anchor": f"event-{seq}",
            "actor": str(e.get("actor", "")),
            "who": name(e.get("actor")),
            "to": [name(a) for a in _ids(e.get("to"))],
            "text": "" if e.get("text") is None else str(e.get("text")),
            "reason": "" if e.get("reason") is None else str(e.get("reason")),
            "line": describe(e, names),
        }
        pid = None if e.get("proposal") is None else str(e.get("proposal"))
        item["proposal"] = pid
        item["proposal_link"] = pid if pid in proposals else None
        if kind == EventType.PROPOSAL and pid is not None:
            item["anchor"] = f"proposal-{pid}"
            counter_to = None if e.get("counter_to") is None else str(e["counter_to"])
            item["counter_to"] = counter_to
            item["counter_link"] = counter_to if counter_to in proposals else None
            package = _dict(e.get("package"))
            moved = changes.get(seq) if isinstance(seq, int) else None
            shown = moved if moved is not None else {k: (None, str(v)) for k, v in package.items()}
            item["first"] = moved is None
            item["terms"] = [
                {
                    "issue": k,
                    "title": titles.get(k, k),
                    "old": old,
                    "option": new,
                    "meaning": meanings.get(k, {}).get(new, ""),
                }
                for k, (old, new) in shown.items()
            ]
            worth = utilities_of(space, package)
            item["utilities"] = [{"name": name(a), "utility": u} for a, u in (worth or {}).items()]
            item["answers"] = answers[pid]
            if counter_to is not None and item["counter_link"]:
                answers[counter_to].append(
                    {"kind": "counter", "who": item["who"], "proposal": pid, "anchor": item["anchor"]}
                )
        elif kind == EventType.RESPONSE and pid is not None:
            item["accept"] = bool(e.get("accept"))
            counter = counter_of.get((e["round"], item["actor"], pid)) if e.get("countered") else None
            item["counter"] = counter if counter in proposals else None
            if item["proposal_link"]:
                answers[pid].append(
                    {"kind": "accept" if item["accept"] else "reject", "who": item["who"], "anchor": item["anchor"]}
                )
        elif (
            kind in (EventType.PROPOSAL_REAFFIRMED, EventType.PROPOSAL_DEAD, EventType.DEAL)
            and pid is not None
            and item["proposal_link"]
        ):
            what = {"proposal_reaffirmed": "reaffirmed", "proposal_dead": "dead", "deal": "deal"}[kind]
            answers[pid].append({"kind": what, "who": item["who"], "anchor": item["anchor"]})
        elif kind == EventType.MESSAGE:
            item["kind"] = str(e.get("kind", "message"))
        elif kind == EventType.CHANNEL:
            item["open"] = bool(e.get("open"))
        elif kind == EventType.ERROR:
            item["text"] = str(e.get("message", ""))
        if kind in FOLDED:
            if kind not in (EventType.ROUND_STARTED, EventType.ROUND_ENDED, EventType.OUTCOME):
                folded[e["round"]].append(item["line"])
            continue
        items_by_round[e["round"]].append(item)
    return rounds_of(run.events, items_by_round, folded)


def counters(events: list[dict[str, Any]]) -> dict[tuple[int, str, str], str]:
    """(round, actor, countered proposal) -> the counter's id."""
    return {
        (e["round"], str(e.get("actor")), str(e["counter_to"])): str(e.get("proposal"))
        for e in events
        if e.get("type") == EventType.PROPOSAL and e.get("counter_to")
    }


def rounds_of(
    events: list[dict[str, Any]], items_by_round: dict[int, list[dict[str, Any]]], folded: dict[int, list[str]]
) -> list[dict[str, Any]]:
    """The transcript's rounds: each with its events, the lines folded away, and how it ended."""
    ended = {e["round"]: e for e in events if e.get("type") == EventType.ROUND_ENDED}
    rounds = []
    for number in sorted(set(items_by_round) | set(folded)):
        end = ended.get(number, {})
        rounds.append(
            {
                "number": number,
                "events": items_by_round.get(number, []),
                "folded": folded.get(number, []),
                "complete": number in ended,
                "mean_trust": end.get("mean_trust"),
                "open_proposals": end.get("open_proposals"),
            }
        )
    return rounds


# -- the page --------------------------------------------------------------------------------------
def outcome_summary(run: SavedRun, names: dict[str, str]) -> dict[str, Any]:
    """How the run ended, its setting, and what its LLM calls cost."""
    manifest = run.manifest
    assert manifest is not None  # a run read with load_saved
    outcome = run.outcome or {}
    try:
        costs = costs_of([e for e in run.events if e.get("type") == EventType.LLM_CALL])
    except (KeyError, TypeError, ValueError):  # a damaged call record: the totals above still stand
        costs = {}
    walked = _ids(outcome.get("walked_out")) or [
        str(e.get("actor")) for e in run.events if e.get("type") == EventType.WALKOUT
    ]
    injects = manifest.injects
    return {
        "run_id": run.run_id,
        "status": run.status,
        "finished": run.finished,
        "round": run.rounds,
        "max_rounds": manifest.max_rounds,
        "walked_out": [names.get(a, a) for a in walked],
        "error": run.error,
        "halted": next((str(e.get("reason")) for e in run.events if e.get("type") == EventType.HALTED), None),
        "world_id": manifest.world.id,
        "world_path": manifest.world.path,
        "seed": manifest.seed,
        "created_at": manifest.created_at,
        "variants": [{"actor": names.get(a, a), "variant": v} for a, v in run.variants.items()],
        "switched": [
            {
                "round": e["round"],
                "actor": names.get(str(e.get("actor")), str(e.get("actor"))),
                "variant": str(e.get("variant")),
            }
            for e in run.events
            if e.get("type") == EventType.VARIANT_SWITCHED
        ],
        "backend": run.backend,
        "models": sorted(set(run.models.values())),
        "tokens": run.tokens,
        "cost_usd": run.cost_usd,
        "cost_by_actor": [
            {"name": names.get(a, a), **c} for a, c in (costs.get("actors") or {}).items() if isinstance(c, dict)
        ],
        "parent": run.parent,
        "injects": None
        if injects is None
        else injects.path or ("from the parent run or the fork" if injects.events else None),
        "variant_files": sorted(manifest.variant_files),
    }


def report_context(run: SavedRun, scenario: Scenario, rounds: list[int] | None) -> dict[str, Any]:
    """Everything the template shows, as plain data."""
    world = scenario.world
    actors = world.actor_ids()
    names = persona_names(run)
    labels = {a: plot_label(n) for a, n in names.items()}  # names on the plots: a card's name is data there too
    colours = {a: arm_colour(i) for i, a in enumerate(actors)}  # the compare report's palette
    space = IssueSpace.build(world, scenario.personas)
    last = run.rounds
    chosen = default_rounds(last) if rounds is None else sorted(set(rounds))
    outside = [r for r in chosen if not 0 <= r <= last]
    if outside:
        played = f"rounds 1-{last}" if last else "no rounds"
        raise InvalidInput(
            [
                Problem(
                    "--rounds",
                    ",".join(map(str, outside)),
                    f"out of range: run {run.run_id} has {played} (0 is the start)",
                )
            ]
        )
    states = graph_states(world, run.events, last)
    complete = {e["round"] for e in run.events if e.get("type") == EventType.ROUND_ENDED}

    def caption(r: int) -> str:
        if r == 0:
            return "At the start (as the world draws it)"
        return f"After round {r}" + ("" if r in complete or run.finished else " (cut short: the run stopped in it)")

    deal = deal_section(run, scenario, space, names)
    no_deal = {a["actor"]: a["no_deal"] for a in deal["actors"]}
    notes = []
    if not run.finished:
        notes.append(
            "This run is unfinished: it has no outcome line"
            + (f" (it stopped with an error: {run.error})" if run.error else " (killed, or still running)")
            + ". The report shows what its log holds."
        )
    notes += [str(s) for s in run.skipped]
    changed = run.manifest.changed_since(scenario) if run.manifest is not None else []
    if changed:
        notes.append(
            "Changed since the run: "
            + ", ".join(changed)
            + ". Ideals and red lines are read from them as they are now."
        )
    return {
        "world": world,
        "run": outcome_summary(run, names),
        "names": names,
        "actors": [{"id": a, "name": names.get(a, a), "colour": colours[a]} for a in actors],
        "notes": notes,
        "deal": deal,
        "graphs": [graph_drawing(states[r], actors, names, colours, caption(r)) for r in chosen],
        "legend": {"low": TRUST_LOW, "mid": TRUST_MID, "high": TRUST_HIGH},
        "plots": [
            utility_plot(run.events, actors, labels, colours, no_deal),
            trust_plot(states, actors, labels, colours),
        ],
        "rounds": transcript(run, world, space, names),
    }


def render_report(
    run: SavedRun, scenario: Scenario, rounds: list[int] | None = None, debrief: Debrief | None = None
) -> str:
    """The page; `debrief`: the run beside the personas' ensemble, as a section of its own."""
    templates = Templates(scenario.prompts_dir, medium="html")
    templates.env.filters.update(FILTERS)
    context = report_context(run, scenario, rounds)
    if debrief is not None:
        context["debrief"] = section_context(debrief)
    return templates.render_run_page(TEMPLATE, len(run.events), **context) + "\n"


def write_run_report(folder: Path | str, rounds: list[int] | None = None, debrief: Debrief | None = None) -> Path:
    """Write `folder/report.html` for a saved run and return its path.

    `rounds`: the rounds to draw the relationship graph at (0 is the start); by default the start,
    a middle round and the end. `debrief`: the run beside its setting's ensemble
    (`parley.reports.debrief`), shown as a section. An unsound run folder, a broken line of its log,
    a round it never reached or a world that cannot be loaded is InvalidInput, one line per problem.
    """
    run = load_saved(folder)
    scenario = scenario_of(run)
    html = render_report(run, scenario, rounds, debrief)
    path = run.folder / REPORT_FILE
    try:
        path.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(
            [Problem(display_path(path), "", f"cannot write the report ({exc.strerror or exc})")]
        ) from None
    return path
