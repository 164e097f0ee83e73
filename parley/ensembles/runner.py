"""Ensembles of runs: every arm (one setting of persona variants) played over the same seeds.

Offline runs are played in worker processes, each loading an arm's scenario once and sending back
only a small row (never the model), so memory does not grow with the number of runs. LLM runs are
played in threads of this process that share one `LLMBackend`: one concurrency limit, one ledger,
one budget. Every run is saved like any other run (manifest, events, transcript) and replays with
`parley replay`. An index in the output folder, checked against each run's manifest, lets the same
compare reuse saved runs instead of playing them again, and an interrupted one pick up where it was.

This module is light on purpose (no pandas, no plotting): worker processes import it.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from parley.engine.events import EventType
from parley.engine.issue_space import IssueSpace
from parley.runs.cast import llm_cast, offline_cast
from parley.runs.compact import MARK
from parley.runs.folder import RunFolder
from parley.runs.manifest import CompareRef, InjectsRecord, LLMRecord, Manifest, VariantFileRef
from parley.runs.play import execute, prepare
from parley.runs.saved import read_manifest
from parley.world.injects import Inject, load_injects
from parley.world.problems import InvalidInput, Problem, display_path
from parley.world.scenario import Scenario, VariantFile, load_variant_file
from parley.world.templates import Templates

try:
    import fcntl
except ImportError:  # no flock (Windows): compares into one folder are not guarded
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:  # the LLM side (and openai) only for LLM ensembles: offline workers start lighter
    from parley.llm.backend import LLMBackend

BASELINE = "baseline"
STATUSES = ("converged", "refused", "stalled", "breakdown", "max_rounds", "budget_exhausted")
VARIANT_FILES = "variants"  # the folder of a run that keeps a copy of each variant file it played
INDEX = "index.jsonl"
LOCK = ".compare.lock"  # held by the compare writing to an output folder


# -- arms ----------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Arm:
    """One setting of persona variants (card variants by name, and variants from files of their own),
    optionally with an inject file played in every run, or a world file of its own (the same world
    with its actors listed in another order, say)."""

    label: str
    variants: dict[str, str] = field(default_factory=dict)
    files: dict[str, VariantFile] = field(default_factory=dict)
    world: Path | None = None  # played instead of the ensemble's world
    inject: Path | None = None
    inject_round: int | None = None  # the inject file's first event moved to this round (the others follow)

    @property
    def tag(self) -> str:
        every = {**self.variants, **{a: f.name for a, f in self.files.items()}}
        tag = "".join(f"-{a}={v}" for a, v in sorted(every.items()))
        if self.inject is not None:
            tag += f"-{self.inject.stem}" + (f"@{self.inject_round}" if self.inject_round else "")
        if self.world is not None:
            tag += f"-{self.world.stem}"
        return tag

    @property
    def setting(self) -> tuple:
        """What makes two arms the same arm."""
        return (
            tuple(sorted(self.variants.items())),
            tuple(sorted((a, f.name, f.sha256) for a, f in self.files.items())),
            None if self.world is None else str(self.world.resolve()),
            None if self.inject is None else str(self.inject.resolve()),
            self.inject_round,
        )


def parse_arm(spec: str, option: str = "--variant") -> Arm:
    """`baseline`, or ACTOR=NAME[,ACTOR=NAME...]: the variant of each actor the arm changes."""
    text = spec.strip()
    if text == BASELINE:
        return Arm(BASELINE)
    variants: dict[str, str] = {}
    for part in text.split(","):
        actor, sep, name = (x.strip() for x in part.partition("="))
        if not sep or not actor or not name:
            raise InvalidInput(
                [
                    Problem(
                        option,
                        spec,
                        f"expected ACTOR=NAME[,ACTOR=NAME...] or {BASELINE}, e.g. {option} us=hardliner,russia=pragmatic",
                    )
                ]
            )
        if actor in variants:
            raise InvalidInput([Problem(option, spec, f"'{actor}' is given twice in one arm")])
        variants[actor] = name
    if any(v == "base" for v in variants.values()):
        variants = {a: v for a, v in variants.items() if v != "base"}
    label = ",".join(f"{a}={v}" for a, v in variants.items()) or BASELINE
    return Arm(label, variants)


def file_arm(path: Path | str) -> Arm:
    """An arm that plays one actor in the variant a variant file describes."""
    vfile = load_variant_file(path)
    return Arm(f"{vfile.actor}={vfile.name}", {}, {vfile.actor: vfile})


def as_arm(value: Any) -> Arm:
    """An arm from what the Python API accepts: an Arm, 'baseline' or 'us=hardliner,...', a mapping
    {actor: variant}, or a variant file (a Path, or a string ending in .yaml or .yml)."""
    if isinstance(value, Arm):
        return value
    if isinstance(value, Path):
        return file_arm(value)
    if isinstance(value, dict):
        return parse_arm(",".join(f"{a}={v}" for a, v in value.items()) or BASELINE, "arms")
    if isinstance(value, str):
        if "=" not in value and value.endswith((".yaml", ".yml")):
            return file_arm(value)
        return parse_arm(value, "arms")
    raise InvalidInput([Problem("arms", repr(value), "an arm is 'baseline', 'ACTOR=NAME,...', a dict or a Path")])


def check_distinct(arms: list[Arm]) -> None:
    seen: dict[tuple, str] = {}
    problems = []
    for arm in arms:
        if arm.setting in seen:
            problems.append(Problem("--variant", arm.label, f"the same arm as {seen[arm.setting]}: give each arm once"))
        seen.setdefault(arm.setting, arm.label)
    labels = [a.label for a in arms]
    for label in dict.fromkeys(x for x in labels if labels.count(x) > 1):
        if not any(p.field == label for p in problems):
            problems.append(Problem("--variant", label, "two arms share this name"))
    if problems:
        raise InvalidInput(problems)


# -- preparing an arm ----------------------------------------------------------------------------
@dataclass
class Prepared:
    """An arm loaded and checked once, ready to play any seed."""

    arm: Arm
    scenario: Scenario
    templates: Templates
    space: IssueSpace
    manifest: Manifest  # every run's manifest but for its id, date and seed
    rounds: int
    injects: list[Inject] = field(default_factory=list)


def prepare_arm(world: Path | str, arm: Arm, max_rounds: int | None = None, llm: LLMBackend | None = None) -> Prepared:
    """Load and check an arm's scenario as `parley.runs.play.prepare` does (with its variant files and
    inject file, if any)."""
    world = arm.world or world
    if arm.files:
        scenario, templates, space = prepare(world, arm.variants, llm=llm is not None, overlays=arm.files)
    else:
        scenario, templates, space = prepare(world, arm.variants, llm=llm is not None)
    rounds = max_rounds or scenario.world.protocol.max_rounds
    manifest = Manifest.for_run(scenario, 0, "offline" if llm is None else "openai", rounds)
    manifest.world.plays = played_sha256(scenario)
    injects: list[Inject] = []
    if arm.inject is not None:
        injects = moved(load_injects(arm.inject, scenario), arm.inject_round)
        manifest.injects = InjectsRecord(path=display_path(arm.inject), events=injects)
    if llm is not None:
        manifest.llm = LLMRecord.model_validate(llm.describe(scenario))
    if arm.files:
        manifest.variant_files = {
            a: VariantFileRef(
                name=f.name, file=f"{VARIANT_FILES}/{a}.yaml", source=display_path(f.path), sha256=f.sha256
            )
            for a, f in arm.files.items()
        }
    return Prepared(arm, scenario, templates, space, manifest, rounds, injects)


def moved(injects: list[Inject], first_round: int | None) -> list[Inject]:
    """An inject file's events with the first at `first_round` and the others as far apart as before."""
    if first_round is None or not injects:
        return injects
    shift = first_round - min(i.round for i in injects)
    return [i.model_copy(update={"round": i.round + shift}) for i in injects]


