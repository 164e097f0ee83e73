"""The offline ensemble of a played run's setting, for its debrief: the same world, persona variants
(and variant files), injects and round limit, played by the personas alone over seeds 1..N.

Either played here with the ensemble runner (saved runs in the folder are reused by key, as
`parley compare` does, so a second debrief of the same setting plays nothing), or found in a folder
a `parley compare` wrote: its runs that play the run's setting are taken, and a folder of another
world or setting is refused in one line.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from parley.ensembles.runner import (
    BASELINE,
    Arm,
    OnRun,
    default_workers,
    only_writer,
    prepare_arm,
    run_ensemble,
    warm_workers,
)
from parley.runs.manifest import Manifest
from parley.runs.saved import SavedRun, read_manifest, read_run
from parley.world.problems import InvalidInput, Problem, display_path

INJECTS = "injects"  # the folder of an ensemble that keeps the inject files its runs play


@dataclass
class RunEnsemble:
    """The personas' runs of a room's setting, and where they came from."""

    runs: list[SavedRun]
    folder: Path
    played: int = 0
    reused: int = 0
    notes: list[str] = field(default_factory=list)


def _injects(manifest: Manifest) -> str:
    """The run's injects as comparable text (where they came from does not matter)."""
    events = (
        [] if manifest.injects is None else [i.model_dump(mode="json", by_alias=True) for i in manifest.injects.events]
    )
    return json.dumps(events, sort_keys=True)


def _variant_files(manifest: Manifest) -> dict[str, str]:
    return {a: f.sha256 for a, f in manifest.variant_files.items()}


def setting_words(manifest: Manifest, names: Mapping[str, str] | None = None) -> str:
    """The setting as a line: the variants (as `us=hardliner`, or with `names`, "Donald Trump as
    hardliner") and how many injects."""
    every = {**manifest.variants, **{a: f.name for a, f in manifest.variant_files.items()}}
    if names is None:
        text = ", ".join(f"{a}={v}" for a, v in sorted(every.items())) or BASELINE
    else:
        text = (
            ", ".join(f"{names.get(a, a)} as {v}" for a, v in sorted(every.items()))
            or "every persona as its card has it"
        )
    n = len(manifest.injects.events) if manifest.injects is not None else 0
    return text + (f", {n} inject(s)" if n else "")


def check_room(run: SavedRun) -> Manifest:
    """The room's manifest; one line if the folder is not a finished run."""
    name = display_path(run.folder)
    if run.manifest is None:
        raise InvalidInput(run.problems or [Problem(name, "", run.problem or "not a run folder (no manifest.json)")])
    if run.outcome is None:
        raise InvalidInput(
            [Problem(name, "", f"the run has no outcome yet ({run.status}): debrief it once it has ended")]
        )
    return run.manifest


def inject_file(run: SavedRun, folder: Path) -> Path | None:
    """The room's injects, written as an inject file the ensemble's runs play (None: it had none)."""
    manifest = run.manifest
    if manifest is None or manifest.injects is None or not manifest.injects.events:
        return None
    text = _injects(manifest)
    path = folder / INJECTS / f"injects-{hashlib.sha256(text.encode('utf-8')).hexdigest()[:12]}.yaml"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"title": f"the injects of run {run.run_id}", "events": json.loads(text)}
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def play_ensemble_of(
    run: SavedRun,
    seeds: int,
    out: Path | str,
    *,
    workers: int | None = None,
    on_run: OnRun | None = None,
    on_start: Callable[[list[str], list[int], int], None] | None = None,
) -> RunEnsemble:
    """Play the room's setting offline over seeds 1..`seeds` into `out/runs` (reusing what `out`
    already holds for the same setting and seed), and read the runs back."""
    manifest = check_room(run)
    if seeds < 1:
        raise InvalidInput([Problem("--seeds", str(seeds), "must be at least 1")])
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InvalidInput([Problem("--out", display_path(out), "is a file, not a folder")])
    world = manifest.world_file(run.folder)
    files = manifest.variant_files_of(run.folder)
    variants = {a: v for a, v in manifest.variants.items() if a not in files}
    if workers is None and default_workers() > 1:
        warm_workers()
    with only_writer(out):
        arm = Arm(setting_words(manifest), variants, files, inject=inject_file(run, out))
        prepared = prepare_arm(world, arm, manifest.max_rounds)
        numbers = list(range(1, seeds + 1))
        if on_start is not None:
            on_start([arm.label], numbers, len(numbers))
        ensemble = run_ensemble(
            world, [prepared], numbers, out, workers=workers, on_run=on_run, max_rounds=manifest.max_rounds
        )
    runs = [read_run(out / "runs" / row["run_id"]) for row in ensemble.rows]
    notes = []
    if manifest.backend != "offline":
        notes.append("The room's personas were language models; the ensemble's are the offline personas.")
    if manifest.parent is not None:
        notes.append(
            f"The room's run is a fork of {manifest.parent.run_id} at round {manifest.parent.round}; "
            "the ensemble plays the setting from round 1."
        )
    return RunEnsemble(runs, out, ensemble.played, ensemble.reused, notes)


