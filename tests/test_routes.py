"""The route search kept per source and resumed (RelationshipGraph) finds, target after target and
across changes of trust, channels and presence, exactly the path a fresh Dijkstra finds."""

from __future__ import annotations

import random
from heapq import heappop, heappush
from itertools import pairwise

import networkx as nx

from parley.engine.graph import RelationshipGraph
from parley.world.world import World


def fresh_path(graph: RelationshipGraph, source: str, target: str) -> list[str] | None:
    """The search as it was before routes were kept: from scratch for every delivery."""
    if source not in graph.present or target not in graph.present:
        return None
    if graph.is_open(source, target):
        return [source, target]
    succ = graph.g._succ
    dist: dict[str, float] = {}
    seen = {source: 0.0}
    paths = {source: [source]}
    fringe: list[tuple[float, str]] = [(0.0, source)]
    while fringe:
        d, v = heappop(fringe)
        if v in dist:
            continue
        dist[v] = d
        if v == target:
            return paths[v]
        for u, edge in succ[v].items():
            if not edge["open"] or u not in graph.present:
                continue
            vu = d + (1.0 - edge["trust"] + 1e-6)
            if u in dist:
                continue
            if u not in seen or vu < seen[u]:
                seen[u] = vu
                heappush(fringe, (vu, u))
                paths[u] = [*paths[v], u]
    return None


def random_world(rng: random.Random, n: int) -> World:
    actors = [f"a{i}" for i in range(n)]
    edges = []
    for a in actors:
        for b in rng.sample(actors, 3):
            if a != b and not any(e["from"] == a and e["to"] == b for e in edges):
                # trust on a coarse grid, so that equal-cost paths (ties) are common
                edges.append({"from": a, "to": b, "trust": rng.choice([-0.5, 0.0, 0.5]), "open": rng.random() < 0.8})
    return World.model_validate(
        {
            "id": "g",
            "title": "graph",
            "actors": [{"id": a, "persona": "x"} for a in actors],
            "issues": [
                {"id": "i", "title": "i", "options": [{"id": "x", "meaning": "x"}, {"id": "y", "meaning": "y"}]}
            ],
            "edges": edges,
        }
    )


def test_kept_searches_find_the_fresh_path_through_changes() -> None:
    checked = 0
    for seed in range(30):
        rng = random.Random(seed)
        world = random_world(rng, rng.randint(4, 25))
        graph = RelationshipGraph(world)
        actors = world.actor_ids()
        for _ in range(200):
            roll = rng.random()
            if roll < 0.1:
                graph.adjust_trust(rng.choice(actors), rng.choice(actors), rng.choice([-0.5, 0.5]))
            elif roll < 0.15:
                graph.set_open(rng.choice(actors), rng.choice(actors), rng.random() < 0.5)
            elif roll < 0.16:
                graph.leave(rng.choice(actors))
            else:
                source, target = rng.sample(actors, 2)
                assert graph.route(source, target) == fresh_path(graph, source, target)
                checked += 1
    assert checked > 4000


def test_kept_searches_agree_with_networkx() -> None:
    rng = random.Random(7)
    graph = RelationshipGraph(random_world(rng, 30))
    open_graph = nx.DiGraph()
    for a, b, edge in graph.g.edges(data=True):
        if edge["open"]:
            open_graph.add_edge(a, b, cost=1.0 - edge["trust"] + 1e-6)
    for source in sorted(open_graph):
        lengths = nx.single_source_dijkstra_path_length(open_graph, source, weight="cost")
        for target in sorted(open_graph):
            if target == source:
                continue
            path = graph.route(source, target)
            if target not in lengths:
                assert path is None
                continue
            assert path is not None and path[0] == source and path[-1] == target
            if len(path) > 2:  # the direct channel, when open, is taken whatever it costs
                cost = sum(open_graph.edges[a, b]["cost"] for a, b in pairwise(path))
                assert abs(cost - lengths[target]) < 1e-9


def test_a_returned_path_is_the_callers_own() -> None:
    rng = random.Random(3)
    graph = RelationshipGraph(random_world(rng, 12))
    actors = graph.g.nodes
    for source in actors:
        for target in actors:
            if source != target and (path := graph.route(source, target)) is not None:
                path.append("x")  # changing what one delivery logged changes no other
                again = graph.route(source, target)
                assert again is not None and again[-1] == target
