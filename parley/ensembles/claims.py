"""Measuring a world's claims over a seeded ensemble: `parley check` and `parley.check(...)`.

Every arm a claim names (its `arm`, and its `against` for a comparison) plays the same seeds, through
the ensemble machinery `parley compare` uses (worker processes, saved and reused runs). Then each
claim's statistic is measured from the saved runs:

- a share is sum(members meeting the condition) / sum(members), the members being runs, deals or
  acts (proposals, accepts, rejections, threats, walkouts, messages) of the arm's runs; its 95%
  interval is Wilson's (each member counted as a draw);
- a mean is over the runs (or deals) of the population, with a seeded bootstrap interval over seeds;
- a comparison (`against`) is the difference of the statistic between the two arms over the same
  seeds, with a seeded bootstrap interval that resamples seeds (pairs kept together), and an exact
  test where one applies: McNemar for a share of runs, the sign test for a mean over runs;
- `changed` is the share of seeds whose outcome (or deal, or rounds) differs between the two arms,
  with a Wilson interval.

A claim holds when its measured value meets the bound (the runs are seeded, so the verdict is the
same every time); the interval shows how far the verdict could move with other seeds. Utilities are
scored by the actors' base cards in every arm (`parley.ensembles.scoring`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from parley.engine.issue_space import IssueSpace
from parley.ensembles.compare import check_out, prepare_arms, seed_list
from parley.ensembles.runner import BASELINE, Arm, OnRun, default_workers, run_ensemble, warm_workers
from parley.ensembles.scoring import base_no_deal, base_space, base_utilities
from parley.ensembles.stats import (
    bootstrap_ratio,
    format_p,
    mcnemar_exact,
    paired_ratio_difference,
    rng_for,
    sign_test,
    wilson,
)
from parley.runs.compact import read_lines
from parley.world.claims import ACT_POPULATIONS, EVERY, ArmSpec, Claim, Condition, Limit, Population
from parley.world.problems import InvalidInput, Problem, display_path
from parley.world.scenario import DEFAULT_WORLD, Scenario, load_scenario, read_yaml

WORLDS = "worlds"  # the folder of an output folder that holds the generated world copies (actors reordered)


class NoClaims(Exception):
    """The world makes no claims: there is nothing to check."""


# -- what a run did ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Act:
    kind: str  # proposal, accept, reject, message, walkout
    by: str
    to: tuple[str, ...] = ()
    package: dict[str, str] | None = None
    message_kind: str | None = None


POPULATION_ACTS = {
    "proposals": "proposal",
    "accepts": "accept",
    "rejections": "reject",
    "threats": "message",
    "walkouts": "walkout",
    "messages": "message",
}


@dataclass
class RunFacts:
    """What the claims read of a run: its outcome, who signed, and every act."""

    seed: int
    status: str
    rounds: int
    deal: dict[str, str] | None
    signed: frozenset[str]
    walked_out: tuple[str, ...]
    utilities: dict[str, float]  # by the base cards
    no_deal: dict[str, float]  # by the base cards
    acts: list[Act]
    framework: dict[str, str] | None = None  # rule ratify: the package the framework parties signed
    refused: frozenset[str] = frozenset()
    war_continues: bool | None = None

    @property
    def package(self) -> dict[str, str] | None:
        """What the run settled on: its deal, else a framework some refused, else nothing."""
        return self.deal or self.framework

    @classmethod
    def read(cls, folder: Path, row: dict[str, Any], space: IssueSpace) -> RunFacts:
        packages: dict[str, tuple[str, dict[str, str]]] = {}
        acts: list[Act] = []
        signed: list[str] = []
        outcome: dict[str, Any] = {}
        with (folder / "events.jsonl").open(encoding="utf-8") as f:
            for event in read_lines(f):  # plain or compact lines (parley.runs.compact)
                kind = event.get("type")
                if kind == "proposal":
                    packages[event["proposal"]] = (event["actor"], event["package"])
                    acts.append(Act("proposal", event["actor"], tuple(event.get("to") or ()), event["package"]))
                elif kind == "response":
                    proposer, package = packages.get(event["proposal"], ("", None))
                    verb = "accept" if event.get("accept") else "reject"
                    acts.append(Act(verb, event["actor"], (proposer,), package))
                elif kind == "message":
                    to = tuple(event.get("to") or ())
                    acts.append(Act("message", event["actor"], to, None, event.get("kind")))
                elif kind == "walkout":
                    acts.append(Act("walkout", event["actor"]))
                elif kind == "deal":
                    signed = list(event.get("accepted_by") or [])
                elif kind == "outcome":
                    outcome = event
        deal = row.get("deal") or None
        framework = outcome.get("framework") if isinstance(outcome.get("framework"), dict) else None
        if "signed" in outcome:  # an outcome that says who signed (a deal, or a framework) outright
            signed = list(outcome.get("signed") or [])
        elif not deal:
            signed = []
        return cls(
            seed=row["seed"],
            status=str(row["status"]),
            rounds=int(row["rounds"] or 0),
            deal=deal,
            signed=frozenset(signed),
            walked_out=tuple(outcome.get("walked_out") or ()),
            utilities=base_utilities(
                space,
                deal,
                (framework or {}).get("package") if row["status"] == "refused" else None,
                outcome.get("war_continues"),
            ),
            no_deal=base_no_deal(space),
            acts=acts,
            framework=(framework or {}).get("package"),
            refused=frozenset(outcome.get("refused") or ()),
            war_continues=outcome.get("war_continues"),
        )


# -- conditions ----------------------------------------------------------------------------------
def holds(cond: Condition, run: RunFacts, act: Act | None, who: str | None) -> bool:
    """Whether a run (or an act of it) meets every part of a condition; `who` stands for each/signatories."""
    return (
        _package_holds(cond, run, act)
        and _ending_holds(cond, run, who)
        and (act is None or _act_holds(cond, act, who))
        and _measures_hold(cond, run, who)
        and _parts_hold(cond, run, act, who)
    )


def _actor(name: str, who: str | None) -> str:
    """An actor a condition names, with each/signatories standing for `who`."""
    return who if name in EVERY and who is not None else name


def _package_holds(cond: Condition, run: RunFacts, act: Act | None) -> bool:
    if cond.options is None:
        return True
    package = act.package if act is not None else run.package
    return package is not None and all(package.get(i) in opts for i, opts in cond.options.items())


def _ending_holds(cond: Condition, run: RunFacts, who: str | None) -> bool:
    """How the run ended: its outcome, who signed, refused or walked out, whether the war goes on."""
    if cond.outcome is not None and not any(outcome_is(run.status, o) for o in cond.outcome):
        return False
    if cond.signed_by is not None and _actor(cond.signed_by, who) not in run.signed:
        return False
    if cond.refused_by is not None and _actor(cond.refused_by, who) not in run.refused:
        return False
    if cond.war_continues is not None and run.war_continues is not cond.war_continues:
        return False
    return not (cond.walked_out is not None and _actor(cond.walked_out, who) not in run.walked_out)


def _act_holds(cond: Condition, act: Act, who: str | None) -> bool:
    if cond.by is not None and act.by != _actor(cond.by, who):
        return False
    if cond.to is not None and _actor(cond.to, who) not in act.to:
        return False
    return not (cond.kind is not None and act.message_kind != cond.kind)


def _measures_hold(cond: Condition, run: RunFacts, who: str | None) -> bool:
    """Utility, gain over no deal, and rounds played, each within its bounds."""
    if cond.utility is not None and not cond.utility.holds(run.utilities[_actor(cond.utility.actor, who)]):
        return False
    if cond.gain is not None:
        name = _actor(cond.gain.actor, who)
        if not cond.gain.holds(run.utilities[name] - run.no_deal[name]):
            return False
    return not (cond.rounds is not None and not cond.rounds.holds(run.rounds))


def _parts_hold(cond: Condition, run: RunFacts, act: Act | None, who: str | None) -> bool:
    """The condition's sub-conditions: at least `count` of, all of, any of, not."""
    if cond.count is not None and sum(holds(c, run, act, who) for c in cond.count.of) < cond.count.at_least:
        return False
    if cond.all_ is not None and not all(holds(c, run, act, who) for c in cond.all_):
        return False
    if cond.any_ is not None and not any(holds(c, run, act, who) for c in cond.any_):
        return False
    return not (cond.not_ is not None and holds(cond.not_, run, act, who))