def played_sha256(scenario: Scenario) -> str:
    """A hash of the world as it plays: its content without its claims, comments and the paths of its
    files (whose contents the manifest hashes apart), so that a world author editing a claim, or
    moving the world's folder, does not make an ensemble play its runs again."""
    world = scenario.world.model_dump(mode="json", by_alias=True, exclude={"claims", "source_text", "prompts"})
    world["actors"] = [a["id"] for a in world["actors"]]
    return hashlib.sha256(json.dumps(world, sort_keys=True).encode("utf-8")).hexdigest()


def manifest_of(prepared: Prepared, seed: int) -> Manifest:
    """The manifest of the arm's run of `seed`, starting now."""
    manifest = prepared.manifest.model_copy()
    manifest.created_at, manifest.seed = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), seed
    return manifest


# -- playing -------------------------------------------------------------------------------------
def row_of(arm: int, seed: int, run_id: str, key: str, outcome: dict[str, Any]) -> dict[str, Any]:
    """The little a compare keeps of a run."""
    return {
        "arm": arm,
        "seed": seed,
        "run_id": run_id,
        "key": key,
        "status": outcome.get("status"),
        "rounds": outcome.get("round"),
        "deal": outcome.get("deal"),
        "framework": (outcome.get("framework") or {}).get("package"),
        "war_continues": outcome.get("war_continues"),
        "utilities": outcome.get("utilities") or {},
    }


