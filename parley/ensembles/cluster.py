"""Ensembles on a Dask cluster: the same (arm, seed) runs as the local pool, played by Dask workers.

`--cluster ADDRESS` joins a running `dask.distributed` scheduler; `--cluster local:N` starts a
`LocalCluster` of N worker processes on loopback for the length of the compare. Each run is one
task calling the pool's own per-run function (`Player.play`, through `play_safely`), so a run on the
cluster is the run the pool plays, event for event. Runs are written by the workers straight into
the compare's `--out/runs`: on a real cluster that folder must be one the workers see (a shared
file system); the compare checks that they do before it plays anything.

A worker that dies loses the run it was playing: the scheduler gives the task to another worker
(up to `distributed.scheduler.allowed-failures` times), and the unfinished folder the dead worker
left is removed once the ensemble is done. LLM ensembles share one limit on calls in flight over
the whole cluster (a `distributed.Semaphore`) and one budget (a spend and reservations kept on the
scheduler in a `distributed.Variable`, changed under a `distributed.Lock`).

Dask is an optional extra: `pip install 'parley[cluster]'`.
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from parley.engine.events import EventType
from parley.llm.answerer import Answerer, ChatParams, Completion
from parley.llm.ledger import Ledger, PriceTable
from parley.world.problems import InvalidInput, Problem, display_path

if TYPE_CHECKING:
    from distributed import Client

    from parley.ensembles.runner import Arm
    from parley.llm.settings import LLMSettings

LOCAL = "local:"
RETRIES = 2  # a run whose task raised (not a failed run: those come back as rows) is tried again
NEEDS_EXTRA = "needs Dask: pip install 'parley[cluster]'"


def distributed_module() -> Any:
    try:
        import distributed
    except ImportError:
        raise InvalidInput([Problem("--cluster", "", NEEDS_EXTRA)]) from None
    return distributed


@contextmanager
def cluster_client(spec: str, threads: int = 1) -> Iterator[Client]:
    """A client of the scheduler at `spec`, or of a LocalCluster of N processes for `local:N` (closed after)."""
    distributed = distributed_module()
    spec = spec.strip()
    if spec.startswith(LOCAL):
        try:
            n = int(spec[len(LOCAL) :])
        except ValueError:
            n = 0
        if n < 1:
            raise InvalidInput(
                [Problem("--cluster", spec, "expected local:N with N at least 1, or a scheduler address")]
            )
        cluster = distributed.LocalCluster(
            n_workers=n,
            threads_per_worker=threads,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=40,
        )
        try:
            client = distributed.Client(cluster)
            try:
                yield client
            finally:
                client.close()
        finally:
            cluster.close()
        return
    if not spec:
        raise InvalidInput([Problem("--cluster", spec, "give a scheduler address (tcp://host:8786) or local:N")])
    try:
        client = distributed.Client(spec, timeout="20s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise InvalidInput(
            [Problem("--cluster", spec, f"no Dask scheduler answers there ({str(exc).splitlines()[0]})")]
        ) from None
    try:
        yield client
    finally:
        client.close()


# -- on a worker ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    """What every task of one ensemble shares; each worker builds its Player from it once."""

    token: str
    world: str
    arms: list[Arm]
    runs_dir: str
    max_rounds: int | None
    llm: LLMSettings | None = None

    @property
    def limit(self) -> str:
        return f"parley-{self.token}-calls"

    @property
    def spend(self) -> str:
        return f"parley-{self.token}-spend"

    @property
    def stop(self) -> str:
        return f"parley-{self.token}-stop"


_PLAYERS: dict[str, Any] = {}


def play_task(job: Job, arm: int, seed: int) -> dict[str, Any] | None:
    """One run on a worker: the pool's per-run function with this worker's Player (None: the budget
    was spent before it started)."""
    from distributed import Event

    from parley.ensembles.runner import Player, max_rss_kb, play_safely, rss_kb

    if job.llm is not None and Event(job.stop).is_set():
        return None
    player = _PLAYERS.get(job.token)
    if player is None:
        llm = None
        if job.llm is not None:
            from parley.llm.backend import LLMBackend

            llm = LLMBackend(
                job.llm,
                ledger=lambda prices: SharedLedger(prices, job.spend),
                gate=lambda inner: Limited(inner, job.limit, job.llm.concurrency if job.llm else 1),
            )
        player = _PLAYERS[job.token] = Player(job.world, job.arms, job.runs_dir, job.max_rounds, llm)
    row = play_safely(player, arm, seed)
    if row.get("status") == "budget_exhausted":
        Event(job.stop).set()
    row["worker"] = {"pid": os.getpid(), "max_rss_kb": max_rss_kb(), "rss_kb": rss_kb()}
    return row


def forget_job(token: str) -> None:
    """Let a worker drop the Player (and close the LLM client) of an ensemble that is done."""
    player = _PLAYERS.pop(token, None)
    if player is not None and player.llm is not None:
        player.llm.close()


def sees(path: str) -> bool:
    return Path(path).is_file()


class Limited:
    """An answerer that holds a lease of the cluster-wide semaphore while its call is in flight."""

    def __init__(self, inner: Answerer, name: str, leases: int) -> None:
        from distributed import Semaphore

        self.inner = inner
        self.semaphore = Semaphore(max_leases=leases, name=name)

    async def complete(
        self, actor: str, model: str, messages: list[dict], schema: dict, schema_name: str, params: ChatParams
    ) -> Completion:
        await asyncio.to_thread(self.semaphore.acquire)  # the client is synchronous: off this loop
        try:
            return await self.inner.complete(actor, model, messages, schema, schema_name, params)
        finally:
            await asyncio.to_thread(self.semaphore.release)


class SharedLedger(Ledger):
    """A ledger whose spend and reservations are the whole cluster's: kept on the scheduler in a
    Variable that is only read-modified-written under a Lock of the same name. Reservations are held
    per worker, so that the client can drop those of a worker that died with calls in flight
    (`drop_dead_reservations`); a dead worker's hold would otherwise shrink the budget for good. The
    accounts per actor stay this process's (each run counts its own costs from its events)."""

    def __init__(self, prices: PriceTable, name: str) -> None:
        from distributed import Lock, Variable

        super().__init__(prices)
        self._variable = Variable(name)
        self._lock = Lock(name)
        self._name = name
        self._holder = holder()

    def _update(self, change: Callable[[BudgetState], bool]) -> bool:
        with self._lock:
            state = BudgetState.of(self._variable.get())
            ok = change(state)
            if ok:
                self._variable.set(state.as_dict())
            return ok

    @property
    def spent(self) -> float:
        return BudgetState.of(self._variable.get()).spent

    def charge(self, actor: str, model: str, prompt_tokens: int, completion_tokens: int, cached: bool) -> float:
        usd = super().charge(actor, model, prompt_tokens, completion_tokens, cached)
        if usd:
            self._update(lambda s: s.add_spend(usd))
        return usd

    def charge_usd(self, actor: str, prompt_tokens: int, completion_tokens: int, usd: float) -> None:
        super().charge_usd(actor, prompt_tokens, completion_tokens, usd)
        if usd:
            self._update(lambda s: s.add_spend(usd))

    def reserve(self, usd: float, limit_usd: float) -> bool:
        if self._update(lambda s: s.hold(self._holder, usd, limit_usd)):
            return True
        from distributed import get_client

        # Before calling the budget spent: a worker that died with calls in flight may still hold some.
        if self._holder != "client" and drop_dead_reservations(get_client(), self._name):
            return self._update(lambda s: s.hold(self._holder, usd, limit_usd))
        return False

    def release(self, usd: float) -> None:
        self._update(lambda s: s.hold(self._holder, -usd, None))


