"""How the actors of a run are played: a policy per actor (offline, LLM, or a person in a seat), and
what the policies share (the LLM loop and budget), handed to the model through its constructor."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from parley.engine.issue_space import IssueSpace
from parley.engine.model import Budget, Costs, NegotiationModel, Recast, Runner
from parley.engine.policy import AnyPolicy
from parley.players.offline import OfflineStrategy
from parley.players.seat import HumanSeat, MoveSource
from parley.world.persona import Persona
from parley.world.problems import InvalidInput, Problem
from parley.world.scenario import Scenario, load_scenario
from parley.world.templates import Templates

if TYPE_CHECKING:  # the LLM side (and openai) is imported only by runs that use it
    from parley.llm.backend import LLMBackend
    from parley.llm.client import Answerer


@dataclass
class Cast:
    """How the actors are played: the policy of each, and what the policies share (an LLM cast: the
    loop its calls run on, its budget, and what its calls cost)."""

    backend: str
    make: Callable[[str, Scenario, IssueSpace], AnyPolicy]
    runner: Runner | None = None
    budget: Budget | None = None
    costs: Costs | None = None

    def policies(self, scenario: Scenario, space: IssueSpace) -> dict[str, AnyPolicy]:
        return {a: self.make(a, scenario, space) for a in scenario.world.actor_ids()}

    def model_arguments(self, scenario: Scenario, space: IssueSpace) -> dict:
        """What a NegotiationModel takes from the cast: each actor's policy, the runner, budget and
        cost ledger they share, and how to play an actor as another variant mid-run."""
        return {
            "policies": self.policies(scenario, space),
            "runner": self.runner,
            "budget": self.budget,
            "costs": self.costs,
            "recast": recaster(scenario, self),
        }


def offline_cast(templates: Templates, seed: int) -> Cast:
    return Cast("offline", lambda a, sc, sp: OfflineStrategy(a, sc, sp, templates, seed))


def llm_cast(llm: LLMBackend, templates: Templates, seed: int, answers: Answerer | None = None) -> Cast:
    from parley.llm.ledger import costs_of
    from parley.llm.persona import LLMPersona

    def make(actor: str, scenario: Scenario, space: IssueSpace) -> AnyPolicy:
        settings = llm.persona_settings(scenario, seed)[actor]
        return LLMPersona(actor, scenario, space, templates, answers or llm.client, settings)

    return Cast("openai", make, llm.loop.run, llm.budget, costs_of)


def recaster(scenario: Scenario, cast: Cast) -> Recast:
    """Switches an actor to another variant of its card mid-run (an inject, a fork)."""

    def recast(actor: str, variant: str, model: NegotiationModel) -> tuple[Persona, AnyPolicy]:
        overlays = {a: f for a, f in model.setting.overlays.items() if a != actor}
        variants = {a: v for a, v in {**model.setting.variants, actor: variant}.items() if a not in overlays}
        if variant == "base":
            variants.pop(actor)
        persona = load_scenario(scenario.world_path, variants, overlays=overlays).personas[actor]
        personas = {**model.setting.personas, actor: persona}
        changed = replace(model.setting, personas=personas, variants=variants, overlays=overlays)
        return persona, cast.make(actor, changed, IssueSpace.build(changed.world, personas))

    return recast


def offline_policies(scenario: Scenario, space: IssueSpace, templates: Templates, seed: int) -> dict[str, AnyPolicy]:
    return offline_cast(templates, seed).policies(scenario, space)


# -- people in seats --------------------------------------------------------------------
def check_seats(scenario: Scenario, actors: Sequence[str]) -> None:
    """Every seat names an actor of the world, before anything is written."""
    known = scenario.world.actor_ids()
    problems = [
        Problem("--human", actor, f"no such actor in this world (actors: {', '.join(known)})")
        for actor in actors
        if actor not in known
    ]
    if problems:
        raise InvalidInput(problems)


def seat_people(
    cast: Cast, seats: Mapping[str, MoveSource], templates: Templates, seat: type[HumanSeat] = HumanSeat
) -> Cast:
    """The cast with people in `seats` (actor -> where its moves come from) sitting in `seat`s; the
    backend plays the rest. A seat stays a person's when its card is switched mid-run (an inject, a fork)."""
    if not seats:
        return cast
    others = cast.make

    def make(actor: str, scenario: Scenario, space: IssueSpace) -> AnyPolicy:
        if actor in seats:
            return seat(actor, scenario, space, templates, seats[actor])
        return others(actor, scenario, space)

    return replace(cast, make=make)
