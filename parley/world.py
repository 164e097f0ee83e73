"""The schema of a world file: issues and their options, actors, the relationship graph, the protocol.

A world names its actors and issues; the engine never does. Cross-references (an edge to an unknown
actor, a signatory that is not an actor) are checked here so that every problem is reported with
its field.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ID_PATTERN = r"^[a-z][a-z0-9_-]*$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Option(Strict):
    id: str = Field(pattern=ID_PATTERN)
    meaning: str = Field(min_length=1)


class Issue(Strict):
    id: str = Field(pattern=ID_PATTERN)
    title: str = Field(min_length=1)
    meaning: str = ""
    options: list[Option] = Field(min_length=2)
    cite: list[int] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_options(self) -> Issue:
        seen: set[str] = set()
        for opt in self.options:
            if opt.id in seen:
                raise ValueError(f"option '{opt.id}' appears twice")
            seen.add(opt.id)
        return self

    def option_ids(self) -> list[str]:
        return [o.id for o in self.options]


class ActorRef(Strict):
    id: str = Field(pattern=ID_PATTERN)
    persona: str = Field(min_length=1, description="persona card path, relative to the world file")


class Edge(Strict):
    """A directed channel: `source` can speak to `target` while it is open."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    source: str = Field(alias="from")
    target: str = Field(alias="to")
    trust: float = Field(ge=-1.0, le=1.0)
    influence: float = Field(default=0.5, ge=0.0, le=1.0)
    open: bool = True
    why: str = ""
    cite: list[int] = Field(default_factory=list)


class TrustRules(Strict):
    """How much trust moves, on the edge from the actor who feels it to the one who caused it."""

    proposal_accepted: float = 0.08
    proposal_rejected: float = -0.04
    threat: float = -0.15
    flattery: float = 0.12  # scaled by the listener's flattery susceptibility
    concession_signal: float = 0.05
    walkout: float = -0.3
    channel_closed: float = -0.1


class Protocol(Strict):
    signatories: list[str] = Field(default_factory=list, description="empty means every actor")
    rule: Literal["unanimity", "quorum"] = "unanimity"
    quorum: int | None = Field(default=None, ge=1)
    veto: list[str] = Field(default_factory=list)
    min_utility: dict[str, float] = Field(default_factory=dict)
    max_rounds: int = Field(default=20, ge=1, le=10_000)
    stall_patience: int = Field(default=4, ge=1)
    max_proposals_per_round: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _quorum_needs_number(self) -> Protocol:
        if self.rule == "quorum" and self.quorum is None:
            raise ValueError("rule 'quorum' needs a 'quorum' (how many actors must accept)")
        if self.rule == "unanimity" and (self.quorum is not None or self.veto):
            raise ValueError("'quorum' and 'veto' only apply with rule: quorum")
        return self


class World(Strict):
    id: str = Field(pattern=ID_PATTERN)
    title: str = Field(min_length=1)
    description: str = ""
    source_text: str | None = Field(default=None, description="the article personas cite, relative to the world file")
    prompts: str = Field(default="../prompts", description="template folder, relative to the world file")
    actors: list[ActorRef] = Field(min_length=2)
    issues: list[Issue] = Field(min_length=1)
    edges: list[Edge] = Field(default_factory=list)
    protocol: Protocol = Protocol()
    trust_rules: TrustRules = TrustRules()

    def actor_ids(self) -> list[str]:
        return [a.id for a in self.actors]

    def issue(self, issue_id: str) -> Issue:
        return next(i for i in self.issues if i.id == issue_id)

    def signatories(self) -> list[str]:
        return list(self.protocol.signatories) or self.actor_ids()


def cross_reference_problems(world: World) -> list[tuple[str, str]]:
    """(field, message) pairs for references pydantic cannot check on its own."""
    out: list[tuple[str, str]] = []
    actors = world.actor_ids()
    known = set(actors)

    def dupes(ids: list[str], what: str, field: str) -> None:
        seen: set[str] = set()
        for idx, i in enumerate(ids):
            if i in seen:
                out.append((f"{field}[{idx}].id", f"{what} '{i}' appears twice"))
            seen.add(i)

    dupes(actors, "actor", "actors")
    dupes([i.id for i in world.issues], "issue", "issues")
    pairs: set[tuple[str, str]] = set()
    for idx, e in enumerate(world.edges):
        for end, name in (("from", e.source), ("to", e.target)):
            if name not in known:
                out.append((f"edges[{idx}].{end}", f"unknown actor '{name}' (actors: {', '.join(actors)})"))
        if e.source == e.target:
            out.append((f"edges[{idx}]", f"an edge from '{e.source}' to itself"))
        if (e.source, e.target) in pairs:
            out.append((f"edges[{idx}]", f"a second edge from '{e.source}' to '{e.target}'"))
        pairs.add((e.source, e.target))
    p = world.protocol
    for field, names in (("signatories", p.signatories), ("veto", p.veto), ("min_utility", list(p.min_utility))):
        for idx, name in enumerate(names):
            if name not in known:
                out.append((f"protocol.{field}[{idx}]", f"unknown actor '{name}' (actors: {', '.join(actors)})"))
    for name, value in p.min_utility.items():
        if not 0.0 <= value <= 1.0:
            out.append((f"protocol.min_utility.{name}", f"{value} is outside 0..1"))
    if p.rule == "quorum" and p.quorum is not None and p.quorum > len(world.signatories()):
        out.append(("protocol.quorum", f"{p.quorum} is more than the {len(world.signatories())} voting actors"))
    for idx, name in enumerate(p.veto):
        if p.signatories and name not in p.signatories:
            out.append((f"protocol.veto[{idx}]", f"veto holder '{name}' is not a signatory"))
    return out
