"""The schema of a world file: issues and their options, actors, the relationship graph, the protocol.

A world names its actors and issues; the engine never does. Cross-references (an edge to an unknown
actor, a signatory that is not an actor) are checked here so that every problem is reported with
its field.
"""

from __future__ import annotations

from typing import Any, Literal, TypeGuard

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from parley.world.claims import Claim

ID_PATTERN = r"^[a-z][a-z0-9_-]*$"


MAX_ROUNDS = 10_000  # the most rounds a run may play: a world, and --max-rounds, may not ask for more


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Option(Strict):
    id: str = Field(pattern=ID_PATTERN)
    meaning: str = Field(min_length=1)


class Issue(Strict):
    id: str = Field(pattern=ID_PATTERN)
    title: str = Field(min_length=1)
    meaning: str = ""
    options: list[Option] = Field(min_length=2)
    cite: list[int] = Field(default_factory=list)
    # Duplicate option ids are reported by cross_reference_problems, which can name the exact option.

    def option_ids(self) -> list[str]:
        return [o.id for o in self.options]


class ActorRef(Strict):
    id: str = Field(pattern=ID_PATTERN)
    persona: str = Field(min_length=1, description="persona card path, relative to the world file")


class Edge(Strict):
    """A directed channel: `source` can speak to `target` while it is open."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, populate_by_name=True)
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
    """How a deal is made.

    `unanimity`: every signatory must accept. `quorum`: `quorum` signatories, the `veto` holders among
    them. `ratify`: the `framework` parties agree a package first (all of them must accept it); it is
    then put to the other signatories, who accept or refuse it within `ratify_rounds` rounds. Under
    every rule no package passes that leaves an actor named in `min_utility` below its minimum.
    """

    signatories: list[str] = Field(default_factory=list, description="empty means every actor")
    rule: Literal["unanimity", "quorum", "ratify"] = "unanimity"
    quorum: int | None = Field(default=None, ge=1, validate_default=True)
    veto: list[str] = Field(default_factory=list)
    framework: list[str] = Field(
        default_factory=list, description="rule ratify: the signatories who agree first, over the others' heads"
    )
    ratify_rounds: int = Field(default=2, ge=1, le=100, description="rule ratify: rounds the others have to answer")
    belligerents: list[str] = Field(
        default_factory=list,
        description="the parties at war: a settlement one of them did not sign does not end the war",
    )
    min_utility: dict[str, float] = Field(default_factory=dict)
    max_rounds: int = Field(default=20, ge=1, le=MAX_ROUNDS)
    deadline: int | None = Field(
        default=None, ge=1, description="the round by which talks end, known to every actor (max_rounds is a cap)"
    )
    stall_patience: int = Field(default=4, ge=1)
    max_proposals_per_round: int = Field(default=1, ge=1)

    # Field validators (not one model validator) so that each problem is reported on its own field.
    @field_validator("quorum")
    @classmethod
    def _quorum_fits_rule(cls, quorum: int | None, info: ValidationInfo) -> int | None:
        rule = info.data.get("rule")
        if rule == "quorum" and quorum is None:
            raise ValueError("rule 'quorum' needs a 'quorum' (how many actors must accept)")
        if rule in ("unanimity", "ratify") and quorum is not None:
            raise ValueError(f"'quorum' only applies with rule: quorum (the rule is {rule})")
        return quorum

    @field_validator("veto")
    @classmethod
    def _veto_fits_rule(cls, veto: list[str], info: ValidationInfo) -> list[str]:
        rule = info.data.get("rule")
        if rule == "unanimity" and veto:
            raise ValueError("'veto' only applies with rule: quorum (under unanimity every signatory has a veto)")
        if rule == "ratify" and veto:
            raise ValueError("'veto' only applies with rule: quorum (under ratify every framework party has a veto)")
        return veto

    @field_validator("framework")
    @classmethod
    def _framework_fits_rule(cls, framework: list[str], info: ValidationInfo) -> list[str]:
        rule = info.data.get("rule")
        if rule == "ratify" and not framework:
            raise ValueError("rule 'ratify' needs a 'framework': the signatories who agree first")
        if rule != "ratify" and framework:
            raise ValueError(f"'framework' only applies with rule: ratify (the rule is {rule})")
        return framework

    @field_validator("deadline")
    @classmethod
    def _deadline_within_max_rounds(cls, deadline: int | None, info: ValidationInfo) -> int | None:
        cap = info.data.get("max_rounds")
        if deadline is not None and isinstance(cap, int) and deadline > cap:
            raise ValueError(f"deadline {deadline} is after max_rounds {cap}: the run would end first")
        return deadline


class LLMDefaults(Strict):
    """The world's suggestions for LLM play; the command line overrides them."""

    model: str | None = None
    models: dict[str, str] = Field(default_factory=dict, description="a model of its own for some actors")
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    max_tokens: int | None = Field(
        default=None, ge=16, description="a cap on each answer's tokens (default: what the move schema needs)"
    )


