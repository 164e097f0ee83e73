"""One Mesa agent per actor: it observes the table and decides; the model resolves all moves at once."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

from parley.actions import Move
from parley.persona import Persona
from parley.policy import Observation, Policy

if TYPE_CHECKING:
    from parley.model import NegotiationModel


class ActorAgent(mesa.Agent):
    model: NegotiationModel

    def __init__(self, model: NegotiationModel, actor: str, persona: Persona, policy: Policy) -> None:
        super().__init__(model)
        self.actor = actor
        self.persona = persona
        self.policy = policy
        self.move: Move = Move()
        self.inbox: list[dict] = []
        self.best_offer_utility: float | None = None

    @property
    def present(self) -> bool:
        return self.actor in self.model.graph.present

    def step(self) -> None:
        """Observe and decide; nothing changes on the table until every actor has decided."""
        self.move = self.policy.decide(self.observe()) if self.present else Move()

    def observe(self) -> Observation:
        return self.model.observation_for(self.actor)

    def receive(self, item: dict) -> None:
        self.inbox.append(item)

    def note_offer(self, utility: float) -> None:
        if self.best_offer_utility is None or utility > self.best_offer_utility:
            self.best_offer_utility = utility
