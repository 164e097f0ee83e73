"""Time per run and per decision of the offline default on the default world.

Usage: python benchmarks/offline_run.py [--runs N] [--world PATH]
Prints wall time per run (setup, rounds, outcome benchmarks), time per decision, and the share of
run time spent deciding, all measured in this one process (machines here are noisy: compare ratios).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from parley.engine.actions import Move
from parley.engine.model import NegotiationModel
from parley.engine.policy import Observation, Policy
from parley.runs.cast import offline_policies
from parley.runs.play import prepare

ROOT = Path(__file__).resolve().parent.parent


class Timed:
    """Wraps a policy and records how long each decision takes."""

    def __init__(self, policy: Policy, times: list[float]) -> None:
        self.policy = policy
        self.times = times

    def decide(self, observation: Observation) -> Move:
        start = time.perf_counter()
        move = self.policy.decide(observation)
        self.times.append(time.perf_counter() - start)
        return move


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--world", type=Path, default=ROOT / "worlds" / "ukraine-2024.yaml")
    args = parser.parse_args()

    t0 = time.perf_counter()
    scenario, templates, space = prepare(args.world)
    prepare_s = time.perf_counter() - t0
    run_times, decisions, rounds = [], [], []
    for seed in range(1, args.runs + 1):
        start = time.perf_counter()
        policies = {a: Timed(p, decisions) for a, p in offline_policies(scenario, space, templates, seed).items()}
        model = NegotiationModel(scenario, policies, seed=seed, space=space)
        outcome = model.run()
        run_times.append(time.perf_counter() - start)
        rounds.append(outcome.round)
    total = sum(run_times)
    print(
        f"world: {scenario.world.id}  actors: {len(space.actors)}  issues: {len(space.issues)}  packages: {space.size:,}"
    )
    print(f"load and check the world (once): {prepare_s * 1000:.0f} ms")
    print(f"runs: {args.runs}  rounds per run: mean {statistics.mean(rounds):.1f}")
    print(
        f"time per run: median {statistics.median(run_times) * 1000:.0f} ms, mean {total / len(run_times) * 1000:.0f} ms"
    )
    print(f"decisions: {len(decisions)}  time per decision: median {statistics.median(decisions) * 1000:.2f} ms")
    print(f"ratio deciding / whole run: {sum(decisions) / total:.2f}")
    print(f"ratio one decision / one run: {statistics.median(decisions) / statistics.median(run_times):.4f}")


if __name__ == "__main__":
    main()
