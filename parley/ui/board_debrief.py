"""The board's "Compare with the personas" on its /debrief page: the finished game beside the personas'
offline ensemble of its setting, computed in a thread of its own (never the page's, never a round's)
by the same function as `parley debrief`, and written into the run's report.html as well.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import solara

from parley.reports.debrief import render_section
from parley.reports.run_debrief import DEFAULT_SEEDS, debrief_run, scenario_at_start
from parley.runs.saved import read_run
from parley.ui.board import BoardModel
from parley.world.escaping import html
from parley.world.problems import InvalidInput

SEEDS = DEFAULT_SEEDS  # persona runs a board's comparison plays (a test sets fewer)


@dataclass
class PersonaComparison:
    """One game's comparison: running, done (with its HTML section) or failed (with why)."""

    folder: Path
    seeds: int
    out: Path
    state: str = "running"
    runs_done: int = 0
    section: str = ""
    report: Path | None = None
    error: str = ""
    thread: threading.Thread | None = field(default=None, repr=False)

    def wait(self, timeout: float | None = None) -> None:
        if self.thread is not None:
            self.thread.join(timeout)


_JOBS: dict[Path, PersonaComparison] = {}
_LOCK = threading.Lock()


def folder_of(game: BoardModel) -> Path | None:
    """The run the game is: its own folder when it is played live, or the saved run it steps through."""
    if game.folder is not None:
        return game.folder
    return game.parent.folder if game.parent is not None and game.replaying else None


def comparison_of(game: BoardModel) -> PersonaComparison | None:
    folder = folder_of(game)
    with _LOCK:
        return None if folder is None else _JOBS.get(folder.resolve())


def start_comparison(game: BoardModel, seeds: int | None = None, workers: int | None = None) -> PersonaComparison:
    """Start comparing the finished game with the personas (once per game: a second press finds the first)."""
    folder = folder_of(game)
    if folder is None or game.outcome is None:
        raise ValueError("the game has not ended: there is nothing to compare yet")
    key = folder.resolve()
    with _LOCK:
        if key in _JOBS and _JOBS[key].state != "failed":
            return _JOBS[key]
        job = PersonaComparison(key, seeds or SEEDS, Path(game.runs_dir).resolve().parent / "ensembles" / game.world.id)
        _JOBS[key] = job

    def changed() -> None:
        with game.lock:
            game.version += 1  # the pages watching the room redraw

    def on_run(arm: int, row: dict[str, Any], reused: bool) -> None:
        job.runs_done += 1
        if job.runs_done % 5 == 0:
            changed()

    def work() -> None:
        try:
            done = debrief_run(job.folder, seeds=job.seeds, out=job.out, workers=workers, on_run=on_run)
            job.section = render_section(done.result, scenario_at_start(read_run(job.folder)).prompts_dir)
            job.report, job.state = done.report, "done"
        except InvalidInput as exc:
            job.error, job.state = "; ".join(str(p) for p in exc.problems), "failed"
        except Exception as exc:  # the page says why; the game and its run are untouched
            job.error, job.state = f"{type(exc).__name__}: {exc}".splitlines()[0], "failed"
        changed()

    job.thread = threading.Thread(target=work, name="parley-debrief", daemon=True)
    job.thread.start()
    return job


def comparison_html(job: PersonaComparison | None, seeds: int) -> str:
    """What the page shows of the comparison, before, during and after."""
    if job is None:
        return ""
    if job.state == "running":
        return f"<p class='parley-status-line'>Playing the personas: {job.runs_done} of {job.seeds} runs.</p>"
    if job.state == "failed":
        return f"<p class='parley-refused'>The comparison failed: {html(job.error)}</p>"
    saved = f"<p class='parley-empty'>Also saved in {html(str(job.report))}.</p>" if job.report else ""
    return job.section + saved


@solara.component
def PersonaCompare(game: BoardModel, version: int = 0) -> None:
    """The button, then the progress, then the comparison. `version`: the game's, so that the
    page redraws this part whenever the comparison moves on."""
    del version
    if game.outcome is None or folder_of(game) is None:
        solara.Text("Once the game has ended, it can be set beside the personas playing the same setting.")
        return
    job = comparison_of(game)
    if job is None or job.state == "failed":
        solara.Button(
            f"Compare with the personas ({SEEDS} runs)",
            on_click=lambda: start_comparison(game),
            classes=["parley-compare"],
        )
    solara.HTML(tag="div", unsafe_innerHTML=comparison_html(job, SEEDS))
