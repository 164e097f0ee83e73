"""`parley debrief RUN`: set a played run beside the personas' ensemble of its setting, and write the
comparison into `RUN/report.html` as its debrief section.

The ensemble is a `parley compare` folder the user names (its runs of the run's setting), or else
played here offline over seeds 1..N into a folder of its own, where a later debrief of the same
setting finds its runs again (`parley.ensembles.of_run`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from parley.ensembles.of_run import RunEnsemble, check_room, ensemble_in, play_ensemble_of, setting_words
from parley.ensembles.runner import OnRun
from parley.reports.debrief import Debrief, debrief
from parley.reports.run import write_run_report
from parley.runs.replay import load_saved
from parley.runs.saved import SavedRun
from parley.world.problems import display_path
from parley.world.scenario import Scenario, load_scenario

DEFAULT_SEEDS = 50


@dataclass
class Debriefed:
    result: Debrief
    ensemble: RunEnsemble
    report: Path | None  # RUN/report.html, when written


def scenario_at_start(run: SavedRun) -> Scenario:
    """The world and cards the run started with (its variants and variant files applied)."""
    manifest = check_room(run)
    files = manifest.variant_files_of(run.folder)
    variants = {a: v for a, v in manifest.variants.items() if a not in files}
    return load_scenario(manifest.world_file(run.folder), variants, overlays=files)


def default_out(run: SavedRun, base: Path = Path(".")) -> Path:
    """Where a debrief plays its ensemble unless told: `ensembles/WORLD` (as `parley check` plays
    into `checks/WORLD`); one folder serves every setting of the world, its runs found by key."""
    return base / "ensembles" / check_room(run).world.id


def ensemble_for(
    run: SavedRun,
    ensemble: Path | None = None,
    seeds: int = DEFAULT_SEEDS,
    out: Path | None = None,
    workers: int | None = None,
    on_run: OnRun | None = None,
    on_start: Callable[[list[str], list[int], int], None] | None = None,
) -> RunEnsemble:
    if ensemble is not None:
        return ensemble_in(ensemble, run)
    return play_ensemble_of(
        run, seeds, out if out is not None else default_out(run), workers=workers, on_run=on_run, on_start=on_start
    )


def debrief_run(
    folder: Path | str,
    ensemble: Path | None = None,
    seeds: int = DEFAULT_SEEDS,
    out: Path | None = None,
    workers: int | None = None,
    write: bool = True,
    on_run: OnRun | None = None,
    on_start: Callable[[list[str], list[int], int], None] | None = None,
) -> Debriefed:
    """The debrief of the run in `folder` against `ensemble` (a compare's folder) or, without one,
    its setting played over seeds 1..`seeds` into `out`; written into `folder/report.html` unless
    `write` is False. Bad input (not a finished run, a folder of another world or setting) is
    InvalidInput, one line."""
    run = load_saved(folder)
    scenario = scenario_at_start(run)
    runs = ensemble_for(run, ensemble, seeds, out, workers, on_run, on_start)
    assert run.manifest is not None
    names = {a: p.name for a, p in scenario.personas.items()}
    source = (
        f"the runs of {display_path(runs.folder)} that play it"
        if ensemble is not None
        else f"seeds 1 to {seeds}, kept in {display_path(runs.folder)}"
    )
    result = debrief(
        run, runs.runs, scenario, setting=setting_words(run.manifest, names), source=source, notes=runs.notes
    )
    path = write_run_report(run.folder, debrief=result) if write else None
    return Debriefed(result, runs, path)
