"""Big synthetic worlds: how the cost of a round and the size of the log grow with the number of actors.

Usage:
    python benchmarks/big_world.py [--actors 5,20,50,100] [--issues 20] [--rounds 20] [--seed 1] [--no-holdouts]
    python benchmarks/big_world.py --write DIR --actors 100      # only write the world (to play or profile it)

`write_world(folder, n_actors, n_issues, seed, holdouts)` writes a seeded world of N actors x M issues
(2..6 options each, random weights and values per actor) with a sparse-ish relationship graph: every
actor has a few contacts (a ring, so that everyone is reachable, plus about three random edges each
way), so edges grow as N, not N^2. Two actors sign (unanimity).

What is measured: runs that play every round. Drawn like the others, the two signatories soon find an
offer both take (the lead's runs ended in 2-7 rounds), and per-round figures then mix a few opening
rounds of different worlds. So by default (`--holdouts`) the generator makes the two signatories hold
out: each needs a package worth HOLDOUT (0.95 of its ideal) and never walks out, so nothing is signed
and every run plays all `--rounds`; the other actors bargain as usual (propose, answer, threaten,
flatter, open channels, walk out). The engine is not told anything: it is the world's data.
`--no-holdouts` measures the signatories drawn like everyone else.

Each measurement plays one offline run in a fresh process (`parley run`'s machinery: run folder,
events, transcript) and prints, per N: CPU seconds of the whole run, of its set-up (loading and
checking the world, casting the players: everything before round 1 starts), CPU per round (the rounds
alone, timed from round 1's first event to the outcome, over the rounds played), the log (events.jsonl)
size and bytes per round, peak memory, and the whole of a 20-round run: measured when the run played 20
rounds, else extrapolated (marked ~). Then the exponent k of CPU per round ~ N^k, of the set-up and of
log bytes per round, fitted by least squares on the logs, and each of the issue's targets with the
figure against it: 100 actors x 20 issues, 20 rounds, under 30 s CPU and a log under 10 MB, k at most 1.5.

The rounds are timed by themselves (not as the run less a separate load) because loading is not
the same work twice in one process: templates compiled once are kept, so "the run less a cold load"
came out near zero, or below it, for small worlds and bent the fitted line.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONTACTS = 3  # random edges out of each actor, besides its ring neighbours
TARGET_N, TARGET_ROUNDS, TARGET_CPU, TARGET_LOG, TARGET_EXPONENT = 100, 20, 30.0, 10e6, 1.5  # issue 15
HOLDOUT = 0.95  # what a holding-out signatory needs of a package (its ideal is 1)


def trait(value: float) -> dict:
    return {"value": round(value, 2), "why": "synthetic", "cite": [1]}


def card(actor: str, issues: list[dict], rng: random.Random, holdout: bool = False) -> dict:
    """A synthetic persona card; a `holdout` wants nearly its ideal (reservation HOLDOUT) and never walks out."""
    out = {
        "id": actor,
        "name": actor.upper(),
        "leader": f"Leader of {actor.upper()}",
        "summary": {"text": "A synthetic actor.", "cite": [1]},
        "objectives": [{"text": "Do well on what it weighs most.", "cite": [1]}],
        "traits": {
            name: trait(rng.uniform(0.1, 0.9))
            for name in (
                "patience",
                "reciprocity",
                "flattery_susceptibility",
                "flattery_use",
                "assertiveness",
                "walkout_propensity",
                "openness",
            )
        },
        "preferences": {
            i["id"]: {
                "weight": round(rng.uniform(0.2, 3.0), 2),
                "values": {o["id"]: round(rng.random(), 2) for o in i["options"]},
                "why": "synthetic",
                "cite": [1],
            }
            for i in issues
        },
        "no_deal": {"value": round(rng.uniform(0.25, 0.45), 2), "why": "synthetic", "cite": [1]},
        "red_lines": [],
    }
    if holdout:
        out["reservation"] = {"value": HOLDOUT, "why": "synthetic: holds out", "cite": [1]}
        out["traits"]["walkout_propensity"] = trait(0.1)  # below what ever walks out
    return out


def write_world(folder: Path, n_actors: int, n_issues: int = 20, seed: int = 1, holdouts: bool = True) -> Path:
    """A seeded synthetic world of `n_actors` x `n_issues` in `folder`; returns its world.yaml. With
    `holdouts`, the two signatories hold out (see `card`), so that no deal is signed and a run plays
    every round; without, they are drawn like everyone else and a run often ends in a few rounds."""
    rng = random.Random(seed)
    actors = [f"a{i:03d}" for i in range(n_actors)]
    issues = [
        {
            "id": f"i{k:02d}",
            "title": f"Issue {k}",
            "options": [{"id": f"o{j}", "meaning": f"option {j} of issue {k}"} for j in range(2 + k % 5)],
        }
        for k in range(n_issues)
    ]
    pairs: set[tuple[str, str]] = set()
    for i, a in enumerate(actors):
        pairs.add((a, actors[(i + 1) % n_actors]))
        pairs.add((actors[(i + 1) % n_actors], a))
        for b in rng.sample(actors, min(CONTACTS, n_actors - 1)):
            if b != a:
                pairs.add((a, b))
    edges = [
        {"from": a, "to": b, "trust": round(rng.uniform(-0.4, 0.8), 2), "influence": round(rng.uniform(0.1, 0.9), 2)}
        for a, b in sorted(pairs)
        if a != b
    ]
    world = {
        "id": f"big-{n_actors}x{n_issues}",
        "title": f"Synthetic world of {n_actors} actors and {n_issues} issues",
        "description": "Generated by benchmarks/big_world.py.",
        "actors": [{"id": a, "persona": f"agents/{a}.yaml"} for a in actors],
        "issues": issues,
        "edges": edges,
        "protocol": {"signatories": actors[:2], "rule": "unanimity", "max_rounds": 20, "stall_patience": 30},
    }
    (folder / "agents").mkdir(parents=True, exist_ok=True)
    for a in actors:
        holdout = holdouts and a in world["protocol"]["signatories"]
        (folder / "agents" / f"{a}.yaml").write_text(yaml.safe_dump(card(a, issues, rng, holdout), sort_keys=False))
    path = folder / "world.yaml"
    path.write_text(yaml.safe_dump(world, sort_keys=False))
    return path


def child(world: Path, rounds: int, seed: int, runs_dir: Path) -> None:
    """One run in this process: print one JSON line. CPU is read at each event, so the rounds are
    timed by themselves: from the first event (round 1 starts) to the outcome. Before that is the
    set-up (loading and checking the world, casting the players, building the model); after it, the
    transcript and closing the run folder."""
    from parley import play

    marks: list[float] = []
    start = time.process_time()
    wall = time.perf_counter()
    result = play(
        world, seed=seed, max_rounds=rounds, runs_dir=runs_dir, on_event=lambda _: marks.append(time.process_time())
    )
    end = time.process_time()
    folder = Path(getattr(result, "folder", None) or next(runs_dir.iterdir()))
    events = folder / "events.jsonl"
    lines = events.read_text(encoding="utf-8").splitlines()
    last = json.loads(lines[-1])
    played = int(last.get("round") or rounds)
    print(
        json.dumps(
            {
                "cpu_s": end - start,
                "setup_s": marks[0] - start,
                "rounds_s": marks[-1] - marks[0],
                "wall_s": time.perf_counter() - wall,
                "rounds": played,
                "status": last.get("status"),
                "log_bytes": events.stat().st_size,
                "events": len(marks),
                "folder_bytes": sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()),
                "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            }
        )
    )


def measure(n: int, issues: int, rounds: int, seed: int, timeout: float, holdouts: bool = True) -> dict:
    with tempfile.TemporaryDirectory(prefix="parley-big-") as tmp:
        world = write_world(Path(tmp) / "world", n, issues, seed, holdouts)
        done = subprocess.run(
            [sys.executable, __file__, "--child", str(world), "--rounds", str(rounds), "--seed", str(seed)],
            cwd=tmp,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise SystemExit(f"N={n}: the run failed:\n{done.stderr[-2000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])


def exponent(xs: list[float], ys: list[float]) -> float:
    """k in y ~ x^k, least squares on the logs."""
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / sum((a - mx) ** 2 for a in lx)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--actors", default="5,20,50,100")
    parser.add_argument("--issues", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--write", type=Path, default=None, help="only write the world of the first --actors here")
    parser.add_argument(
        "--holdouts",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the signatories hold out, so runs play every round (default); --no-holdouts: drawn like the rest",
    )
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.rounds, args.seed, Path.cwd() / "runs")
        return
    counts = [int(n) for n in args.actors.split(",")]
    if args.write is not None:
        print(write_world(args.write, counts[0], args.issues, args.seed, args.holdouts))
        return
    signing = "signatories hold out (nothing is signed)" if args.holdouts else "signatories drawn like the rest"
    print(f"synthetic worlds, {args.issues} issues, {args.rounds} rounds, offline, seed {args.seed}, {signing}")
    print(
        f"{'actors':>6} {'edges':>6} {'rounds':>6} {'status':>10} {'CPU s':>8} {'set-up s':>8} {'CPU/round':>10} "
        f"{'log MB':>7} {'kB/round':>9} {'peak MB':>8} {'CPU 20r':>9} {'log 20r MB':>11}"
    )
    ns, cpus, sizes, setups, totals = [], [], [], [], {}
    for n in counts:
        with tempfile.TemporaryDirectory() as tmp:
            world = write_world(Path(tmp), n, args.issues, args.seed, args.holdouts)
            edges = len(yaml.safe_load(world.read_text())["edges"])
        r = measure(n, args.issues, args.rounds, args.seed, args.timeout, args.holdouts)
        per_cpu, per_bytes = r["rounds_s"] / r["rounds"], r["log_bytes"] / r["rounds"]
        ns.append(n)
        cpus.append(per_cpu)
        sizes.append(per_bytes)
        setups.append(r["setup_s"])
        # the whole of a 20-round run: as measured when it played 20 rounds, else extrapolated (marked ~)
        played = r["rounds"] == TARGET_ROUNDS
        cpu20 = r["cpu_s"] if played else r["cpu_s"] + per_cpu * (TARGET_ROUNDS - r["rounds"])
        log20 = r["log_bytes"] if played else per_bytes * TARGET_ROUNDS
        totals[n] = (cpu20, log20)
        mark = " " if played else "~"
        print(
            f"{n:>6} {edges:>6} {r['rounds']:>6} {r['status']!s:>10} {r['cpu_s']:>8.2f} {r['setup_s']:>8.2f} {per_cpu:>10.3f} "
            f"{r['log_bytes'] / 1e6:>7.2f} {per_bytes / 1e3:>9.1f} {r['max_rss_kb'] / 1024:>8.0f} "
            f"{mark}{cpu20:>8.1f} {mark}{log20 / 1e6:>10.2f}",
            flush=True,
        )
    if len(ns) > 1:
        k_cpu, k_log = exponent(ns, cpus), exponent(ns, sizes)
        print(
            f"fitted exponent in actors: CPU per round ~ N^{k_cpu:.2f}, log bytes per round ~ N^{k_log:.2f}, "
            f"set-up ~ N^{exponent(ns, setups):.2f}"
        )
        print(
            f"  target: CPU per round at most N^{TARGET_EXPONENT} -> {'met' if k_cpu <= TARGET_EXPONENT else 'MISSED'}"
        )
    if TARGET_N in totals:
        cpu20, log20 = totals[TARGET_N]
        print(
            f"  target: {TARGET_N} actors, {TARGET_ROUNDS} rounds under {TARGET_CPU:.0f} s CPU: {cpu20:.1f} s "
            f"({cpu20 / TARGET_CPU:.2f} of it) -> {'met' if cpu20 < TARGET_CPU else 'MISSED'}"
        )
        print(
            f"  target: its log under {TARGET_LOG / 1e6:.0f} MB: {log20 / 1e6:.2f} MB "
            f"({log20 / TARGET_LOG:.2f} of it) -> {'met' if log20 < TARGET_LOG else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
