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


def base_utilities(
    space: IssueSpace,
    deal: dict[str, str] | None,
    refused: dict[str, str] | None = None,
    war_continues: bool | None = None,
) -> dict[str, float]:
    """Each actor's utility of a run's outcome by its base card, as the engine's outcome values it: of
    the deal; of a refused framework (`refused`), its `framework_refused` value while the war goes on,
    else the framework's terms; otherwise its no-deal value."""
    if deal:
        values = space.utilities(space.encode(deal))
    elif refused:
        values = space.refused if war_continues else space.utilities(space.encode(refused))
    else:
        values = space.no_deal
    return {a: round(float(x), 6) for a, x in zip(space.actors, values, strict=True)}


def base_no_deal(space: IssueSpace) -> dict[str, float]:
    return {a: round(float(x), 6) for a, x in zip(space.actors, space.no_deal, strict=True)}


def rescored(space: IssueSpace, row: dict[str, Any]) -> dict[str, Any]:
    """A run's row with `utilities` by the base cards and `own_utilities` as the run's own cards scored it."""
    base = base_utilities(space, row.get("deal"), refused_framework(row), row.get("war_continues"))
    return {**row, "utilities": base, "own_utilities": row.get("utilities") or {}}


def refused_framework(row: dict[str, Any]) -> dict[str, str] | None:
    """The package of a framework the run ended on refused (rule ratify), if it did."""
    return row.get("framework") if row.get("status") == "refused" else None
