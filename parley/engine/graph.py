"""Who can speak to whom, and how much they trust each other: a directed networkx graph."""

from __future__ import annotations

from heapq import heappop, heappush

import networkx as nx

from parley.world.world import World


class RelationshipGraph:
    """Directed edges carry `trust` (-1..1), `influence` (0..1) and whether the channel is `open`."""

    def __init__(self, world: World) -> None:
        self.g: nx.DiGraph[str] = nx.DiGraph()
        self.g.add_nodes_from(world.actor_ids())
        for e in world.edges:
            self.g.add_edge(e.source, e.target, trust=e.trust, influence=e.influence, open=e.open)
        if not world.edges:  # a world that draws no graph: everyone talks to everyone, neutrally
            for a in world.actor_ids():
                for b in world.actor_ids():
                    if a != b:
                        self.g.add_edge(a, b, trust=0.0, influence=0.5, open=True)
        self.present: set[str] = set(world.actor_ids())

    # -- reading ----------------------------------------------------------------------------
    def trust(self, a: str, b: str) -> float:
        return self.g.edges[a, b]["trust"] if self.g.has_edge(a, b) else 0.0

    def trust_in(self, actor: str) -> list[float]:
        """The trust on every channel pointing at `actor`."""
        return [edge["trust"] for edge in self.g._pred[actor].values()]  # type: ignore[attr-defined]  # networkx's adjacency dict, which types-networkx omits

    def influence(self, a: str, b: str) -> float:
        return self.g.edges[a, b]["influence"] if self.g.has_edge(a, b) else 0.0

    def is_open(self, a: str, b: str) -> bool:
        return self.g.has_edge(a, b) and self.g.edges[a, b]["open"] and a in self.present and b in self.present

    def channels(self, actor: str) -> list[dict]:
        """The actor's own view: its outgoing channels and the trust both ways."""
        succ, here = self.g._succ, actor in self.present  # type: ignore[attr-defined]  # the adjacency itself (types-networkx omits it): this runs for every actor every round
        out = []
        for b, edge in succ[actor].items():
            back = succ[b].get(actor)
            out.append(
                {
                    "to": b,
                    "open": bool(edge["open"] and here and b in self.present),
                    "trust": round(edge["trust"], 4),
                    "trust_back": round(back["trust"], 4) if back is not None else 0.0,
                }
            )
        return out

    def mean_trust(self) -> float:
        values = [d["trust"] for _, _, d in self.g.edges(data=True)]
        return sum(values) / len(values) if values else 0.0

    def route(self, source: str, target: str) -> list[str] | None:
        """The direct channel if open, else the most trusted open path (cost 1 - trust per hop)."""
        if source not in self.present or target not in self.present:
            return None
        if self.is_open(source, target):
            return [source, target]
        return self._most_trusted_path(source, target)

    def _most_trusted_path(self, source: str, target: str) -> list[str] | None:
        """Dijkstra over open channels between present actors, as networkx's `dijkstra_path` finds
        it (same order, same ties), without its views and callbacks: routing runs for every
        message and proposal, and graphs of a handful of actors made that overhead most of it."""
        succ = self.g._succ  # type: ignore[attr-defined]  # the adjacency dict, which types-networkx omits
        dist: dict[str, float] = {}
        seen = {source: 0.0}
        paths = {source: [source]}
        fringe: list[tuple[float, int, str]] = [(0.0, 0, source)]
        count = 1
        while fringe:
            d, _, v = heappop(fringe)
            if v in dist:
                continue
            dist[v] = d
            if v == target:
                return paths[v]
            for u, edge in succ[v].items():
                if not edge["open"] or u not in self.present:
                    continue
                vu = d + (1.0 - edge["trust"] + 1e-6)
                if u in dist:
                    continue
                if u not in seen or vu < seen[u]:
                    seen[u] = vu
                    heappush(fringe, (vu, count, u))
                    count += 1
                    paths[u] = [*paths[v], u]
        return None

    # -- changing ---------------------------------------------------------------------------
    def _ensure(self, a: str, b: str) -> None:
        if not self.g.has_edge(a, b):
            self.g.add_edge(a, b, trust=0.0, influence=0.0, open=False)

    def adjust_trust(self, a: str, b: str, delta: float) -> tuple[float, float]:
        """Change a's trust in b, kept within -1..1; returns (before, after)."""
        self._ensure(a, b)
        before = self.g.edges[a, b]["trust"]
        after = round(min(1.0, max(-1.0, before + delta)), 6)
        self.g.edges[a, b]["trust"] = after
        return before, after

    def set_open(self, a: str, b: str, is_open: bool) -> bool:
        """Open or close a's channel to b; returns whether anything changed."""
        self._ensure(a, b)
        changed = self.g.edges[a, b]["open"] != is_open
        self.g.edges[a, b]["open"] = is_open
        return changed

    def leave(self, actor: str) -> None:
        self.present.discard(actor)
