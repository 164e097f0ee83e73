"""Playing one run: load and check the scenario, build the policies, log everything to a run folder."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from parley.engine.events import EventType
from parley.engine.issue_space import IssueSpace
from parley.engine.model import Change, NegotiationModel
from parley.engine.outcome import Outcome
from parley.players.offline import OfflineStrategy
from parley.players.seat import MoveSource
from parley.runs.cast import Cast, check_seats, llm_cast, offline_cast, seat_people
from parley.runs.folder import Diverged, EventSink, RunFolder, comparable
from parley.runs.manifest import InjectsRecord, LLMRecord, Manifest
from parley.runs.transcript import render_transcript, sample_events
from parley.world.injects import Inject, load_injects
from parley.world.problems import InvalidInput, Problem, display_path
from parley.world.scenario import Scenario, load_scenario
from parley.world.templates import Templates

if TYPE_CHECKING:  # the LLM side (and openai) is imported only by runs that use it
    from parley.llm.backend import LLMBackend

__all__ = ["Diverged", "EventSink", "RunResult", "comparable", "execute", "play", "prepare"]  # the sink lives in folder


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
        OfflineStrategy(actor, scenario, space, templates, seed=0, rehearsal=True).rehearse()
    events = sample_events(scenario)
    for end in (len(events) - 1, len(events)):  # with a deal, then with only the closest offer
        render_transcript(scenario, templates, events[:end], "rehearsal", 0, "offline")
    render_transcript(scenario, templates, [], "rehearsal", 0, "offline")
    if llm:
        from parley.llm.rehearsal import rehearse_prompts

        rehearse_prompts(scenario, space, templates)
    return scenario, templates, space


def execute(
    scenario: Scenario,
    templates: Templates,
    space: IssueSpace,
    cast: Cast,
    seed: int,
    rounds: int,
    run: RunFolder | None,
    sink: EventSink,
    injects: list[Inject] | None = None,
    scheduled: dict[int, list[Change]] | None = None,
) -> NegotiationModel:
    """Play a model to its end; on any failure the error is logged. Then the run folder (if any) gets
    its transcript, then the outcome line, and is closed."""
    model = NegotiationModel(
        scenario,
        seed=seed,
        emit=sink,
        max_rounds=rounds,
        space=space,
        injects=injects,
        scheduled=scheduled,
        **cast.model_arguments(scenario, space),
    )
    try:
        model.run()
    except Diverged:
        raise
    except Exception as exc:
        model.emit(EventType.ERROR, message=str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        raise
    finally:
        if run is not None:
            # a fresh run's log holds exactly what the model emitted; a resumed or forked one also
            # what it kept from before, as recorded (with how its answers travelled then)
            run.finish(
                lambda events: transcript_of(model.setting, templates, events, run.folder.name, seed, cast.backend),
                None if sink.expected else model.events,
            )
    return model


def transcript_of(
    scenario: Scenario, templates: Templates, events: list[dict], run_id: str, seed: int, backend: str
) -> str:
    try:
        return render_transcript(scenario, templates, events, run_id, seed, backend)
    except Exception as exc:  # the events are the record; a transcript that fails must not hide why
        return f"The transcript could not be rendered: {exc}\n"


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
    manifest = Manifest.for_run(scenario, seed, cast.backend, rounds)
    if llm is not None:
        manifest.llm = LLMRecord.model_validate(llm.describe(scenario))
    if human:
        manifest.human = [a for a in scenario.world.actor_ids() if a in human]
    if planned and injects is not None:
        manifest.injects = InjectsRecord(path=display_path(Path(injects)), events=planned)
    run = RunFolder.create(runs_dir, manifest)
    model = execute(scenario, templates, space, cast, seed, rounds, run, run.sink(on_event), planned)
    assert model.outcome is not None
    return RunResult(run.folder.name, run.folder, model.outcome, model)
