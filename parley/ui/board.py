"""The workshop board's game: a negotiation played round by round from a browser, saved like any run.

`BoardModel` is the Mesa model that `parley board` (the page is `parley/board_app.py`) steps. Mesa's
Reset builds it from the board's settings: world, persona variants, who plays, seed. It can also be
built from a saved run, to step through that run again with every event checked against its log,
and fork it at the current round to play on live as a new run. Facilitator injects, typed in or
chosen from a file, go into the run's manifest before they happen, so a board run replays, resumes
and reports like any other. Nothing here draws anything: the page only reads this model.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from parley.engine.actions import Move, Pass
from parley.engine.events import EventType
from parley.engine.measures import BOARD_AGENT_REPORTERS
from parley.engine.model import NegotiationModel
from parley.engine.policy import Observation
from parley.engine.table import Proposal
from parley.llm.loop import BackgroundLoop
from parley.players.offline import OfflineStrategy
from parley.players.seat import HumanSeat, SeatView
from parley.reports.text import describe
from parley.runs.cast import llm_cast, offline_cast, seat_people
from parley.runs.folder import Diverged, EventSink, RunFolder
from parley.runs.manifest import ForkRecord, InjectsRecord, LLMRecord, Manifest
from parley.runs.play import prepare, transcript_of
from parley.world.injects import Inject, inject_problems, load_injects, variant_names
from parley.world.problems import InvalidInput, Problem, from_validation_error
from parley.world.scenario import DEFAULT_WORLD, load_scenario

if TYPE_CHECKING:
    from parley.llm.backend import LLMBackend
    from parley.runs.replay import Rebuilt, Saved

OFFLINE = "offline"
LLM = "openai"
VARIANT = "variant_"  # model parameter `variant_us` is the variant the US is played as
BASE = "base"  # an actor played by its card as written
NOBODY = "nobody"  # no person at the table: every actor is played by the chosen players


class NoMoveYet(Exception):
    """The board was asked to finish a round before the person at the table chose their move."""


class MoveAtTheBoard:
    """Where the seats' moves come from on a board: the move each person entered for this round."""

    def __init__(self) -> None:
        self.moves: dict[str, Move] = {}

    @property
    def move(self) -> Move | None:  # the one seat of a board with a single person
        return next(iter(self.moves.values()), None)

    def choose(self, observation: Observation, view: SeatView) -> Move:
        move = self.moves.pop(observation.actor, None)
        if move is None:
            raise NoMoveYet(f"round {observation.round}: no move entered yet for {observation.actor}")
        return move


class BoardSeat(HumanSeat):
    """A person's seat on a board. It decides with the policies that deliberate, so the round can
    be opened, the table shown to the person, and the round closed once they have chosen."""

    async def adecide(self, observation: Observation) -> Move:
        return self.decide(observation)


def variant_choices(worlds: list[Path]) -> dict[str, tuple[str, list[str]]]:
    """For every actor of these worlds, its name and the variants its persona card offers, `base` first."""
    out: dict[str, tuple[str, list[str]]] = {}
    for path in worlds:
        scenario = load_scenario(path)
        for actor in scenario.world.actor_ids():
            _, names = out.setdefault(actor, (scenario.personas[actor].name, [BASE]))
            names += [v for v in variant_names(scenario, actor) if v not in names]
    return out


