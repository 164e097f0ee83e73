"""Offline ensembles: runs per second with 1 and 2 workers, and peak memory for a small and a large
ensemble (it must not grow with the number of runs).

Usage: python benchmarks/ensemble.py [--runs 1000] [--small 100] [--workers 1,2] [--world PATH] [--cluster]

With `--cluster` (needs `pip install 'parley[cluster]'`) it times the same `--runs` on the local pool
of 2 workers and on a 2-worker Dask LocalCluster (`--cluster local:2`) side by side, the cluster's
start-up included, and prints the ratio.

Each measurement is a fresh process (peak memory only ever grows within one) playing `--runs` (or
`--small`) seeds of one arm of the world through `parley.ensembles.compare` into a temporary folder, every run
saved as usual (manifest, events, transcript), no report. It prints, per measurement: wall time,
time to the first finished run (start-up: the worker processes, loading the world in each), runs per
second over the whole and after the first run, the resident memory of the parent (peak, and at the
end) and of the largest worker (peak, and after its last run); then the ratios: speed-up of 2
workers over 1, and memory of the large ensemble over the small one. The issue's target is 20 runs
per second on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def child(world: Path, runs: int, workers: int, cluster: str | None = None) -> None:
    """One measurement, in this process: print one JSON line."""
    from parley.ensembles.compare import compare
    from parley.ensembles.runner import max_rss_kb, rss_kb

    worker_peak: dict[int, int] = {}
    worker_now: dict[int, int] = {}
    times: list[float] = []
    start = time.perf_counter()

    def on_run(arm: int, row: dict, reused: bool) -> None:
        times.append(time.perf_counter() - start)
        w = row.get("worker")
        if w and w.get("max_rss_kb"):
            worker_peak[w["pid"]] = max(worker_peak.get(w["pid"], 0), w["max_rss_kb"])
        if w and w.get("rss_kb"):
            worker_now[w["pid"]] = w["rss_kb"]  # after its latest run

    with tempfile.TemporaryDirectory(prefix="parley-ensemble-") as tmp:
        result = compare(
            world,
            arms=["baseline"],
            seeds=runs,
            workers=workers,
            out=Path(tmp) / "out",
            on_run=on_run,
            cluster=cluster,
        )
        wall = time.perf_counter() - start
        statuses = result.runs["status"].value_counts().to_dict()
    print(
        json.dumps(
            {
                "runs": runs,
                "workers": workers,
                "wall_s": wall,
                "first_s": times[0],
                "last_s": times[-1],
                "parent_rss_kb": max_rss_kb(),
                "parent_now_kb": rss_kb(),
                "worker_rss_kb": max(worker_peak.values()) if worker_peak else None,
                "worker_now_kb": max(worker_now.values()) if worker_now else None,
                "worker_processes": len(worker_peak),
                "statuses": statuses,
            }
        )
    )


def measure(world: Path, runs: int, workers: int, cluster: str | None = None) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    where = ["--cluster-spec", cluster] if cluster else []
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            "--world",
            str(world),
            "--runs",
            str(runs),
            "--workers",
            str(workers),
            *where,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def mb(kb: int | None) -> str:
    return "-" if kb is None else f"{kb / 1024:.0f} MB"


def side_by_side(world: Path, runs: int) -> None:
    print(f"world: {world.name}  cpus: {os.cpu_count()}  runs: {runs}, one arm")
    print(f"{'where':>22} {'wall':>8} {'first':>7} {'runs/s':>7} {'after 1st':>9}  outcomes")
    results = {}
    for label, cluster in (("local pool, 2 workers", None), ("LocalCluster, 2 workers", "local:2")):
        r = results[label] = measure(world, runs, 2, cluster)
        steady = (runs - 1) / (r["last_s"] - r["first_s"]) if runs > 1 and r["last_s"] > r["first_s"] else float("nan")
        print(
            f"{label:>22} {r['wall_s']:>7.1f}s {r['first_s']:>6.1f}s {runs / r['wall_s']:>7.2f} {steady:>9.2f}  "
            + ", ".join(f"{k} {v}" for k, v in sorted(r["statuses"].items())),
            flush=True,
        )
    pool, dask = results.values()
    print(f"runs/s LocalCluster / local pool: {pool['wall_s'] / dask['wall_s']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--small", type=int, default=100, help="the small ensemble for the memory comparison")
    parser.add_argument("--workers", default="1,2", help="worker counts to time, comma-separated")
    parser.add_argument("--world", type=Path, default=ROOT / "worlds" / "ukraine-2024.yaml")
    parser.add_argument("--cluster", action="store_true", help="the pool of 2 against a 2-worker LocalCluster")
    parser.add_argument("--cluster-spec", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.world, args.runs, int(args.workers), args.cluster_spec)
        return
    if args.cluster:
        side_by_side(args.world, args.runs)
        return

    counts = [int(w) for w in args.workers.split(",")]
    print(f"world: {args.world.name}  cpus: {os.cpu_count()}  runs: {args.runs} (small: {args.small})")
    print(
        f"{'runs':>6} {'workers':>7} {'wall':>8} {'first':>7} {'runs/s':>7} {'after 1st':>9} "
        f"{'parent peak':>11} {'at the end':>10} {'worker peak':>11} {'at the end':>10}  outcomes"
    )
    results: dict[tuple[int, int], dict] = {}
    plan = [(args.runs, w) for w in counts] + [(args.small, w) for w in counts if args.small < args.runs]
    for runs, workers in plan:
        r = measure(args.world, runs, workers)
        results[(runs, workers)] = r
        steady = (runs - 1) / (r["last_s"] - r["first_s"]) if runs > 1 and r["last_s"] > r["first_s"] else float("nan")
        print(
            f"{runs:>6} {workers:>7} {r['wall_s']:>7.1f}s {r['first_s']:>6.1f}s {runs / r['wall_s']:>7.2f} "
            f"{steady:>9.2f} {mb(r['parent_rss_kb']):>11} {mb(r['parent_now_kb']):>10} "
            f"{mb(r['worker_rss_kb']):>11} {mb(r['worker_now_kb']):>10}  "
            + ", ".join(f"{k} {v}" for k, v in sorted(r["statuses"].items())),
            flush=True,
        )
    print()
    if len(counts) > 1:
        one, many = results[(args.runs, counts[0])], results[(args.runs, counts[-1])]
        print(
            f"speed-up {counts[-1]} workers / {counts[0]}: {one['wall_s'] / many['wall_s']:.2f}x "
            f"({args.runs / many['wall_s']:.2f} runs/s with {counts[-1]}; target 20)"
        )
    if args.small < args.runs:
        for w in counts:
            big, small = results[(args.runs, w)], results[(args.small, w)]
            parts = [f"parent peak {big['parent_rss_kb'] / small['parent_rss_kb']:.2f}"]
            if big["parent_now_kb"] and small["parent_now_kb"]:
                parts.append(f"at the end {big['parent_now_kb'] / small['parent_now_kb']:.2f}")
            if big["worker_rss_kb"] and small["worker_rss_kb"]:
                parts.append(f"largest worker peak {big['worker_rss_kb'] / small['worker_rss_kb']:.2f}")
            if big["worker_now_kb"] and small["worker_now_kb"]:
                parts.append(f"at the end {big['worker_now_kb'] / small['worker_now_kb']:.2f}")
            print(f"memory {args.runs} runs / {args.small} runs, {w} worker(s): " + ", ".join(parts))


if __name__ == "__main__":
    main()
