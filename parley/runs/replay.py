"""Saved runs played again: exact replay, resume after a crash, and fork at a round.

All three re-execute the run from its manifest: the same world, personas, variants, seed and
injects, with the LLM answers the log recorded (an offline run needs none: its strategy is
deterministic). Every event produced is checked against the recorded one, ignoring only how
answers travelled (`transport`). Replay stops there; resume then goes on live where the log ends;
fork goes on live from a chosen round with a change.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from parley.engine.actions import Move
from parley.engine.events import EventType
from parley.engine.issue_space import IssueSpace
from parley.engine.model import Change, NegotiationModel
from parley.engine.policy import Observation
from parley.llm.recorded import NotRecorded, RecordedAnswers
from parley.llm.settings import REQUEST_FORMAT, LLMSettings
from parley.players.seat import Abandoned, MoveSource, NoRecordedMove, SeatView
from parley.runs.cast import Cast, llm_cast, offline_cast, seat_people
from parley.runs.folder import TRANSCRIPT, Diverged, EventSink, RunFolder, comparable
from parley.runs.manifest import ForkRecord, LLMRecord, Manifest, versions
from parley.runs.play import execute, prepare
from parley.runs.saved import SavedRun, read_run
from parley.world.injects import Effects, Inject, load_injects
from parley.world.problems import InvalidInput, Problem, display_path
from parley.world.scenario import Scenario, load_scenario
from parley.world.templates import Templates

if TYPE_CHECKING:
    from parley.llm.backend import LLMBackend


class RecordedMoves:
    """The moves a run's log holds for one seat, served again by round; a round it lacks goes to
    `live` (resume, fork), or is NoRecordedMove (replay). A seat that ended the run ends it again."""

    def __init__(
        self, events: Sequence[dict], actor: str, live: MoveSource | None = None, before_round: int | None = None
    ) -> None:
        self.actor = actor
        self.live = live
        self.by_round = {
            e["round"]: e
            for e in events
            if e.get("type") in (EventType.HUMAN_MOVE, EventType.HUMAN_LEFT)
            and e.get("actor") == actor
            and (before_round is None or e["round"] < before_round)
        }

    def choose(self, observation: Observation, view: SeatView) -> Move:
        recorded = self.by_round.pop(observation.round, None)
        if recorded is None:
            if self.live is not None:
                return self.live.choose(observation, view)
            raise NoRecordedMove(f"the log holds no move of {self.actor} for round {observation.round}")
        if recorded["type"] == EventType.HUMAN_LEFT:
            raise Abandoned(recorded["reason"])
        return Move.model_validate(recorded["move"])


def recorded_seats(
    manifest: Manifest, events: Sequence[dict], live: MoveSource | None = None, before_round: int | None = None
) -> dict[str, MoveSource]:
    """The people's seats of a saved run (its manifest's `human`), their moves served from its log."""
    return {actor: RecordedMoves(events, actor, live, before_round) for actor in manifest.human}


class Saved(SavedRun):
    """A saved run whose manifest is sound: what replay, resume and fork work from."""

    manifest: Manifest


def load_saved(folder: Path | str) -> Saved:
    """A run folder to re-execute: its manifest must be sound and its log whole, but for a
    half-written last line (a killed run), which is dropped and reported in `truncated`."""
    run = read_run(folder)
    name = display_path(run.folder)
    if run.manifest is None:
        raise InvalidInput(run.problems or [Problem(name, "", run.problem or "no manifest")])
    broken = [s for s in run.skipped if not s.cut_off]
    if broken:
        raise InvalidInput([Problem(f"{name}/events.jsonl", f"line {s.number}", s.reason) for s in broken])
    return Saved(run.folder, run.manifest, run.events, run.skipped, run.problem, run.problems)


def digest(events: list[dict]) -> str:
    canonical = json.dumps([comparable(e) for e in events], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass
class ReplayReport:
    identical: bool
    events: int
    digest: str
    message: str
    first_divergence: dict | None = None


@dataclass
class Rebuilt:
    scenario: Scenario
    templates: Templates
    space: IssueSpace
    cast: Cast
    injects: list[Inject]
    backend: LLMBackend | None
    scheduled: dict[int, list[Change]] = field(default_factory=dict)
    seats: dict[str, MoveSource] = field(default_factory=dict)  # actors played by people
    answers: RecordedAnswers | None = None  # an LLM run's recorded answers; set `live` on them to go on live

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()


def rebuild(
    saved: Saved,
    go_live: bool = False,
    base_url: str | None = None,
    live_moves: MoveSource | None = None,
    moves_before_round: int | None = None,
) -> Rebuilt:
    """The scenario and cast of a saved run, its LLM answers and people's moves served from the log;
    with `go_live`, calls it never made go to its server (or `base_url`), and moves it lacks to
    `live_moves`. A fork replays people's moves only before `moves_before_round`."""
    m = saved.manifest
    files = m.variant_files_of(saved.folder)  # workshop variant files, from the copies the run kept
    variants = {a: v for a, v in m.variants.items() if a not in files}
    world = m.world_file(saved.folder)
    scenario, templates, space = prepare(world, variants, llm=m.backend == "openai", overlays=files)
    injects = m.planned_injects()
    seats = recorded_seats(m, saved.events, live_moves if go_live else None, moves_before_round)
    if m.backend != "openai":
        cast = seat_people(offline_cast(templates, m.seed), seats, templates)
        return Rebuilt(scenario, templates, space, cast, injects, None, seats=seats)
    llm_m = m.llm or LLMRecord()
    settings = LLMSettings(
        models_for=dict(llm_m.models),
        temperature=llm_m.temperature,
        max_tokens=llm_m.max_tokens,
        max_reasks=llm_m.max_reasks,
        max_retries=llm_m.max_retries,
        memory_window=llm_m.memory_window,
        budget_usd=llm_m.budget_usd,
        base_url=base_url or llm_m.base_url,
        cache_dir=None,
        request_format=llm_m.request_format,
    )
    from parley.llm.backend import LLMBackend  # the openai client: only for a run of LLM personas

    backend = LLMBackend(settings)
    recorded = RecordedAnswers(saved.events, backend.ledger, backend.client if go_live else None)
    cast = seat_people(llm_cast(backend, templates, m.seed, recorded), seats, templates)
    switched = m.fork.backend_from_round if m.fork is not None else None
    if switched:  # a fork that went from the offline default to LLM personas at that round
        return Rebuilt(
            scenario,
            templates,
            space,
            seat_people(offline_cast(templates, m.seed), seats, templates),
            injects,
            backend,
            {switched: [recast_all(cast)]},
            seats=seats,
            answers=recorded,
        )
    return Rebuilt(scenario, templates, space, cast, injects, backend, seats=seats, answers=recorded)