class Player:
    """Plays (arm, seed) runs into a runs folder, loading each arm once (in this process)."""

    def __init__(
        self,
        world: Path | str,
        arms: list[Arm],
        runs_dir: Path | str,
        max_rounds: int | None = None,
        llm: LLMBackend | None = None,
        prepared: dict[int, Prepared] | None = None,
    ) -> None:
        self.world, self.arms, self.runs_dir, self.max_rounds, self.llm = world, arms, Path(runs_dir), max_rounds, llm
        self._prepared: dict[int, Prepared] = dict(prepared or {})
        self._lock = threading.Lock()

    def prepared(self, arm: int) -> Prepared:
        with self._lock:
            if arm not in self._prepared:
                self._prepared[arm] = prepare_arm(self.world, self.arms[arm], self.max_rounds, self.llm)
            return self._prepared[arm]

    def play(self, arm: int, seed: int) -> dict[str, Any]:
        p = self.prepared(arm)
        cast = offline_cast(p.templates, seed) if self.llm is None else llm_cast(self.llm, p.templates, seed)
        manifest = manifest_of(p, seed)
        key = manifest.key()
        manifest.compare = CompareRef(arm=p.arm.label, key=key)
        copies = {p.manifest.variant_files[a].file: vfile.text for a, vfile in p.arm.files.items()}
        run = RunFolder.create(self.runs_dir, manifest, copies)
        model = execute(p.scenario, p.templates, p.space, cast, seed, p.rounds, run, run.sink(), list(p.injects))
        assert model.outcome is not None
        return row_of(arm, seed, run.folder.name, key, {**model.outcome.as_event(), "round": model.outcome.round})


_WORKER: Player | None = None


def _init_worker(world: str, arms: list[Arm], runs_dir: str, max_rounds: int | None) -> None:
    """A worker process: Ctrl-C is the parent's to handle (a worker finishes the run it is playing)."""
    global _WORKER
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER = Player(world, arms, runs_dir, max_rounds)


def _play_in_worker(arm: int, seed: int) -> dict[str, Any]:
    assert _WORKER is not None
    row = play_safely(_WORKER, arm, seed)
    row["worker"] = {"pid": os.getpid(), "max_rss_kb": max_rss_kb(), "rss_kb": rss_kb()}  # for benchmarks
    return row


