"""A game's debrief: the room's run beside the personas' ensemble of the same setting.

Where the room's outcome sits in the personas' distribution (how often they ended the same way,
the percentile of each actor's utility, how often their deals chose the room's option on each
issue), and what the people at the table did differently from the personas in their seats: how
often they proposed, accepted, rejected, messaged, walked out, how far they conceded, and the
options they put on the table that the personas rarely or never did.

`debrief` is a pure function of the runs' files (a room and its ensemble, read with
`parley.runs.saved`) and the scenario they played; everything it says is in the world's words
(persona names, issue titles, option titles), never ids. The same result makes the `debrief`
section of `RUN/report.html` (`parley debrief`) and the board's /debrief page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from parley.engine.events import EventType
from parley.engine.issue_space import IssueSpace
from parley.runs.saved import SavedRun
from parley.world.labels import Labels
from parley.world.problems import InvalidInput, Problem, display_path
from parley.world.scenario import Scenario
from parley.world.templates import Templates

RARE = 0.1  # an option the personas put on the table in at most this share of runs is "rare"
USUAL = 0.5  # ... in at least this share, "usual"
MISSED = 5  # the usual offers the room never made, named at most
TAIL = 10.0  # a room value beyond this percentile (or below 100 minus it) is named as unusual

ENDINGS = {
    "converged": "a deal",
    "refused": "a framework refused by a party at war",
    "stalled": "a stall",
    "breakdown": "a breakdown",
    "max_rounds": "no deal within the round limit",
    "budget_exhausted": "no money left for the language model",
    "abandoned": "a game abandoned",
    "halted": "a game halted",
}


# -- the result ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ending:
    """How the room ended, and how often the personas ended the same way."""

    status: str
    words: str  # "a deal"
    rounds: int
    same: int  # ensemble runs with the same ending
    runs: int  # ensemble runs
    shares: dict[str, float]  # the ensemble's ending (in words) -> its share
    rounds_percentile: float  # of the room's rounds among the ensemble's
    median_rounds: float

    @property
    def same_share(self) -> float:
        return self.same / self.runs if self.runs else math.nan


@dataclass(frozen=True)
class Standing:
    """One actor's utility in the room against the no-deal value and the ensemble's."""

    actor: str
    name: str
    utility: float
    no_deal: float
    percentile: float  # share of ensemble runs where it did worse, ties counted half (0..100)
    median: float  # the ensemble's median utility for it
    low: float  # the ensemble's 10th percentile
    high: float  # ... and its 90th
    played_by_people: bool

    @property
    def margin(self) -> float:
        return self.utility - self.no_deal


@dataclass(frozen=True)
class IssueChoice:
    """The room's option on an issue against the personas' packages of the same kind."""

    issue: str
    title: str
    option: str | None  # the room's option id (for links and tests; never shown)
    option_title: str | None
    meaning: str | None
    same: int  # ensemble packages that chose the same option
    packages: int  # ensemble packages of the same kind (deals, or frameworks)
    usual_title: str | None  # the option the ensemble's packages chose most often
    usual_count: int

    @property
    def same_share(self) -> float:
        return self.same / self.packages if self.packages else math.nan


@dataclass(frozen=True)
class ActComparison:
    """One measure of a seat's play: the room's value against the personas' in that seat."""

    measure: str
    label: str  # "proposals a round"
    room: float | None
    mean: float
    low: float
    high: float
    runs: int  # ensemble runs with a value
    percentile: float  # of the room's value among the ensemble's (nan without one)
    share: bool = False  # a 0..1 share (shown as %)

    @property
    def unusual(self) -> bool:
        return self.room is not None and self.runs > 0 and (self.percentile >= 100 - TAIL or self.percentile <= TAIL)


@dataclass(frozen=True)
class OptionNote:
    """An option a seat put on the table (or did not), and how often the personas in it did."""

    issue_title: str
    option_title: str
    meaning: str
    share: float  # of ensemble runs where the persona in the seat proposed it
    option: str  # id, for tests; never shown


