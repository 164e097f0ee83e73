"""The schema of a persona card: who an actor is, what it wants, and where the article says so.

Every statement carries `cite`: the paragraphs of the world's source text it is drawn from
(paragraphs are counted as non-empty lines). Variants are overlays: partial cards deep-merged over
the base card, then validated as a whole.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

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
    red_lines: list[RedLine] = Field(default_factory=list)
    variant: str = "base"
    variant_description: str = ""


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
