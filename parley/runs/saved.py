"""Reading saved runs back: list the run folders, load one tolerantly, filter its events.

Read-only, and forgiving on purpose: a run killed mid-way (even with kill -9) has no outcome line and
may end with half a JSON line, and a runs folder may hold things that are not runs. None of that may
end in a traceback; it is reported as a short note instead. `parley runs` and `parley show` format
what these functions return (in words: `parley.reports.text`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from parley.engine.events import EventType
from parley.runs.compact import CompactError, LogDecoder
from parley.runs.manifest import Manifest, ParentRef
from parley.world.problems import InvalidInput, Problem, display_path

UNFINISHED = "interrupted"  # the status of a run without an outcome line (killed, or still running)
FAILED = "error"  # the status of a run that logged an error and stopped before its outcome


class BrowseError(Exception):
    """Something the user asked for that cannot be shown: one line, for the command line to print."""


@dataclass(frozen=True)
class SkippedLine:
    """A line of events.jsonl that could not be read, kept so it can be reported rather than hidden."""

    number: int
    reason: str

    def __str__(self) -> str:
        return f"events.jsonl line {self.number} {self.reason}; skipped"

    @property
    def cut_off(self) -> bool:
        """The last line of a run killed while writing it: harmless, the rest of the log is whole."""
        return self.reason.startswith("is cut off")


@dataclass
class SavedRun:
    """One run folder as it is on disk, whatever state the run was left in."""

    folder: Path
    manifest: Manifest | None
    events: list[dict[str, Any]]
    skipped: list[SkippedLine] = field(default_factory=list)
    problem: str | None = None  # why the folder cannot be read as a run (no or broken manifest)
    problems: list[Problem] = field(default_factory=list)  # the same, one per file and field

    @property
    def run_id(self) -> str:
        """The folder's name, which is what `parley show` takes (the manifest's `run_id` is the name the
        run was saved under, and differs for a copied or renamed folder)."""
        return self.folder.name

    @property
    def outcome(self) -> dict[str, Any] | None:
        return next((e for e in reversed(self.events) if e.get("type") == EventType.OUTCOME), None)

    @property
    def error(self) -> str | None:
        """The message of an `error` event: the run stopped on an exception (say a refused API key)."""
        event = next((e for e in reversed(self.events) if e.get("type") == EventType.ERROR), None)
        return None if event is None else str(event.get("message") or "error")

    @property
    def status(self) -> str:
        if self.outcome is not None:
            return str(self.outcome.get("status") or "unknown")
        return FAILED if self.error is not None else UNFINISHED

    @property
    def truncated(self) -> SkippedLine | None:
        """The half-written last line of a killed run, if there is one."""
        return next((s for s in self.skipped if s.cut_off), None)

    @property
    def finished(self) -> bool:
        return self.outcome is not None

    @property
    def rounds(self) -> int:
        """Rounds played: the outcome's round, else the last round any event mentions."""
        if self.outcome is not None and isinstance(self.outcome.get("round"), int):
            return self.outcome["round"]
        return max((e["round"] for e in self.events), default=0)

    @property
    def actors(self) -> list[str]:
        """The world's actors, in its order: from the manifest, else from who acts in the events."""
        if self.manifest is not None and self.manifest.personas:
            return list(self.manifest.personas)
        seen: dict[str, None] = {}
        for e in self.events:
            if isinstance(e.get("actor"), str):
                seen[e["actor"]] = None
        return list(seen)

    @property
    def backend(self) -> str | None:
        return None if self.manifest is None else self.manifest.backend

    @property
    def variants(self) -> dict[str, str]:
        return {} if self.manifest is None else dict(self.manifest.variants)

    @property
    def parent(self) -> ParentRef | None:
        """Where a forked run branched off: its run id and round; None for a run played from the start."""
        return None if self.manifest is None else self.manifest.parent

    @property
    def models(self) -> dict[str, str]:
        """Model per actor: the manifest's `llm.models`, else the models the llm_call events name."""
        if self.manifest is not None and self.manifest.llm is not None and self.manifest.llm.models:
            return dict(self.manifest.llm.models)
        return {
            e["actor"]: str(e["model"]) for e in self.events if e.get("type") == EventType.LLM_CALL and "model" in e
        }

    @property
    def tokens(self) -> int | None:
        """Prompt plus completion tokens over every llm_call; None for a run without LLMs."""
        calls = [e for e in self.events if e.get("type") == EventType.LLM_CALL]
        if not calls and self.backend in (None, "offline"):
            return None
        total = 0
        for e in calls:
            tokens = e.get("tokens")
            if isinstance(tokens, dict):
                total += sum(v for k, v in tokens.items() if k in ("prompt", "completion") and isinstance(v, int))
        return total

    @property
    def cost_usd(self) -> float | None:
        """Dollars spent: the outcome's ledger, else (no outcome) the sum of what each call cost."""
        cost = ((self.outcome or {}).get("transport") or {}).get("cost")
        if isinstance(cost, dict) and isinstance(cost.get("usd"), int | float):
            return float(cost["usd"])
        calls = [e for e in self.events if e.get("type") == EventType.LLM_CALL]
        if not calls and self.backend in (None, "offline"):
            return None
        usd = (((e.get("transport") or {}).get("usd")) for e in calls)
        return float(sum(u for u in usd if isinstance(u, int | float)))