def outcome_is(status: str, outcome: str) -> bool:
    if outcome == "deal":
        return status == "converged"
    if outcome == "no_deal":
        return status != "converged"
    return status == outcome


def members(population: Population, run: RunFacts, who: str | None) -> Iterator[Act | None]:
    """The members of a run in a population: the run itself (None) or its acts."""
    if population.in_ in ACT_POPULATIONS:
        kind = POPULATION_ACTS[population.in_]
        for act in run.acts:
            if act.kind != kind or (population.in_ == "threats" and act.message_kind != "threat"):
                continue
            if holds(population, run, act, who):
                yield act
    elif population.in_ == "deals" and run.status != "converged":
        return
    elif population.in_ == "frameworks" and run.framework is None:
        return
    elif holds(population, run, None, who):
        yield None


# -- measuring -----------------------------------------------------------------------------------
@dataclass
class Counts:
    """Per seed: a numerator and a denominator (a share: members meeting the condition, members;
    a mean: the sum of the quantity, runs)."""

    num: np.ndarray
    den: np.ndarray

    @property
    def value(self) -> float:
        total = float(self.den.sum())
        return float(self.num.sum()) / total if total else math.nan


def counts(claim: Claim, runs: list[RunFacts | None], who: str | None) -> Counts:
    num, den = np.zeros(len(runs)), np.zeros(len(runs))
    for s, run in enumerate(runs):
        if run is None:
            continue
        for member in members(claim.among, run, who):
            den[s] += 1
            if claim.share is not None:
                num[s] += holds(claim.share, run, member, who)
            else:
                num[s] += quantity(claim, run, who)
    return Counts(num, den)