@dataclass(frozen=True)
class SeatDifferences:
    actor: str
    name: str
    acts: list[ActComparison]
    rare_offers: list[OptionNote]  # the room offered, the personas rarely or never did
    missed_offers: list[OptionNote]  # the personas usually offered, the room never did
    proposed: bool  # the room's seat made a proposal at all

    @property
    def unusual(self) -> list[ActComparison]:
        return [a for a in self.acts if a.unusual]

    def sentences(self) -> list[str]:
        out = [act_sentence(self.name, a) for a in self.unusual]
        never = [o for o in self.rare_offers if o.share == 0]
        rarely = [o for o in self.rare_offers if o.share > 0]
        if never:
            listed = "; ".join(f"{o.option_title} ({o.issue_title})" for o in never)
            out.append(f"{self.name} offered what the personas in this seat never did: {listed}.")
        if rarely:
            listed = "; ".join(f"{o.option_title} ({o.issue_title}, in {o.share:.0%} of their runs)" for o in rarely)
            out.append(f"{self.name} offered what the personas in this seat rarely did: {listed}.")
        if self.missed_offers:
            listed = "; ".join(
                f"{o.option_title} ({o.issue_title}, in {o.share:.0%} of their runs)" for o in self.missed_offers
            )
            out.append(f"The personas in this seat usually offered what {self.name} never did: {listed}.")
        if not self.proposed:
            out.append(f"{self.name} made no proposal.")
        if not out:
            out.append(f"{self.name} played much as the personas in that seat do: nothing stands out.")
        return out


@dataclass(frozen=True)
class Debrief:
    world: str  # title
    run_id: str
    setting: str
    ensemble_runs: int
    source: str  # where the ensemble's runs came from, in words
    ending: Ending
    standings: list[Standing]
    package_kind: str  # deal | framework | none
    choices: list[IssueChoice]
    seats: list[SeatDifferences]
    notes: list[str] = field(default_factory=list)

    def summary(self) -> list[str]:
        """The debrief as a few plain lines (what `parley debrief` prints)."""
        e = self.ending
        lines = [
            f"The room ended in {e.words} after {e.rounds} round(s); "
            f"{e.same} of {e.runs} persona runs ({e.same_share:.0%}) ended the same way.",
        ]
        for s in self.standings:
            where = (
                f"above {s.percentile:.0f}% of the persona runs (their median {s.median:.2f})"
                if math.isfinite(s.percentile)
                else "no persona run to compare"
            )
            lines.append(
                f"{s.name}: utility {s.utility:.2f} (no deal {s.no_deal:.2f}), {where}"
                + (" [played by people]" if s.played_by_people else "")
            )
        if self.package_kind != "none":
            kind = "deals" if self.package_kind == "deal" else "frameworks"
            rare = [c for c in self.choices if c.option is not None and c.packages and c.same_share <= RARE]
            lines.append(
                f"Of the personas' {self.choices[0].packages if self.choices else 0} {kind}, "
                + (
                    "; ".join(f"{c.same} chose {c.option_title} on {c.title}" for c in rare)
                    if rare
                    else agreeing([c.same_share for c in self.choices if c.option is not None and c.packages])
                )
                + "."
            )
        for seat in self.seats:
            lines += [f"- {x}" for x in seat.sentences()]
        if not self.seats:
            lines.append("No seat was played by people: nothing to compare with the personas' acts.")
        return lines + self.notes


# -- helpers ---------------------------------------------------------------------------------------
def agreeing(shares: Sequence[float]) -> str:
    """How many of the personas' packages chose as the room did, on the issue where fewest did."""
    least = min(shares, default=1.0)
    if least >= 1.0:
        return "every one chose as the room did on every issue"
    return f"on every issue at least {least:.0%} of them chose as the room did"


def percentile_of(value: float, values: Sequence[float]) -> float:
    """The share of `values` below `value`, ties counted half, as 0..100 (nan for none)."""
    s = pd.Series(values, dtype=float).dropna()
    if s.empty or value is None or (isinstance(value, float) and math.isnan(value)):
        return math.nan
    return float(100 * ((s < value).mean() + 0.5 * (s == value).mean()))