class World(Strict):
    id: str = Field(pattern=ID_PATTERN)
    title: str = Field(min_length=1)
    description: str = ""
    date: str = Field(
        default="",
        description="when the world stands (e.g. November 2024): actors know nothing that happened after it",
    )
    source_text: str | None = Field(default=None, description="the article personas cite, relative to the world file")
    prompts: str | None = Field(
        default=None,
        description="template folder, relative to the world file (default: ../prompts when it exists); "
        "a template it lacks comes from Parley's own prompts/",
    )
    actors: list[ActorRef] = Field(min_length=2)
    issues: list[Issue] = Field(min_length=1)
    edges: list[Edge] = Field(
        default_factory=list, description="empty: every actor talks to every other over an open, neutral channel"
    )
    protocol: Protocol = Protocol()
    trust_rules: TrustRules = TrustRules()
    llm: LLMDefaults = LLMDefaults()
    claims: list[Claim] = Field(
        default_factory=list, description="what the runs should show, checked over an ensemble by `parley check`"
    )

    def actor_ids(self) -> list[str]:
        return [a.id for a in self.actors]

    def signatories(self) -> list[str]:
        return list(self.protocol.signatories) or self.actor_ids()

    def ratifiers(self) -> list[str]:
        """Rule ratify: the signatories a framework is put to (none under the other rules)."""
        if self.protocol.rule != "ratify":
            return []
        return [a for a in self.signatories() if a not in self.protocol.framework]


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _mapping(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def _id(item: Any) -> str | None:
    ident = item.get("id") if isinstance(item, dict) else None
    return ident if isinstance(ident, str) else None


def _number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


Problems = list[tuple[str, str]]


class _Actors:
    """The world's actor ids, for naming unknown actors in cross-references."""

    def __init__(self, data: dict[Any, Any]) -> None:
        items = _items(data.get("actors"))
        self.ids = [i for i in (_id(a) for a in items) if i is not None]
        # Only name unknown actors when every actor has an id: otherwise the schema problem explains it.
        self.known = set(self.ids) if len(self.ids) == len(items) else set()
        self.listing = ", ".join(self.ids)

    def unknown(self, field: str, name: Any) -> Problems:
        if self.known and isinstance(name, str) and name not in self.known:
            return [(field, f"unknown actor '{name}' (actors: {self.listing})")]
        return []


def cross_reference_problems(world: World | dict[str, Any]) -> list[tuple[str, str]]:
    """(field, message) pairs for references pydantic cannot check on its own.

    Takes a World or the raw mapping of a world file that failed schema validation, so that the
    cross-references are still checked (and reported) alongside the schema problems. Values of
    the wrong type are skipped here: the schema check reports them.
    """
    data = world.model_dump(by_alias=True) if isinstance(world, World) else _mapping(world)
    actors = _Actors(data)
    out = _duplicate_problems(data)
    out += _edge_problems(_items(data.get("edges")), actors)
    out += _protocol_problems(_mapping(data.get("protocol")), actors)
    for name in _mapping(_mapping(data.get("llm")).get("models")):
        out += actors.unknown(f"llm.models.{name}", name)
    return out


def _dupes(items: list[Any], what: str, field: str, where: str = "") -> Problems:
    out: Problems = []
    seen: set[str] = set()
    for idx, item in enumerate(items):
        ident = _id(item)
        if ident is None:
            continue
        if ident in seen:
            out.append((f"{field}[{idx}].id", f"{what} '{ident}' appears twice{where}"))
        seen.add(ident)
    return out


def _duplicate_problems(data: dict[Any, Any]) -> Problems:
    out = _dupes(_items(data.get("actors")), "actor", "actors")
    out += _dupes(_items(data.get("issues")), "issue", "issues")
    for idx, issue in enumerate(_items(data.get("issues"))):
        if isinstance(issue, dict):
            out += _dupes(_items(issue.get("options")), "option", f"issues[{idx}].options", f" in issue '{_id(issue)}'")
    return out


def _edge_problems(edges: list[Any], actors: _Actors) -> Problems:
    out: Problems = []
    pairs: set[tuple[str, str]] = set()
    for idx, e in enumerate(edges):
        if not isinstance(e, dict):
            continue
        from_key = "from" if "from" in e or "source" not in e else "source"
        to_key = "to" if "to" in e or "target" not in e else "target"
        source, target = e.get(from_key), e.get(to_key)
        out += actors.unknown(f"edges[{idx}].{from_key}", source)
        out += actors.unknown(f"edges[{idx}].{to_key}", target)
        if not (isinstance(source, str) and isinstance(target, str)):
            continue
        if source == target:
            out.append((f"edges[{idx}]", f"an edge from '{source}' to itself"))
        if (source, target) in pairs:
            out.append((f"edges[{idx}]", f"a second edge from '{source}' to '{target}'"))
        pairs.add((source, target))
    return out


def _protocol_problems(p: dict[Any, Any], actors: _Actors) -> Problems:
    out: Problems = []
    signatories = [s for s in _items(p.get("signatories")) if isinstance(s, str)]
    for field in ("signatories", "veto", "framework", "belligerents"):
        seen: set[str] = set()
        for idx, name in enumerate(_items(p.get(field))):
            out += actors.unknown(f"protocol.{field}[{idx}]", name)
            if isinstance(name, str):
                if name in seen:
                    out.append((f"protocol.{field}[{idx}]", f"'{name}' appears twice"))
                seen.add(name)
    for name, value in _mapping(p.get("min_utility")).items():
        out += actors.unknown(f"protocol.min_utility.{name}", name)
        if _number(value) and not 0.0 <= value <= 1.0:
            out.append((f"protocol.min_utility.{name}", f"{value} is outside 0..1"))
    voters = len(signatories or actors.ids)
    quorum = p.get("quorum")
    if p.get("rule") == "quorum" and _number(quorum) and voters and quorum > voters:
        out.append(("protocol.quorum", f"{quorum} is more than the {voters} voting actors"))
    out += _not_signatory(p.get("veto"), signatories, "veto", "veto holder")
    out += _not_signatory(p.get("framework"), signatories, "framework", "framework party")
    framework = [f for f in _items(p.get("framework")) if isinstance(f, str)]
    if p.get("rule") == "ratify" and framework and set(signatories or actors.ids) <= set(framework):
        out.append(("protocol.framework", "every signatory is a framework party: nobody is left to ratify"))
    return out


def _not_signatory(names: Any, signatories: list[str], field: str, who: str) -> Problems:
    return [
        (f"protocol.{field}[{idx}]", f"{who} '{name}' is not a signatory")
        for idx, name in enumerate(_items(names))
        if signatories and isinstance(name, str) and name not in signatories
    ]
