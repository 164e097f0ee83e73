"""Proposals on the table: who proposed what to whom, and who has accepted or rejected it."""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass
class Proposal:
    id: str
    round: int
    proposer: str
    package: dict[str, str]
    recipients: list[str]
    counter_to: str | None = None
    accepted_by: list[str] = field(default_factory=list)
    rejected_by: list[str] = field(default_factory=list)
    status: str = "open"  # open | passed | superseded | dead
    addressed: list[str] = field(default_factory=list)  # whom the proposer sent it to; `recipients`: whom it reached

    def key(self) -> tuple:
        """What changes when the table changes: used to detect a stall."""
        return (self.id, self.status, tuple(self.accepted_by), tuple(self.rejected_by))

    def view(self) -> dict:
        return {
            "id": self.id,
            "round": self.round,
            "proposer": self.proposer,
            "package": dict(self.package),
            "recipients": list(self.recipients),
            "counter_to": self.counter_to,
            "accepted_by": list(self.accepted_by),
            "rejected_by": list(self.rejected_by),
            "status": self.status,
        }


@dataclass
class Table:
    proposals: dict[str, Proposal] = field(default_factory=dict)
    by_proposer: dict[str, list[Proposal]] = field(default_factory=dict)  # each actor's proposals, oldest first
    by_party: dict[str, list[Proposal]] = field(default_factory=dict)  # proposals each actor made or got, oldest first

    def add(self, proposal: Proposal) -> None:
        self.proposals[proposal.id] = proposal
        self.by_proposer.setdefault(proposal.proposer, []).append(proposal)
        self.by_party.setdefault(proposal.proposer, []).append(proposal)

    def reach(self, proposal: Proposal, actor: str) -> None:
        """`actor` has the proposal now (it was delivered, or the framework puts it to them)."""
        proposal.recipients.append(actor)
        if actor != proposal.proposer:  # in the table's order, also when an older proposal reaches them late
            bisect.insort(self.by_party.setdefault(actor, []), proposal, key=lambda p: int(p.id[1:]))

    def of_party(self, actor: str) -> list[Proposal]:
        """The proposals `actor` made or received, in the table's order: from its own list, not the whole
        table's (which grows by an offer per actor per round)."""
        return self.by_party.get(actor, [])

    def open(self) -> list[Proposal]:
        return [p for p in self.proposals.values() if p.status == "open"]

    def open_by(self, proposer: str) -> list[Proposal]:
        """A proposer's open proposals, oldest first: from its own, not the whole table's (which grows
        by an offer per actor per round)."""
        return [p for p in self.by_proposer.get(proposer, []) if p.status == "open"]

    def get(self, proposal_id: str) -> Mapping[str, Any] | None:
        """A proposal as the action rules read it: its fields, read-only, not copied (the rules
        check every answer of every round)."""
        p = self.proposals.get(proposal_id)
        return None if p is None else MappingProxyType(vars(p))

    def next_id(self) -> str:
        return f"P{len(self.proposals) + 1}"

    def signature(self) -> tuple:
        return tuple(p.key() for p in self.open())