def play_safely(player: Player, arm: int, seed: int) -> dict[str, Any]:
    """A run's row, or {"failed": why} (as text: not every exception pickles). The run's folder keeps
    what it logged, its error included."""
    try:
        return player.play(arm, seed)
    except InvalidInput as exc:
        return {"arm": arm, "seed": seed, "failed": "; ".join(str(p) for p in exc.problems)}
    except Exception as exc:
        return {"arm": arm, "seed": seed, "failed": f"{type(exc).__name__}: {exc}".splitlines()[0]}


def max_rss_kb() -> int | None:
    """This process's peak resident memory in kB (None where `resource` is missing)."""
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # macOS counts bytes


def rss_kb() -> int | None:
    """This process's resident memory now, in kB (Linux; None elsewhere)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    except (OSError, StopIteration, ValueError):
        return None


class RunFailed(Exception):
    """A run of the ensemble failed; the ensemble stopped (the runs done so far are saved and indexed)."""


# -- the index of saved runs ---------------------------------------------------------------------
def last_event(path: Path) -> dict[str, Any] | None:
    """The last line of an events.jsonl as an event, reading only the end of the file."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            chunk = 1 << 16
            while True:
                start = max(0, size - chunk)
                f.seek(start)
                data = f.read(size - start)
                lines = data.rstrip(b"\n").split(b"\n")
                if len(lines) > 1 or start == 0:
                    break
                chunk *= 4
    except OSError:
        return None
    if not data.endswith(b"\n"):
        return None  # cut off: the run was killed while writing it
    try:
        event = json.loads(lines[-1])
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return event if isinstance(event, dict) and MARK not in event else None  # rows are never a run's end


def saved_row(folder: Path, arm: int, seed: int, key: str) -> dict[str, Any] | None:
    """The row of a saved run when it is the run asked for (its manifest gives the same key) and it
    finished (not stopped by a budget); else None."""
    manifest, _ = read_manifest(folder)
    if manifest is None or manifest.key() != key:
        return None
    outcome = last_event(folder / "events.jsonl")
    if outcome is None or outcome.get("type") != EventType.OUTCOME or outcome.get("status") == "budget_exhausted":
        return None
    return row_of(arm, seed, folder.name, key, outcome)


class Index:
    """`index.jsonl` in the output folder: one line per finished run, {key, run_id, arm, seed}."""

    def __init__(self, out: Path) -> None:
        self.path = out / INDEX
        self.runs_dir = out / "runs"

    def load(self) -> dict[str, str]:
        found: dict[str, str] = {}
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            lines = []
        for line in lines:
            try:
                entry = json.loads(line)
                found[str(entry["key"])] = str(entry["run_id"])
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # a half-written line of an interrupted compare
        return found

    def add(self, row: dict[str, Any], label: str) -> None:
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"key": row["key"], "run_id": row["run_id"], "arm": label, "seed": row["seed"]}) + "\n")

    def strays(self, indexed: Iterable[str]) -> list[tuple[Path, str]]:
        """Run folders of a compare that the index does not name (it was interrupted), with their keys."""
        known = set(indexed)
        out: list[tuple[Path, str]] = []
        if not self.runs_dir.is_dir():
            return out
        for folder in sorted(self.runs_dir.iterdir()):
            if folder.name in known or not folder.is_dir():
                continue
            manifest, _ = read_manifest(folder)
            if manifest is not None and manifest.compare is not None:
                out.append((folder, manifest.compare.key))
        return out


class Busy(InvalidInput):
    """Another compare is writing to the same output folder."""


@contextmanager
def only_writer(out: Path) -> Iterator[None]:
    """Hold the output folder for this compare alone while it plays, indexes and reports. Another
    compare into the same folder would take this one's unfinished runs for an interrupted compare's
    and delete them: it is refused at once instead, with the pid of the one that holds it. The lock
    is the kernel's (flock), so a compare that is killed lets go of it."""
    out.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        yield
        return
    with (out / LOCK).open("a+", encoding="utf-8") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "?"
            raise Busy(
                [
                    Problem(
                        "--out",
                        display_path(out),
                        f"another compare (pid {holder}) is writing to this folder; wait for it to finish, "
                        "or give another --out",
                    )
                ]
            ) from None
        try:
            f.seek(0)
            f.truncate()
            f.write(str(os.getpid()))
            f.flush()
            yield
        finally:
            f.seek(0)
            f.truncate()
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


