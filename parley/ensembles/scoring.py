"""Every arm of an ensemble scored by the same yardstick: the actors' base cards.

A variant changes what an actor wants, so its own card is no fair judge of whether the variant did
the actor good: a defiant Ukraine that never gets a deal "gains" by a card that values no deal more.
Ensembles score every run, in every arm, by the base cards of the world's actors; what a variant card
says of the same outcome is kept beside it, labelled as that card's view.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from parley.engine.issue_space import IssueSpace
from parley.world.scenario import Scenario, load_scenario


def base_space(world: Path | str | Scenario) -> IssueSpace:
    """The issue space of the world with every actor's base card (a scenario loaded without variants)."""
    scenario = world if isinstance(world, Scenario) else load_scenario(world)
    return IssueSpace.build(scenario.world, scenario.personas)


def base_utilities(space: IssueSpace, deal: dict[str, str] | None) -> dict[str, float]:
    """Each actor's utility of a run's outcome by its base card: of the deal, or its no-deal value."""
    values = space.no_deal if not deal else space.utilities(space.encode(deal))
    return {a: round(float(x), 6) for a, x in zip(space.actors, values, strict=True)}


def base_no_deal(space: IssueSpace) -> dict[str, float]:
    return {a: round(float(x), 6) for a, x in zip(space.actors, space.no_deal, strict=True)}


def rescored(space: IssueSpace, row: dict[str, Any]) -> dict[str, Any]:
    """A run's row with `utilities` by the base cards and `own_utilities` as the run's own cards scored it."""
    return {**row, "utilities": base_utilities(space, row.get("deal")), "own_utilities": row.get("utilities") or {}}
