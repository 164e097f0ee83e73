"""What a debrief costs: playing the personas' ensemble of a room's setting, then comparing.

Usage: python benchmarks/debrief.py [--seeds N] [--world PATH] [--workers W]
Plays one room on the world (the Ukraine seat taken by a "person" who holds out: a scripted seat
that rejects and passes), then `debrief_run` with a fresh ensemble of N seeds (played), then again
(every run reused), and prints the wall time of each part, runs per second, and the share of a
debrief spent comparing rather than playing (machines here are noisy and shared: compare ratios).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from parley.engine.actions import Move, Pass
from parley.engine.policy import Observation
from parley.players.seat import SeatView
from parley.reports.run_debrief import debrief_run
from parley.runs.play import play

ROOT = Path(__file__).resolve().parent.parent


class HoldsOut:
    """A person who never moves: the seat passes every round."""

    def choose(self, observation: Observation, view: SeatView) -> Move:
        return Move(actions=[Pass(reason="holding out")])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--world", type=Path, default=ROOT / "worlds" / "ukraine-2024.yaml")
    parser.add_argument("--seat", default="ukraine")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(tmp)
        room = play(args.world, seed=7, runs_dir=where / "runs", human={args.seat: HoldsOut()}).folder
        start = time.perf_counter()
        first = debrief_run(room, seeds=args.seeds, out=where / "ens", workers=args.workers)
        played = time.perf_counter() - start
        start = time.perf_counter()
        second = debrief_run(room, seeds=args.seeds, out=where / "ens", workers=args.workers)
        reused = time.perf_counter() - start
    assert first.ensemble.played == args.seeds and second.ensemble.reused == args.seeds
    print(f"debrief with {args.seeds} persona runs played: {played:.1f} s ({args.seeds / played:.2f} runs/s)")
    print(f"debrief with every run reused: {reused:.1f} s (reading and comparing: {reused / played:.0%} of the first)")
    for line in first.result.summary()[:3]:
        print("  " + line)


if __name__ == "__main__":
    main()
