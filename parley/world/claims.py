"""Claims a world makes about how its actors behave, written in YAML and checked over seeded runs.

A claim is what an analyst would say of the runs ("the US never pays for reconstruction", "a
maximalist Russia makes fewer deals"), cited like everything else, and put as a number with a bound.
Its parts compose:

- an arm to measure (`arm`): the baseline, persona variants, an inject file, the actors reordered;
- a population (`among`): runs, deals, or acts (proposals, accepts, rejections, threats, walkouts,
  messages), narrowed by conditions;
- a statistic: `share` (of the population meeting a condition), `mean` (of a quantity over runs) or
  `changed` (the share of seeds whose result differs between `arm` and `against`);
- with `against`, the statistic is the difference arm - against over the same seeds;
- one bound: at_most, at_least, below, above, between or within.

An actor field may say `each` (every actor) or `signatories` (each signatory): the claim is then
checked once per actor and holds when it holds for all. This module is the schema and the checks a
world's own names allow; `parley.ensembles.claims` measures claims.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

CLAIM_ID = r"^[a-z][a-z0-9_-]*$"
EVERY = ("each", "signatories")  # actor sets: the claim is checked once per actor of the set
# deal = converged; no_deal = anything else; refused: a framework some signatory refused (rule ratify)
OUTCOMES = ("converged", "stalled", "breakdown", "max_rounds", "refused", "deal", "no_deal")
MESSAGE_KINDS = ("statement", "threat", "concession", "flattery")  # as parley.engine.actions.MessageKind
RUN_POPULATIONS = ("runs", "deals", "frameworks")  # frameworks: runs whose framework parties signed (rule ratify)
ACT_POPULATIONS = ("proposals", "accepts", "rejections", "threats", "walkouts", "messages")
WITH_PACKAGE = ("proposals", "accepts", "rejections")  # acts that carry a package
BOUNDS = ("at_most", "at_least", "below", "above", "between", "within")
STATISTICS = ("share", "mean", "changed")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, populate_by_name=True)


def _listed(value: Any) -> Any:
    """One name, or a list of names."""
    return [value] if isinstance(value, str) else value


Names = Annotated[list[str], BeforeValidator(_listed), Field(min_length=1)]


def _one_of(model: BaseModel, names: tuple[str, ...], what: str) -> None:
    given = [n for n in names if getattr(model, n) is not None]
    if len(given) != 1:
        also = f" (got {', '.join(given)})" if given else ""
        raise ValueError(f"give exactly one {what}: {', '.join(names)}{also}")


class Limit(Strict):
    """A bound on a number: at_most / at_least (inclusive), below / above (strict)."""

    at_most: float | None = None
    at_least: float | None = None
    below: float | None = None
    above: float | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> Limit:
        _one_of(self, ("at_most", "at_least", "below", "above"), "bound")
        return self

    def holds(self, x: float) -> bool:
        if self.at_most is not None:
            return x <= self.at_most
        if self.at_least is not None:
            return x >= self.at_least
        if self.below is not None:
            return x < self.below
        assert self.above is not None
        return x > self.above


class ActorLimit(Limit):
    actor: str


class Count(Strict):
    """At least `at_least` of the conditions in `of` hold."""

    at_least: int = Field(ge=1)
    of: list[Condition] = Field(min_length=1)


class Condition(Strict):
    """What a run or an act must be; every key given must hold (and: all of them)."""

    options: dict[str, Names] | None = Field(default=None, description="issue -> option(s) the package settles on")
    outcome: Annotated[list[Literal[OUTCOMES]], BeforeValidator(_listed)] | None = None  # type: ignore[valid-type]
    signed_by: str | None = Field(default=None, description="the actor signed the run's package (deal or framework)")
    refused_by: str | None = Field(default=None, description="the actor refused what the others signed")
    war_continues: bool | None = Field(default=None, description="the run's outcome leaves the war going on")
    walked_out: str | None = None
    by: str | None = Field(default=None, description="acts: who made it")
    to: str | None = Field(default=None, description="acts: one of those it was addressed to")
    kind: Literal[MESSAGE_KINDS] | None = Field(default=None, description="messages: its kind")  # type: ignore[valid-type]
    utility: ActorLimit | None = Field(default=None, description="the actor's utility of the outcome, by its base card")
    gain: ActorLimit | None = Field(default=None, description="that utility minus the base card's no-deal value")
    rounds: Limit | None = None
    count: Count | None = None
    all_: list[Condition] | None = Field(default=None, alias="all", min_length=1)
    any_: list[Condition] | None = Field(default=None, alias="any", min_length=1)
    not_: Condition | None = Field(default=None, alias="not")

    @model_validator(mode="after")
    def _not_empty(self) -> Condition:
        if not self.model_fields_set - {"in_"} and type(self) is Condition:
            raise ValueError(f"an empty condition: give at least one of {', '.join(CONDITION_KEYS)}")
        return self

    def parts(self) -> Iterator[tuple[str, Condition]]:
        """The nested conditions, with their field paths."""
        if self.count is not None:
            yield from ((f"count.of[{i}]", c) for i, c in enumerate(self.count.of))
        for key, items in (("all", self.all_), ("any", self.any_)):
            yield from ((f"{key}[{i}]", c) for i, c in enumerate(items or []))
        if self.not_ is not None:
            yield "not", self.not_


CONDITION_KEYS = (
    "options",
    "outcome",
    "signed_by",
    "refused_by",
    "war_continues",
    "walked_out",
    "by",
    "to",
    "kind",
    "utility",
    "gain",
    "rounds",
    "count",
    "all",
    "any",
    "not",
)


def _population(value: Any) -> Any:
    return {"in": value} if isinstance(value, str) else value


class Population(Condition):
    """Whom a statistic counts: runs, deals or acts (`in`), narrowed by conditions."""

    in_: Literal[RUN_POPULATIONS + ACT_POPULATIONS] = Field(default="runs", alias="in")  # type: ignore[valid-type]

    @property
    def of_acts(self) -> bool:
        return self.in_ in ACT_POPULATIONS


class Quantity(Strict):
    """A number per run: an actor's utility or gain over no deal (by its base card), or its rounds."""

    utility: str | None = None
    gain: str | None = None
    rounds: Literal[True] | None = None

    @model_validator(mode="before")
    @classmethod
    def _word(cls, value: Any) -> Any:
        return {"rounds": True} if value == "rounds" else value

    @model_validator(mode="after")
    def _one(self) -> Quantity:
        _one_of(self, ("utility", "gain", "rounds"), "quantity")
        return self

    @property
    def actor(self) -> str | None:
        return self.utility or self.gain