# -- the ensemble --------------------------------------------------------------------------------
@dataclass
class Ensemble:
    rows: list[dict[str, Any]]  # one per (arm, seed) played or reused, by arm then seed
    played: int = 0
    reused: int = 0
    removed: list[str] = field(default_factory=list)  # unfinished runs of an interrupted compare, played again
    stopped: str | None = None  # why runs were left unplayed (an LLM budget), if they were


OnRun = Callable[[int, dict[str, Any], bool], None]  # (arm index, row, reused)


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def run_ensemble(
    world: Path | str,
    prepared: list[Prepared],
    seeds: list[int],
    out: Path,
    workers: int | None = None,
    llm: LLMBackend | None = None,
    reuse: bool = True,
    on_run: OnRun | None = None,
    max_rounds: int | None = None,
    cluster: str | None = None,
) -> Ensemble:
    """Play every arm over every seed into `out/runs`, reusing what `out` already holds; on a Dask
    cluster (`parley.ensembles.cluster`) when `cluster` names one."""
    runs_dir = out / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    index = Index(out)
    arms = [p.arm for p in prepared]
    keys = {(i, s): manifest_of(p, s).key() for i, p in enumerate(prepared) for s in seeds}
    result = Ensemble(rows=[])
    rows: dict[tuple[int, int], dict[str, Any]] = {}

    indexed = index.load() if reuse else {}
    result.removed += _settle_strays(index, indexed, keys, arms, reuse)

    todo: list[tuple[int, int]] = []
    for seed in seeds:  # seed by seed, so that an interrupted compare leaves whole pairs
        for i in range(len(prepared)):
            key = keys[(i, seed)]
            row = saved_row(runs_dir / indexed[key], i, seed, key) if key in indexed else None
            if row is not None:
                rows[(i, seed)] = row
                result.reused += 1
                if on_run is not None:
                    on_run(i, row, True)
            else:
                todo.append((i, seed))

    def record(row: dict[str, Any]) -> None:
        if "failed" in row:
            raise RunFailed(f"arm {arms[row['arm']].label}, seed {row['seed']}: {row['failed']}")
        rows[(row["arm"], row["seed"])] = row
        result.played += 1
        if row["status"] != "budget_exhausted":
            index.add(row, arms[row["arm"]].label)
        if on_run is not None:
            on_run(row["arm"], row, False)

    n = max(1, min(workers or default_workers(), len(todo) or 1))
    if todo and cluster is not None:
        from parley.ensembles.cluster import play_on_cluster  # dask: only for cluster ensembles

        settings = None if llm is None else llm.settings
        result.stopped, removed = play_on_cluster(
            cluster, world, arms, runs_dir, max_rounds, todo, record, keys, settings
        )
        result.removed += removed
    elif todo and llm is not None:
        result.stopped = _play_threads(world, arms, runs_dir, max_rounds, llm, prepared, todo, n, record)
    elif todo and n == 1:
        player = Player(world, arms, runs_dir, max_rounds, None, dict(enumerate(prepared)))
        for arm, seed in todo:
            record(play_safely(player, arm, seed))
    elif todo:
        _play_processes(world, arms, runs_dir, max_rounds, todo, n, record)
    result.rows = [rows[(i, s)] for i in range(len(prepared)) for s in seeds if (i, s) in rows]
    return result


