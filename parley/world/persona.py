"""The schema of a persona card: who an actor is, what it wants, and where the article says so.

Every statement carries `cite`: the paragraphs of the world's source text it is drawn from
(paragraphs are counted as non-empty lines). Variants are overlays: partial cards deep-merged over
the base card, then validated as a whole.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from parley.world.world import ID_PATTERN


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Cited(Strict):
    text: str = Field(min_length=1)
    cite: list[int] = Field(min_length=1)


class Trait(Strict):
    value: float = Field(ge=0.0, le=1.0)
    why: str = Field(min_length=1)
    cite: list[int] = Field(min_length=1)


class Traits(Strict):
    """Behavioural dials in 0..1; the offline strategy reads them and LLM prompts show them."""

    patience: Trait = Field(description="high: concedes slowly, believes time is on its side")
    reciprocity: Trait = Field(description="high: concedes only against visible concessions by others")
    flattery_susceptibility: Trait = Field(description="high: trust grows when flattered")
    flattery_use: Trait | None = Field(default=None, description="high: flatters those who are susceptible")
    assertiveness: Trait | None = Field(default=None, description="high: threatens when rebuffed")
    walkout_propensity: Trait | None = Field(default=None, description="high: leaves the table when stuck")
    openness: Trait | None = Field(default=None, description="high: opens direct channels to counterparts")

    def level(self, name: str, default: float = 0.0) -> float:
        trait = getattr(self, name)
        return default if trait is None else trait.value


class Preference(Strict):
    """How much an issue matters (weight) and how good each of its options is (0 worst .. 1 best)."""

    weight: float = Field(ge=0.0, le=1_000_000)
    values: dict[str, float]
    why: str = Field(min_length=1)
    cite: list[int] = Field(min_length=1)


class NoDeal(Strict):
    value: float = Field(ge=0.0, le=1.0, description="utility of the war going on without a deal")
    why: str = Field(min_length=1)
    cite: list[int] = Field(min_length=1)


class RedLine(Strict):
    """A line the actor never crosses: it accepts no package that picks one of `excludes`."""

    issue: str
    excludes: list[str] = Field(min_length=1)
    why: str = Field(min_length=1)
    cite: list[int] = Field(min_length=1)
    public: bool = True


class Aim(Strict):
    """One aim of a core: the issue, and the options that meet it."""

    issue: str
    options: list[str] = Field(min_length=1)
    why: str = ""
    cite: list[int] = Field(default_factory=list)


class Core(Strict):
    """Aims no trade buys back: a package is acceptable only when at least `at_least` of them hold.

    A red line says "never this option"; a core says "most of these, whatever else is offered". It is
    not weighed against the other issues (it is not compensatory): no gain elsewhere makes up for it.
    """

    at_least: int = Field(ge=1)
    of: list[Aim] = Field(min_length=1)
    why: str = Field(min_length=1)
    cite: list[int] = Field(min_length=1)
    public: bool = True  # whether the others know it (and plan around it), as with red lines

    @model_validator(mode="after")
    def _reachable(self) -> Core:
        if self.at_least > len(self.of):
            raise ValueError(f"at_least {self.at_least} is more than the {len(self.of)} aims listed")
        return self


class Level(Strict):
    """A utility level on the actor's own 0..1 scale, with why and where the article says so."""

    value: float = Field(ge=0.0, le=1.0)
    why: str = Field(min_length=1)
    cite: list[int] = Field(min_length=1)


class Information(Strict):
    """How well the actor reads the others' cards: the spread of its errors (0 reads them exactly).

    `belief_noise` for everyone, `about` for the actors it reads better or worse than that.
    """

    belief_noise: float = Field(default=0.15, ge=0.0, le=1.0)
    about: dict[str, float] = Field(default_factory=dict)
    why: str = Field(min_length=1)
    cite: list[int] = Field(min_length=1)

    def noise(self, actor: str) -> float:
        return self.about.get(actor, self.belief_noise)


class Outcomes(Strict):
    """What outcomes other than a full deal or no deal are worth to the actor."""

    framework_refused: Level | None = Field(
        default=None,
        description="a framework some signatories agreed was refused by a party at war: the war goes on "
        "(default: the value of no deal)",
    )


class Persona(Strict):
    id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1)
    leader: str = Field(min_length=1)
    summary: Cited
    objectives: list[Cited] = Field(min_length=1)
    beliefs: list[Cited] = Field(default_factory=list)
    traits: Traits
    preferences: dict[str, Preference] = Field(min_length=1)
    no_deal: NoDeal
    reservation: Level | None = Field(
        default=None, description="the least it accepts, on its own scale (default: its no-deal value)"
    )
    aspiration: Level | None = Field(
        default=None, description="what it opens with and concedes from (default: its best package)"
    )
    red_lines: list[RedLine] = Field(default_factory=list)
    core: Core | None = None
    outcomes: Outcomes = Outcomes()
    information: Information | None = None
    variant: str = "base"
    variant_description: str = ""

    # Field validators, so that a problem names its field (no_deal comes before both, reservation before aspiration).
    @field_validator("reservation")
    @classmethod
    def _reservation_above_no_deal(cls, level: Level | None, info: ValidationInfo) -> Level | None:
        no_deal = info.data.get("no_deal")
        if level is not None and no_deal is not None and level.value < no_deal.value:
            raise ValueError(
                f"{level.value} is below the no-deal value {no_deal.value}: no actor settles for less than no deal"
            )
        return level

    @field_validator("aspiration")
    @classmethod
    def _aspiration_above_reservation(cls, level: Level | None, info: ValidationInfo) -> Level | None:
        no_deal, reservation = info.data.get("no_deal"), info.data.get("reservation")
        low = reservation.value if reservation is not None else no_deal.value if no_deal is not None else 0.0
        if level is not None and level.value < low:
            raise ValueError(f"{level.value} is below the reservation {low}: it would open below what it accepts")
        return level

    def reservation_value(self) -> float:
        return self.reservation.value if self.reservation is not None else self.no_deal.value

    def refused_value(self) -> float:
        """What a framework refused by a party at war is worth to it (default: no deal)."""
        refused = self.outcomes.framework_refused
        return refused.value if refused is not None else self.no_deal.value


class VariantInfo(Strict):
    description: str = Field(min_length=1)


def merge(base: Any, overlay: Any) -> Any:
    """Deep-merge an overlay into a base card: mappings merge key by key, anything else replaces."""
    if isinstance(base, dict) and isinstance(overlay, dict):
        out = copy.deepcopy(base)
        for key, value in overlay.items():
            out[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    return copy.deepcopy(overlay)


def apply_variant(card: dict[str, Any], name: str, overlay: dict[str, Any]) -> dict[str, Any]:
    """The raw card with a variant applied; `description` becomes the card's variant_description."""
    overlay = dict(overlay)
    description = overlay.pop("description", "")
    merged = merge({k: v for k, v in card.items() if k != "variants"}, overlay)
    merged["variant"] = name
    merged["variant_description"] = description
    return merged
