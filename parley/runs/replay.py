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
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from parley.engine.actions import Move
from parley.engine.events import EventType
from parley.engine.issue_space import IssueSpace
from parley.engine.model import NegotiationModel
from parley.engine.policy import Observation
from parley.llm.backend import LLMBackend, LLMSettings
from parley.llm.ledger import costs_of
from parley.llm.recorded import NotRecorded, RecordedAnswers
from parley.llm.settings import REQUEST_FORMAT
from parley.players.seat import Abandoned, MoveSource, NoRecordedMove, SeatView
from parley.runs.cast import Cast, llm_cast, offline_cast, seat_people
from parley.runs.folder import RunLog, unique_folder
from parley.runs.manifest import manifest_for, variant_files_of, versions
from parley.runs.play import Diverged, EventSink, comparable, execute, prepare
from parley.runs.saved import SavedRun, read_run
from parley.world.injects import Effects, Inject, load_injects
from parley.world.problems import InvalidInput, Problem, display_path
from parley.world.scenario import Scenario, load_scenario
from parley.world.templates import Templates


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
    manifest: Mapping, events: Sequence[dict], live: MoveSource | None = None, before_round: int | None = None
) -> dict[str, MoveSource]:
    """The people's seats of a saved run (its manifest's `human`), their moves served from its log."""
    return {actor: RecordedMoves(events, actor, live, before_round) for actor in manifest.get("human") or []}


def load_saved(folder: Path | str) -> SavedRun:
    """A run folder to re-execute: its manifest must be sound and its log whole, but for a
    half-written last line (a killed run), which is dropped and reported in `truncated`."""
    run = read_run(folder)
    name = display_path(run.folder)
    if run.problem or run.manifest is None:
        raise InvalidInput([Problem(name, "", run.problem or "no manifest")])
    broken = [s for s in run.skipped if not s.cut_off]
    if broken:
        raise InvalidInput([Problem(f"{name}/events.jsonl", f"line {s.number}", s.reason) for s in broken])
    return run


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


def changed_files(manifest: dict, scenario: Scenario) -> list[str]:
    """Files whose content differs from what the run used (the likely cause of a divergence)."""
    now = scenario.file_hashes()
    then = {manifest["world"]["path"]: manifest["world"]["sha256"]}
    then |= {p["path"]: p["sha256"] for p in manifest.get("personas", {}).values()}
    then |= manifest.get("templates", {})
    out = [path for path, sha in then.items() if now.get(path) not in (None, sha)]
    out += [f"{path} (gone)" for path in then if path not in now]
    out += [f"{path} (new)" for path in now if path not in then]
    return sorted(out)


@dataclass
class Rebuilt:
    scenario: Scenario
    templates: Templates
    space: IssueSpace
    cast: Cast
    injects: list[Inject]
    backend: LLMBackend | None
    scheduled: dict[int, list[Callable[[NegotiationModel], None]]] = field(default_factory=dict)
    seats: dict[str, MoveSource] = field(default_factory=dict)  # actors played by people
    answers: RecordedAnswers | None = None  # an LLM run's recorded answers; set `live` on them to go on live

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()


