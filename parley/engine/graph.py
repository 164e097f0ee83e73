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
        self._version = 0  # bumped by every change that can change a route (trust, channels, who is present)
        self._searches: dict[str, PathSearch] = {}

    # -- reading ----------------------------------------------------------------------------
    def trust(self, a: str, b: str) -> float:
        return self.g.edges[a, b]["trust"] if self.g.has_edge(a, b) else 0.0

    def trust_in(self, actor: str) -> list[float]:
        """The trust on every channel pointing at `actor`."""
        return [edge["trust"] for edge in self.g._pred[actor].values()]  # type: ignore[attr-defined]  # networkx's adjacency dict (types-networkx omits it)

    def influence(self, a: str, b: str) -> float:
        return self.g.edges[a, b]["influence"] if self.g.has_edge(a, b) else 0.0

    def influence_on(self, actor: str) -> dict[str, float]:
        """The influence of each actor with a channel to `actor` (open or not) on it: the edges, not N."""
        return {b: edge["influence"] for b, edge in self.g._pred[actor].items()}  # type: ignore[attr-defined]  # networkx's adjacency dict (types-networkx omits it)

    def is_open(self, a: str, b: str) -> bool:
        return self.g.has_edge(a, b) and self.g.edges[a, b]["open"] and a in self.present and b in self.present

    def channels(self, actor: str) -> list[dict]:
        """The actor's own view: its outgoing channels and the trust both ways."""
        succ, here = self.g._succ, actor in self.present  # type: ignore[attr-defined]  # networkx's adjacency dict (types-networkx omits it); the adjacency itself: this runs for every actor every round
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
        """Dijkstra over open channels between present actors; of equally trusted paths, the one
        through the actor whose id sorts first (never the order the world lists actors or edges in).
        One search per source, kept and resumed until the graph changes:
        a round delivers a source's proposal to each of its recipients, and a search that stopped at
        one target settles the next ones on the way (a path never changes once its end is settled)."""
        search = self._searches.get(source)
        if search is None or search.version != self._version:
            search = self._searches[source] = PathSearch(source, self._version)
        path = search.until(target, self.g._succ, self.present)  # type: ignore[attr-defined]  # networkx's adjacency dict (types-networkx omits it)
        return None if path is None else list(path)

    # -- changing ---------------------------------------------------------------------------
    def _ensure(self, a: str, b: str) -> None:
        if not self.g.has_edge(a, b):
            self.g.add_edge(a, b, trust=0.0, influence=0.0, open=False)
            self._version += 1

    def adjust_trust(self, a: str, b: str, delta: float) -> tuple[float, float]:
        """Change a's trust in b, kept within -1..1; returns (before, after)."""
        self._ensure(a, b)
        before = self.g.edges[a, b]["trust"]
        after = round(min(1.0, max(-1.0, before + delta)), 6)
        self.g.edges[a, b]["trust"] = after
        if after != before:
            self._version += 1
        return before, after

    def set_open(self, a: str, b: str, is_open: bool) -> bool:
        """Open or close a's channel to b; returns whether anything changed."""
        self._ensure(a, b)
        changed = self.g.edges[a, b]["open"] != is_open
        self.g.edges[a, b]["open"] = is_open
        if changed:
            self._version += 1
        return changed

    def leave(self, actor: str) -> None:
        self.present.discard(actor)
        self._version += 1


class PathSearch:
    """A Dijkstra search from one source that stops as soon as the target it was asked for is
    settled, and resumes from there for the next target: the order of pops and pushes, so every
    path and every tie, is the one a fresh search to that target makes."""

    def __init__(self, source: str, version: int) -> None:
        self.version = version
        self.dist: dict[str, float] = {}
        self.seen = {source: 0.0}
        self.paths = {source: [source]}
        self.fringe: list[tuple[float, str]] = [(0.0, source)]  # ties go by actor id, not list order

    def until(self, target: str, succ: dict, present: set[str]) -> list[str] | None:
        """The most trusted open path to `target`, or None when it cannot be reached."""
        dist, seen, paths, fringe = self.dist, self.seen, self.paths, self.fringe
        if target in dist:
            return paths[target]
        while fringe:
            d, v = heappop(fringe)
            if v in dist:
                continue
            dist[v] = d
            for u, edge in succ[v].items():
                if not edge["open"] or u not in present:
                    continue
                vu = d + (1.0 - edge["trust"] + 1e-6)
                if u in dist:
                    continue
                if u not in seen or vu < seen[u]:
                    seen[u] = vu
                    heappush(fringe, (vu, u))
                    paths[u] = [*paths[v], u]
            if v == target:
                return paths[v]
        return None