def _variants(value: Any) -> Any:
    """'us=hardliner,russia=pragmatic' as a mapping."""
    if not isinstance(value, str):
        return value
    out: dict[str, str] = {}
    for part in value.split(","):
        actor, sep, name = (x.strip() for x in part.partition("="))
        if not sep or not actor or not name:
            raise ValueError(f"expected ACTOR=NAME[,ACTOR=NAME...], e.g. us=hardliner (got {value!r})")
        out[actor] = name
    return out


def _no_base(value: Any) -> Any:
    """An actor played as `base` is the baseline's: the same arm."""
    return {a: v for a, v in value.items() if v != "base"} if isinstance(value, dict) else value


class ArmSpec(Strict):
    """The setting a claim is measured in: persona variants, an inject file, the actors' order."""

    variants: Annotated[dict[str, str], BeforeValidator(_no_base), BeforeValidator(_variants)] = Field(
        default_factory=dict
    )
    inject: str | None = Field(default=None, description="an inject file played in every run, relative to the world")
    at_round: int | None = Field(default=None, ge=1, description="the inject's first event moved to this round")
    order: Literal["reversed"] | list[str] | None = Field(
        default=None, description="the actors listed reversed, or in this order (every actor once)"
    )

    @model_validator(mode="before")
    @classmethod
    def _word(cls, value: Any) -> Any:
        if value == "baseline":
            return {}
        if isinstance(value, str):
            return {"variants": value}
        return value

    @field_validator("order", mode="before")
    @classmethod
    def _order(cls, value: Any) -> Any:
        if isinstance(value, str) and value != "reversed":
            raise ValueError(f"'reversed' or a list of every actor, in the order to play them (got {value!r})")
        return value

    @model_validator(mode="after")
    def _round_needs_inject(self) -> ArmSpec:
        if self.at_round is not None and self.inject is None:
            raise ValueError("at_round moves an inject: give the inject file too")
        return self

    def key(self) -> tuple:
        order = tuple(self.order) if isinstance(self.order, list) else self.order
        return (tuple(sorted(self.variants.items())), self.inject, self.at_round, order)

    @property
    def label(self) -> str:
        parts = [",".join(f"{a}={v}" for a, v in self.variants.items())]
        if self.inject is not None:
            parts.append(f"inject {self.inject}" + (f" at round {self.at_round}" if self.at_round else ""))
        if self.order == "reversed":
            parts.append("actors reversed")
        elif self.order is not None:
            parts.append(f"actors in order {','.join(self.order)}")
        return " + ".join(p for p in parts if p) or "baseline"


