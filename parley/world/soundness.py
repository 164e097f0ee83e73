"""Warnings for a world that loads but cannot work as its author meant: `parley validate` lists them.

A world can be valid field by field and still be unable to reach a deal, or hold settings that
never take effect. None of these stop a run (an author may want a world without a deal, or a
channel opened in play), so they are warnings, one line each naming the file and field; `parley
validate --strict` fails on them.
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx

from parley.world.injects import Inject, load_injects
from parley.world.problems import Problem, display_path
from parley.world.scenario import Scenario


def world_warnings(scenario: Scenario, injects: list[Path] | None = None) -> list[Problem]:
    """Every warning for a loaded scenario, and for inject files meant to be played in it (those its
    claims play, and `injects`); an inject file that does not load is an error (InvalidInput)."""
    wname = display_path(scenario.world_path)
    out = [Problem(wname, f, m) for f, m in graph_warnings(scenario)]
    out += [Problem(wname, f, m) for f, m in red_line_warnings(scenario)]
    out += [Problem(wname, f, m) for f, m in protocol_warnings(scenario)]
    out += inject_warnings(scenario, injects or [])
    return out


def _signatory_fields(scenario: Scenario) -> dict[str, str]:
    """Signatory -> the field that makes it one (its place in protocol.signatories, or its actor entry)."""
    world = scenario.world
    if world.protocol.signatories:
        return {s: f"protocol.signatories[{i}]" for i, s in enumerate(world.protocol.signatories)}
    return {a: f"actors[{i}]" for i, a in enumerate(world.actor_ids())}


def graph_warnings(scenario: Scenario) -> list[tuple[str, str]]:
    """A signatory whose proposals reach no path to another signatory over the channels open at the
    start (directly or through others): the engine logs them undeliverable until a channel opens."""
    world = scenario.world
    if not world.edges:  # everyone talks to everyone
        return []
    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from(world.actor_ids())
    graph.add_edges_from((e.source, e.target) for e in world.edges if e.open)
    everything: nx.DiGraph[str] = nx.DiGraph()
    everything.add_nodes_from(world.actor_ids())
    everything.add_edges_from((e.source, e.target) for e in world.edges)
    fields = _signatory_fields(scenario)
    out = []
    for who, field in fields.items():
        reach = nx.descendants(graph, who)
        missing = [s for s in fields if s != who and s not in reach]
        if not missing:
            continue
        closed = [s for s in missing if s in nx.descendants(everything, who)]
        cut_off = [s for s in missing if s not in closed]
        how = "; ".join(
            part
            for part in (
                f"only closed channels lead to {', '.join(closed)}" if closed else "",
                f"no channel at all leads to {', '.join(cut_off)}" if cut_off else "",
            )
            if part
        )
        out.append(
            (
                field,
                f"signatory '{who}' has no open path to {', '.join(missing)} in the relationship graph ({how}): "
                "its proposals cannot reach them unless a channel opens in play",
            )
        )
    return out


def red_line_warnings(scenario: Scenario) -> list[tuple[str, str]]:
    """Under unanimity, an issue on which the signatories' red lines together exclude every option:
    no package can pass (each card alone is checked by validation; this is the cards together)."""
    world = scenario.world
    if world.protocol.rule != "unanimity":
        return []
    out = []
    signatories = [s for s in world.signatories() if s in scenario.personas]
    for idx, issue in enumerate(world.issues):
        excluded: dict[str, list[str]] = {}
        for who in signatories:
            for line in scenario.personas[who].red_lines:
                if line.issue == issue.id:
                    for option in line.excludes:
                        excluded.setdefault(option, []).append(who)
        if set(issue.option_ids()) <= set(excluded):
            by = "; ".join(f"{o} by {', '.join(dict.fromkeys(excluded[o]))}" for o in issue.option_ids())
            out.append(
                (
                    f"issues[{idx}]",
                    f"the signatories' red lines exclude every option of '{issue.id}' ({by}): "
                    "under unanimity no deal can ever pass",
                )
            )
    return out


def protocol_warnings(scenario: Scenario) -> list[tuple[str, str]]:
    """Settings that never take effect, and issues nobody weighs."""
    world = scenario.world
    p = world.protocol
    out = []
    if p.stall_patience > p.max_rounds:
        out.append(
            (
                "protocol.stall_patience",
                f"{p.stall_patience} rounds without progress is more than max_rounds ({p.max_rounds}): "
                "a run never stalls, it runs out of rounds",
            )
        )
    for idx, issue in enumerate(world.issues):
        weights = [
            persona.preferences[issue.id].weight
            for persona in scenario.personas.values()
            if issue.id in persona.preferences
        ]
        if not any(w > 0 for w in weights):
            out.append(
                (
                    f"issues[{idx}]",
                    f"no actor's card weighs '{issue.id}': nobody cares which option it takes",
                )
            )
    return out


def inject_warnings(scenario: Scenario, files: list[Path]) -> list[Problem]:
    """Inject events at a round the world never reaches (beyond protocol.max_rounds), in the world's
    claims (their first event moved to `at_round`) and in the files given."""
    world = scenario.world
    limit = world.protocol.max_rounds
    wname = display_path(scenario.world_path)
    out: list[Problem] = []
    played: list[tuple[Path, int | None, str]] = [(f, None, "") for f in files]
    for i, claim in enumerate(world.claims):
        for side, arm in (("arm", claim.arm), ("against", claim.against)):
            if arm is not None and arm.inject is not None:
                played.append((scenario.world_path.parent / arm.inject, arm.at_round, f"claims[{i}].{side}"))
    for path, first, where in played:
        name = display_path(path)
        injects: list[Inject] = load_injects(path, scenario)  # InvalidInput: an error, not a warning
        shift = 0 if first is None or not injects else first - min(e.round for e in injects)
        for n, event in enumerate(injects):
            at = event.round + shift
            if at > limit:
                moved = f" (moved by {where}.at_round to round {at})" if shift else ""
                beyond = f"round {event.round}{moved} is beyond protocol.max_rounds ({limit}) of {wname}"
                out.append(Problem(name, f"events[{n}].round", f"{beyond}: it never happens"))
    return out


def late_injects(scenario: Scenario, path: Path, max_rounds: int | None = None) -> list[Problem]:
    """Events of an inject file a run with this cap never reaches: `validate` warns of those beyond the
    world's cap, but a run's own cap (`--max-rounds`) or a `deadline` can end it sooner."""
    protocol = scenario.world.protocol
    last = max_rounds or protocol.max_rounds
    last = min(last, protocol.deadline) if protocol.deadline is not None else last
    name = display_path(path)
    return [
        Problem(
            name, f"events[{n}].round", f"round {event.round} is beyond the run's last round ({last}): it never happens"
        )
        for n, event in enumerate(load_injects(path, scenario))
        if event.round > last
    ]