def option_title(labels: Labels, option: str) -> str:
    words = labels(option)
    return words[:1].upper() + words[1:]


def act_sentence(name: str, a: ActComparison) -> str:
    def shown(x: float | None) -> str:
        if x is None or (isinstance(x, float) and math.isnan(x)):
            return "n/a"
        return f"{x:.0%}" if a.share else f"{x:.2f}"

    higher = a.percentile >= 50
    share = a.percentile if higher else 100 - a.percentile
    than = "all" if share >= 99.5 else f"{share:.0f}%"
    return (
        f"{name}: {a.label} {shown(a.room)}, {'higher' if higher else 'lower'} than in {than} of the personas' "
        f"runs in this seat (their mean {shown(a.mean)}; {shown(a.low)} to {shown(a.high)} in the middle 80% "
        f"of {a.runs} runs)."
    )


def package_of(run: SavedRun) -> tuple[str, dict[str, str] | None]:
    """('deal', package), ('framework', package) or ('none', None) from a run's outcome."""
    outcome = run.outcome or {}
    if isinstance(outcome.get("deal"), dict):
        return "deal", {str(k): str(v) for k, v in outcome["deal"].items()}
    framework = outcome.get("framework")
    if isinstance(framework, dict) and isinstance(framework.get("package"), dict):
        return "framework", {str(k): str(v) for k, v in framework["package"].items()}
    return "none", None


MEASURES: list[tuple[str, str, bool]] = [  # (measure, label, a share)
    ("proposals", "proposals a round", False),
    ("counters", "counter-proposals a round", False),
    ("accepts", "acceptances a round", False),
    ("rejects", "rejections a round", False),
    ("accept_share", "share of answers that accept", True),
    ("messages", "messages a round", False),
    ("threats", "threats a round", False),
    ("flattery", "flattering messages a round", False),
    ("concession_messages", "conceding messages a round", False),
    ("channels_closed", "channels closed", False),
    ("walkout", "walked out", True),
    ("first_offer", "own utility of the first offer", False),
    ("concession", "conceded between the first and the last offer (own utility)", False),
]


def acts_of(run: SavedRun, actor: str, space: IssueSpace) -> tuple[dict[str, float | None], dict[str, set[str]]]:
    """What `actor` did in a run (each measure of MEASURES) and the options it proposed, per issue."""
    rounds = max(1, run.rounds)
    mine = [e for e in run.events if e.get("actor") == actor]
    proposals = [e for e in mine if e.get("type") == EventType.PROPOSAL and isinstance(e.get("package"), dict)]
    answers = [e for e in mine if e.get("type") == EventType.RESPONSE]
    accepts = sum(1 for e in answers if e.get("accept"))
    messages = [e for e in mine if e.get("type") == EventType.MESSAGE]
    own: list[float] = []
    index = space.index(actor)
    for e in proposals:
        try:
            own.append(space.utility(space.encode({i: str(e["package"][i]) for i in space.issues}), index))
        except (KeyError, TypeError, ValueError):
            continue  # a package of options the world no longer has
    acts: dict[str, float | None] = {
        "proposals": len(proposals) / rounds,
        "counters": sum(1 for e in proposals if e.get("counter_to")) / rounds,
        "accepts": accepts / rounds,
        "rejects": (len(answers) - accepts) / rounds,
        "accept_share": accepts / len(answers) if answers else None,
        "messages": len(messages) / rounds,
        "threats": sum(1 for e in messages if e.get("kind") == "threat") / rounds,
        "flattery": sum(1 for e in messages if e.get("kind") == "flattery") / rounds,
        "concession_messages": sum(1 for e in messages if e.get("kind") == "concession") / rounds,
        "channels_closed": float(sum(1 for e in mine if e.get("type") == EventType.CHANNEL and e.get("open") is False)),
        "walkout": float(any(e.get("type") == EventType.WALKOUT for e in mine)),
        "first_offer": own[0] if own else None,
        "concession": own[0] - own[-1] if len(own) >= 2 else None,
    }
    offered: dict[str, set[str]] = {}
    for e in proposals:
        for issue, option in e["package"].items():
            offered.setdefault(str(issue), set()).add(str(option))
    return acts, offered


