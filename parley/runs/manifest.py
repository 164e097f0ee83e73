"""A run's manifest.json, typed: what a run was made of (world, persona and template files with their
hashes, seed, variants, backend, versions), where it came from (a parent, a compare) and what
identifies it (its run id, its folder's name, the key a compare reuses it by).

Every reader and writer of a manifest goes through `Manifest`. It is tolerant of older runs (unknown
fields are kept, optional parts may be missing) and strict where a replay depends on a field: a
damaged manifest is one line per problem, naming the file and the field. Written back, a manifest
keeps the shape older tooling reads: the same keys, the base ones in the same order.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import os
import platform
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_serializer

from parley.engine import RULES
from parley.world.injects import Inject
from parley.world.problems import InvalidInput, Problem, display_path, from_validation_error
from parley.world.scenario import BUNDLED, Scenario, VariantFile, load_variant_file, sha256_file

PACKAGES = ("parley", "mesa", "numpy", "networkx", "pydantic", "jinja2")
MANIFEST = "manifest.json"
TIME = "%Y-%m-%dT%H:%M:%SZ"  # created_at, in UTC
Backend = Literal["offline", "openai"]


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "rules": RULES}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out


def variant_tag(variants: dict[str, str]) -> str:
    """`-us=hardliner-russia=pragmatic`: the variants in a run folder's name, by actor."""
    return "".join(f"-{a}={v}" for a, v in sorted(variants.items()))


class Part(BaseModel):
    """A part of a manifest: fields this version does not know are kept as they are."""

    model_config = ConfigDict(extra="allow")


class WorldRef(Part):
    id: str
    file: str | None = None  # the absolute path when the run was played (older runs have none)
    path: str  # as the user saw it: relative to where the run was started, when it was under it
    sha256: str
    plays: str | None = None  # an ensemble's runs: the world as it plays (without its claims), for reuse


class PersonaRef(Part):
    path: str
    sha256: str
    variant: str = "base"


class LLMRecord(Part):
    """What a run's LLM backend was (never its key)."""

    models: dict[str, str] = Field(default_factory=dict)
    temperature: int | float | None = None
    max_tokens: int | None = None
    memory_window: int = 2
    base_url: str | None = None
    max_reasks: int = 2
    max_retries: int = 4
    budget_usd: int | float | None = None
    cache: bool = False
    request_format: int = 1  # how moves were asked for (parley.llm.settings.REQUEST_FORMAT); older runs: 1


class InjectsRecord(Part):
    """The injects a run plays, in full (a replay needs no inject file)."""

    path: str | None = None  # the inject file, if they came from one
    events: list[Inject] = Field(default_factory=list)

    @field_serializer("events")
    def _every_field(self, events: list[Inject]) -> list[dict[str, Any]]:
        return [i.model_dump(mode="json", by_alias=True) for i in events]


class ParentRef(Part):
    """The run a fork branched off, and the first round it played differently."""

    run_id: str
    round: int = Field(ge=1)


class ForkRecord(Part):
    variants: dict[str, str] = Field(default_factory=dict)
    injects: str | None = None  # the inject file the fork added, if any
    backend_before: str | None = None
    backend_from_round: int | None = Field(default=None, ge=1)  # offline until this round, LLM personas from it


class VariantFileRef(Part):
    """A workshop's variant file the run played: a copy is kept in the run folder (`file`)."""

    name: str
    file: str
    source: str | None = None
    sha256: str


class CompareRef(Part):
    arm: str
    key: str


class Resumed(Part):
    at: str
    kept_events: int
    dropped_events: int
    half_written_line: bool