def quantity(claim: Claim, run: RunFacts, who: str | None) -> float:
    q = claim.mean
    assert q is not None
    if q.rounds:
        return float(run.rounds)
    name = q.actor or ""
    name = who if name in EVERY and who is not None else name
    floor = run.no_deal[name] if q.gain is not None else 0.0
    return run.utilities[name] - floor


def changed(what: str, a: RunFacts, b: RunFacts) -> bool:
    """Whether two runs of a seed differ in their outcome, their package (deal or framework) or their rounds."""
    outcome, deal, rounds = a.status != b.status, a.package != b.package, a.rounds != b.rounds
    return {"outcome": outcome, "deal": deal, "rounds": rounds, "any": outcome or deal or rounds}[what]


@dataclass
class Measure:
    """One claim measured for one actor (or for no actor in particular)."""

    value: float
    lo: float
    hi: float
    n: int  # members of the population (for a comparison, of the arm with fewer; for `changed`, paired seeds)
    test: str = ""
    p: float = math.nan
    actor: str | None = None


def measure_one(
    claim: Claim, index: int, arm: list[RunFacts | None], against: list[RunFacts | None] | None, who: str | None
) -> Measure:
    rng = rng_for(7000 + index, 0 if who is None else 1 + sum(map(ord, who)))
    if claim.changed is not None:
        assert against is not None
        pairs = [(a, b) for a, b in zip(arm, against, strict=True) if a is not None and b is not None]
        k = sum(changed(claim.changed, a, b) for a, b in pairs)
        lo, hi = wilson(k, len(pairs))
        return Measure(k / len(pairs) if pairs else math.nan, lo, hi, len(pairs), actor=who)
    mine = counts(claim, arm, who)
    if against is None:
        n = int(mine.den.sum())
        if claim.share is not None:
            lo, hi = wilson(int(mine.num.sum()), n)
        else:
            lo, hi = bootstrap_ratio(mine.num, mine.den, rng)
        return Measure(mine.value, lo, hi, n, actor=who)
    theirs = counts(claim, against, who)
    both = [s for s in range(len(arm)) if arm[s] is not None and against[s] is not None]
    a, b = Counts(mine.num[both], mine.den[both]), Counts(theirs.num[both], theirs.den[both])
    lo, hi = paired_ratio_difference(a.num, a.den, b.num, b.den, rng)
    out = Measure(a.value - b.value, lo, hi, int(min(a.den.sum(), b.den.sum())), actor=who)
    if len(both) and bool((a.den == 1).all() and (b.den == 1).all()):  # one member per seed in each arm: paired
        if claim.share is not None:
            up, down = int(((a.num == 1) & (b.num == 0)).sum()), int(((a.num == 0) & (b.num == 1)).sum())
            out.p, out.test = mcnemar_exact(up, down), f"exact McNemar {up} up, {down} down"
        else:
            up, down, out.p = sign_test(a.num - b.num)
            out.test = f"exact sign test {up} up, {down} down"
        out.test += f", {format_p(out.p)}"
    return out


