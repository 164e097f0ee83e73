"""A seat at the table played by a person.

`HumanSeat` is a policy like any other: each round it hands a `MoveSource` the seat's view (the
observation, what an LLM persona in that seat would be told: the rendered `llm/system.j2` and
`llm/round.j2`, and the seat's options) and asks it for the move; a source shows a person what it
chooses of it (the terminal and the board show it in words: `parley.ui.seat_words`). The terminal is one source (`parley.ui.terminal_seat`); a web board can be another. What a source
may offer (legal options per issue, proposals open to the seat, recipients, channels, kinds of
message) is worked out here, in plain functions and dataclasses any source can use, from the same
rules the engine applies, so a person is never offered a move the engine would drop.

Every move is logged as a `human_move` event (`human_left` when the person ends the run), so a run
with people in it replays, resumes and forks from its log like any other: `RecordedMoves` serves
the logged moves again by round (`parley.runs.replay`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, cast

from parley.engine.actions import Act, Action, Channel, Counter, Move, Propose, Respond
from parley.engine.events import EventType
from parley.engine.issue_space import IssueSpace
from parley.engine.policy import Observation, RunHalted
from parley.engine.rules import crossing, red_lines_of
from parley.players.briefing import RoundMemory, round_context, system_context
from parley.players.move_schema import KINDS, observed_move_problems
from parley.world.scenario import Scenario
from parley.world.templates import Templates


class Abandoned(RunHalted):
    """The person in a seat ended the run (quit, or their input ended); the run stops cleanly."""

    status = "abandoned"


class NoRecordedMove(Exception):
    """Re-executing a run needs a move its log does not hold, and there is no one to ask for it."""


# -- what a seat may do -------------------------------------------------------------------------
@dataclass(frozen=True)
class OptionChoice:
    id: str
    meaning: str
    value: float  # what the option is worth to the seat's actor, 0 worst .. 1 best


@dataclass(frozen=True)
class IssueChoice:
    """One issue of a package: the options the seat may put in it, and why the others are not offered."""

    id: str
    title: str
    weight: float  # the share of what the actor cares about
    options: list[OptionChoice]
    excluded: dict[str, str]  # option id -> why it is not offered (withdrawn, a red line)
    ideal: str | None  # the actor's best option among those offered

    def option(self, option_id: str) -> OptionChoice | None:
        return next((o for o in self.options if o.id == option_id), None)


@dataclass(frozen=True)
class ProposalChoice:
    """A proposal the seat may answer this round."""

    id: str
    proposer: str
    round: int
    package: dict[str, str]
    recipients: list[str]
    value: float
    accept_problem: str | None  # why it cannot be accepted (it crosses a red line), or None

    @property
    def can_accept(self) -> bool:
        return self.accept_problem is None


@dataclass(frozen=True)
class RecipientChoice:
    id: str
    name: str
    direct: bool  # the seat's own channel to them is open; otherwise what it sends goes through others


@dataclass(frozen=True)
class ChannelChoice:
    to: str
    name: str
    open: bool  # as it is now; the action on offer flips it


@dataclass(frozen=True)
class SeatOptions:
    """Everything a seat may still add to its move this round, given what it has added already."""

    issues: list[IssueChoice]
    answerable: list[ProposalChoice]
    recipients: list[RecipientChoice]
    channels: list[ChannelChoice]
    message_kinds: list[str]
    proposals_left: int

    @property
    def blocked_issues(self) -> list[str]:
        """Issues with no option left to offer: no package can be proposed."""
        return [i.id for i in self.issues if not i.options]

    @property
    def why_not_propose(self) -> str | None:
        if self.proposals_left <= 0:
            return "you have made as many proposals as a round allows"
        if not self.recipients:
            return "there is no one left at the table to send it to"
        if self.blocked_issues:
            return f"no option of {', '.join(self.blocked_issues)} is left that you may offer"
        return None

    @property
    def why_not_answer(self) -> str | None:
        return None if self.answerable else "no proposal is open for you to answer"

    @property
    def why_not_message(self) -> str | None:
        return None if self.recipients else "there is no one left at the table to talk to"

    @property
    def why_not_channel(self) -> str | None:
        return None if self.channels else "you have no channel left to open or close this round"


def seat_options(
    obs: Observation, space: IssueSpace, draft: Sequence[Act] = (), names: Mapping[str, str] | None = None
) -> SeatOptions:
    """What `obs.actor` may add to a move that already holds `draft`: the engine's rules, read ahead."""
    names = names or {}
    me = space.index(obs.actor)
    own = red_lines_of(obs.persona)
    issues = []
    for i, issue in enumerate(obs.world.issues):
        offered, excluded = [], {}
        for j, option in enumerate(issue.options):
            if option.id in obs.withdrawn.get(issue.id, []):
                excluded[option.id] = "withdrawn from the table"
            elif option.id in own.get(issue.id, []):
                excluded[option.id] = "your red line"
            else:
                offered.append(OptionChoice(option.id, option.meaning, float(space.scores[me, i, j])))
        ideal = max(offered, key=lambda o: o.value).id if offered else None
        issues.append(IssueChoice(issue.id, issue.title, float(space.weights[me, i]), offered, excluded, ideal))
    answered = {a.proposal for a in draft if isinstance(a, (Respond, Counter))}
    answerable = []
    for p in obs.table:
        if (
            p["status"] == "open"
            and obs.actor in p["recipients"]
            and obs.actor not in p["accepted_by"] + p["rejected_by"]
            and p["id"] not in answered
        ):
            value = float(space.utilities(space.encode(p["package"]))[me])
            answerable.append(
                ProposalChoice(
                    p["id"],
                    p["proposer"],
                    p["round"],
                    dict(p["package"]),
                    list(p["recipients"]),
                    value,
                    crossing(p["package"], own, obs.persona.core),
                )
            )
    others = [a for a in obs.present if a != obs.actor]
    direct = {c["to"] for c in obs.channels if c["open"]}
    recipients = [RecipientChoice(a, names.get(a, a), a in direct) for a in others]
    changed = {a.to for a in draft if isinstance(a, Channel)}
    channels = [
        ChannelChoice(c["to"], names.get(c["to"], c["to"]), bool(c["open"]))
        for c in obs.channels
        if c["to"] in others and c["to"] not in changed
    ]
    proposed = sum(isinstance(a, (Propose, Counter)) for a in draft)
    return SeatOptions(
        issues=issues,
        answerable=answerable,
        recipients=recipients,
        channels=channels,
        message_kinds=list(KINDS),
        proposals_left=obs.world.protocol.max_proposals_per_round - proposed,
    )


