"""Playing one run: load and check the scenario, build the policies, log everything to a run folder."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from parley.engine.events import EventType
from parley.engine.issue_space import IssueSpace
from parley.engine.model import NegotiationModel
from parley.engine.outcome import Outcome
from parley.llm.ledger import costs_of
from parley.players.offline import OfflineStrategy
from parley.players.seat import MoveSource
from parley.runs.cast import Cast, check_seats, llm_cast, offline_cast, seat_people
from parley.runs.folder import RunLog, read_events, unique_folder
from parley.runs.manifest import manifest_for
from parley.runs.transcript import render_transcript, sample_events
from parley.world.injects import Inject, load_injects
from parley.world.problems import InvalidInput, Problem, display_path
from parley.world.scenario import Scenario, load_scenario
from parley.world.templates import Templates

if TYPE_CHECKING:  # the LLM side (and openai) is imported only by runs that use it
    from parley.llm.backend import LLMBackend


@dataclass
class RunResult:
    run_id: str
    folder: Path
    outcome: Outcome
    model: NegotiationModel


def prepare(
    world: Path | str, variants: dict[str, str] | None = None, llm: bool = False, overlays: dict | None = None
) -> tuple[Scenario, Templates, IssueSpace]:
    """Load a scenario and check it can be played: files, cross-references, templates (the LLM
    prompts too when `llm`). `overlays`: variant files (actor -> VariantFile) a workshop wrote."""
    scenario = load_scenario(world, variants, overlays=overlays)
    templates = Templates(scenario.prompts_dir)
    problems = templates.syntax_problems()
    if problems:
        raise InvalidInput(problems)
    space = IssueSpace.build(scenario.world, scenario.personas)
    for actor in scenario.world.actor_ids():
        OfflineStrategy(actor, scenario, space, templates, seed=0).rehearse()
    events = sample_events(scenario)
    for end in (len(events) - 1, len(events)):  # with a deal, then with only the closest offer
        render_transcript(scenario, templates, events[:end], "rehearsal", 0, "offline")
    render_transcript(scenario, templates, [], "rehearsal", 0, "offline")
    if llm:
        from parley.llm.rehearsal import rehearse_prompts

        rehearse_prompts(scenario, space, templates)
    return scenario, templates, space


class EventSink:
    """Where a run's events go. Events a saved run already holds are checked against it, not
    written twice (unless `rewrite`); what comes after is appended to the log."""

    def __init__(
        self,
        log: RunLog | None,
        on_event: Callable[[dict], None] | None = None,
        expected: list[dict] | None = None,
        rewrite: bool = False,
    ) -> None:
        self.log = log
        self.on_event = on_event
        self.expected = expected or []
        self.rewrite = rewrite
        self.index = 0

    def __call__(self, event: dict) -> None:
        if self.index < len(self.expected):
            recorded = self.expected[self.index]
            if comparable(event) != comparable(recorded):
                raise Diverged(self.index, recorded, event)
            self.index += 1
            if self.rewrite and self.log is not None:
                self.log.append(event)
        elif self.log is not None:
            self.log.append(event)
        if self.on_event is not None:
            self.on_event(event)


class Diverged(Exception):
    """A re-executed run produced an event other than the recorded one."""

    def __init__(self, index: int, recorded: dict, produced: dict) -> None:
        super().__init__(f"event {recorded.get('seq')} differs")
        self.index, self.recorded, self.produced = index, recorded, produced


def comparable(event: dict) -> dict:
    """An event without how its answers travelled (latency, cache, cost), which no replay can match."""
    return {k: v for k, v in event.items() if k != "transport"}


def execute(
    scenario: Scenario,
    templates: Templates,
    space: IssueSpace,
    cast: Cast,
    seed: int,
    rounds: int,
    log: RunLog,
    sink: EventSink,
    injects: list[Inject] | None = None,
    scheduled: dict[int, list[Callable[[NegotiationModel], None]]] | None = None,
) -> NegotiationModel:
    """Play a model to its end; on any failure the error is logged, the transcript written, the log closed."""
    model = NegotiationModel(
        scenario,
        seed=seed,
        emit=sink,
        max_rounds=rounds,
        space=space,
        injects=injects,
        **cast.model_arguments(scenario, space),
    )
    if cast.backend == "openai":  # this run's calls only, whatever else shares the client and its ledger
        model.costs = lambda: costs_of(model.events)
    model.scheduled = scheduled or {}
    try:
        model.run()
    except Diverged:
        raise
    except Exception as exc:
        model.emit(EventType.ERROR, message=str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        raise
    finally:
        if log is not None:
            log.close()
            # a fresh run's log holds exactly what the model emitted; a resumed or forked one also
            # what it kept from before, as recorded (with how its answers travelled then)
            events = model.events if not sink.expected else read_events(log.events_path)
            try:
                text = render_transcript(model.setting, templates, events, log.folder.name, seed, cast.backend)
            except InvalidInput as exc:  # the events are the record; a transcript that fails must not hide why
                text = f"The transcript could not be rendered: {exc}\n"
            log.write_transcript(text)
    return model


def open_log(runs_dir: Path, stem: str) -> tuple[Path, RunLog]:
    """A new run folder and its log; a runs folder that cannot hold it is the user's to fix."""
    try:
        folder = unique_folder(runs_dir, stem)
        return folder, RunLog(folder)
    except OSError as exc:
        raise InvalidInput(
            [Problem("--runs-dir", str(runs_dir), f"cannot make a run folder there ({exc.strerror or exc})")]
        ) from None


def play(
    world: Path | str,
    seed: int = 1,
    variants: dict[str, str] | None = None,
    max_rounds: int | None = None,
    runs_dir: Path | str = "runs",
    on_event: Callable[[dict], None] | None = None,
    llm: LLMBackend | None = None,
    injects: Path | str | None = None,
    human: Mapping[str, MoveSource] | None = None,
) -> RunResult:
    """Play one run and save it. Without `llm`, every actor plays the offline default; the actors
    in `human` are played by people, their moves taken from the source given for each."""
    if seed < 0:
        raise InvalidInput([Problem("--seed", str(seed), "must be 0 or more")])
    scenario, templates, space = prepare(world, variants, llm=llm is not None)
    human = dict(human or {})
    check_seats(scenario, list(human))
    planned = load_injects(injects, scenario) if injects else []
    if llm is not None:
        llm.models(scenario)  # every actor has a model, before anything is written
    rounds = max_rounds or scenario.world.protocol.max_rounds
    cast = offline_cast(templates, seed) if llm is None else llm_cast(llm, templates, seed)
    cast = seat_people(cast, human, templates)
    tag = "".join(f"-{a}={v}" for a, v in sorted(scenario.variants.items()))
    folder, log = open_log(Path(runs_dir), f"{time.strftime('%Y%m%d-%H%M%S')}-{scenario.world.id}-s{seed}{tag}")
    manifest = manifest_for(folder.name, scenario, seed, cast.backend, rounds)
    if llm is not None:
        manifest["llm"] = llm.describe(scenario)
    if human:
        manifest["human"] = [a for a in scenario.world.actor_ids() if a in human]
    if planned:
        manifest["injects"] = {
            "path": display_path(Path(injects)),
            "events": [i.model_dump(by_alias=True) for i in planned],
        }
    log.write_manifest(manifest)
    model = execute(scenario, templates, space, cast, seed, rounds, log, EventSink(log, on_event), planned)
    assert model.outcome is not None
    return RunResult(folder.name, folder, model.outcome, model)