class BoardModel(NegotiationModel):
    """One negotiation on the board, live or stepping through a saved run; saved as it goes.

    A live run opens its run folder at its first round (a Reset that is never played leaves nothing
    behind) and rewrites the transcript after every round, so a board closed mid-game leaves a run
    that `parley resume` can finish.
    """

    agent_reporters = BOARD_AGENT_REPORTERS

    def __init__(
        self,
        world: str = str(DEFAULT_WORLD),
        seed: int = 1,
        players: str = OFFLINE,
        runs_dir: str = "runs",
        llm: LLMBackend | None = None,
        replay_of: str = "",
        seat: str = NOBODY,
        seats: str = "",
        **variants: str,
    ) -> None:
        """`seat`: the actor a person plays from the facilitator's page; `seats`: actors played by
        teams from their own pages, comma-separated (`parley board --seat`)."""
        self.runs_dir = Path(runs_dir)
        self.notices: list[str] = []  # what the board should tell the room about how this game was set up
        self.problem: str | None = None  # why the game stopped early, in plain words
        self.run_folder: RunFolder | None = None  # where a live game is saved, from its first round
        self.parent: Saved | None = None  # the saved run this one steps through, or was forked from
        self.forked_at: int | None = None
        self.rebuilt: Rebuilt | None = None
        self.llm = llm
        self.seat: str | None = None  # the actor a person plays on the facilitator's page, if any
        self.seats: list[str] = []  # every actor people play on this board (teams, and `seat`)
        self.seat_moves = MoveAtTheBoard()
        self.awaiting_move = False  # a round is open, waiting for the people's moves
        self.moved_by_persona: list[str] = []  # seats whose move in the last closed round their persona made
        self.lock = threading.RLock()  # pages in several threads (facilitator, seats, timer) share this game
        self.version = 0  # goes up with every change a page should show
        self.support_by_round: list[dict[str, float]] = []  # per round: each standing proposal's share of yes
        if replay_of:
            from parley.runs.replay import load_saved, rebuild

            self.parent = load_saved(replay_of)
            self.rebuilt = rebuild(self.parent)
            r, m = self.rebuilt, self.parent.manifest
            scenario, self.templates, space, cast = r.scenario, r.templates, r.space, r.cast
            seed, rounds, injects, scheduled = m.seed, m.max_rounds, r.injects, r.scheduled
            self.sink = EventSink(None, expected=self.parent.events)
        else:
            wanted = {k.removeprefix(VARIANT): v for k, v in variants.items() if k.startswith(VARIANT)}
            scenario, self.templates, space = prepare(world, self._playable(world, wanted), llm=players == LLM)
            if players == LLM and llm is None:
                self.notices.append("No language model was given to the board, so the built-in strategy plays.")
                players = OFFLINE
            if players == LLM:
                assert llm is not None
                llm.models(scenario)
                cast = llm_cast(llm, self.templates, seed)
            else:
                cast = offline_cast(self.templates, seed)
            actors = scenario.world.actor_ids()
            wanted_seats = [a.strip() for a in seats.split(",") if a.strip()]
            if seat and seat != NOBODY:
                wanted_seats.append(seat)
            for actor in dict.fromkeys(wanted_seats):
                if actor in actors:
                    self.seats.append(actor)
                else:
                    self.notices.append(f"This world has no actor '{actor}', so no one sits in that seat.")
            if seat in self.seats:
                self.seat = seat
            if self.seats:
                cast = seat_people(cast, dict.fromkeys(self.seats, self.seat_moves), self.templates, BoardSeat)
            rounds, injects, scheduled = scenario.world.protocol.max_rounds, [], {}
            self.sink = EventSink(None)
        self.cast = cast
        # the scenario as it was at round 1: an inject may switch variants later, in place
        self.as_set_up = replace(scenario, variants=dict(scenario.variants), personas=dict(scenario.personas))
        arguments = cast.model_arguments(scenario, space)
        self._loop: BackgroundLoop | None = None
        if self.seats and arguments["runner"] is None:  # a page's clicks arrive inside an event loop
            self._loop = BackgroundLoop()
            arguments["runner"] = self._loop.run
        super().__init__(
            scenario,
            seed=seed,
            emit=self._record,
            max_rounds=rounds,
            space=space,
            injects=injects,
            scheduled=scheduled,
            **arguments,
        )
        self.seed = seed

    def close_round(self) -> None:
        """The round closed, then each proposal's support as it stood at its end: a deal that passed
        keeps its yeses (the table's open list no longer holds it), so support never drops at agreement."""
        super().close_round()
        voters = self.rule.voters
        standing = [p for p in self.table.proposals.values() if p.status == "open" or p is self.deal]
        self.support_by_round.append(
            {p.id: len([a for a in p.accepted_by if a in voters]) / len(voters) for p in standing}
        )

    def seat_view(self, actor: str | None = None) -> SeatView | None:
        """What a seat (the facilitator's person by default) sees now, while the board waits for its move."""
        actor = actor or self.seat
        if not self.awaiting_move or actor is None or actor not in self.seats:
            return None
        agent = self.by_actor[actor]
        if agent.observation is None or not isinstance(agent.policy, BoardSeat):
            return None
        return agent.policy.view(agent.observation)

    @property
    def waiting_for(self) -> list[str]:
        """The seats whose move the open round still waits for (those still at the table)."""
        if not self.awaiting_move:
            return []
        return [a for a in self.seats if a not in self.seat_moves.moves and self.by_actor[a].observation is not None]

    def play_move(self, move: Move, actor: str | None = None) -> None:
        """A seat's move for the open round (the facilitator's person by default); once every seat
        has moved, the round is played."""
        with self.lock:
            actor = actor or self.seat
            if not self.awaiting_move:
                raise InvalidInput([Problem("move", "", "no round is waiting for a move: press Step first")])
            if actor not in self.waiting_for:
                why = "it has moved already this round" if actor in self.seat_moves.moves else "it is not seated"
                raise InvalidInput([Problem("move", str(actor), f"no move is waited for: {why}")])
            self.seat_moves.moves[actor] = move
            self.version += 1
            if not self.waiting_for:
                self.step()

    def close_now(self, persona: bool = False) -> list[str]:
        """The facilitator's timer ran out (or they closed the round): each seat that has not moved
        passes, or is played by its persona's built-in strategy for this round; then the round is played.
        Returns the seats that had not moved."""
        with self.lock:
            late = self.waiting_for
            if not late:
                return []
            for actor in late:
                if persona:
                    observation = self.by_actor[actor].observation
                    assert observation is not None
                    strategy = OfflineStrategy(actor, self.setting, self.space, self.templates, self.seed)
                    self.seat_moves.moves[actor] = strategy.decide(observation)
                else:
                    self.seat_moves.moves[actor] = Move(actions=[Pass(reason="no move before the time ran out")])
            self.moved_by_persona = late if persona else []
            who = ", ".join(self.names()[a] for a in late)
            how = "their personas played for them" if persona else "they pass"
            self.notices.append(f"Round {self.round} closed before {who} moved: {how}.")
            self.step()
            return late

    def _playable(self, world: str, wanted: dict[str, str]) -> dict[str, str]:
        """The chosen variants this world's cards hold; the others are noted and played as written."""
        scenario = load_scenario(world)
        out = {}
        for actor, variant in wanted.items():
            if actor not in scenario.world.actor_ids() or variant == BASE:
                continue
            if variant in variant_names(scenario, actor):
                out[actor] = variant
            else:
                name = scenario.personas[actor].name
                self.notices.append(f"{name} has no variant '{variant}' in this world, so it is played as written.")
        return out

    def _record(self, event: dict) -> None:
        self.sink(event)

    # -- where the game stands ----------------------------------------------------------------
    @property
    def replaying(self) -> bool:
        """Stepping through a saved run, checked against its log (until forked)."""
        return self.parent is not None and self.forked_at is None

    @property
    def recorded_rounds(self) -> int:
        """Complete rounds the saved run's log holds: a replay steps through these and no further."""
        if self.parent is None:
            return 0
        if self.parent.outcome is not None:
            return self.parent.rounds
        return len([e for e in self.parent.events if e["type"] == EventType.ROUND_ENDED])

    @property
    def can_fork(self) -> bool:
        return self.replaying and self.outcome is None and self.problem is None

    def names(self) -> dict[str, str]:
        return {a: p.name for a, p in self.setting.personas.items()}

    # -- playing ------------------------------------------------------------------------------
    def step(self) -> None:
        """One round; a failure (a replay that no longer matches its log, an LLM server gone) stops
        the game with a plain reason on the board instead of ending the page."""
        with self.lock:
            self._step()
            self.version += 1

    def _step(self) -> None:
        if self.replaying and self.round >= self.recorded_rounds:
            self.running = False
            self.notices.append("The saved run ends here. Fork it to play on from this round.")
            return
        if self.run_folder is None and not self.replaying:
            self._open_run()
        try:
            self._play()
        except Diverged as d:
            self._stop(self._divergence(d))
        except Exception as exc:  # whatever stopped the round is shown, and logged as `execute` logs it
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if not self.replaying:
                self.emit(EventType.ERROR, message=message)
            self._stop(f"The game stopped in round {self.round}: {message}")
        self._save()

    def _play(self) -> None:
        """A round; with a person at the table, in two halves: open it and wait for their move (they
        see the table as it stands after the round's news), then close it with that move."""
        if not self.seats or self.replaying:
            super().step()
        elif self.awaiting_move:
            if self.waiting_for:
                late = " and ".join(self.names()[a] for a in self.waiting_for)
                waiting = (
                    f"{late} {'has' if len(self.waiting_for) == 1 else 'have'} not chosen a move yet: the round waits."
                )
                if not self.notices or self.notices[-1] != waiting:
                    self.notices.append(waiting)
                return
            self.awaiting_move = False
            self.close_round()
        elif self.open_round():
            self.seat_moves.moves.clear()
            self.moved_by_persona = []
            if all(self.by_actor[a].observation is None for a in self.seats):  # every seat has left the table
                self.close_round()
            else:
                self.awaiting_move = True

    def _stop(self, why: str) -> None:
        self.problem = why
        self.running = False

    def _divergence(self, d: Diverged) -> str:
        assert self.parent is not None
        changed = self.parent.manifest.changed_files(self.as_set_up)
        cause = f" Changed since it was saved: {', '.join(changed)}." if changed else ""
        seq, kind = d.recorded.get("seq"), d.recorded.get("type")
        return f"Round {self.round} no longer plays as saved: event {seq} ({kind}) differs from the log.{cause}"

    @property
    def folder(self) -> Path | None:
        """Where the game is saved (nowhere until its first round, or while stepping through a saved run)."""
        return None if self.run_folder is None else self.run_folder.folder

    def _open_run(self) -> None:
        manifest = Manifest.for_run(self.as_set_up, self.seed, self.cast.backend, self.max_rounds)
        if self.cast.backend == LLM and self.llm is not None:
            manifest.llm = LLMRecord.model_validate(self.llm.describe(self.as_set_up))
        if self.seats:
            manifest.human = list(self.seats)
        self.run_folder = RunFolder.create(self.runs_dir, self._with_injects(manifest))
        self.sink = self.run_folder.sink()

    def _with_injects(self, manifest: Manifest) -> Manifest:
        """The manifest with every inject planned so far: what a replay needs to play them again."""
        if self.injects:
            manifest.injects = InjectsRecord(path=None, events=list(self.injects))
        return manifest

    def _write_manifest(self) -> None:
        if self.run_folder is not None:
            self._with_injects(self.run_folder.manifest)
            self.run_folder.write_manifest()

    def _save(self) -> None:
        """The transcript so far, and, once the game is over, the outcome line and the log closed."""
        if self.run_folder is None:
            return
        name = self.run_folder.folder.name
        self.run_folder.write_transcript(
            transcript_of(self.setting, self.templates, self.events, name, self.seed, self.cast.backend)
        )
        if not self.running:
            self.run_folder.close()

    # -- the facilitator ----------------------------------------------------------------------
    def inject_now(self, inject: Inject) -> Inject:
        """Plan news for the next round (whatever round the inject says): checked against the world first."""
        planned = inject.model_copy(update={"round": self.round + 1})
        problems = inject_problems("the news", [planned], self.setting)
        if problems:
            raise InvalidInput(problems)
        self._plan([planned])
        return planned

    def inject_file(self, path: Path | str) -> list[Inject]:
        """Plan an inject file's events: its first for the next round, the others as many rounds after
        it as the file sets them apart."""
        events = load_injects(path, self.setting)
        shift = self.round + 1 - min(e.round for e in events)
        planned = [e.model_copy(update={"round": e.round + shift}) for e in events]
        self._plan(planned)
        return planned

    def _plan(self, injects: list[Inject]) -> None:
        if not self.running or self.replaying:
            why = "it is a saved run: fork it first" if self.replaying else "the game is over"
            raise InvalidInput([Problem("the news", "", f"cannot be added: {why}")])
        self.injects += injects
        self._write_manifest()

    def planned(self) -> list[Inject]:
        """Injects still to come."""
        return [i for i in self.injects if i.round > self.round]

    # -- forking a saved run ------------------------------------------------------------------
    def fork(self) -> Path:
        """Go on live from the next round, as a new run whose manifest names the saved one as its
        parent, like `parley fork`. The parent's injects after this round are dropped with its future."""
        if not self.can_fork:
            raise InvalidInput([Problem("fork", "", "only a saved run that has not ended can be forked")])
        assert self.parent is not None and self.rebuilt is not None
        at = self.round + 1
        self.forget_from(at)
        self.run_folder = RunFolder.fork_of(self.parent, at, self.runs_dir, self.as_set_up, ForkRecord(), self.injects)
        for event in self.events:
            self.run_folder.append(event)
        if self.rebuilt.answers is not None and self.rebuilt.backend is not None:
            self.rebuilt.answers.live = self.rebuilt.backend.client  # calls the parent never made go to its server
        self.sink = self.run_folder.sink()
        self.forked_at = at
        self._save()
        return self.run_folder.folder

    def close(self) -> None:
        """Let go of the log and a replay's LLM client (the board is moving on to another game)."""
        if self.run_folder is not None:
            self.run_folder.close()
        if self.rebuilt is not None:
            self.rebuilt.close()
        if self._loop is not None:
            self._loop.close()