# -- the debrief -----------------------------------------------------------------------------------
def check_ensemble(room: SavedRun, ensemble: Sequence[SavedRun]) -> None:
    """The ensemble must be of the room's world and have finished runs; one line if not."""
    if room.manifest is None or room.outcome is None:
        raise InvalidInput([Problem(display_path(room.folder), "", "not a finished run: nothing to debrief")])
    finished = [r for r in ensemble if r.outcome is not None]
    if not finished:
        raise InvalidInput([Problem("ensemble", "", "holds no finished run")])
    worlds = {r.manifest.world.id for r in finished if r.manifest is not None}
    if worlds != {room.manifest.world.id}:
        other = ", ".join(sorted(worlds - {room.manifest.world.id})) or "unknown"
        raise InvalidInput(
            [
                Problem(
                    "ensemble", "", f"is of another world ({other}) than run {room.run_id} ({room.manifest.world.id})"
                )
            ]
        )


def debrief(
    room: SavedRun,
    ensemble: Sequence[SavedRun],
    scenario: Scenario,
    *,
    seats: Sequence[str] | None = None,
    setting: str = "",
    source: str = "",
    notes: Sequence[str] = (),
) -> Debrief:
    """The room's run beside the ensemble. `scenario`: the world and cards the runs played (names,
    titles and each actor's own utility of an offer come from it); `seats`: the actors to compare
    with the personas (default: those the run's manifest says people played)."""
    check_ensemble(room, ensemble)
    assert room.manifest is not None and room.outcome is not None
    runs = [r for r in ensemble if r.outcome is not None]
    world = scenario.world
    labels = Labels(world)
    names = {a: p.name for a, p in scenario.personas.items()}
    actors = world.actor_ids()
    people = list(room.manifest.human if seats is None else seats)
    space = IssueSpace.build(world, scenario.personas)

    frame = pd.DataFrame(
        {
            "status": [str(r.outcome.get("status")) for r in runs if r.outcome],
            "rounds": [r.rounds for r in runs],
            **{f"u_{a}": [_float((r.outcome or {}).get("utilities", {}).get(a)) for r in runs] for a in actors},
        }
    )
    status = str(room.outcome.get("status"))
    counts = frame["status"].value_counts()
    ending = Ending(
        status=status,
        words=ENDINGS.get(status, status.replace("_", " ")),
        rounds=room.rounds,
        same=int(counts.get(status, 0)),
        runs=len(frame),
        shares={ENDINGS.get(str(s), str(s)): float(n) / len(frame) for s, n in counts.items()},
        rounds_percentile=percentile_of(room.rounds, frame["rounds"].tolist()),
        median_rounds=float(frame["rounds"].median()),
    )

    utilities = room.outcome.get("utilities") or {}
    no_deal = room.outcome.get("no_deal") or {}
    standings = []
    for a in actors:
        u = _float(utilities.get(a))
        if math.isnan(u):
            continue
        column = frame[f"u_{a}"].dropna()
        standings.append(
            Standing(
                actor=a,
                name=names.get(a, a),
                utility=u,
                no_deal=_float(no_deal.get(a, scenario.personas[a].no_deal.value)),
                percentile=percentile_of(u, column.tolist()),
                median=float(column.median()) if len(column) else math.nan,
                low=float(column.quantile(0.1)) if len(column) else math.nan,
                high=float(column.quantile(0.9)) if len(column) else math.nan,
                played_by_people=a in people,
            )
        )

    kind, package = package_of(room)
    theirs = [p for k, p in map(package_of, runs) if k == (kind if kind != "none" else "deal") and p is not None]
    choices = []
    for issue in world.issues:
        picked = [p.get(issue.id) for p in theirs if p.get(issue.id) is not None]
        tally = pd.Series(picked, dtype=object).value_counts()
        usual = str(tally.index[0]) if len(tally) else None
        chosen = None if package is None else package.get(issue.id)
        meaning = next((o.meaning for o in issue.options if o.id == chosen), None)
        choices.append(
            IssueChoice(
                issue=issue.id,
                title=issue.title,
                option=chosen,
                option_title=None if chosen is None else option_title(labels, chosen),
                meaning=meaning,
                same=int(tally.get(chosen, 0)) if chosen is not None else 0,
                packages=len(theirs),
                usual_title=None if usual is None else option_title(labels, usual),
                usual_count=int(tally.iloc[0]) if len(tally) else 0,
            )
        )

    seat_rows = [
        seat_differences(a, names.get(a, a), room, runs, space, scenario, labels) for a in people if a in actors
    ]
    all_notes = list(notes)
    if room.manifest.parent is not None:
        all_notes.append(f"The room's run is a fork of {room.manifest.parent.run_id}.")
    return Debrief(
        world=world.title,
        run_id=room.run_id,
        setting=setting,
        ensemble_runs=len(runs),
        source=source or f"{len(runs)} runs",
        ending=ending,
        standings=standings,
        package_kind=kind,
        choices=choices,
        seats=seat_rows,
        notes=list(dict.fromkeys(all_notes)),
    )


