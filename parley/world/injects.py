"""A facilitator's injects: at round K, news that actors are told, and effects the engine applies.

An inject file (YAML, e.g. `worlds/injects/us-aid-suspended.yaml`) holds a title and a list of
events; each event has a round, who is told (`to: all` or a list of actors), the text, and optional
effects: trust changes, channels opened or closed, options withdrawn from the table, persona variants
switched, and changes to what actors value and believe: an actor's no-deal value (the war going on is
worth more or less to it; those told learn it too), the weight it gives an issue (likewise), and what
one actor believes of another (a mediator shows each what the other needs). Injects are logged as
events and replay exactly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from parley.world.problems import InvalidInput, Problem, display_path, from_validation_error
from parley.world.scenario import Scenario, read_yaml


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, populate_by_name=True)


class TrustChange(Strict):
    source: str = Field(alias="from")
    target: str = Field(alias="to")
    delta: float = Field(ge=-2.0, le=2.0)


class ChannelChange(Strict):
    source: str = Field(alias="from")
    target: str = Field(alias="to")
    open: bool


class Withdrawal(Strict):
    issue: str
    option: str


class NoDealChange(Strict):
    """The war going on is now worth `delta` more (or less) to `actor`; its reservation moves with it."""

    actor: str
    delta: float = Field(ge=-1.0, le=1.0)


class WeightChange(Strict):
    """`actor` now weighs `issue` `factor` times as much as before (against its other issues)."""

    actor: str
    issue: str
    factor: float = Field(ge=0.0, le=100.0)


class BeliefChange(Strict):
    """What `actor` comes to believe of `about`: `clarity` (0..1) of its error about `about`'s card
    cleared (0: none, 1: it reads the card exactly), and `no_deal`: how far it now thinks `about`'s
    no-deal value has moved (it need not have)."""

    actor: str
    about: str
    clarity: float = Field(default=0.0, ge=0.0, le=1.0)
    no_deal: float = Field(default=0.0, ge=-1.0, le=1.0)


VALUE_EFFECTS = ("no_deal", "weights", "beliefs")  # logged only when used: older injects' events stay as they were


class Effects(Strict):
    trust: list[TrustChange] = Field(default_factory=list)
    channels: list[ChannelChange] = Field(default_factory=list)
    withdraw: list[Withdrawal] = Field(default_factory=list)
    variants: dict[str, str] = Field(default_factory=dict, description="actor -> persona variant from now on")
    no_deal: list[NoDealChange] = Field(default_factory=list)
    weights: list[WeightChange] = Field(default_factory=list)
    beliefs: list[BeliefChange] = Field(default_factory=list)

    def logged(self) -> dict:
        """The effects as an inject event records them."""
        out = self.model_dump(by_alias=True, exclude=set(VALUE_EFFECTS))
        for name in VALUE_EFFECTS:
            if getattr(self, name):
                out[name] = [c.model_dump() for c in getattr(self, name)]
        return out

    def changes_values(self) -> bool:
        return any(getattr(self, name) for name in VALUE_EFFECTS)


class Inject(Strict):
    round: int = Field(ge=1)
    to: Literal["all"] | list[str] = "all"
    text: str = Field(min_length=1)
    effects: Effects = Effects()

    def audience(self, actors: list[str]) -> list[str]:
        return list(actors) if self.to == "all" else [a for a in actors if a in self.to]


class InjectFile(Strict):
    title: str = Field(min_length=1)
    description: str = ""
    events: list[Inject] = Field(min_length=1)


def load_injects(path: Path | str, scenario: Scenario) -> list[Inject]:
    """The injects of a file, checked against the world: actors, issues, options and variants exist."""
    path = Path(path)
    name = display_path(path)
    problems: list[Problem] = []
    raw = read_yaml(path, problems)
    if raw is None:
        raise InvalidInput(problems)
    try:
        parsed = InjectFile.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput(from_validation_error(name, exc)) from None
    problems += inject_problems(name, parsed.events, scenario)
    if problems:
        raise InvalidInput(problems)
    return list(parsed.events)


def inject_problems(name: str, injects: list[Inject], scenario: Scenario) -> list[Problem]:
    check = _InjectCheck(name, scenario)
    out: list[Problem] = []
    for n, inject in enumerate(injects):
        at = f"events[{n}]"
        if inject.to != "all":
            for k, who in enumerate(inject.to):
                out += check.actor(f"{at}.to[{k}]", who)
        out += check.channel_problems(at, inject.effects)
        out += check.issue_problems(at, inject.effects)
        for k, b in enumerate(inject.effects.beliefs):
            out += check.actor(f"{at}.effects.beliefs[{k}].actor", b.actor)
            out += check.actor(f"{at}.effects.beliefs[{k}].about", b.about)
            if b.actor == b.about:
                out.append(Problem(name, f"{at}.effects.beliefs[{k}]", f"'{b.actor}' knows its own card"))
        out += check.variant_problems(at, inject.effects)
    return out


class _InjectCheck:
    """What an inject file's effects name (actors, issues, options, variants) against its scenario."""

    def __init__(self, name: str, scenario: Scenario) -> None:
        self.name = name
        self.scenario = scenario
        self.actors = scenario.world.actor_ids()
        self.issues = {i.id: i.option_ids() for i in scenario.world.issues}

    def actor(self, field: str, who: str) -> list[Problem]:
        if who in self.actors:
            return []
        return [Problem(self.name, field, f"unknown actor '{who}' (actors: {', '.join(self.actors)})")]

    def unknown_issue(self, field: str, issue: str) -> list[Problem]:
        if issue in self.issues:
            return []
        return [Problem(self.name, field, f"unknown issue '{issue}' (issues: {', '.join(self.issues)})")]

    def channel_problems(self, at: str, effects: Effects) -> list[Problem]:
        out: list[Problem] = []
        for k, t in enumerate(effects.trust):
            out += self.actor(f"{at}.effects.trust[{k}].from", t.source)
            out += self.actor(f"{at}.effects.trust[{k}].to", t.target)
        for k, c in enumerate(effects.channels):
            out += self.actor(f"{at}.effects.channels[{k}].from", c.source)
            out += self.actor(f"{at}.effects.channels[{k}].to", c.target)
        return out

    def issue_problems(self, at: str, effects: Effects) -> list[Problem]:
        out: list[Problem] = []
        for k, w in enumerate(effects.withdraw):
            out += self.unknown_issue(f"{at}.effects.withdraw[{k}].issue", w.issue)
            if w.issue in self.issues and w.option not in self.issues[w.issue]:
                out.append(
                    Problem(
                        self.name,
                        f"{at}.effects.withdraw[{k}].option",
                        f"issue '{w.issue}' has no option '{w.option}' (options: {', '.join(self.issues[w.issue])})",
                    )
                )
        for k, nd in enumerate(effects.no_deal):
            out += self.actor(f"{at}.effects.no_deal[{k}].actor", nd.actor)
        for k, wc in enumerate(effects.weights):
            out += self.actor(f"{at}.effects.weights[{k}].actor", wc.actor)
            out += self.unknown_issue(f"{at}.effects.weights[{k}].issue", wc.issue)
        return out

    def variant_problems(self, at: str, effects: Effects) -> list[Problem]:
        out: list[Problem] = []
        for who, variant in effects.variants.items():
            out += self.actor(f"{at}.effects.variants.{who}", who)
            if who in self.actors:
                have = variant_names(self.scenario, who)
                if variant not in ("base", *have):
                    out.append(
                        Problem(
                            self.name,
                            f"{at}.effects.variants.{who}",
                            f"no variant '{variant}' for '{who}' (variants: {', '.join(have) or 'none'})",
                        )
                    )
        return out


def variant_names(scenario: Scenario, actor: str) -> list[str]:
    card = read_yaml(scenario.persona_paths[actor], []) or {}
    overlays = card.get("variants") or {}
    return list(overlays) if isinstance(overlays, dict) else []