def rebuild(
    saved: SavedRun,
    go_live: bool = False,
    base_url: str | None = None,
    live_moves: MoveSource | None = None,
    moves_before_round: int | None = None,
) -> Rebuilt:
    """The scenario and cast of a saved run, its LLM answers and people's moves served from the log;
    with `go_live`, calls it never made go to its server (or `base_url`), and moves it lacks to
    `live_moves`. A fork replays people's moves only before `moves_before_round`."""
    m = saved.manifest
    world = Path(m["world"].get("file") or m["world"]["path"])
    files = variant_files_of(saved.folder, m)  # workshop variant files, from the copies the run kept
    variants = {a: v for a, v in (m.get("variants") or {}).items() if a not in files}
    scenario, templates, space = prepare(world, variants, llm=saved.backend == "openai", overlays=files)
    injects = [Inject.model_validate(i) for i in (m.get("injects") or {}).get("events", [])]
    seed = int(m["seed"])
    seats = recorded_seats(m, saved.events, live_moves if go_live else None, moves_before_round)
    if saved.backend != "openai":
        cast = seat_people(offline_cast(templates, seed), seats, templates)
        return Rebuilt(scenario, templates, space, cast, injects, None, seats=seats)
    llm_m = m.get("llm", {})
    settings = LLMSettings(
        models_for=dict(llm_m.get("models", {})),
        temperature=llm_m.get("temperature"),
        max_tokens=llm_m.get("max_tokens"),
        max_reasks=int(llm_m.get("max_reasks", 2)),
        max_retries=int(llm_m.get("max_retries", 4)),
        memory_window=int(llm_m.get("memory_window", 2)),
        budget_usd=llm_m.get("budget_usd"),
        base_url=base_url or llm_m.get("base_url"),
        cache_dir=None,
        request_format=int(llm_m.get("request_format", 1)),  # runs recorded before it was written asked format 1
    )
    backend = LLMBackend(settings)
    recorded = RecordedAnswers(saved.events, backend.ledger, backend.client if go_live else None)
    cast = seat_people(llm_cast(backend, templates, seed, recorded), seats, templates)
    switched = (m.get("fork") or {}).get("backend_from_round")
    if switched:  # a fork that went from the offline default to LLM personas at that round
        return Rebuilt(
            scenario,
            templates,
            space,
            seat_people(offline_cast(templates, seed), seats, templates),
            injects,
            backend,
            {int(switched): [switch_to(cast)]},
            seats=seats,
            answers=recorded,
        )
    return Rebuilt(scenario, templates, space, cast, injects, backend, seats=seats, answers=recorded)


def switch_to(cast: Cast) -> Callable[[NegotiationModel], None]:
    """From this round on, every actor is played by `cast` (a fork that changes backend)."""

    def change(model: NegotiationModel) -> None:
        for agent in model.agents:
            agent.policy = cast.make(agent.actor, model.setting, model.space)
        model.runner, model.budget = cast.runner, cast.budget
        model.costs = lambda: costs_of(model.events)

    return change


def replay(folder: Path | str) -> ReplayReport:
    """Play a saved run again, making no network call, and check it event by event."""
    saved = load_saved(folder)
    r = rebuild(saved)
    changed = changed_files(saved.manifest, r.scenario)
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
    return ReplayReport(True, len(saved.events), digest(saved.events), f"identical: {len(saved.events)} events{note}")


def _execute(
    saved: SavedRun, r: Rebuilt, log: RunLog | None, sink: EventSink, injects: list[Inject] | None = None
) -> NegotiationModel:
    m = saved.manifest
    planned = r.injects if injects is None else injects
    return execute(
        r.scenario, r.templates, r.space, r.cast, int(m["seed"]), int(m["max_rounds"]), log, sink, planned, r.scheduled
    )


def _diverged(saved: SavedRun, recorded: dict | None, produced: dict, changed: list[str]) -> ReplayReport:
    import platform

    if changed:
        cause = "changed since the run: " + ", ".join(changed)
    else:
        then, now = saved.manifest.get("versions", {}), versions()
        moved = [f"{k} {then[k]} -> {now.get(k)}" for k in then if now.get(k) != then[k]]
        cause = (
            ("versions differ: " + ", ".join(moved))
            if moved
            else f"no file or version changed (python {platform.python_version()})"
        )
    asked = (saved.manifest.get("llm") or {}).get("request_format", 1) if saved.backend == "openai" else None
    if asked is not None and asked != REQUEST_FORMAT:
        cause += f"; its LLM requests are format {asked}, replayed as asked, but answers are now read with limits"
    seq = recorded.get("seq") if recorded else "end"
    message = f"diverges at event {seq} (round {recorded.get('round') if recorded else '-'}, {recorded.get('type') if recorded else 'end of log'}): likely cause: {cause}"
    return ReplayReport(False, 0, "", message, {"recorded": recorded, "produced": comparable(produced)})


