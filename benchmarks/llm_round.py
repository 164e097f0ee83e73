"""LLM rounds against an OpenAI-compatible server: how many calls a round costs and how long it takes.

Usage:
    python benchmarks/llm_round.py [--latency 0.5] [--rounds 10]          # a fake server that follows the schema
    python benchmarks/llm_round.py --base-url http://127.0.0.1:8091/v1 --model gemma --rounds 2 --timeout 3600

Prints, from the run's own log: seconds per round; calls per actor per round (1.0 when no answer
needs a re-ask; the target against a schema-following server is 1.0, at most 1.1); completion tokens
per call; the share of answers cut off at max_tokens; and span / (rounds x latency), where latency is
the fake's fixed latency or, against a real server, the mean latency of one call (about 1 when the
actors' calls in a round run at once and no round needs a second call).

Against the fake (no --base-url) the actors propose a new package every round and never accept, in
answers that follow the bounded schema and meet their core aims, so the run lasts every round.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from parley.llm.backend import LLMBackend, LLMSettings  # noqa: E402
from parley.runs.folder import read_events  # noqa: E402
from parley.runs.play import play  # noqa: E402
from parley.world.scenario import load_scenario  # noqa: E402
from tests.fake_openai import FakeOpenAI  # noqa: E402


def scripted_moves(world_path: Path, rounds: int) -> dict[str, list[dict]]:
    """A new proposal every round, never an acceptance, as moves that follow the bounded schema and the
    rules it cannot state (a proposal meets the proposer's core aims: "at least k of these" is not a
    schema a strict server takes, so a model that misses it is asked again)."""
    scenario = load_scenario(world_path)
    world = scenario.world
    actors = world.actor_ids()
    moves: dict[str, list[dict]] = {}
    for k, actor in enumerate(actors):
        moves[actor] = []
        persona = scenario.personas[actor]
        barred = {(line.issue, o) for line in persona.red_lines for o in line.excludes}
        core = {aim.issue: aim.options for aim in persona.core.of} if persona.core else {}
        for r in range(rounds):
            package = {}
            for i in world.issues:
                allowed = [o for o in i.option_ids() if (i.id, o) not in barred]  # never across its own red lines
                allowed = [o for o in allowed if o in core.get(i.id, allowed)] or allowed  # every core aim met
                package[i.id] = allowed[(r + k) % len(allowed)]
            others = [a for a in actors if a != actor]
            propose = {"type": "propose", "package": package, "to": others, "text": f"round {r + 1} offer"}
            moves[actor].append({"kind": "move", "move": {"actions": [], "proposals": [propose]}})
    return moves


def figures(events: list[dict], span: float, latency: float | None) -> dict[str, float]:
    calls = [e for e in events if e["type"] == "llm_call"]
    if not calls:
        raise SystemExit("the run made no LLM calls")
    rounds = max(e["round"] for e in calls)
    per_actor_round = Counter((c["actor"], c["round"]) for c in calls)
    call_latency = statistics.mean(c["transport"]["latency_s"] for c in calls)
    floor = latency if latency is not None else call_latency
    return {
        "rounds": rounds,
        "calls": len(calls),
        "seconds_per_round": span / rounds,
        "call_latency_s": call_latency,
        "calls_per_actor_round": len(calls) / len(per_actor_round),
        "completion_tokens_per_call": statistics.mean(c["tokens"]["completion"] for c in calls),
        "max_completion_tokens": max(c["tokens"]["completion"] for c in calls),
        "cut_off_share": sum(c.get("finish_reason") == "length" for c in calls) / len(calls),
        "span_over_rounds_x_latency": span / (rounds * floor),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default=None, help="an OpenAI-compatible server (default: a fake one here)")
    parser.add_argument("--model", default="bench")
    parser.add_argument("--latency", type=float, default=0.5, help="the fake server's latency per call")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds one call may take")
    parser.add_argument("--world", type=Path, default=ROOT / "worlds" / "ukraine-2024.yaml")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        fake = None if args.base_url else FakeOpenAI(latency=args.latency).start()
        try:
            if fake is not None:
                for actor, behaviours in scripted_moves(args.world, args.rounds).items():
                    fake.script(actor, *behaviours)
            url = args.base_url or fake.url  # type: ignore[union-attr]
            settings = LLMSettings(model=args.model, base_url=url, cache_dir=None, prices=None, timeout=args.timeout)
            backend = LLMBackend(settings)
            start = time.perf_counter()
            try:
                result = play(args.world, seed=1, max_rounds=args.rounds, runs_dir=Path(tmp), llm=backend)
            finally:
                backend.close()
            span = time.perf_counter() - start
            events = read_events(result.folder / "events.jsonl")
        finally:
            if fake is not None:
                fake.stop()
    f = figures(events, span, args.latency if fake is not None else None)
    print(f"server: {args.base_url or f'fake, latency {args.latency}s'}  world: {args.world.name}")
    print(f"rounds: {f['rounds']:.0f}  calls: {f['calls']:.0f}  run: {span:.1f}s")
    print(f"seconds per round:            {f['seconds_per_round']:.2f}  (one call: {f['call_latency_s']:.2f}s)")
    print(f"calls per actor per round:    {f['calls_per_actor_round']:.3f}  (target 1.0, at most 1.1)")
    print(
        f"completion tokens per call:   {f['completion_tokens_per_call']:.1f}  (most {f['max_completion_tokens']:.0f})"
    )
    print(f"share of answers cut off:     {f['cut_off_share']:.1%}")
    print(f"span / (rounds x latency):    {f['span_over_rounds_x_latency']:.2f}  (target at most 1.1)")


if __name__ == "__main__":
    main()
