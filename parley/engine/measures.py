"""Per-round measures for Mesa's DataCollector, as plain functions of the model."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from parley.engine.agents import ActorAgent
    from parley.engine.model import NegotiationModel


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


def best_on_table(agent: ActorAgent) -> float | None:
    """The actor's utility of the best proposal open now, whoever it is addressed to (None: the table
    is empty): what it could get if the table closed today, unlike `best_offer_utility`, a record."""
    utilities = agent.model.open_utilities()
    if utilities is None:
        return None
    return round(float(utilities[:, agent.model.space.index(agent.actor)].max()), 6)


def trusted_by_others(agent: ActorAgent) -> float:
    """How far the others trust this actor: the mean trust on the channels pointing at it."""
    others = agent.model.graph.trust_in(agent.actor)
    return round(sum(others) / len(others), 6) if others else 0.0


MODEL_REPORTERS = {"open_proposals": open_proposals, "leading_support": leading_support, "mean_trust": mean_trust}
AGENT_REPORTERS = {"best_offer_utility": best_offer_utility}
# what a board plots besides, round by round (collected only there: ensembles of runs have no use for it)
BOARD_AGENT_REPORTERS = AGENT_REPORTERS | {"best_on_table": best_on_table, "trusted_by_others": trusted_by_others}