def margin(claim: Claim, value: float) -> float:
    """How far inside its bound a value is (negative: outside; NaN counts as far outside)."""
    if math.isnan(value):
        return -math.inf
    name, bound = claim.bound
    if name == "between":
        return min(value - bound[0], bound[1] - value)
    if name == "within":
        return bound - abs(value)
    return {"at_most": bound - value, "at_least": value - bound, "below": bound - value, "above": value - bound}[name]


def meets(claim: Claim, value: float) -> bool:
    name, _ = claim.bound
    m = margin(claim, value)
    return m > 0 if name in ("below", "above") else m >= -1e-12


# -- the scorecard -------------------------------------------------------------------------------
@dataclass
class ClaimResult:
    claim: Claim
    arm: str
    against: str | None
    measure: str  # what was measured, in words
    bound: str  # the bound, in words
    kind: str  # share, mean or difference: how to show the numbers
    value: float
    lo: float
    hi: float
    n: int
    held: bool
    note: str = ""
    test: str = ""
    actor: str | None = None  # for a claim about each actor: the one farthest from (or outside) the bound

    @property
    def verdict(self) -> str:
        return "held" if self.held else "broken"


@dataclass
class Scorecard:
    """What `parley check` found: each claim's measured value, interval and verdict, and where the runs are."""

    world: dict[str, str]  # id, title, path
    results: list[ClaimResult]
    seeds: list[int]
    arms: list[str]
    out: Path
    files: dict[str, Path] = field(default_factory=dict)
    played: int = 0
    reused: int = 0
    removed: list[str] = field(default_factory=list)

    @property
    def broken(self) -> list[ClaimResult]:
        return [r for r in self.results if not r.held]


def show(kind: str, x: float) -> str:
    """A measured number as the scorecard shows it: shares in %, differences of shares in points."""
    if x is None or math.isnan(x):
        return "n/a"
    if kind == "share":
        return f"{round(100 * x) + 0:.0f}%"
    if kind == "points":
        points = round(100 * x) + 0  # no "-0"
        return f"{points:+.0f} pts" if points else "0 pts"
    if kind == "difference":
        return f"{round(x, 3) + 0:+.3f}" if round(x, 3) else "0.000"
    if kind == "rounds":
        return f"{x:.1f}"
    return f"{round(x, 3) + 0:.3f}"


def kind_of(claim: Claim) -> str:
    if claim.mean is not None:
        if claim.mean.rounds:
            return "difference" if claim.against is not None else "rounds"
        return "difference" if claim.against is not None else "mean"
    if claim.changed is not None:
        return "share"
    return "points" if claim.against is not None else "share"


def bound_text(claim: Claim) -> str:
    name, value = claim.bound
    kind = kind_of(claim)

    def num(x: float) -> str:
        if kind == "share":
            return f"{100 * x:g}%"
        if kind == "points":
            return f"{100 * x:+g} pts" if x else "0 pts"
        return f"{x:+g}" if kind == "difference" and x else f"{x:g}"

    words = {"at_most": "at most", "at_least": "at least", "below": "below", "above": "above", "within": "within ±"}
    if name == "between":
        return f"between {num(value[0])} and {num(value[1])}"
    if name == "within":
        return f"within ±{num(value).lstrip('+')}"
    return f"{words[name]} {num(value)}"


def limit_text(limit: Limit) -> str:
    for name, sign in (("at_most", "≤"), ("at_least", "≥"), ("below", "<"), ("above", ">")):
        value = getattr(limit, name)
        if value is not None:
            return f"{sign} {value:g}"
    return ""


def named(actor: str) -> str:
    return {"each": "each actor", "signatories": "each signatory"}.get(actor, actor)


