"""The one interface every policy (offline strategy, LLM persona, human) sits behind."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from parley.engine.actions import Move
from parley.world.persona import Persona
from parley.world.world import World

if TYPE_CHECKING:
    from typing_extensions import TypeIs  # typing.TypeIs is Python 3.13's


@dataclass(frozen=True)
class Observation:
    """Everything one actor may see at the start of a round; built by the engine from the table."""

    round: int
    max_rounds: int
    actor: str
    persona: Persona
    world: World
    present: list[str]
    required: list[str]
    table: list[dict]  # proposals this actor made or received, with their responses so far
    inbox: list[dict]  # what reached this actor last round: proposals, responses, messages
    channels: list[dict]  # outgoing channels: to, open, trust, trust_back
    influence_on_me: dict[str, float] = field(default_factory=dict)  # of those with a channel to me (others: 0)
    withdrawn: dict[str, list[str]] = field(default_factory=dict)  # options taken off the table, by issue
    ratifiers: list[str] = field(default_factory=list)  # rule ratify: who accepts or refuses the framework
    deadline: int | None = None  # the round by which talks end, when the world sets one (the run's cap is unknown)
    ratification: dict | None = None  # rule ratify: the framework before the ratifiers (proposal, until, signed_by)


class Policy(Protocol):
    """Decides at once (the offline strategy, a script)."""

    def decide(self, observation: Observation) -> Move: ...


class DeliberatingPolicy(Protocol):
    """Decides by waiting on something slow (an LLM); the engine runs all of them concurrently.

    `take_events` hands over what happened while deciding (calls, retries), to be logged in a
    fixed order whatever order the answers came back in.
    """

    async def adecide(self, observation: Observation) -> Move: ...

    def take_events(self) -> list[dict]: ...


type AnyPolicy = Policy | DeliberatingPolicy  # what plays an actor: it decides at once, or deliberates


class RunHalted(Exception):
    """Raised by a policy when the run must end now, cleanly, with `status` (e.g. budget_exhausted)."""

    status = "halted"


def deliberates(policy: object) -> TypeIs[DeliberatingPolicy]:
    return hasattr(policy, "adecide")
