"""Per-round measures for Mesa's DataCollector, as plain functions of the model."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from parley.model import NegotiationModel


def open_proposals(model: NegotiationModel) -> int:
    return len(model.table.open())


def leading_support(model: NegotiationModel) -> float:
    """Share of voters who have accepted the best-supported open proposal."""
    voters = model.rule.voters
    best = max((len([a for a in p.accepted_by if a in voters]) for p in model.table.open()), default=0)
    return best / len(voters)


def mean_trust(model: NegotiationModel) -> float:
    return round(model.graph.mean_trust(), 6)


def best_offer_utility(agent) -> float | None:  # noqa: ANN001 - a Mesa agent reporter
    return agent.best_offer_utility


MODEL_REPORTERS = {"open_proposals": open_proposals, "leading_support": leading_support, "mean_trust": mean_trust}
AGENT_REPORTERS = {"best_offer_utility": best_offer_utility}