def recast_all(cast: Cast) -> Change:
    """From the round it is scheduled for, every actor is played by `cast` (a fork that changes backend)."""
    return lambda model: model.recast_all(cast)


def replay(folder: Path | str) -> ReplayReport:
    """Play a saved run again, making no network call, and check it event by event."""
    saved = load_saved(folder)
    if not saved.events:  # nothing to check is not the same as identical
        where = f"{display_path(saved.folder)}/events.jsonl"
        raise InvalidInput([Problem(where, "", "holds no events (missing or empty): nothing to check")])
    r = rebuild(saved)
    changed = saved.manifest.changed_files(r.scenario)
    sink = EventSink(None, expected=saved.events)
    try:
        _execute(saved, r, None, sink)
    except Diverged as d:
        return _diverged(saved, d.recorded, d.produced, changed)
    except (NotRecorded, NoRecordedMove) as exc:
        recorded = saved.events[sink.index] if sink.index < len(saved.events) else None
        if recorded is not None and recorded["type"] == EventType.ERROR:
            return ReplayReport(
                True, sink.index, digest(saved.events[: sink.index]), "identical up to the error the run stopped on"
            )
        return _diverged(saved, recorded, {"type": "no recorded answer", "detail": str(exc)}, changed)
    finally:
        r.close()
    if sink.index < len(saved.events):
        return _diverged(saved, saved.events[sink.index], {"type": "(the replay ended here)"}, changed)
    note = " (the recording's last line was half-written and is not counted)" if saved.truncated else ""
    if not saved.finished:
        note += " (the run is unfinished: its log has no outcome line)"
    return ReplayReport(True, len(saved.events), digest(saved.events), f"identical: {len(saved.events)} events{note}")


def _execute(saved: Saved, r: Rebuilt, run: RunFolder | None, sink: EventSink) -> NegotiationModel:
    m = saved.manifest
    return execute(r.scenario, r.templates, r.space, r.cast, m.seed, m.max_rounds, run, sink, r.injects, r.scheduled)


def _diverged(saved: Saved, recorded: dict | None, produced: dict, changed: list[str]) -> ReplayReport:
    import platform

    if changed:
        cause = "changed since the run: " + ", ".join(changed)
    else:
        then, now = {"rules": "1", **saved.manifest.versions}, versions()  # runs before `rules` were 1
        moved = [f"{k} {then.get(k, '(not recorded)')} -> {now.get(k)}" for k in now if now.get(k) != then.get(k)]
        moved += [f"{k} {then[k]} -> (none)" for k in then if k not in now]
        cause = (
            ("versions differ: " + ", ".join(moved))
            if moved
            else f"no file or version changed (python {platform.python_version()})"
        )
    llm = saved.manifest.llm
    asked = llm.request_format if llm is not None and saved.backend == "openai" else None
    if asked is not None and asked != REQUEST_FORMAT:
        cause += f"; its LLM requests are format {asked}, replayed as asked, but answers are now read with limits"
    seq = recorded.get("seq") if recorded else "end"
    message = f"diverges at event {seq} (round {recorded.get('round') if recorded else '-'}, {recorded.get('type') if recorded else 'end of log'}): likely cause: {cause}"
    return ReplayReport(False, 0, "", message, {"recorded": recorded, "produced": comparable(produced)})