class Claim(Strict):
    """One claim: what it says, where the article says so, and the number that must meet a bound."""

    id: str = Field(pattern=CLAIM_ID)
    says: str = Field(min_length=1, description="the claim in plain words, as the scorecard shows it")
    basis: Literal["article", "inference", "hypothetical", "design"] = Field(
        default="article", description="design: a property of the engine, which needs no citation"
    )
    stance: Literal["firm", "hedged", "doubted"] | None = Field(default=None, description="how the article puts it")
    cite: list[int] = Field(default_factory=list, validate_default=True)
    arm: ArmSpec = Field(default_factory=ArmSpec)
    against: ArmSpec | None = None
    share: Condition | None = None
    mean: Quantity | None = None
    changed: Literal["outcome", "deal", "rounds", "any"] | None = None
    among: Annotated[Population, BeforeValidator(_population)] = Field(default_factory=Population)
    at_most: float | None = None
    at_least: float | None = None
    below: float | None = None
    above: float | None = None
    between: tuple[float, float] | None = None
    within: float | None = Field(default=None, ge=0)
    min_n: int = Field(default=1, ge=1, description="the fewest runs or acts the population may hold")

    @field_validator("cite")
    @classmethod
    def _cited(cls, cite: list[int], info: Any) -> list[int]:
        if not cite and info.data.get("basis") != "design":
            raise ValueError("cite the paragraphs the claim is drawn from (basis: design needs none)")
        return cite

    @model_validator(mode="after")
    def _shape(self) -> Claim:
        _one_of(self, STATISTICS, "statistic")
        _one_of(self, BOUNDS, "bound")
        if self.changed is not None and self.against is None:
            raise ValueError("changed compares two arms: give `against` (e.g. against: baseline)")
        return self

    @property
    def statistic(self) -> str:
        return next(s for s in STATISTICS if getattr(self, s) is not None)

    @property
    def bound(self) -> tuple[str, Any]:
        return next((b, getattr(self, b)) for b in BOUNDS if getattr(self, b) is not None)

    def arms(self) -> list[ArmSpec]:
        return [self.arm] if self.against is None else [self.arm, self.against]


Count.model_rebuild()
Condition.model_rebuild()
Population.model_rebuild()


# -- checks against the world --------------------------------------------------------------------
def claim_problems(
    raw: Any,
    actors: list[str],
    issues: dict[str, list[str] | None] | None,
    variants: dict[str, list[str]],
) -> list[tuple[str, str]]:
    """(field, message) pairs for what a world's claims get wrong against its own names: unknown
    actors, issues, options and variants, misplaced conditions, bounds out of range, duplicate ids.

    Claims that fail the schema are skipped (the schema check reports them); inject files and
    citations are checked by the loader, which has the files and the source text.
    """
    out: list[tuple[str, str]] = []
    if not isinstance(raw, list):
        return out
    seen: dict[str, int] = {}
    for i, item in enumerate(raw):
        try:
            claim = Claim.model_validate(item)
        except ValidationError:
            continue
        at = f"claims[{i}]"
        if claim.id in seen:
            out.append((f"{at}.id", f"claim '{claim.id}' appears twice (first claims[{seen[claim.id]}])"))
        seen.setdefault(claim.id, i)
        out += _Checker(at, claim, actors, issues, variants).problems()
    return out


