"""How a negotiation ended: the deal (or the closest offer), utilities, Pareto and Nash benchmarks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from parley.engine.issue_space import IssueSpace, is_pareto_optimal, nash_package

if TYPE_CHECKING:
    from parley.engine.model import NegotiationModel


@dataclass(frozen=True)
class Outcome:
    status: str  # converged | stalled | breakdown | max_rounds (| budget_exhausted later)
    round: int
    deal: dict[str, str] | None
    proposal: str | None
    utilities: dict[str, float]
    no_deal: dict[str, float]
    closest: dict | None
    pareto_optimal: bool | None
    nash: dict | None
    walked_out: list[str]
    signed: list[str] = field(default_factory=list)  # who signed the deal, or the framework
    refused: list[str] = field(default_factory=list)  # signatories who did not sign what the others signed
    war_continues: bool | None = None  # None: the world names no parties at war
    framework: dict | None = None  # rule ratify: the framework the framework parties signed, and its fate
    detailed: bool = False  # whether who signed is news: not under unanimity in a world that names no war

    def as_event(self) -> dict:
        """The outcome event; who signed, who refused and whether the war goes on are in it where the
        world's protocol makes them more than "every signatory signed the deal"."""
        event = {
            "status": self.status,
            "deal": self.deal,
            "proposal": self.proposal,
            "utilities": self.utilities,
            "no_deal": self.no_deal,
            "closest": self.closest,
            "pareto_optimal": self.pareto_optimal,
            "nash": self.nash,
            "walked_out": self.walked_out,
        }
        if self.detailed:
            event.update(
                signed=self.signed, refused=self.refused, war_continues=self.war_continues, framework=self.framework
            )
        return event


def rounded(space: IssueSpace, u: np.ndarray) -> dict[str, float]:
    return {a: round(float(x), 6) for a, x in zip(space.actors, u, strict=True)}


def nash_benchmark(space: IssueSpace, parties: list[str]) -> dict | None:
    """The Nash-bargaining package among the parties, over their no-deal values, within red lines."""
    key = ("nash", tuple(parties))
    if key not in space.cache:
        space.cache[key] = _nash(space, parties)
    return space.cache[key]


def _nash(space: IssueSpace, parties: list[str]) -> dict:
    idx = [space.index(a) for a in parties]
    found = nash_package(space, idx, space.no_deal[idx])
    if found is None:
        return {"package": None, "utilities": None, "exact": True, "note": "no package beats no deal for every party"}
    package, exact = found
    return {"package": space.decode(package), "utilities": rounded(space, space.utilities(package)), "exact": exact}


def settle(model: NegotiationModel, status: str) -> Outcome:
    """The outcome: the deal and everyone's utility of it; a framework refused by a party at war,
    valued by each actor as its card says (the war goes on); or no deal and the closest offer."""
    space = model.space
    rule = model.rule
    voters = list(rule.voters)
    no_deal = rounded(space, space.no_deal)
    deal = model.deal if status == "converged" else None
    closest = None
    pareto = None
    signed = [a for a in voters if a in model.signed] if deal is not None or model.framework is not None else []
    refused = [a for a in voters if a not in signed] if signed else []
    war = rule.war_continues(signed)
    framework = None
    if model.framework is not None:
        f = model.framework
        framework = {
            "proposal": f.id,
            "round": f.round,
            "package": dict(f.package),
            "signed_by": [a for a in voters if a in model.signed],
            "refused_by": [a for a in model.rule.ratifiers if a not in model.signed],
            "status": "ratified" if deal is not None else "refused" if status == "refused" else "pending",
        }
    if deal is not None:
        package = space.encode(deal.package)
        utilities = rounded(space, space.utilities(package))
        idx = [space.index(a) for a in voters]
        key = ("pareto", tuple(idx), tuple(int(x) for x in package))  # deals recur across the seeds of an ensemble
        if key not in space.cache:
            space.cache[key] = is_pareto_optimal(space, package, idx, space.feasible_mask(idx))
        pareto = space.cache[key]
    elif status == "refused" and model.framework is not None:
        package = space.encode(model.framework.package)
        utilities = rounded(space, space.refused if war else space.utilities(package))
    else:
        utilities = dict(no_deal)
        if status != "refused":
            signed, refused = [], []
            war = rule.war_continues([])
    if deal is None:
        candidates = list(model.table.proposals.values())
        if candidates:

            def support(p) -> tuple:  # noqa: ANN001
                u = space.utilities(space.encode(p.package))
                return (
                    len([a for a in p.accepted_by if a in voters]),
                    p.status == "open",
                    float(min(u[space.index(a)] - space.no_deal[space.index(a)] for a in voters)),
                    -int(p.id[1:]),
                )

            best = max(candidates, key=support)
            closest = {
                "proposal": best.id,
                "proposer": best.proposer,
                "package": best.package,
                "accepted_by": list(best.accepted_by),
                "rejected_by": list(best.rejected_by),
                "utilities": rounded(space, space.utilities(space.encode(best.package))),
            }
    return Outcome(
        status=status,
        round=model.round,
        deal=None if deal is None else dict(deal.package),
        proposal=None if deal is None else deal.id,
        utilities=utilities,
        no_deal=no_deal,
        closest=closest,
        pareto_optimal=pareto,
        nash=nash_benchmark(space, voters),
        walked_out=list(model.walked_out),
        signed=signed,
        refused=refused,
        war_continues=war,
        framework=framework,
        detailed=rule.rule != "unanimity" or bool(rule.belligerents),
    )