def _comparable(manifest: Manifest) -> tuple[Any, ...]:
    every = {**manifest.variants, **{a: f.name for a, f in manifest.variant_files.items()}}
    return (
        manifest.world.id,
        tuple(sorted(every.items())),
        tuple(sorted(_variant_files(manifest).items())),
        _injects(manifest),
    )


def ensemble_in(folder: Path | str, run: SavedRun) -> RunEnsemble:
    """The runs of a `parley compare` folder that play the room's setting (world, variants, variant
    files, injects), finished, one per seed, played by personas only. A folder that is not a
    compare's, or holds no run of the room's setting, is one line."""
    manifest = check_room(run)
    folder = Path(folder)
    name = display_path(folder)
    runs_dir = folder / "runs"
    if not folder.is_dir():
        raise InvalidInput(
            [Problem("--ensemble", name, "no such folder (give the --out folder of a `parley compare`)")]
        )
    if not runs_dir.is_dir():
        raise InvalidInput([Problem("--ensemble", name, "not a compare's folder (it has no runs/ folder)")])
    wanted = _comparable(manifest)
    worlds: set[str] = set()
    settings: set[str] = set()
    found: dict[int, tuple[Manifest, Path]] = {}
    for sub in sorted(p for p in runs_dir.iterdir() if p.is_dir()):
        theirs, _ = read_manifest(sub)
        if theirs is None:
            continue
        worlds.add(theirs.world.id)
        if theirs.world.id == manifest.world.id:
            settings.add(setting_words(theirs))
        if theirs.human or _comparable(theirs) != wanted:
            continue
        held = found.get(theirs.seed)
        better = held is None or (
            (theirs.max_rounds == manifest.max_rounds, theirs.created_at)
            > (held[0].max_rounds == manifest.max_rounds, held[0].created_at)
        )
        if better:
            found[theirs.seed] = (theirs, sub)
    if not found:
        if manifest.world.id not in worlds:
            other = ", ".join(sorted(worlds)) or "none"
            raise InvalidInput(
                [Problem("--ensemble", name, f"holds no run of world {manifest.world.id} (its runs are of: {other})")]
            )
        raise InvalidInput(
            [
                Problem(
                    "--ensemble",
                    name,
                    f"holds no run of the room's setting ({setting_words(manifest)}); it plays: "
                    + "; ".join(sorted(settings)),
                )
            ]
        )
    runs = [read_run(sub) for _, (_, sub) in sorted(found.items())]
    runs = [r for r in runs if r.outcome is not None and r.status != "budget_exhausted"]
    if not runs:
        raise InvalidInput([Problem("--ensemble", name, "none of its runs of the room's setting has finished")])
    notes = []
    rounds = {r.manifest.max_rounds for r in runs if r.manifest is not None}
    if rounds != {manifest.max_rounds}:
        limits = ", ".join(map(str, sorted(rounds)))
        notes.append(f"The ensemble's round limit ({limits}) differs from the room's ({manifest.max_rounds}).")
    if any(r.manifest is not None and r.manifest.backend != "offline" for r in runs):
        notes.append("Some of the ensemble's runs were played by language-model personas.")
    if manifest.backend != "offline":
        notes.append("The room's personas were language models.")
    return RunEnsemble(runs, folder, 0, len(runs), notes)
