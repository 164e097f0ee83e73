"""Compare on a Dask cluster: the same runs as the local pool, a dead worker's run played again, and
one limit on LLM calls in flight over every worker (counted by the fake server)."""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import parley
from parley.llm.settings import LLMSettings
from parley.runs.folder import read_events
from parley.runs.replay import replay
from parley.ui.cli import app
from tests.conftest import MINI
from tests.fake_openai import FakeOpenAI

distributed = pytest.importorskip("distributed")
cloudpickle = pytest.importorskip("cloudpickle")
cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the worker plugin below, by value

ARMS = ["baseline", "north=hardliner"]
SEEDS = 3
ROUNDS = 4


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A LocalCluster of two worker processes on loopback (two threads each, for the LLM test)."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=2, processes=True, host="127.0.0.1", dashboard_address=None, silence_logs=40
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def pool_runs(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, str]]:
    out = tmp_path_factory.mktemp("pool") / "out"
    parley.compare(MINI, arms=ARMS, seeds=SEEDS, max_rounds=ROUNDS, workers=1, out=out, report=False)
    return played(out)


def played(out: Path) -> list[dict[str, str]]:
    """runs.csv without run ids (a folder's name carries the time it was made)."""
    with (out / "runs.csv").open(newline="", encoding="utf-8") as f:
        return [{k: v for k, v in row.items() if k != "run_id"} for row in csv.DictReader(f)]


def test_local_2_gives_the_runs_of_the_local_pool(tmp_path: Path, pool_runs: list[dict[str, str]]) -> None:
    out = tmp_path / "out"
    args = ["compare", str(MINI), "--variant", "baseline", "--variant", "north=hardliner", "--quiet"]
    args += ["--seeds", str(SEEDS), "--max-rounds", str(ROUNDS), "--out", str(out), "--cluster", "local:2"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert played(out) == pool_runs
    assert {"runs.csv", "summary.csv", "report.html", "report.md", "index.jsonl"} <= {p.name for p in out.iterdir()}
    again = CliRunner().invoke(app, args)  # saved runs are reused as with the pool
    assert again.exit_code == 0 and "0 played, 6 reused" in again.output.replace("run(s) ", ""), again.output


class DieInRun(distributed.WorkerPlugin):
    """On every worker: the first run of `seed` to start kills its worker process after a few events."""

    def __init__(self, seed: int, marker: str) -> None:
        self.seed, self.marker = seed, marker

    def setup(self, worker: Any) -> None:
        import parley.ensembles.runner as runner

        original, seed, marker = runner.execute, self.seed, self.marker

        def execute(
            scenario: Any, templates: Any, space: Any, cast: Any, s: int, rounds: int, run: Any, sink: Any, *rest: Any
        ) -> Any:
            if s == seed:
                try:
                    os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                except FileExistsError:
                    pass
                else:
                    events = []

                    def dying(event: dict) -> None:
                        sink(event)
                        events.append(event)
                        if len(events) == 4:
                            os._exit(1)  # the worker dies mid-run

                    return original(scenario, templates, space, cast, s, rounds, run, dying, *rest)
            return original(scenario, templates, space, cast, s, rounds, run, sink, *rest)

        runner.execute = execute


def test_a_killed_workers_run_is_played_again(tmp_path: Path, scheduler: str, pool_runs: list[dict[str, str]]) -> None:
    marker = tmp_path / "died"
    with distributed.Client(scheduler) as client:
        client.register_plugin(DieInRun(2, str(marker)), name="die-in-run")
        try:
            result = parley.compare(
                MINI, arms=ARMS, seeds=SEEDS, max_rounds=ROUNDS, out=tmp_path / "out", cluster=scheduler, report=False
            )
        finally:
            client.unregister_worker_plugin("die-in-run")
    assert marker.exists()  # a worker did die in a run
    assert played(tmp_path / "out") == pool_runs  # every run is there, the same as the pool's
    folders = sorted((tmp_path / "out" / "runs").iterdir())
    assert [f.name for f in folders] == sorted(result.runs["run_id"])  # the dead worker's half run is gone
    assert 1 <= len(result.removed) <= 2  # at most the runs the worker was playing (it has two threads)
    assert any("-s2" in name for name in result.removed)
    again = next(f for f in folders if f.name in set(result.runs.loc[result.runs["seed"] == 2, "run_id"]))
    assert replay(again).identical


def test_the_llm_limit_holds_across_workers(tmp_path: Path, scheduler: str) -> None:
    rows: list[dict] = []
    with FakeOpenAI(latency=0.05, accept=False) as server:
        settings = LLMSettings(model="fake", base_url=server.url, cache_dir=None, prices=None, concurrency=2)
        result = parley.compare(
            MINI,
            arms=ARMS,
            seeds=2,
            max_rounds=2,
            out=tmp_path / "out",
            llm=settings,
            cluster=scheduler,
            report=False,
            on_run=lambda arm, row, reused: rows.append(row),
        )
        requests = list(server.requests)
    assert result.played == 4 and len({r["worker"]["pid"] for r in rows}) == 2  # both workers played runs
    moments = sorted([(r["received"], 1) for r in requests] + [(r["answered"], -1) for r in requests])
    in_flight, most = 0, 0
    for _, change in moments:
        in_flight += change
        most = max(most, in_flight)
    assert 1 <= most <= 2  # 2 workers x 2 runs x 3 actors could ask at once; the cluster lets 2 through
    logged = sum(
        e["type"] == "llm_call"
        for run_id in result.runs["run_id"]
        for e in read_events(tmp_path / "out" / "runs" / run_id / "events.jsonl")
    )
    assert logged == len(requests) > 0


def test_without_the_extra_cluster_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed: ImportError, as when not installed
    args = ["compare", str(MINI), "--variant", "baseline", "--seeds", "1", "--out", str(tmp_path / "o")]
    result = CliRunner().invoke(app, [*args, "--cluster", "local:2"])
    assert result.exit_code == 2 and "pip install 'parley[cluster]'" in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "o" / "runs").exists()


