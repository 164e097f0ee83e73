"""The moves an actor can make in a round, as typed, validated actions.

A policy (offline or LLM) returns a `Move`: a list of actions. The engine checks each against the
world and the table before it resolves anything; an invalid action is logged and dropped.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

MessageKind = Literal["statement", "threat", "concession", "flattery"]


class Act(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Propose(Act):
    """A full package (one option per issue) sent to chosen recipients."""

    type: Literal["propose"] = "propose"
    package: dict[str, str]
    to: list[str] = Field(min_length=1)
    text: str = ""


class Respond(Act):
    """Accept or reject a proposal addressed to you, with a reason."""

    type: Literal["respond"] = "respond"
    proposal: str
    accept: bool
    reason: str = ""


class Counter(Act):
    """Reject a proposal and put a package of your own in its place."""

    type: Literal["counter"] = "counter"
    proposal: str
    package: dict[str, str]
    to: list[str] = Field(min_length=1)
    reason: str = ""
    text: str = ""


class Message(Act):
    type: Literal["message"] = "message"
    kind: MessageKind = "statement"
    to: list[str] = Field(min_length=1)
    text: str = Field(min_length=1)


class Channel(Act):
    """Open or close your own channel to another actor."""

    type: Literal["channel"] = "channel"
    to: str
    open: bool
    reason: str = ""


class WalkOut(Act):
    type: Literal["walkout"] = "walkout"
    reason: str = ""


class Pass(Act):
    type: Literal["pass"] = "pass"
    reason: str = ""


Action = Annotated[Propose | Respond | Counter | Message | Channel | WalkOut | Pass, Field(discriminator="type")]


class Move(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    actions: list[Action] = Field(default_factory=list)