def resume(
    folder: Path | str, base_url: str | None = None, live_moves: MoveSource | None = None
) -> tuple[Saved, NegotiationModel]:
    """Finish a run that was killed: replay what the log holds, then go on live, appending to it.

    The rounds the log completed are re-executed and checked; the events of a round cut short
    are dropped and played again, with the LLM answers and people's moves it had already received.
    People's later moves come from `live_moves` (without it, NoRecordedMove when they run out).
    A finished run whose transcript is missing (killed just after its outcome) is checked the same
    way and gets its transcript again; any other finished run has nothing to resume.
    """
    saved = load_saved(folder)
    if saved.finished and (saved.folder / TRANSCRIPT).is_file():
        raise InvalidInput([Problem(display_path(saved.folder), "", "this run is finished; nothing to resume")])
    r = rebuild(saved, go_live=True, base_url=base_url, live_moves=live_moves)
    try:
        run, kept = RunFolder.reopen(saved)
        model = _execute(saved, r, run, run.sink(expected=kept))
    finally:
        r.close()
    return saved, model


def fork(
    folder: Path | str,
    at_round: int,
    runs_dir: Path | str,
    variants: dict[str, str] | None = None,
    inject_file: Path | str | None = None,
    live: LLMBackend | None = None,
    live_moves: MoveSource | None = None,
) -> tuple[Path, NegotiationModel]:
    """A new run: the parent's rounds before `at_round` replayed from its log, then live with a change
    (people's seats ask `live_moves` from that round)."""
    parent = load_saved(folder)
    last = max((e["round"] for e in parent.events), default=0)
    if not 1 <= at_round <= last + 1:
        raise InvalidInput(
            [
                Problem(
                    "--at-round", str(at_round), f"must be between 1 and {last + 1} (the parent played {last} rounds)"
                )
            ]
        )
    r = rebuild(parent, go_live=True, live_moves=live_moves, moves_before_round=at_round)
    try:
        return _fork(parent, r, at_round, runs_dir, variants or {}, inject_file, live, live_moves)
    finally:
        r.close()


def _fork(
    parent: Saved,
    r: Rebuilt,
    at_round: int,
    runs_dir: Path | str,
    variants: dict[str, str],
    inject_file: Path | str | None,
    live: LLMBackend | None,
    live_moves: MoveSource | None,
) -> tuple[Path, NegotiationModel]:
    scenario, templates = r.scenario, r.templates
    if variants:  # every actor and name checked now, not when round K comes
        merged = {**scenario.variants, **variants}
        kept = {a: f for a, f in scenario.overlays.items() if a not in variants}
        load_scenario(scenario.world_path, {a: v for a, v in merged.items() if a not in kept}, overlays=kept)
    extra = load_injects(inject_file, scenario) if inject_file else []
    early = [(n, i) for n, i in enumerate(extra) if i.round < at_round]
    if inject_file and early:  # the fork replays its parent's rounds before at_round: such news would never land
        n, inject = early[0]
        raise InvalidInput(
            [
                Problem(
                    display_path(Path(inject_file)),
                    f"events[{n}].round",
                    f"{inject.round} is before the fork's round {at_round}, so this news would never land "
                    f"(fork at round {inject.round} or earlier, or move the news to round {at_round} or later)",
                )
            ]
        )
    if variants:  # the change is itself an inject, so the fork replays like any run
        what = ", ".join(f"{a} is played as {v}" for a, v in variants.items())
        extra.insert(
            0,
            Inject(
                round=at_round,
                to=[],
                text=f"What if, from round {at_round}: {what}",
                effects=Effects(variants=variants),
            ),
        )
    injects = [i for i in r.injects if i.round < at_round] + extra
    prefix = [e for e in parent.events if e["round"] < at_round]
    gone = {e.get("actor") for e in prefix if e["type"] == EventType.WALKOUT}
    unseated = [a for a in r.seats if a not in gone]
    if unseated and live_moves is None:  # refused before a folder is made: no one could play them on
        raise NoRecordedMove(f"the log holds no move of {', '.join(unseated)} from round {at_round}")
    seed = parent.manifest.seed
    scheduled = {k: v for k, v in r.scheduled.items() if k < at_round}
    llm = None
    if live is not None and parent.manifest.backend != "openai":  # offline until the fork, LLM personas after
        scheduled[at_round] = [recast_all(seat_people(llm_cast(live, templates, seed), r.seats, templates))]
        llm = LLMRecord.model_validate(live.describe(scenario))
    change = ForkRecord(variants=variants, injects=display_path(Path(inject_file)) if inject_file else None)
    run = RunFolder.fork_of(parent, at_round, runs_dir, scenario, change, injects, llm)
    m = parent.manifest
    sink = run.sink(expected=prefix, rewrite=True)
    model = execute(scenario, templates, r.space, r.cast, seed, m.max_rounds, run, sink, injects, scheduled)
    return run.folder, model