def seat_differences(
    actor: str,
    name: str,
    room: SavedRun,
    runs: Sequence[SavedRun],
    space: IssueSpace,
    scenario: Scenario,
    labels: Labels,
) -> SeatDifferences:
    """What the people in `actor`'s seat did against the personas in it, run by run."""
    mine, offered = acts_of(room, actor, space)
    per_run = [acts_of(r, actor, space) for r in runs]
    frame = pd.DataFrame([acts for acts, _ in per_run], columns=[m for m, _, _ in MEASURES], dtype=float)
    comparisons = []
    for measure, label, share in MEASURES:
        column = frame[measure].dropna()
        value = mine[measure]
        comparisons.append(
            ActComparison(
                measure=measure,
                label=label,
                room=value,
                mean=float(column.mean()) if len(column) else math.nan,
                low=float(column.quantile(0.1)) if len(column) else math.nan,
                high=float(column.quantile(0.9)) if len(column) else math.nan,
                runs=len(column),
                percentile=percentile_of(value, column.tolist()) if value is not None else math.nan,
                share=share,
            )
        )
    rare: list[OptionNote] = []
    missed: list[OptionNote] = []
    n = len(per_run)
    for issue in scenario.world.issues:
        for o in issue.options:
            often = sum(1 for _, theirs in per_run if o.id in theirs.get(issue.id, set())) / n if n else math.nan
            note = OptionNote(issue.title, option_title(labels, o.id), o.meaning, often, o.id)
            if o.id in offered.get(issue.id, set()) and often <= RARE:
                rare.append(note)
            elif offered and o.id not in offered.get(issue.id, set()) and often >= USUAL:
                missed.append(note)
    missed = sorted(missed, key=lambda o: -o.share)[:MISSED]
    return SeatDifferences(actor, name, comparisons, rare, missed, bool(offered))


def _float(x: Any) -> float:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else math.nan


# -- the page section ------------------------------------------------------------------------------
SECTION = "debrief.html.jinja"


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


FILTERS: dict[str, Any] = {  # what a report's templates format numbers with: n/a for none
    "num": lambda x, digits=3: f"{x:.{digits}f}" if _number(x) else "n/a",
    "signed": lambda x, digits=2: f"{x:+.{digits}f}" if _number(x) else "n/a",
    "pct": lambda x: f"{100 * x:.0f}%" if _number(x) else "n/a",
}


def section_context(d: Debrief) -> dict[str, Any]:
    """The debrief as the template's `debrief`: the result, and its sentences made once."""
    return {"result": d, "seats": [{"seat": s, "sentences": s.sentences()} for s in d.seats]}


def render_section(d: Debrief, prompts: Path) -> str:
    """The debrief section alone (the board's page), from the world's prompts folder or Parley's."""
    templates = Templates(prompts, medium="html")
    templates.env.filters.update(FILTERS)
    events = sum(len(s.acts) for s in d.seats) + len(d.choices) + len(d.standings)
    return templates.render_run_page(SECTION, events, debrief=section_context(d))
