"""The decision rule: when does a proposal become the deal (or, under `ratify`, the framework)?"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from parley.world.world import World


@dataclass(frozen=True)
class DecisionRule:
    rule: str
    voters: tuple[str, ...]  # the signatories
    quorum: int
    veto: tuple[str, ...]
    min_utility: dict[str, float]
    framework: tuple[str, ...] = ()  # rule ratify: who agrees first
    belligerents: tuple[str, ...] = ()  # a settlement one of them did not sign does not end the war

    @classmethod
    def of(cls, world: World) -> DecisionRule:
        p = world.protocol
        voters = tuple(world.signatories())
        framework = tuple(a for a in voters if a in p.framework)
        if p.rule == "unanimity":
            quorum, veto = len(voters), voters
        elif p.rule == "ratify":
            quorum, veto = len(framework), framework
        else:
            quorum, veto = int(p.quorum or len(voters)), tuple(p.veto)
        return cls(p.rule, voters, quorum, veto, dict(p.min_utility), framework, tuple(p.belligerents))

    @property
    def ratifiers(self) -> tuple[str, ...]:
        """Rule ratify: the signatories a framework is put to."""
        return tuple(v for v in self.voters if v not in self.framework) if self.rule == "ratify" else ()

    @property
    def decisive_ratifiers(self) -> tuple[str, ...]:
        """Rule ratify: the ratifiers without whose signature the framework is refused: those at war,
        or every ratifier when the world names no war."""
        at_war = [r for r in self.ratifiers if r in self.belligerents]
        return tuple(at_war) if self.belligerents else self.ratifiers

    def above_minimum(self, actor: str, utilities: Mapping[str, float]) -> bool:
        return utilities[actor] >= self.min_utility.get(actor, 0.0)

    def counted(
        self, accepted_by: list[str], utilities: Mapping[str, float], present: Collection[str] | None = None
    ) -> list[str]:
        """Acceptances that count: by voters still at the table, and only above their minimum utility."""
        return [
            a
            for a in accepted_by
            if a in self.voters and (present is None or a in present) and self.above_minimum(a, utilities)
        ]

    def protects(self, utilities: Mapping[str, float], bound: Collection[str] | None = None) -> bool:
        """No package passes that leaves an actor named in `min_utility` below its minimum, whether it
        voted for it or not (`bound`: the actors the package binds; every named actor when None)."""
        return all(
            utilities[a] >= floor
            for a, floor in self.min_utility.items()
            if a in utilities and (bound is None or a in bound)
        )

    def passes(
        self, accepted_by: list[str], utilities: Mapping[str, float], present: Collection[str] | None = None
    ) -> bool:
        """Whether a proposal becomes binding: the deal, or under `ratify` the framework (which binds
        the framework parties only, until the others ratify it)."""
        counted = set(self.counted(accepted_by, utilities, present))
        bound = self.framework if self.rule == "ratify" else None
        return len(counted) >= self.quorum and set(self.veto) <= counted and self.protects(utilities, bound)

    def can_still_pass(self, rejected_by: list[str], present: set[str]) -> bool:
        """False once a veto holder rejects, or too few voters are left who have not rejected."""
        if any(v in rejected_by or v not in present for v in self.veto):
            return False
        return len([v for v in self.voters if v in present and v not in rejected_by]) >= self.quorum

    def required(self) -> tuple[str, ...]:
        """Actors without whom no deal can pass (under `ratify`: no framework)."""
        if self.rule == "quorum":
            return self.veto
        return self.framework if self.rule == "ratify" else self.voters

    def broken_down(self, walked_out: Collection[str], present: Collection[str]) -> bool:
        """A party whose signature is needed has left, or too few voters are left for a quorum."""
        if any(a in walked_out for a in self.required()):
            return True
        return self.rule == "quorum" and len(set(self.voters) & set(present)) < self.quorum

    def war_continues(self, signed: Collection[str]) -> bool | None:
        """Whether the war goes on after a settlement signed by `signed` (None: the world names no
        parties at war)."""
        if not self.belligerents:
            return None
        return not set(self.belligerents) <= set(signed)
