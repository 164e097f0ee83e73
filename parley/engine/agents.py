"""One Mesa agent per actor: it observes the table and decides; the model resolves all moves at once."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

from parley.engine.actions import Move
from parley.engine.policy import AnyPolicy, Observation, deliberates
from parley.world.persona import Persona

if TYPE_CHECKING:
    from parley.engine.model import NegotiationModel


NO_MOVE = Move()  # moves are frozen: one empty move serves every actor that has not decided


class ActorAgent(mesa.Agent):
    model: NegotiationModel

    def __init__(self, model: NegotiationModel, actor: str, persona: Persona, policy: AnyPolicy) -> None:
        super().__init__(model)
        self.actor = actor
        self.persona = persona
        self.policy = policy
        self.move: Move = NO_MOVE
        self.observation: Observation | None = None
        self.inbox: list[dict] = []
        self.best_offer_utility: float | None = None

    @property
    def present(self) -> bool:
        return self.actor in self.model.graph.present

    def step(self) -> None:
        """Observe the table and, when the policy answers at once, decide.

        Nothing changes on the table until every actor has decided; policies that must wait for
        an answer (an LLM) decide in `deliberate`, all of them together.
        """
        self.observation = self.observe() if self.present else None
        self.move = NO_MOVE
        if self.observation is not None and not deliberates(self.policy):
            self.move = self.policy.decide(self.observation)

    async def deliberate(self) -> None:
        if self.observation is not None and deliberates(self.policy):
            self.move = await self.policy.adecide(self.observation)

    def notes(self) -> list[dict]:
        """What the policy recorded while deciding (its LLM calls), to log after the decisions."""
        take = getattr(self.policy, "take_events", None)
        return take() if take is not None else []

    def observe(self) -> Observation:
        return self.model.observation_for(self.actor)

    def receive(self, item: dict) -> None:
        self.inbox.append(item)

    def note_offer(self, utility: float) -> None:
        if self.best_offer_utility is None or utility > self.best_offer_utility:
            self.best_offer_utility = utility