@dataclass(frozen=True)
class RunSummary:
    """One row of `parley runs`; `problem` is set (and the rest mostly empty) for a folder that is not a run."""

    run_id: str
    folder: Path
    created_at: str | None = None
    world: str | None = None
    seed: int | None = None
    variants: dict[str, str] = field(default_factory=dict)
    backend: str | None = None
    models: dict[str, str] = field(default_factory=dict)
    status: str = UNFINISHED
    rounds: int = 0
    tokens: int | None = None
    cost_usd: float | None = None
    skipped_lines: int = 0
    parent: ParentRef | None = None
    problem: str | None = None


def read_manifest(folder: Path) -> tuple[Manifest | None, list[Problem]]:
    """The manifest, or None and what is wrong with it (one problem per field) when it is missing,
    unreadable or damaged."""
    try:
        return Manifest.read(folder), []
    except InvalidInput as exc:
        return None, exc.problems


def one_line(problems: list[Problem], folder: Path) -> str | None:
    """Problems of a run folder's files as one line, each named by its file within the folder."""
    if not problems:
        return None
    prefix = display_path(folder)
    lines = []
    for p in problems:
        file = p.file[len(prefix) :].lstrip("/" + os.sep) if p.file.startswith(prefix) else p.file
        lines.append(str(Problem(file, p.field, p.message)) if file else str(p).removeprefix(f"{p.file}: "))
    return "; ".join(lines)