def what_news_does(inject: Inject, names: dict[str, str], offline: bool) -> list[str]:
    """What a piece of news changes, in words, for the facilitator before it lands: its declared
    effects, each as the engine will apply it. The built-in strategy reads the table, its trust and its
    channels, not the news's text: offline, news with no effects changes nothing, and the board says so."""
    e = inject.effects
    out = [
        f"{names.get(t.source, t.source)}'s trust in {names.get(t.target, t.target)} {t.delta:+.2f}" for t in e.trust
    ]
    out += [
        f"{names.get(c.source, c.source)} {'opens' if c.open else 'closes'} its channel to {names.get(c.target, c.target)}"
        for c in e.channels
    ]
    out += [f"option {w.option} of {w.issue} withdrawn from the table" for w in e.withdraw]
    out += [f"{names.get(a, a)} is played as '{v}' from now on" for a, v in e.variants.items()]
    if not out:
        return [
            "No effects: offline actors will not act on the text alone (add a trust or channel change)"
            if offline
            else "No effects: only what language-model actors make of the text"
        ]
    return out


def typed_inject(model: BoardModel, text: str, audience: list[str], trust: list[dict], channels: list[dict]) -> Inject:
    """The news a facilitator typed in, checked by the Inject schema and against the world.

    `audience`: the actors told (none: everyone); `trust`: {from, to, delta}; `channels`: {from, to, open}.
    """
    problems = []
    if not text.strip():
        problems.append(Problem("the news", "text", "write what happened first"))
    for change in [*trust, *channels]:
        if change.get("from") and change.get("from") == change.get("to"):
            problems.append(
                Problem("the news", "effects", f"'{change['from']}' cannot change its own channel or trust")
            )
    if problems:
        raise InvalidInput(problems)
    raw = {
        "round": model.round + 1,
        "to": list(audience) or "all",
        "text": " ".join(text.split()),
        "effects": {"trust": trust, "channels": channels},
    }
    try:
        return Inject.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput(from_validation_error("the news", exc)) from None


