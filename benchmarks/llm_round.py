"""LLM rounds against a local OpenAI-compatible server with a fixed latency per call.

Usage: python benchmarks/llm_round.py [--latency 0.5] [--rounds 10] [--world PATH]
Prints run wall time / (rounds x latency): about 1 when an actor's calls in a round run at once
(the target is at most 1.2 with 5 actors; one actor after another would give 5). Then the prompt
tokens per call by round, which stay flat once the memory window is full.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from parley.llm.backend import LLMBackend, LLMSettings  # noqa: E402
from parley.runs.play import play  # noqa: E402
from parley.world.scenario import load_scenario  # noqa: E402
from tests.fake_openai import FakeOpenAI  # noqa: E402


def scripted_moves(world_path: Path, rounds: int) -> dict[str, list[dict]]:
    """Proposals that change every round and are never accepted, so the run lasts every round."""
    scenario = load_scenario(world_path)
    world = scenario.world
    actors = world.actor_ids()
    moves: dict[str, list[dict]] = {}
    for k, actor in enumerate(actors):
        moves[actor] = []
        barred = {(line.issue, o) for line in scenario.personas[actor].red_lines for o in line.excludes}
        for r in range(rounds):
            package = {}
            for i in world.issues:
                allowed = [o for o in i.option_ids() if (i.id, o) not in barred]  # never across its own red lines
                package[i.id] = allowed[(r + k) % len(allowed)]
            others = [a for a in actors if a != actor]
            move = {"actions": [{"type": "propose", "package": package, "to": others, "text": f"round {r + 1} offer"}]}
            moves[actor].append({"kind": "move", "move": move})
    return moves


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--world", type=Path, default=ROOT / "worlds" / "ukraine-2024.yaml")
    args = parser.parse_args()

    with FakeOpenAI(latency=args.latency) as server, tempfile.TemporaryDirectory() as tmp:
        for actor, behaviours in scripted_moves(args.world, args.rounds).items():
            server.script(actor, *behaviours)
        backend = LLMBackend(LLMSettings(model="bench", base_url=server.url, cache_dir=None, prices=None))
        start = time.perf_counter()
        try:
            result = play(args.world, seed=1, max_rounds=args.rounds, runs_dir=Path(tmp), llm=backend)
        finally:
            backend.close()
        wall = time.perf_counter() - start
        requests = list(server.requests)

    rounds = result.outcome.round
    actors = len({r["actor"] for r in requests})
    print(
        f"world: {args.world.name}  actors: {actors}  rounds: {rounds}  calls: {len(requests)}  latency: {args.latency}s"
    )
    print(f"run wall time: {wall:.2f}s")
    print(
        f"ratio wall / (rounds x latency): {wall / (rounds * args.latency):.2f}  (target <= 1.2; one by one would be {actors})"
    )
    by_actor: dict[str, list[dict]] = {}
    for r in sorted(requests, key=lambda r: r["received"]):
        by_actor.setdefault(r["actor"], []).append(r)
    print("prompt tokens per call, by round (mean over actors):")
    for n in range(rounds):
        tokens = [
            sum(len(m["content"]) for m in calls[n]["body"]["messages"]) // 4
            for calls in by_actor.values()
            if len(calls) > n
        ]
        print(f"  round {n + 1:>2}: {statistics.mean(tokens):,.0f}")


if __name__ == "__main__":
    main()