class Manifest(Part):
    """A run's manifest.json. Build one with `for_run`, read one with `read`, write with `write`."""

    run_id: str = ""
    created_at: str = ""
    world: WorldRef
    personas: dict[str, PersonaRef] = Field(default_factory=dict)
    templates: dict[str, str] = Field(default_factory=dict)
    seed: int = Field(ge=0, strict=True)
    variants: dict[str, str] = Field(default_factory=dict)
    backend: Backend
    max_rounds: int = Field(ge=1, le=10_000, strict=True)
    versions: dict[str, str] = Field(default_factory=dict)
    llm: LLMRecord | None = None
    human: list[str] = Field(default_factory=list)
    injects: InjectsRecord | None = None
    parent: ParentRef | None = None
    fork: ForkRecord | None = None
    variant_files: dict[str, VariantFileRef] = Field(default_factory=dict)
    compare: CompareRef | None = None
    resumed: list[Resumed] = Field(default_factory=list)

    # -- making, reading, writing --------------------------------------------------------------
    @classmethod
    def for_run(cls, scenario: Scenario, seed: int, backend: str, max_rounds: int, run_id: str = "") -> Manifest:
        """The manifest of a run of `scenario` starting now: its files' hashes, seed, variants, backend."""
        hashes = scenario.file_hashes()
        world = display_path(scenario.world_path)
        persona_files = {display_path(p) for p in scenario.persona_paths.values()}
        return cls(
            run_id=run_id,
            created_at=time.strftime(TIME, time.gmtime()),
            world=WorldRef(
                id=scenario.world.id, file=str(scenario.world_path.resolve()), path=world, sha256=hashes[world]
            ),
            personas={
                a: PersonaRef(
                    path=display_path(p), sha256=hashes[display_path(p)], variant=scenario.variants.get(a, "base")
                )
                for a, p in scenario.persona_paths.items()
            },
            templates={k: v for k, v in hashes.items() if k not in persona_files and k != world},
            seed=seed,
            variants=dict(scenario.variants),
            backend=backend,  # type: ignore[arg-type]  # checked by the schema
            max_rounds=max_rounds,
            versions=versions(),
        )

    @classmethod
    def parse(cls, data: Any, name: str) -> Manifest:
        """A manifest from its JSON data; InvalidInput naming `name` and each bad field."""
        if not isinstance(data, dict):
            raise InvalidInput([Problem(name, "", "is not a JSON object")])
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise InvalidInput(from_validation_error(name, exc)) from None

    @classmethod
    def read(cls, folder: Path | str) -> Manifest:
        """The manifest of a run folder; InvalidInput (one line each: file, field, what is wrong) if it
        is missing, unreadable or damaged."""
        path = Path(folder) / MANIFEST
        where = display_path(Path(folder))
        if not path.is_file():
            raise InvalidInput([Problem(where, "", f"not a run folder (no {MANIFEST})")])
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput([Problem(where, "", f"{MANIFEST} cannot be read ({type(exc).__name__})")]) from None
        except json.JSONDecodeError as exc:
            raise InvalidInput([Problem(where, "", f"{MANIFEST} is not valid JSON (line {exc.lineno})")]) from None
        if not isinstance(data, dict):
            raise InvalidInput([Problem(where, "", f"{MANIFEST} is not a JSON object")])
        return cls.parse(data, display_path(path))

    def as_json(self) -> dict[str, Any]:
        """The manifest as written: the fields it was given or read with, in the file's order."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)

    def write(self, folder: Path) -> None:
        """Write `folder/manifest.json` whole or not at all (a reader never sees half of it)."""
        tmp = folder / f".{MANIFEST}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(self.as_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(folder / MANIFEST)

    # -- identity --------------------------------------------------------------------------------
    def stem(self) -> str:
        """The name of the run's folder before it is made unique: local start time, world, seed, then
        `-forkK` for a fork and the variants it set (a fork: the variants it changed)."""
        try:
            started = time.localtime(calendar.timegm(time.strptime(self.created_at, TIME)))
        except ValueError:
            started = time.localtime()
        tag = variant_tag(self.variants)
        if self.parent is not None:
            tag = f"-fork{self.parent.round}" + variant_tag(self.fork.variants if self.fork else {})
        return f"{time.strftime('%Y%m%d-%H%M%S', started)}-{self.world.id}-s{self.seed}{tag}"

    def key(self) -> str:
        """A hash of what decides a run: the content of the world (as it plays, for an ensemble's runs),
        persona, template and variant files, the variants, the seed, the round limit and the backend (with its models and sampling). Two runs
        with the same key play the same; a compare reuses a saved run by it."""
        m = self.as_json()
        if self.world.plays is not None and isinstance(m.get("injects"), dict):
            m["injects"] = {"events": m["injects"].get("events")}  # an ensemble's inject file, wherever it lies
        templates = sorted(("/".join(Path(k).parts[-2:]), v) for k, v in self.templates.items())
        llm = m.get("llm") or {}
        basis = {
            "world": self.world.plays or self.world.sha256,  # an edited claim does not replay an ensemble
            "personas": {a: [p.sha256, p.variant] for a, p in self.personas.items()},
            "templates": templates,
            "variant_files": {a: f.sha256 for a, f in self.variant_files.items()},
            "variants": self.variants,
            "seed": self.seed,
            "max_rounds": self.max_rounds,
            "backend": self.backend,
            "llm": {k: llm.get(k) for k in ("models", "temperature", "max_tokens", "memory_window", "max_reasks")}
            if self.backend == "openai"
            else None,
            "injects": m.get("injects"),
            "parent": m.get("parent"),
            "rules": self.versions.get("rules", "1"),  # a run played by other rules is not reused
        }
        return hashlib.sha256(json.dumps(basis, sort_keys=True).encode("utf-8")).hexdigest()

    # -- the files a saved run played ---------------------------------------------------------------
    def home(self, folder: Path | str) -> Path | None:
        """Where the run's recorded paths are relative to, now: the folder it was started from, if it is
        still there, else the working folder, the runs folder's parent or Parley's own folder. The one
        that holds the world file and whose files (world, cards, templates) still have the recorded
        content wins, the working folder on a tie (a repository moved or cloned elsewhere finds its own
        copies); None when none holds any of them."""
        recorded = _home_of(Path(self.world.file), self.world.path) if self.world.file else None
        roots = [r for r in (Path.cwd(), recorded, Path(folder).resolve().parent.parent, BUNDLED) if r is not None]
        files = [(self.world.path, self.world.sha256)] + [(p.path, p.sha256) for p in self.personas.values()]
        files += list(self.templates.items())
        best: tuple[tuple[int, ...], Path] | None = None
        for root in dict.fromkeys(r.resolve() for r in roots):
            found = [(root / path, sha) for path, sha in files if (root / path).is_file()]
            if not found:
                continue
            matching = [_sha256_or_none(path) == sha for path, sha in found]
            world = found[0][0] == root / self.world.path
            score = (world, world and matching[0], sum(matching), len(found))
            if best is None or score > best[0]:
                best = (score, root)
        return None if best is None else best[1]

    def world_file(self, folder: Path | str) -> Path:
        """The world file a saved run played, as it is on disk now; InvalidInput if it is nowhere."""
        home = self.home(folder)
        path = None if home is None else home / self.world.path
        if path is None or not path.is_file():
            raise InvalidInput(
                [
                    Problem(
                        display_path(Path(folder) / MANIFEST),
                        "world",
                        f"the run's world file is not found: {self.world.path}",
                    )
                ]
            )
        return path

    def card_file(self, actor: str, folder: Path | str) -> Path | None:
        """The persona card an actor of a saved run was played from, as it is on disk now (None: gone)."""
        ref = self.personas.get(actor)
        home = self.home(folder)
        if ref is None or home is None:
            return None
        path = home / ref.path
        return path if path.is_file() else None

    def variant_files_of(self, folder: Path | str) -> dict[str, VariantFile]:
        """The variant files the run played (the copies kept in its folder), for playing it again."""
        return {
            actor: load_variant_file(Path(folder) / ref.file, shown_as=ref.source)
            for actor, ref in self.variant_files.items()
        }

    def planned_injects(self) -> list[Inject]:
        return list(self.injects.events) if self.injects is not None else []

    def changed_files(self, scenario: Scenario) -> list[str]:
        """Files whose content differs from what the run used, or that it used and are gone, or that it
        did not have (the likely cause of a divergence). Recorded paths are matched with the files the
        scenario uses now by where they are, else by their trailing folders (a moved repository)."""
        home = _home_of(scenario.world_path.resolve(), self.world.path) or Path.cwd()
        then = {self.world.path: self.world.sha256} | {p.path: p.sha256 for p in self.personas.values()}
        then |= self.templates
        now = scenario.file_hashes()
        now_at = {str(Path(k).resolve()): k for k in now}
        pairs: dict[str, str] = {}  # recorded path -> current display path
        for path in then:
            where = str((home / path).resolve()) if not Path(path).is_absolute() else path
            if path in now:
                pairs[path] = path
            elif where in now_at:
                pairs[path] = now_at[where]
        unpaired_now = [k for k in now if k not in set(pairs.values())]
        candidates = sorted(
            (
                (_common_tail(path, current), path, current)
                for path in then
                if path not in pairs
                for current in unpaired_now
            ),
            key=lambda c: -c[0],
        )
        for tail, path, current in candidates:
            if tail >= 2 and path not in pairs and current not in pairs.values():
                pairs[path] = current
        out = [pairs[p] for p, sha in then.items() if p in pairs and now[pairs[p]] != sha]
        out += [f"{p} (gone)" for p in then if p not in pairs]
        out += [f"{k} (new)" for k in now if k not in pairs.values()]
        return sorted(out)

    def changed_since(self, scenario: Scenario) -> list[str]:
        """The world and persona files whose content differs from what the run played."""
        recorded = {scenario.world_path: self.world.sha256}
        recorded |= {p: self.personas[a].sha256 for a, p in scenario.persona_paths.items() if a in self.personas}
        return [display_path(p) for p, sha in recorded.items() if _sha256_or_none(p) not in (None, sha)]


def _home_of(world_file: Path, shown: str) -> Path | None:
    """The folder a world file's shown path is relative to (where the run was started from)."""
    if Path(shown).is_absolute():
        return None
    parts, tail = world_file.parts, Path(shown).parts
    if len(parts) <= len(tail) or parts[-len(tail) :] != tail:
        return None
    return Path(*parts[: -len(tail)])


def _sha256_or_none(path: Path) -> str | None:
    try:
        return sha256_file(path)
    except OSError:
        return None


def _common_tail(a: str, b: str) -> int:
    pa, pb = Path(a).parts, Path(b).parts
    n = 0
    while n < min(len(pa), len(pb)) and pa[-1 - n] == pb[-1 - n]:
        n += 1
    return n
