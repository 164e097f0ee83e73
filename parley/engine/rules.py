"""What makes an action legal: the one set of checks the engine applies and LLM answers are held to."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from parley.engine.actions import Act, Channel, Counter, Message, Move, Pass, Propose, Respond
from parley.world.persona import Core, Persona
from parley.world.world import World


class Proposals(Protocol):
    """Looks up a proposal's view by id (a dict of views, or the table itself)."""

    def get(self, proposal_id: str, /) -> Mapping | None: ...


def package_problem(
    world: World, package: Mapping[str, str], withdrawn: Mapping[str, list[str]] | None = None
) -> str | None:
    withdrawn = withdrawn or {}
    for issue in world.issues:
        if issue.id not in package:
            return f"the package has no option for issue '{issue.id}'"
        if package[issue.id] not in issue.option_ids():
            return f"issue '{issue.id}' has no option '{package[issue.id]}' (options: {', '.join(issue.option_ids())})"
        if package[issue.id] in withdrawn.get(issue.id, []):
            return f"option '{package[issue.id]}' of issue '{issue.id}' has been withdrawn from the table"
    known = {i.id for i in world.issues}
    extra = [k for k in package if k not in known]
    return f"unknown issue '{extra[0]}'" if extra else None


def action_problem(
    world: World,
    actor: str,
    action: Act,
    proposals: Proposals,
    withdrawn: Mapping[str, list[str]] | None = None,
    red_lines: Mapping[str, list[str]] | None = None,
    core: Core | None = None,
) -> str | None:
    """Why `actor` may not take `action` given the proposals it can see (id -> proposal view), or None."""
    if isinstance(action, (Propose, Counter)):
        problem = package_problem(world, action.package, withdrawn) or crossing(action.package, red_lines, core)
        if problem:
            return problem
    if isinstance(action, (Propose, Counter, Message)):
        targets = list(action.to)
    elif isinstance(action, Channel):
        targets = [action.to]
    else:
        targets = []
    actors = world.actor_ids()
    for t in targets:
        if t not in actors:
            return f"unknown actor '{t}' (actors: {', '.join(a for a in actors if a != actor)})"
        if t == actor:
            return "an actor cannot address itself"
    if isinstance(action, (Respond, Counter)):
        p = proposals.get(action.proposal)
        if p is None:
            return f"no proposal '{action.proposal}'"
        if actor not in p["recipients"]:
            return f"proposal '{p['id']}' was not addressed to {actor}"
        if p["status"] != "open":
            return f"proposal '{p['id']}' is {p['status']}"
        if actor in p["accepted_by"] or actor in p["rejected_by"]:
            return f"{actor} has already answered proposal '{p['id']}'"
        if isinstance(action, Respond) and action.accept:
            return crossing(p["package"], red_lines, core)
    return None


def crossing(
    package: Mapping[str, str], red_lines: Mapping[str, list[str]] | None, core: Core | None = None
) -> str | None:
    """A red line the package crosses, or a core it misses: an actor never proposes or accepts either."""
    for issue, excluded in (red_lines or {}).items():
        if package.get(issue) in excluded:
            return f"the package crosses your red line on '{issue}' ({package[issue]})"
    return core_problem(package, core)


def core_problem(package: Mapping[str, str], core: Core | None) -> str | None:
    """Why a package misses a core: too few of its aims hold (no gain elsewhere makes up for them)."""
    if core is None:
        return None
    missed = [aim.issue for aim in core.of if package.get(aim.issue) not in aim.options]
    met = len(core.of) - len(missed)
    if met >= core.at_least:
        return None
    return f"the package meets {met} of your core aims, you need at least {core.at_least} (missed: {', '.join(missed)})"


def red_lines_of(persona: Persona) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in persona.red_lines:
        out.setdefault(line.issue, []).extend(line.excludes)
    return out


def move_problems(
    world: World,
    actor: str,
    move: Move,
    proposals: Proposals,
    withdrawn: Mapping[str, list[str]] | None = None,
    red_lines: Mapping[str, list[str]] | None = None,
    core: Core | None = None,
) -> list[tuple[int, str]]:
    """(index, problem) for every illegal action in a move, including too many proposals."""
    out = []
    proposed = 0
    limit = world.protocol.max_proposals_per_round
    for idx, action in enumerate(move.actions):
        if isinstance(action, Pass):
            continue
        problem = action_problem(world, actor, action, proposals, withdrawn, red_lines, core)
        if problem is None and isinstance(action, (Propose, Counter)):
            proposed += 1
            if proposed > limit:
                problem = f"at most {limit} proposal(s) per round"
        if problem:
            out.append((idx, problem))
    return out