@dataclass
class BudgetState:
    """The cluster's spend and what each worker holds for its calls in flight."""

    spent: float = 0.0
    reserved: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, value: dict[str, Any]) -> BudgetState:
        return cls(float(value["spent"]), {k: float(v) for k, v in dict(value["reserved"]).items()})

    def as_dict(self) -> dict[str, Any]:
        return {"spent": self.spent, "reserved": dict(self.reserved)}

    def add_spend(self, usd: float) -> bool:
        self.spent += usd
        return True

    def hold(self, who: str, usd: float, limit_usd: float | None) -> bool:
        """Hold `usd` more for `who` (negative: give it back), unless it could pass the limit."""
        if limit_usd is not None and self.spent + sum(self.reserved.values()) + usd > limit_usd:
            return False
        left = self.reserved.get(who, 0.0) + usd
        if left > 1e-12:
            self.reserved[who] = left
        else:
            self.reserved.pop(who, None)
        return True


def holder() -> str:
    """Who holds a reservation: this worker's address (the client, outside a worker)."""
    from distributed import get_worker

    try:
        return str(get_worker().address)
    except ValueError:
        return "client"


def drop_dead_reservations(client: Client, name: str) -> float:
    """Give back what workers no longer in the cluster held for their calls in flight; the amount."""
    from distributed import Lock, Variable

    alive = set(client.scheduler_info()["workers"]) | {"client"}
    with Lock(name):  # the client in use is the default one
        variable = Variable(name, client=client)
        state = BudgetState.of(variable.get())
        dead = {who: usd for who, usd in state.reserved.items() if who not in alive}
        if dead:
            state.reserved = {who: usd for who, usd in state.reserved.items() if who in alive}
            variable.set(state.as_dict())
    return sum(dead.values())