def condition_text(cond: Condition) -> str:
    parts: list[str] = []
    for issue, options in (cond.options or {}).items():
        parts.append(f"{issue}={options[0]}" if len(options) == 1 else f"{issue} in ({', '.join(options)})")
    if cond.outcome is not None:
        parts.append("outcome " + " or ".join(cond.outcome))
    words = (("signed_by", "signed by"), ("walked_out", "walkout by"), ("by", "made by"), ("to", "addressed to"))
    for key, text in (*words, ("refused_by", "refused by")):
        if getattr(cond, key) is not None:
            parts.append(f"{text} {named(getattr(cond, key))}")
    if cond.war_continues is not None:
        parts.append("the war goes on" if cond.war_continues else "the war ends")
    if cond.kind is not None:
        parts.append(f"kind {cond.kind}")
    if cond.utility is not None:
        parts.append(f"{named(cond.utility.actor)}'s utility {limit_text(cond.utility)}")
    if cond.gain is not None:
        parts.append(f"{named(cond.gain.actor)}'s gain over no deal {limit_text(cond.gain)}")
    if cond.rounds is not None:
        parts.append(f"rounds {limit_text(cond.rounds)}")
    if cond.count is not None:
        parts.append(f"at least {cond.count.at_least} of [{'; '.join(condition_text(c) for c in cond.count.of)}]")
    if cond.all_ is not None:
        parts.append(f"all of [{'; '.join(condition_text(c) for c in cond.all_)}]")
    if cond.any_ is not None:
        parts.append(f"any of [{'; '.join(condition_text(c) for c in cond.any_)}]")
    if cond.not_ is not None:
        parts.append(f"not ({condition_text(cond.not_)})")
    return ", ".join(parts)


def measure_text(claim: Claim) -> str:
    population = claim.among.in_ + (f" ({condition_text(claim.among)})" if condition_text(claim.among) else "")
    if claim.changed is not None:
        what = {"any": "outcome, deal or rounds"}.get(claim.changed, claim.changed)
        return f"share of seeds whose {what} differs"
    if claim.share is not None:
        text = f"share of {population}: {condition_text(claim.share)}"
    else:
        q = claim.mean
        assert q is not None
        who = named(q.actor or "")
        what = "rounds" if q.rounds else f"{who}'s utility" if q.utility else f"{who}'s gain over no deal"
        text = f"mean {what} over {population}"
    return f"{text}: this arm minus the other" if claim.against is not None else text


def measure_claim(
    claim: Claim,
    index: int,
    facts: dict[tuple, list[RunFacts | None]],
    scenario: Scenario,
) -> ClaimResult:
    """A claim's value, interval and verdict; for a claim about each actor, the worst actor's."""
    arm = facts[claim.arm.key()]
    against = facts[claim.against.key()] if claim.against is not None else None
    every = actor_set(claim)
    who: list[str | None] = (
        list(scenario.world.actor_ids() if every == "each" else scenario.world.signatories()) if every else [None]
    )
    found = [measure_one(claim, index, arm, against, w) for w in who]
    worst = min(found, key=lambda m: margin(claim, m.value))
    held = all(meets(claim, m.value) for m in found) and all(m.n >= claim.min_n for m in found)
    notes = []
    small = [m for m in found if m.n < claim.min_n]
    if small:
        notes.append(f"too few in the population: {small[0].n} (min_n {claim.min_n})")
    elif math.isnan(worst.value):
        notes.append("nothing to measure: the population is empty")
    if every and worst.actor is not None:
        notes.append(f"{'broken' if not held else 'closest to the bound'} for {worst.actor}")
    if not math.isnan(worst.lo) and meets(claim, worst.lo) != meets(claim, worst.hi):
        notes.append("the 95% interval crosses the bound")
    return ClaimResult(
        claim=claim,
        arm=claim.arm.label,
        against=claim.against.label if claim.against is not None else None,
        measure=measure_text(claim),
        bound=bound_text(claim),
        kind=kind_of(claim),
        value=worst.value,
        lo=worst.lo,
        hi=worst.hi,
        n=worst.n,
        held=held,
        note="; ".join(notes),
        test=worst.test,
        actor=worst.actor,
    )


def actor_set(claim: Claim) -> str | None:
    """`each` or `signatories` when the claim names a set of actors anywhere, else None."""
    found = [v for v in _strings(claim.model_dump(exclude={"id", "says", "basis", "stance"})) if v in EVERY]
    return found[0] if found else None


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)


# -- arms ----------------------------------------------------------------------------------------
def arm_for(spec: ArmSpec, scenario: Scenario, out: Path) -> Arm:
    """The ensemble arm that plays a claim's arm (a world copy written for a reordering)."""
    world = None
    if spec.order is not None:
        world = reordered_world(scenario, spec.order, out / WORLDS)
    inject = scenario.world_path.parent / spec.inject if spec.inject is not None else None
    return Arm(spec.label, dict(spec.variants), world=world, inject=inject, inject_round=spec.at_round)