def read_event_log(path: Path) -> tuple[list[dict[str, Any]], list[SkippedLine]]:
    """Every readable event of an events.jsonl, and the lines that were not (a killed run's last one).

    Read as bytes and decoded line by line, so a write cut off inside a multi-byte character spoils
    only its own line.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], []
    except OSError as exc:
        return [], [SkippedLine(0, f"cannot be read ({type(exc).__name__})")]
    lines = data.split(b"\n")
    cut_off = not data.endswith(b"\n")  # the last line was being written when the run stopped
    events: list[dict[str, Any]] = []
    skipped: list[SkippedLine] = []
    decoder = LogDecoder()  # plain lines and compact ones (parley.runs.compact)
    following: dict[int, int] = {}  # skipped line -> the compact lines lost with it
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        last = number == len(lines)
        try:
            line = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            reason = "is cut off (the run stopped while writing it)" if last and cut_off else "is not valid JSON"
            skipped.append(SkippedLine(number, reason))
            continue
        try:
            decoded = decoder.decode(line)
        except CompactError as exc:
            if exc.lost and skipped:  # one damage, one note: the lines that needed the lost one go with it
                following[len(skipped) - 1] = following.get(len(skipped) - 1, 0) + 1
            else:
                skipped.append(SkippedLine(number, str(exc)))
            continue
        for event in decoded:
            if not (
                isinstance(event, dict) and isinstance(event.get("round"), int) and isinstance(event.get("type"), str)
            ):
                skipped.append(SkippedLine(number, "is not an event (no round or type)"))
                break
            events.append(event)
    for i, n in following.items():
        also = "a compact line after it that refers" if n == 1 else f"{n} compact lines after it that refer"
        skipped[i] = SkippedLine(skipped[i].number, f"{skipped[i].reason} (and {also} to it)")
    return events, skipped


def read_run(folder: Path | str) -> SavedRun:
    """Load a run folder without ever raising on its contents; what is wrong is in `problem`/`skipped`."""
    folder = Path(folder)
    manifest, problems = read_manifest(folder)
    events, skipped = read_event_log(folder / "events.jsonl")
    return SavedRun(
        folder=folder,
        manifest=manifest,
        events=events,
        skipped=skipped,
        problem=one_line(problems, folder),
        problems=problems,
    )


def summarise(run: SavedRun) -> RunSummary:
    """The row of `parley runs` for a run."""
    m = run.manifest
    return RunSummary(
        run_id=run.run_id,
        folder=run.folder,
        created_at=(m.created_at or None) if m else None,
        world=(m.world.id or None) if m else None,
        seed=m.seed if m else None,
        variants=run.variants,
        backend=run.backend,
        models=run.models,
        status=run.status,
        rounds=run.rounds,
        tokens=run.tokens,
        cost_usd=run.cost_usd,
        skipped_lines=len(run.skipped),
        parent=run.parent,
        problem=run.problem,
    )


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def list_runs(runs_dir: Path | str) -> list[RunSummary]:
    """Every folder under `runs_dir`, newest first; folders that are not runs come last, with `problem` set.

    Newest by the manifest's `created_at` (seconds), then by when the manifest was written, since
    several runs can start within one second.
    """
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise BrowseError(f"no runs folder at {runs_dir}" + (" (it is a file)" if runs_dir.exists() else ""))
    folders = [p for p in runs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
    summaries = [summarise(read_run(p)) for p in folders]

    def newest(s: RunSummary) -> tuple[bool, str, int, str]:
        return (s.problem is None, s.created_at or "", _mtime(s.folder / "manifest.json"), s.folder.name)

    return sorted(summaries, key=newest, reverse=True)


def resolve_run(spec: str, runs_dir: Path | str) -> Path:
    """The folder RUN names: a run id under `runs_dir`, an unambiguous prefix of one, or a path."""
    runs_dir = Path(runs_dir)
    if not spec.strip():
        raise BrowseError("no run given: name a run id, a prefix of one, or a run folder")
    is_name = spec not in (".", "..") and "/" not in spec and os.sep not in spec
    if is_name and (runs_dir / spec).is_dir():
        return runs_dir / spec
    path = Path(spec).expanduser()
    if path.is_dir() and ((path / "manifest.json").exists() or (path / "events.jsonl").exists()):
        return path
    if path.is_dir() and (spec != path.name or not runs_dir.is_dir()):
        raise BrowseError(f"{spec} is not a run folder (no manifest.json or events.jsonl)")
    if not runs_dir.is_dir():
        raise BrowseError(f"unknown run '{spec}': no runs folder at {runs_dir}")
    matches = sorted(p.name for p in runs_dir.iterdir() if p.is_dir() and p.name.startswith(spec))
    if len(matches) == 1:
        return runs_dir / matches[0]
    if not matches:
        raise BrowseError(f"unknown run '{spec}': no run in {runs_dir} starts with it (see `parley runs`)")
    shown = ", ".join(matches[:4]) + (f" and {len(matches) - 4} more" if len(matches) > 4 else "")
    raise BrowseError(f"ambiguous run '{spec}': {len(matches)} runs in {runs_dir} start with it ({shown})")


def involves(event: dict[str, Any], actor: str) -> bool:
    """Whether `actor` acts in the event or is addressed by it (`to` may be one actor or a list)."""
    to = event.get("to")
    addressed = actor in to if isinstance(to, list) else to == actor
    return event.get("actor") == actor or addressed or event.get("toward") == actor


def filter_events(
    events: list[dict[str, Any]], round: int | None = None, actor: str | None = None
) -> list[dict[str, Any]]:
    """The events of one round and/or those involving one actor; both filters combine."""
    return [e for e in events if (round is None or e.get("round") == round) and (actor is None or involves(e, actor))]


def check_filters(run: SavedRun, round: int | None = None, actor: str | None = None) -> None:
    """Refuse a round the run never reached or an actor it does not have, rather than show nothing."""
    if round is not None and not 1 <= round <= run.rounds:
        played = f"rounds 1-{run.rounds}" if run.rounds else "no rounds"
        raise BrowseError(f"round {round} is out of range: run {run.run_id} has {played}")
    if actor is not None and actor not in run.actors:
        known = ", ".join(run.actors) or "none"
        raise BrowseError(f"unknown actor '{actor}': run {run.run_id} has {known}")


def persona_names(run: SavedRun) -> dict[str, str]:
    """Display names from the persona cards the run was played from (variant applied), else the ids.
    Where the cards are now is the manifest's to say (`Manifest.card_file`)."""
    names = {a: a for a in run.actors}
    if run.manifest is None:
        return names
    for actor, ref in run.manifest.personas.items():
        card = _load_card(run.manifest.card_file(actor, run.folder))
        if card is None:
            continue
        name = card.get("name")
        overlay = (card.get("variants") or {}).get(ref.variant) if isinstance(card.get("variants"), dict) else None
        if isinstance(overlay, dict) and isinstance(overlay.get("name"), str):
            name = overlay["name"]
        if isinstance(name, str) and name.strip():
            names[actor] = name.strip()
    return names


def _load_card(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        card = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return card if isinstance(card, dict) else None
