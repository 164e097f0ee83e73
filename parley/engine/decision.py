"""The decision rule: when does a proposal become the deal?"""

from __future__ import annotations

from dataclasses import dataclass

from parley.world.world import World


@dataclass(frozen=True)
class DecisionRule:
    rule: str
    voters: tuple[str, ...]
    quorum: int
    veto: tuple[str, ...]
    min_utility: dict[str, float]

    @classmethod
    def of(cls, world: World) -> DecisionRule:
        p = world.protocol
        voters = tuple(world.signatories())
        quorum = len(voters) if p.rule == "unanimity" else int(p.quorum or len(voters))
        veto = voters if p.rule == "unanimity" else tuple(p.veto)
        return cls(p.rule, voters, quorum, veto, dict(p.min_utility))

    def counted(self, accepted_by: list[str], utilities: dict[str, float]) -> list[str]:
        """Acceptances that count: by voters, and only above their minimum acceptable utility."""
        return [a for a in accepted_by if a in self.voters and utilities[a] >= self.min_utility.get(a, 0.0)]

    def passes(self, accepted_by: list[str], utilities: dict[str, float]) -> bool:
        counted = set(self.counted(accepted_by, utilities))
        return len(counted) >= self.quorum and set(self.veto) <= counted

    def can_still_pass(self, rejected_by: list[str], present: set[str]) -> bool:
        """False once a veto holder rejects, or too few voters are left who have not rejected."""
        if any(v in rejected_by or v not in present for v in self.veto):
            return False
        return len([v for v in self.voters if v in present and v not in rejected_by]) >= self.quorum

    def required(self) -> tuple[str, ...]:
        """Actors without whom no deal can pass."""
        return self.veto if self.rule == "quorum" else self.voters