def test_a_bad_cluster_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "compare",
            str(MINI),
            "--variant",
            "baseline",
            "--seeds",
            "1",
            "--out",
            str(tmp_path / "o"),
            "--cluster",
            "local:0",
        ],
    )
    assert result.exit_code != 0 and "local:N" in result.output and "Traceback" not in result.output


def reserve_on_a_worker(name: str, usd: float, limit: float) -> tuple[bool, str]:
    from parley.ensembles.cluster import SharedLedger
    from parley.llm.ledger import PriceTable

    ledger = SharedLedger(PriceTable(), name)
    return ledger.reserve(usd, limit), ledger._holder


def test_a_dead_workers_hold_on_the_budget_is_given_back(scheduler: str) -> None:
    """A worker that died with calls in flight held budget it will never use: the next reservation
    that would pass the limit gives back the dead worker's hold first, and live holds stay."""
    from parley.ensembles.cluster import drop_dead_reservations

    name = "parley-test-budget"
    with distributed.Client(scheduler) as client:
        variable = distributed.Variable(name, client=client)
        variable.set({"spent": 0.5, "reserved": {"tcp://127.0.0.1:9": 0.4}})  # no worker lives there
        ok, who = client.submit(reserve_on_a_worker, name, 0.3, 1.0, pure=False).result()
        assert ok and who in client.scheduler_info()["workers"]  # 0.5 + 0.4 + 0.3 > 1.0 without the sweep
        assert variable.get() == {"spent": 0.5, "reserved": {who: 0.3}}
        refused, _ = client.submit(reserve_on_a_worker, name, 0.3, 1.0, pure=False).result()
        assert not refused  # 0.5 + 0.3 (a live worker's hold) + 0.3: the limit still binds
        assert drop_dead_reservations(client, name) == 0.0 and variable.get()["reserved"] == {who: 0.3}