class _Checker:
    def __init__(
        self,
        at: str,
        claim: Claim,
        actors: list[str],
        issues: dict[str, list[str] | None] | None,
        variants: dict[str, list[str]],
    ) -> None:
        self.at, self.claim, self.actors, self.issues, self.variants = at, claim, actors, issues, variants
        self.out: list[tuple[str, str]] = []
        self.sets: set[str] = set()

    def problems(self) -> list[tuple[str, str]]:
        c = self.claim
        self.arm("arm", c.arm)
        if c.against is not None:
            self.arm("against", c.against)
            if c.against.key() == c.arm.key():
                self.add("against", f"the same arm as `arm` ({c.arm.label}): nothing to compare")
        population = c.among.in_
        self.condition("among", c.among, population)
        if c.share is not None:
            self.condition("share", c.share, population)
        if c.mean is not None:
            if c.among.of_acts:
                self.add("among", f"a mean is taken over runs or deals, not over {population}")
            if c.mean.actor is not None:
                self.actor(f"mean.{'utility' if c.mean.utility else 'gain'}", c.mean.actor)
        if c.changed is not None and population != "runs":
            self.add("among", "changed counts the seeds of two arms: among runs (the default)")
        if len(self.sets) > 1:
            self.add("", "use one of each or signatories in a claim, not both")
        self.bounds()
        return self.out

    def add(self, field: str, message: str) -> None:
        self.out.append((f"{self.at}.{field}" if field else self.at, message))

    def actor(self, field: str, name: str) -> None:
        if name in EVERY:
            self.sets.add(name)
        elif self.actors and name not in self.actors:
            self.add(field, f"unknown actor '{name}' (actors: {', '.join(self.actors)}; or {' / '.join(EVERY)})")

    def arm(self, field: str, arm: ArmSpec) -> None:
        for actor, variant in arm.variants.items():
            where = f"{field}.variants.{actor}"
            if self.actors and actor not in self.actors:
                self.add(where, f"unknown actor '{actor}' (actors: {', '.join(self.actors)})")
            elif actor in self.variants and variant != "base" and variant not in self.variants[actor]:
                have = ", ".join(self.variants[actor]) or "none"
                self.add(where, f"no variant '{variant}' for actor '{actor}' (variants: {have})")
        if isinstance(arm.order, list) and self.actors and sorted(arm.order) != sorted(self.actors):
            self.add(f"{field}.order", f"list every actor once: {', '.join(self.actors)}")

    def condition(self, field: str, cond: Condition, population: str) -> None:
        acts = population in ACT_POPULATIONS
        for key in ("signed_by", "refused_by", "walked_out", "by", "to"):
            name = getattr(cond, key)
            if name is not None:
                self.actor(f"{field}.{key}", name)
        for key in ("utility", "gain"):
            limit = getattr(cond, key)
            if limit is not None:
                self.actor(f"{field}.{key}.actor", limit.actor)
        if not acts:
            for key in ("by", "to", "kind"):
                if getattr(cond, key) is not None:
                    self.add(
                        f"{field}.{key}",
                        f"{key} is said of acts (among: {', '.join(ACT_POPULATIONS)}), not {population}",
                    )
        elif cond.kind is not None and population != "messages":
            self.add(f"{field}.kind", f"kind is said of messages (among: messages), not {population}")
        if cond.options is not None:
            if acts and population not in WITH_PACKAGE:
                self.add(
                    f"{field}.options",
                    f"{population} carry no package (options are said of {', '.join(RUN_POPULATIONS + WITH_PACKAGE)})",
                )
            for issue, options in cond.options.items():
                self.options(f"{field}.options.{issue}", issue, options)
        for where, part in cond.parts():
            self.condition(f"{field}.{where}", part, population)

    def options(self, field: str, issue: str, options: list[str]) -> None:
        if self.issues is None:
            return
        if issue not in self.issues:
            self.add(field, f"unknown issue '{issue}' (issues: {', '.join(self.issues)})")
            return
        known = self.issues[issue]
        for option in options:
            if known is not None and option not in known:
                self.add(field, f"issue '{issue}' has no option '{option}' (options: {', '.join(known)})")

    def bounds(self) -> None:
        c = self.claim
        name, value = c.bound
        if name == "between" and value[0] > value[1]:
            self.add("between", f"the lower end {value[0]} is above the upper end {value[1]}")
        proportion = c.share is not None or c.changed is not None or (c.mean is not None and c.mean.utility is not None)
        if not proportion:
            return
        low, high = (-1.0, 1.0) if c.against is not None and c.changed is None else (0.0, 1.0)
        if name == "within":
            low = 0.0
        what = "a difference of shares" if low < 0 else "a share" if c.mean is None else "a utility"
        for x in value if name == "between" else (value,):
            if not low <= x <= high:
                self.add(name, f"{x} is outside {low:g}..{high:g} ({what})")
