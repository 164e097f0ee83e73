"""Playing one run: load and check the scenario, build the policies, log everything to a run folder."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from parley.issue_space import IssueSpace
from parley.llm.backend import LLMBackend
from parley.llm.rehearsal import rehearse_prompts
from parley.model import NegotiationModel
from parley.offline import OfflineStrategy
from parley.outcome import Outcome
from parley.policy import Policy
from parley.problems import InvalidInput, display_path
from parley.runlog import RunLog, unique_folder
from parley.scenario import Scenario, load_scenario
from parley.speech import Templates
from parley.transcript import render_transcript, sample_events

PACKAGES = ("parley", "mesa", "numpy", "networkx", "pydantic", "jinja2")


@dataclass
class RunResult:
    run_id: str
    folder: Path
    outcome: Outcome
    model: NegotiationModel


def prepare(
    world: Path | str, variants: dict[str, str] | None = None, llm: bool = False
) -> tuple[Scenario, Templates, IssueSpace]:
    """Load a scenario and check it can be played: files, cross-references, templates (the LLM
    prompts too when `llm`)."""
    scenario = load_scenario(world, variants)
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
        rehearse_prompts(scenario, space, templates)
    return scenario, templates, space


def offline_policies(scenario: Scenario, space: IssueSpace, templates: Templates, seed: int) -> dict[str, Policy]:
    return {a: OfflineStrategy(a, scenario, space, templates, seed) for a in scenario.world.actor_ids()}


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out


def manifest_for(run_id: str, scenario: Scenario, seed: int, backend: str, max_rounds: int) -> dict:
    hashes = scenario.file_hashes()
    persona_files = {display_path(p) for p in scenario.persona_paths.values()}
    return {
        "run_id": run_id,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "world": {
            "id": scenario.world.id,
            "path": display_path(scenario.world_path),
            "sha256": hashes[display_path(scenario.world_path)],
        },
        "personas": {
            a: {"path": display_path(p), "sha256": hashes[display_path(p)], "variant": scenario.variants.get(a, "base")}
            for a, p in scenario.persona_paths.items()
        },
        "templates": {
            k: v for k, v in hashes.items() if k not in persona_files and k != display_path(scenario.world_path)
        },
        "seed": seed,
        "variants": dict(scenario.variants),
        "backend": backend,
        "max_rounds": max_rounds,
        "versions": versions(),
    }


def play(
    world: Path | str,
    seed: int = 1,
    variants: dict[str, str] | None = None,
    max_rounds: int | None = None,
    runs_dir: Path | str = "runs",
    on_event: Callable[[dict], None] | None = None,
    llm: LLMBackend | None = None,
) -> RunResult:
    """Play one run and save it. Without `llm`, every actor plays the offline default."""
    scenario, templates, space = prepare(world, variants, llm=llm is not None)
    rounds = max_rounds or scenario.world.protocol.max_rounds
    if llm is None:
        backend, policies, runner, budget = "offline", offline_policies(scenario, space, templates, seed), None, None
    else:
        backend, policies, runner, budget = (
            "openai",
            llm.policies(scenario, space, templates, seed),
            llm.loop.run,
            llm.budget,
        )
    tag = "".join(f"-{a}={v}" for a, v in sorted(scenario.variants.items()))
    folder = unique_folder(Path(runs_dir), f"{time.strftime('%Y%m%d-%H%M%S')}-{scenario.world.id}-s{seed}{tag}")
    log = RunLog(folder)
    run_id = folder.name
    manifest = manifest_for(run_id, scenario, seed, backend, rounds)
    if llm is not None:
        manifest["llm"] = llm.describe(scenario)
    log.write_manifest(manifest)

    def emit(event: dict) -> None:
        log.append(event)
        if on_event is not None:
            on_event(event)

    model = NegotiationModel(
        scenario, policies, seed=seed, emit=emit, max_rounds=rounds, space=space, runner=runner, budget=budget
    )
    if llm is not None:
        model.costs = llm.ledger.summary
    try:
        outcome = model.run()
    except Exception as exc:
        model.emit("error", message=str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        raise
    finally:
        try:
            log.write_transcript(render_transcript(scenario, templates, model.events, run_id, seed, backend))
        except InvalidInput as exc:  # the events are the record; a transcript that fails must not hide why
            log.write_transcript(f"The transcript could not be rendered: {exc}\n")
        log.close()
    return RunResult(run_id, folder, outcome, model)
