"""A run folder: manifest.json, an append-only events.jsonl, and transcript.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO

from parley.engine.events import DERIVED

LINE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # made once: dumps() makes one a call


class RunLog:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=False)
        self._events: IO[str] = (folder / "events.jsonl").open("a", encoding="utf-8")

    @classmethod
    def reopen(cls, folder: Path, keep: list[dict]) -> RunLog:
        """An existing run's log cut back to `keep` (its complete rounds), to be appended to."""
        tmp = folder / "events.jsonl.tmp"
        with tmp.open("w", encoding="utf-8") as f:
            for event in keep:
                f.write(LINE.encode(event) + "\n")
        tmp.replace(folder / "events.jsonl")
        log = cls.__new__(cls)
        log.folder = folder
        log._events = (folder / "events.jsonl").open("a", encoding="utf-8")
        return log

    @property
    def events_path(self) -> Path:
        return self.folder / "events.jsonl"

    def write_manifest(self, manifest: dict) -> None:
        (self.folder / "manifest.json").write_text(
            json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )

    def append(self, event: dict) -> None:
        """One JSON line per event. What the engine derives again from the seed is flushed with the
        round it belongs to (a killed run's unfinished round is dropped on resume anyway); anything
        else (an LLM's answer, a person's move, a round's end) at once, so a kill loses none of it."""
        self._events.write(LINE.encode(event) + "\n")
        if event.get("type") not in DERIVED:
            self._events.flush()

    def write_transcript(self, text: str) -> None:
        (self.folder / "transcript.md").write_text(text, encoding="utf-8")

    def close(self) -> None:
        self._events.close()


def read_events(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def unique_folder(runs_dir: Path, stem: str) -> Path:
    folder = runs_dir / stem
    n = 2
    while folder.exists():
        folder = runs_dir / f"{stem}-{n}"
        n += 1
    return folder