def _settle_strays(
    index: Index, indexed: dict[str, str], keys: dict[tuple[int, int], str], arms: list[Arm], reuse: bool
) -> list[str]:
    """Run folders of this ensemble that the index does not list: an unfinished one (of an interrupted
    compare) is removed, to be played again; with `reuse`, a finished one joins `indexed` and the index.
    Returns the names of the folders removed."""
    removed: list[str] = []
    wanted = {k: pair for pair, k in keys.items()}
    for folder, key in index.strays(indexed.values()):
        pair = wanted.get(key)
        if pair is None:
            continue
        end = last_event(folder / "events.jsonl")
        if end is None or end.get("type") != EventType.OUTCOME:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
        elif reuse and key not in indexed:  # it finished after the index was last written
            row = saved_row(folder, *pair, key)
            if row is not None:
                indexed[key] = folder.name
                index.add(row, arms[pair[0]].label)
    return removed


def worker_context() -> multiprocessing.context.BaseContext:
    """Forkserver: workers start from a clean, single-threaded process that has imported Parley once
    (plain fork from a process with threads, such as a progress bar's, can deadlock)."""
    try:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["parley.ensembles.runner"])
    except ValueError:  # no forkserver (Windows): each worker starts afresh
        return multiprocessing.get_context("spawn")
    return context


def warm_workers() -> None:
    """Start the process workers are forked from now, so that it imports Parley while the caller
    loads the arms: the workers of an offline ensemble then start sooner."""
    if worker_context().get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


def _play_processes(
    world: Path | str,
    arms: list[Arm],
    runs_dir: Path,
    max_rounds: int | None,
    todo: list[tuple[int, int]],
    workers: int,
    record: Callable[[dict[str, Any]], None],
) -> None:
    context = worker_context()
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_init_worker,
        initargs=(str(world), arms, str(runs_dir), max_rounds),
    )
    try:
        # at most a few runs queued per worker: the parent holds little, whatever the number of runs
        pending: set[Future] = set()
        queue = iter(todo)
        for arm, seed in queue:
            pending.add(pool.submit(_play_in_worker, arm, seed))
            if len(pending) >= 2 * workers:
                break
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                try:
                    row = future.result()
                except BrokenProcessPool as exc:
                    raise RunFailed(
                        "a worker process stopped unexpectedly (killed, or out of memory?); from a Python script, "
                        'call parley.ensembles.compare under `if __name__ == "__main__":` (worker processes import the script)'
                    ) from exc
                record(row)
                nxt = next(queue, None)
                if nxt is not None:
                    pending.add(pool.submit(_play_in_worker, *nxt))
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _play_threads(
    world: Path | str,
    arms: list[Arm],
    runs_dir: Path,
    max_rounds: int | None,
    llm: LLMBackend,
    prepared: list[Prepared],
    todo: list[tuple[int, int]],
    workers: int,
    record: Callable[[dict[str, Any]], None],
) -> str | None:
    """LLM runs in threads sharing `llm`; once a run ends on the budget, no further run starts."""
    from parley.llm.client import LLMError

    player = Player(world, arms, runs_dir, max_rounds, llm, dict(enumerate(prepared)))
    stop = threading.Event()

    def one(arm: int, seed: int) -> dict[str, Any] | None:
        if stop.is_set():
            return None
        try:
            row = player.play(arm, seed)
        except (InvalidInput, LLMError):
            raise
        except Exception as exc:
            raise RunFailed(f"arm {arms[arm].label}, seed {seed}: {type(exc).__name__}: {exc}".splitlines()[0]) from exc
        if row["status"] == "budget_exhausted":
            stop.set()  # here, before this thread takes the next run
        return row

    stopped = None
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="parley-run") as pool:
        futures = [pool.submit(one, arm, seed) for arm, seed in todo]
        try:
            for future in futures_in_completion_order(futures):
                row = future.result()
                if row is None:
                    continue
                record(row)
                if row["status"] == "budget_exhausted":
                    stop.set()
                    stopped = "the LLM budget is spent"
        except BaseException:
            stop.set()
            for f in futures:
                f.cancel()
            raise
    if stopped:
        left = sum(1 for f in futures if f.cancelled() or f.result() is None)
        if left:
            stopped += f": {left} run(s) were not played"
    return stopped


def futures_in_completion_order(futures: list[Future]) -> Iterable[Future]:
    pending = set(futures)
    while pending:
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        yield from done