def resume(
    folder: Path | str, base_url: str | None = None, live_moves: MoveSource | None = None
) -> tuple[SavedRun, NegotiationModel]:
    """Finish a run that was killed: replay what the log holds, then go on live, appending to it.

    The rounds the log completed are re-executed and checked; the events of a round cut short
    are dropped and played again, with the LLM answers and people's moves it had already received.
    People's later moves come from `live_moves` (without it, NoRecordedMove when they run out).
    """
    saved = load_saved(folder)
    if saved.finished:
        raise InvalidInput([Problem(display_path(saved.folder), "", "this run is finished; nothing to resume")])
    complete = max((i for i, e in enumerate(saved.events) if e["type"] == EventType.ROUND_ENDED), default=-1) + 1
    kept = saved.events[:complete]
    r = rebuild(saved, go_live=True, base_url=base_url, live_moves=live_moves)
    log = RunLog.reopen(saved.folder, kept)
    manifest = dict(saved.manifest)
    manifest.setdefault("resumed", []).append(
        {
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "kept_events": len(kept),
            "dropped_events": len(saved.events) - len(kept),
            "half_written_line": saved.truncated is not None,
        }
    )
    log.write_manifest(manifest)
    try:
        model = _execute(saved, r, log, EventSink(log, expected=kept))
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
    scenario, templates, parent_cast, injects, backend = r.scenario, r.templates, r.cast, r.injects, r.backend
    if variants:  # every actor and name checked now, not when round K comes
        merged = {**scenario.variants, **variants}
        kept = {a: f for a, f in scenario.overlays.items() if a not in variants}
        load_scenario(scenario.world_path, {a: v for a, v in merged.items() if a not in kept}, overlays=kept)
    extra = load_injects(inject_file, scenario) if inject_file else []
    extra = [i for i in extra if i.round >= at_round]
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
    kept_injects = [i for i in injects if i.round < at_round] + extra
    prefix = [e for e in parent.events if e["round"] < at_round]
    gone = {e.get("actor") for e in prefix if e["type"] == EventType.WALKOUT}
    unseated = [a for a in r.seats if a not in gone]
    if unseated and live_moves is None:  # refused before a folder is made: no one could play them on
        r.close()
        raise NoRecordedMove(f"the log holds no move of {', '.join(unseated)} from round {at_round}")
    m = parent.manifest
    seed = int(m["seed"])
    new_cast = parent_cast
    if live is not None and parent.backend != "openai":
        new_cast = seat_people(llm_cast(live, templates, seed), r.seats, templates)

    scheduled = {k: v for k, v in r.scheduled.items() if k < at_round}
    if new_cast is not parent_cast:
        scheduled[at_round] = [switch_to(new_cast)]

    tag = "".join(f"-{a}={v}" for a, v in sorted((variants or {}).items()))
    out = unique_folder(
        Path(runs_dir), f"{time.strftime('%Y%m%d-%H%M%S')}-{scenario.world.id}-s{seed}-fork{at_round}{tag}"
    )
    log = RunLog(out)
    manifest = manifest_for(out.name, scenario, seed, new_cast.backend, int(m["max_rounds"]))
    manifest["parent"] = {"run_id": m.get("run_id", parent.folder.name), "round": at_round}
    manifest["fork"] = {
        "variants": dict(variants or {}),
        "injects": display_path(Path(inject_file)) if inject_file else None,
        "backend_before": parent.backend,
        "backend_from_round": at_round if new_cast is not parent_cast else None,
    }
    if r.seats:
        manifest["human"] = list(r.seats)
    if kept_injects:
        manifest["injects"] = {"path": None, "events": [i.model_dump(by_alias=True) for i in kept_injects]}
    if new_cast is not parent_cast and live is not None:
        manifest["llm"] = live.describe(scenario)
    elif "llm" in m:
        manifest["llm"] = m["llm"]
    log.write_manifest(manifest)
    sink = EventSink(log, expected=prefix, rewrite=True)
    try:
        model = execute(
            scenario,
            templates,
            r.space,
            parent_cast,
            seed,
            int(m["max_rounds"]),
            log,
            sink,
            kept_injects,
            scheduled,
        )
    finally:
        if backend is not None:
            backend.close()
    return out, model