# -- on the client -------------------------------------------------------------------------------
def play_on_cluster(
    spec: str,
    world: Path | str,
    arms: list[Arm],
    runs_dir: Path,
    max_rounds: int | None,
    todo: list[tuple[int, int]],
    record: Callable[[dict[str, Any]], None],
    keys: dict[tuple[int, int], str],
    llm: LLMSettings | None = None,
) -> tuple[str | None, list[str]]:
    """Play `todo` on the cluster, handing each row to `record` as it comes back. Returns why runs
    were left unplayed (an LLM budget), if they were, and the unfinished folders removed."""
    distributed = distributed_module()
    threads = 1 if llm is None else max(1, math.ceil(llm.concurrency / max(1, local_workers(spec))))
    job = Job(uuid.uuid4().hex, str(Path(world).resolve()), arms, str(runs_dir.resolve()), max_rounds, llm)
    with cluster_client(spec, threads) as client:
        check_shared(client, runs_dir)
        if llm is not None:
            distributed.Variable(job.spend, client=client).set(BudgetState().as_dict())
        futures = [
            client.submit(
                play_task, job, arm, seed, pure=False, retries=RETRIES, key=f"parley-run-{arm}-{seed}-{job.token}"
            )
            for arm, seed in todo
        ]
        stopped = None
        try:
            for future in distributed.as_completed(futures):
                row = future.result()
                if llm is not None:  # a worker that died with calls in flight held budget it will never use
                    drop_dead_reservations(client, job.spend)
                if row is None:
                    continue
                record(row)
                if row.get("status") == "budget_exhausted" and stopped is None:
                    stopped = "the LLM budget is spent"
        except BaseException:
            client.cancel(futures)
            raise
        finally:
            try:
                client.run(forget_job, job.token)
            except Exception:  # a worker gone since: nothing to forget there
                pass
        if stopped:
            left = sum(1 for f in futures if f.result() is None)
            if left:
                stopped += f": {left} run(s) were not played"
    return stopped, remove_unfinished(runs_dir, set(keys.values()))


def local_workers(spec: str) -> int:
    try:
        return int(spec.strip()[len(LOCAL) :]) if spec.strip().startswith(LOCAL) else 1
    except ValueError:
        return 1


def check_shared(client: Client, runs_dir: Path) -> None:
    """The workers write the runs: refuse at once when one of them cannot see the runs folder."""
    probe = runs_dir / f".cluster-probe-{uuid.uuid4().hex}"
    probe.write_text("parley\n", encoding="utf-8")
    try:
        seen = client.run(sees, str(probe.resolve()))
    finally:
        probe.unlink(missing_ok=True)
    blind = [w for w, ok in seen.items() if not ok]
    if blind:
        raise InvalidInput(
            [
                Problem(
                    "--out",
                    display_path(runs_dir.parent),
                    f"{len(blind)} Dask worker(s) cannot see this folder ({blind[0]}); give an --out on a file system the workers share",
                )
            ]
        )


def remove_unfinished(runs_dir: Path, keys: set[str]) -> list[str]:
    """Folders of this ensemble's runs that a dead worker left without an outcome (played again since)."""
    from parley.ensembles.runner import last_event
    from parley.runs.saved import read_manifest

    removed = []
    for folder in sorted(runs_dir.iterdir()):
        if not folder.is_dir():
            continue
        manifest, _ = read_manifest(folder)
        if manifest is None or manifest.compare is None or manifest.compare.key not in keys:
            continue
        end = last_event(folder / "events.jsonl")
        if end is None or end.get("type") != EventType.OUTCOME:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    return removed


__all__ = ["Job", "Limited", "SharedLedger", "cluster_client", "play_on_cluster", "play_task"]
