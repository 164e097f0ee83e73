"""A run folder's life: manifest.json, an append-only events.jsonl, and transcript.md.

`RunFolder` is the one owner of that life for the command line, the board and ensembles alike: it
makes a folder with a unique name (safe when many processes share a runs folder), reopens a killed
run to go on with it, makes a fork's folder, logs events, and writes the transcript. The outcome line
is held back until the transcript is written, so a finished run never lacks its transcript.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING

from parley.engine.events import DERIVED
from parley.runs.compact import LINE, LogEncoder, read_lines
from parley.runs.manifest import ForkRecord, InjectsRecord, LLMRecord, Manifest, ParentRef, Resumed
from parley.world.injects import Inject
from parley.world.problems import InvalidInput, Problem, display_path
from parley.world.scenario import Scenario

if TYPE_CHECKING:
    from parley.runs.saved import SavedRun

__all__ = ["EVENTS", "LINE", "TRANSCRIPT", "EventSink", "RunFolder", "read_events"]
EVENTS = "events.jsonl"
TRANSCRIPT = "transcript.md"


class RunFolder:
    """One run's folder, open for writing: made by `create`, `reopen` or `fork_of`; `close` when done."""

    def __init__(self, folder: Path, manifest: Manifest, encoder: LogEncoder | None = None) -> None:
        self.folder = folder
        self.manifest = manifest
        self._events: IO[str] = (folder / EVENTS).open("a", encoding="utf-8")
        self._encoder = encoder or LogEncoder(DERIVED)  # the compact line form (parley.runs.compact)
        self._outcome: dict | None = None  # held back until the transcript is written

    # -- making one -----------------------------------------------------------------------------
    @classmethod
    def create(
        cls, runs_dir: Path | str, manifest: Manifest, copies: Mapping[str, str | bytes] | None = None
    ) -> RunFolder:
        """A new folder under `runs_dir`, named after the manifest's stem (`-2`, `-3`... when taken, even
        by another process at the same moment), holding `copies` (relative path -> text) and the
        manifest with its run id set to the folder's name. A runs folder that cannot hold it is the
        user's to fix: InvalidInput."""
        runs_dir = Path(runs_dir)
        stem = manifest.stem()
        try:
            runs_dir.mkdir(parents=True, exist_ok=True)
            n = 1
            while True:
                folder = runs_dir / (stem if n == 1 else f"{stem}-{n}")
                try:
                    folder.mkdir()  # the atomic claim of the name: no exist_ok
                    break
                except FileExistsError:
                    n += 1
            for name, content in (copies or {}).items():
                (folder / name).parent.mkdir(parents=True, exist_ok=True)
                if isinstance(content, bytes):
                    (folder / name).write_bytes(content)
                else:
                    (folder / name).write_text(content, encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(
                [
                    Problem(
                        "--runs-dir", display_path(runs_dir), f"cannot make a run folder there ({exc.strerror or exc})"
                    )
                ]
            ) from None
        manifest = manifest.model_copy()
        manifest.run_id = folder.name
        manifest.write(folder)
        return cls(folder, manifest)

    @classmethod
    def reopen(cls, saved: SavedRun) -> tuple[RunFolder, list[dict]]:
        """A saved run's folder to go on with, and the events kept: a killed run's log is cut back to its
        complete rounds (a round cut short and a half-written last line are dropped); a finished run
        keeps them all. The resume is noted in the manifest."""
        assert saved.manifest is not None
        if saved.finished:
            kept = list(saved.events)
        else:
            complete = max((i for i, e in enumerate(saved.events) if e["type"] == "round_ended"), default=-1) + 1
            kept = saved.events[:complete]
        path = saved.folder / EVENTS
        if len(kept) < len(saved.events) or saved.skipped:
            encoder = LogEncoder(DERIVED)  # the kept events written afresh: later lines refer to these
            tmp = saved.folder / f".{EVENTS}.{os.getpid()}.tmp"
            with tmp.open("w", encoding="utf-8") as f:
                for event in kept:
                    f.writelines(line + "\n" for line in encoder.encode(event))
                f.writelines(line + "\n" for line in encoder.flush())
            tmp.replace(path)
        else:  # the log stays as it is: go on from what its lines declared
            with path.open("rb") if path.exists() else open(os.devnull, "rb") as f:
                encoder = LogEncoder.after(f, DERIVED)
        manifest = saved.manifest.model_copy(deep=True)
        manifest.resumed = [
            *manifest.resumed,
            Resumed(
                at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                kept_events=len(kept),
                dropped_events=len(saved.events) - len(kept),
                half_written_line=saved.truncated is not None,
            ),
        ]
        manifest.write(saved.folder)
        return cls(saved.folder, manifest, encoder), kept

    @classmethod
    def fork_of(
        cls,
        parent: SavedRun,
        at_round: int,
        runs_dir: Path | str,
        scenario: Scenario,
        change: ForkRecord,
        injects: list[Inject],
        llm: LLMRecord | None = None,
    ) -> RunFolder:
        """A new run branching off `parent` at `at_round` with `change` (variants, an inject file); the
        parent's rounds before it are the fork's to log again. With `llm`, a parent played offline goes
        on with LLM personas from that round. Its manifest names the parent and the round; the parent's
        people, injects (`injects`: those the fork plays) and workshop variant files come along."""
        pm = parent.manifest
        assert pm is not None
        backend, from_round, record = pm.backend, None, pm.llm
        switch = pm.fork.backend_from_round if pm.fork is not None else None  # the parent went offline -> LLM
        if llm is not None and pm.backend != "openai":
            backend, from_round, record = "openai", at_round, llm
        elif switch is not None and switch < at_round:
            from_round = switch
        elif switch is not None:  # forked before the parent's switch: offline from the start
            backend, record = "offline", None
        manifest = Manifest.for_run(scenario, pm.seed, backend, pm.max_rounds)
        manifest.parent = ParentRef(run_id=pm.run_id or parent.folder.name, round=at_round)
        manifest.fork = ForkRecord(
            variants=change.variants,
            injects=change.injects,
            backend_before=pm.backend,
            backend_from_round=from_round,
        )
        if pm.human:
            manifest.human = list(pm.human)
        if injects:
            manifest.injects = InjectsRecord(path=None, events=injects)
        if backend == "openai" and record is not None:
            manifest.llm = record
        copies = {}
        if pm.variant_files:
            manifest.variant_files = dict(pm.variant_files)
            copies = {
                ref.file: (parent.folder / ref.file).read_text(encoding="utf-8") for ref in pm.variant_files.values()
            }
        return cls.create(runs_dir, manifest, copies)

    # -- writing ----------------------------------------------------------------------------------
    @property
    def events_path(self) -> Path:
        return self.folder / EVENTS

    def append(self, event: dict) -> None:
        """Log an event in the compact line form. What the engine derives again from the seed waits
        to be written as rows with the rest of its round (a killed run's unfinished round is dropped
        on resume anyway); anything else (an LLM's answer, a person's move, a round's end) is written
        plain at once, after the rows before it, so a kill loses none of it. The outcome waits for
        `close`, after the transcript."""
        if event.get("type") == "outcome":
            self._outcome = event
            return
        lines = self._encoder.encode(event)
        if lines:
            self._events.writelines(line + "\n" for line in lines)
            self._events.flush()

    def sink(
        self, on_event: Callable[[dict], None] | None = None, expected: list[dict] | None = None, rewrite: bool = False
    ) -> EventSink:
        return EventSink(self, on_event, expected, rewrite)

    def logged(self) -> list[dict]:
        """Every event logged so far, as written (a resumed run's kept events with how they travelled then)."""
        self._flush_rows()
        return read_events(self.events_path) + ([self._outcome] if self._outcome is not None else [])

    def write_manifest(self) -> None:
        self.manifest.write(self.folder)

    def write_transcript(self, text: str) -> None:
        tmp = self.folder / f".{TRANSCRIPT}.{os.getpid()}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(self.folder / TRANSCRIPT)

    def finish(self, transcript: Callable[[list[dict]], str], events: list[dict] | None = None) -> None:
        """Write the transcript of the run's events (`events`, else what the log holds), then the
        outcome line, and close the log."""
        try:
            self.write_transcript(transcript(self.logged() if events is None else events))
        finally:
            self.close()

    def _flush_rows(self) -> None:
        if not self._events.closed:
            self._events.writelines(line + "\n" for line in self._encoder.flush())
            self._events.flush()

    def close(self) -> None:
        if self._events.closed:
            return
        self._flush_rows()
        if self._outcome is not None:
            self._events.writelines(line + "\n" for line in self._encoder.encode(self._outcome))
            self._outcome = None
        self._events.close()


class EventSink:
    """Where a run's events go. Events a saved run already holds are checked against it, not
    written twice (unless `rewrite`); what comes after is appended to the log."""

    def __init__(
        self,
        log: RunFolder | None,
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


def read_events(path: Path) -> list[dict]:
    """Every event of a log, plain or compact lines alike (a line that is not JSON raises)."""
    with path.open(encoding="utf-8") as f:
        return list(read_lines(f))