def reordered_world(scenario: Scenario, order: str | list[str], folder: Path) -> Path:
    """A copy of the world with its actors listed in another order, its paths pointing at the
    original's files; the claims are left out (they are the original's to check)."""
    raw = read_yaml(scenario.world_path, []) or {}
    ids = scenario.world.actor_ids()
    wanted = list(reversed(ids)) if order == "reversed" else list(order)
    by_id = {a["id"]: dict(a) for a in raw["actors"]}
    folder.mkdir(parents=True, exist_ok=True)

    def relative(path: Path) -> str:
        return Path(os.path.relpath(path.resolve(), folder.resolve())).as_posix()

    actors = [{**by_id[a], "persona": relative(scenario.persona_paths[a])} for a in wanted]
    copy = {k: v for k, v in raw.items() if k != "claims"}
    copy["actors"] = actors
    copy["prompts"] = relative(scenario.prompts_dir)
    if raw.get("source_text"):
        copy["source_text"] = relative(scenario.world_path.parent / raw["source_text"])
    name = "reversed" if order == "reversed" else "order-" + "-".join(wanted)
    path = folder / f"{scenario.world.id}-{name}.yaml"
    header = (
        f"# Written by `parley check`: {display_path(scenario.world_path)} with its actors listed "
        f"{'reversed' if order == 'reversed' else 'as ' + ', '.join(wanted)}. Do not edit: it is written again.\n"
    )
    text = header + yaml.safe_dump(copy, sort_keys=False, allow_unicode=True, width=120)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path


def arms_of(claims: list[Claim]) -> list[ArmSpec]:
    """Every arm the claims need, once each, the baseline first when needed."""
    found: dict[tuple, ArmSpec] = {}
    for claim in claims:
        for spec in claim.arms():
            found.setdefault(spec.key(), spec)
    specs = list(found.values())
    return sorted(specs, key=lambda s: s.label != BASELINE)


# -- the check -----------------------------------------------------------------------------------
def check(
    world: Path | str = DEFAULT_WORLD,
    seeds: int | list[int] = 50,
    *,
    first_seed: int = 1,
    workers: int | None = None,
    out: Path | str = "check",
    reuse: bool = True,
    on_run: OnRun | None = None,
    on_start: Callable[[list[str], list[int], int], None] | None = None,
) -> Scorecard:
    """Play every arm the world's claims need over the same seeds (offline), saving the runs under
    `out/runs`, and measure each claim. Raises InvalidInput (every problem, one line each) before
    playing anything, and NoClaims when the world makes none."""
    seeds = seed_list(seeds, first_seed)
    out = Path(out)
    check_out(out)
    if workers is not None and workers < 1:
        raise InvalidInput([Problem("--workers", str(workers), "must be at least 1")])
    scenario = load_scenario(world)
    claims = scenario.world.claims
    if not claims:
        raise NoClaims(
            f"{display_path(scenario.world_path)} makes no claims: nothing to check (see `claims:` in the README)"
        )
    if (workers or default_workers()) > 1:
        warm_workers()
    specs = arms_of(claims)
    out.mkdir(parents=True, exist_ok=True)
    arms = [arm_for(spec, scenario, out) for spec in specs]
    prepared = prepare_arms(world, arms, None, None)
    if on_start is not None:
        on_start([a.label for a in arms], seeds, len(arms) * len(seeds))
    ensemble = run_ensemble(world, prepared, seeds, out, workers=workers, reuse=reuse, on_run=on_run)
    space = base_space(scenario)
    facts: dict[tuple, list[RunFacts | None]] = {spec.key(): [None] * len(seeds) for spec in specs}
    position = {s: i for i, s in enumerate(seeds)}
    for row in ensemble.rows:
        key = specs[row["arm"]].key()
        facts[key][position[row["seed"]]] = RunFacts.read(out / "runs" / row["run_id"], row, space)
    results = [measure_claim(claim, i, facts, scenario) for i, claim in enumerate(claims)]
    return Scorecard(
        world={"id": scenario.world.id, "title": scenario.world.title, "path": display_path(scenario.world_path)},
        results=results,
        seeds=seeds,
        arms=[a.label for a in arms],
        out=out,
        played=ensemble.played,
        reused=ensemble.reused,
        removed=ensemble.removed,
    )


__all__ = ["ClaimResult", "NoClaims", "Scorecard", "check"]