def default_package(options: SeatOptions, based_on: Mapping[str, str] | None = None) -> dict[str, str]:
    """A starting package: the option of `based_on` (a proposal being countered) where the seat may
    offer it, else the actor's ideal among the options it may offer. Issues with none are left out."""
    out = {}
    for issue in options.issues:
        wanted = (based_on or {}).get(issue.id)
        if wanted is not None and issue.option(wanted) is not None:
            out[issue.id] = wanted
        elif issue.ideal is not None:
            out[issue.id] = issue.ideal
    return out


def draft_problem(obs: Observation, draft: Sequence[Act], action: Act) -> str | None:
    """Why `action` cannot join a move holding `draft` (None if it can): the engine's checks, plus
    the ones only a move made step by step needs (one answer per proposal, one change per channel)."""
    if isinstance(action, (Respond, Counter)) and any(
        isinstance(a, (Respond, Counter)) and a.proposal == action.proposal for a in draft
    ):
        return f"you have already answered proposal '{action.proposal}' in this move"
    if isinstance(action, Channel) and any(isinstance(a, Channel) and a.to == action.to for a in draft):
        return f"you have already changed your channel to {action.to} in this move"
    move = Move(actions=cast(list[Action], [*draft, action]))  # a seat builds only the kinds Action lists
    index = len(draft)
    return next((problem for i, problem in observed_move_problems(obs.world, obs, move) if i == index), None)


def package_value(space: IssueSpace, actor: str, package: Mapping[str, str]) -> float:
    return float(space.utilities(space.encode(dict(package)))[space.index(actor)])


# -- the seat ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SeatView:
    """What a source is given each round: the texts an LLM persona in the seat would read, the
    context they were rendered from (for a richer display), and the seat's options and checks."""

    observation: Observation
    space: IssueSpace
    card: str  # the persona card: the rendered system prompt, the same every round
    round_text: str  # this round: the rendered round prompt
    context: dict  # what round_text was rendered from
    names: dict[str, str] = field(default_factory=dict)  # actor id -> name

    @property
    def actor(self) -> str:
        return self.observation.actor

    def options(self, draft: Sequence[Act] = ()) -> SeatOptions:
        return seat_options(self.observation, self.space, draft, self.names)

    def check(self, draft: Sequence[Act], action: Act) -> str | None:
        return draft_problem(self.observation, draft, action)

    def value(self, package: Mapping[str, str]) -> float:
        return package_value(self.space, self.actor, package)


class MoveSource(Protocol):
    """Where a seat's moves come from: a person at a terminal, a form on a board, a log.

    `choose` returns the seat's whole move for the round (`Move()` or a `Pass` to do nothing), or
    raises `Abandoned` when the person ends the run. One source may serve several seats.
    """

    def choose(self, observation: Observation, view: SeatView) -> Move: ...


class HumanSeat:
    """A policy whose moves a person makes; each move is noted for the log, so the run replays."""

    def __init__(
        self, actor: str, scenario: Scenario, space: IssueSpace, templates: Templates, source: MoveSource
    ) -> None:
        self.actor = actor
        self.scenario = scenario
        self.space = space
        self.templates = templates
        self.source = source
        self.memory = RoundMemory()  # what an LLM persona would remember, so the round text is the same
        self.card = templates.render("llm/system.j2", **system_context(scenario, space, actor))
        self.names = {a: p.name for a, p in scenario.personas.items()}
        self._events: list[dict] = []

    def view(self, obs: Observation) -> SeatView:
        context = round_context(self.scenario, self.space, obs, self.memory)
        text = self.templates.render("llm/round.j2", **context)
        return SeatView(obs, self.space, self.card, text, context, self.names)

    def decide(self, observation: Observation) -> Move:
        try:
            move = self.source.choose(observation, self.view(observation))
        except Abandoned as halt:
            self._events.append({"type": EventType.HUMAN_LEFT, "reason": str(halt)})
            raise
        self._events.append({"type": EventType.HUMAN_MOVE, "move": move.model_dump()})
        self.memory.remember(observation.round, observation.inbox, observation.table, move, self.actor)
        return move

    def take_events(self) -> list[dict]:
        events, self._events = self._events, []
        return events
