"""How a negotiation ended: the deal (or the closest offer), utilities, Pareto and Nash benchmarks."""

from __future__ import annotations

from dataclasses import dataclass
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

    def as_event(self) -> dict:
        return {
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
    space = model.space
    voters = list(model.rule.voters)
    no_deal = rounded(space, space.no_deal)
    deal = model.deal if status == "converged" else None
    closest = None
    pareto = None
    if deal is not None:
        package = space.encode(deal.package)
        utilities = rounded(space, space.utilities(package))
        idx = [space.index(a) for a in voters]
        key = ("pareto", tuple(idx), tuple(int(x) for x in package))  # deals recur across the seeds of an ensemble
        if key not in space.cache:
            space.cache[key] = is_pareto_optimal(space, package, idx, space.feasible_mask(idx))
        pareto = space.cache[key]
    else:
        utilities = dict(no_deal)
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
    )
