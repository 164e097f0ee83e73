"""The rounds where a game turned, for a debrief: news, walkouts, channels shut, proposals that
gathered or lost signatories, the deal, and the largest swings of trust."""

from __future__ import annotations

from parley.engine.events import EventType
from parley.reports.text import describe
from parley.ui.board import BoardModel

TRUST_SWING = 0.3  # a round whose trust moves this much on one channel is worth naming


def turning_points(model: BoardModel) -> list[tuple[int, str]]:
    """(round, what happened) for each turning point, in order."""
    names = model.names()
    out: list[tuple[int, str]] = []
    for e in model.events:
        kind = e["type"]
        if kind in (EventType.INJECT, EventType.WALKOUT, EventType.DEAL, EventType.VARIANT_SWITCHED):
            out.append((e["round"], describe(e, names)))
        elif kind == EventType.CHANNEL and not e.get("open"):
            out.append((e["round"], describe(e, names)))
    best = 0.0
    for number, support in enumerate(model.support_by_round, 1):
        top = max(support.values(), default=0.0)
        if top > best + 1e-9 and top >= 0.5:
            leader = max(support, key=lambda p: support[p])
            out.append((number, f"{leader} reaches {top:.0%} of the signatories' yes, the most so far"))
        best = max(best, top)
    swings: dict[tuple[int, str, str], float] = {}
    for e in model.events:
        if e["type"] == EventType.TRUST:
            key = (e["round"], e["actor"], e["toward"])
            swings[key] = swings.get(key, 0.0) + float(e["after"]) - float(e["before"])
    for (number, a, b), delta in swings.items():
        if abs(delta) >= TRUST_SWING:
            verb = "gains" if delta > 0 else "loses"
            out.append((number, f"{names.get(a, a)} {verb} {abs(delta):.2f} of trust in {names.get(b, b)}"))
    return sorted(out, key=lambda x: x[0])