# -- what the board shows, in words -----------------------------------------------------------------
# shown by the plots and the status
QUIET = {EventType.ROUND_STARTED, EventType.ROUND_ENDED, EventType.TRUST, EventType.LLM_CALL, EventType.OUTCOME}


def transcript(model: BoardModel) -> list[tuple[int, list[str]]]:
    """Who said what to whom, round by round, newest round first (what a projector shows at the top)."""
    names = model.names()
    rounds: dict[int, list[str]] = {}
    for event in model.events:
        if event["type"] in QUIET or event["round"] == 0:
            continue
        rounds.setdefault(event["round"], []).append(describe(event, names))
    return sorted(rounds.items(), reverse=True)


def open_proposals(model: BoardModel) -> list[Proposal]:
    """The proposals still open to answer: none once the game has ended (a deal closes the table)."""
    if model.outcome is not None or model.deal is not None:
        return []
    return model.table.open()


def leading_support(model: BoardModel) -> list[float]:
    """Per round, the share of signatories who said yes to the best-supported proposal standing at
    its end (the deal, in the round it passed)."""
    return [max(r.values(), default=0.0) for r in model.support_by_round]


def proposals_in_flight(model: BoardModel) -> list[str]:
    """The open proposals, from whom to whom and who has said yes or no so far."""
    names = model.names()

    def who(actors: list[str]) -> str:
        return ", ".join(names.get(a, a) for a in actors) or "nobody"

    lines = []
    for p in open_proposals(model):
        line = f"{p.id}: {names.get(p.proposer, p.proposer)} → {who(p.recipients or p.addressed)}; yes: {who(p.accepted_by)}"
        if p.rejected_by:
            line += f"; no: {who(p.rejected_by)}"
        lines.append(line)
    return lines


def status(model: BoardModel) -> str:
    """One line on where the game stands: the round, live or replayed, saved where, how it ended."""
    if model.replaying:
        assert model.parent is not None
        where = f"Stepping through saved run {model.parent.run_id}: round {model.round} of {model.recorded_rounds}"
        where += ", every event as saved" if model.problem is None else ""
    else:
        where = f"Round {model.round} of at most {model.max_rounds}"
        if model.forked_at is not None and model.parent is not None:
            where += f", playing on from round {model.forked_at} of {model.parent.run_id}"
        where += f"; saved as {model.folder.name}" if model.folder else "; saved from the first round on"
    if model.outcome is not None:
        ended = {
            "converged": "a deal",
            "stalled": "a stall: nobody moved",
            "breakdown": "a breakdown: a party walked out",
            "max_rounds": "no deal within the round limit",
            "budget_exhausted": "no money left for the language model",
        }.get(model.outcome.status, model.outcome.status)
        where += f". Ended in round {model.outcome.round} with {ended}"
        if model.deal is not None:
            where += f" ({model.deal.id})"
    return where + "."
