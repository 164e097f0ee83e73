"""The table as a room sees it on a projector: plain HTML and SVG, built from the board's model.

Every piece is a string of HTML with everything an actor or a facilitator wrote escaped
(`parley.world.escaping.html`), so the projector page, a seat's page and a test read the same thing.
The graph is inline SVG: it scales to any screen and zoom without blurring, and draws in
milliseconds. Its colours: trust runs from vermilion (hostile) through grey to blue (full trust),
a scale readable by the colour-blind; actors are white discs, so nothing else on the graph competes
with the trust colours; a thick arrow is a channel someone used this round.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from markupsafe import Markup

from parley.engine.events import EventType
from parley.reports.text import describe
from parley.ui.agreement import Agreement, option_title
from parley.ui.board import BoardModel, open_proposals
from parley.world.escaping import html
from parley.world.labels import Labels

HOSTILE, NEUTRAL, TRUSTED = (213, 94, 0), (190, 190, 190), (0, 90, 181)
TALK_TYPES = {EventType.MESSAGE, EventType.PROPOSAL, EventType.RESPONSE}


def trust_colour(trust: float) -> str:
    t = max(-1.0, min(1.0, trust))
    far = TRUSTED if t >= 0 else HOSTILE
    w = abs(t)
    return "#" + "".join(f"{round((1 - w) * a + w * b):02x}" for a, b in zip(NEUTRAL, far, strict=True))


def talks(model: BoardModel, round_: int | None = None) -> set[tuple[str, str]]:
    """Who spoke to whom in a round (the last played by default): messages, proposals and answers."""
    round_ = model.round if round_ is None else round_
    out: set[tuple[str, str]] = set()
    proposers = {p.id: p.proposer for p in model.table.proposals.values()}
    for e in model.events:
        if e["round"] != round_ or e["type"] not in TALK_TYPES:
            continue
        if e["type"] == EventType.RESPONSE:
            targets = [proposers.get(e["proposal"], "")]
        else:
            targets = list(e.get("to") or [])
        out |= {(e["actor"], t) for t in targets if t and t != e["actor"]}
    return out


def graph_svg(model: BoardModel, width: int = 900, height: int = 640) -> str:
    """The relationship graph: an arrow per channel coloured by the sender's trust, its value beside
    it, dashed when the channel is closed, thick when it carried words this round; grey discs have
    walked out."""
    graph, names = model.graph, model.names()
    actors = model.world.actor_ids()
    spoke = talks(model)
    cx, cy, radius, node = width / 2, height / 2 + 10, min(width, height) / 2 - 110, 46
    pos = {}
    for i, actor in enumerate(actors):
        angle = math.pi / 2 - 2 * math.pi * i / len(actors)
        pos[actor] = (cx + radius * math.cos(angle), cy - radius * math.sin(angle))
    parts = [
        f'<svg class="parley-graph-svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="relationship graph" xmlns="http://www.w3.org/2000/svg">'
    ]
    for a, b in sorted(graph.g.edges, key=lambda e: (actors.index(e[0]), actors.index(e[1]))):
        (xa, ya), (xb, yb) = pos[a], pos[b]
        length = math.hypot(xb - xa, yb - ya) or 1.0
        ux, uy = (xb - xa) / length, (yb - ya) / length
        sx, sy = -uy * 9, ux * 9  # to the side: a->b and b->a run parallel
        x1, y1 = xa + ux * (node + 4) + sx, ya + uy * (node + 4) + sy
        tip = (xb - ux * (node + 4) + sx, yb - uy * (node + 4) + sy)
        base = (tip[0] - ux * 18, tip[1] - uy * 18)
        head = [tip, (base[0] - uy * 8, base[1] + ux * 8), (base[0] + uy * 8, base[1] - ux * 8)]
        trust = graph.trust(a, b)
        colour = trust_colour(trust)
        is_open = graph.is_open(a, b)
        used = (a, b) in spoke
        dash = "" if is_open else ' stroke-dasharray="10 7"'
        width_ = 8 if used else 3.5
        title = f"{names[a]} → {names[b]}: trust {trust:+.2f}, " + ("open" if is_open else "closed")
        title += ", spoke this round" if used else ""
        parts.append(
            f'<g><title>{html(title)}</title><line x1="{x1:.1f}" y1="{y1:.1f}" x2="{base[0]:.1f}" y2="{base[1]:.1f}" '
            f'stroke="{colour}" stroke-width="{width_}"{dash}/>'
            f'<polygon points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in head)}" fill="{colour}"/></g>'
        )
        lx, ly = x1 + (base[0] - x1) * 0.3 + sx * 1.6, y1 + (base[1] - y1) * 0.3 + sy * 1.6
        parts.append(
            f'<text x="{lx:.1f}" y="{ly + 5:.1f}" class="parley-trust" text-anchor="middle">{trust:+.1f}</text>'
        )
    for actor in actors:
        x, y = pos[actor]
        here = actor in graph.present
        fill = "#ffffff" if here else "#9e9e9e"
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{node}" fill="{fill}" stroke="#222" stroke-width="3"/>')
        label = names[actor] + ("" if here else " (walked out)")
        dy = -node - 12 if y < cy - 5 else node + 30
        parts.append(
            f'<text x="{x:.1f}" y="{y + dy:.1f}" class="parley-node" text-anchor="middle">{html(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def legend_html() -> str:
    stops = ", ".join(trust_colour(t / 4) for t in range(-4, 5))
    return (
        '<div class="parley-legend">'
        f'<span class="parley-scale" style="background: linear-gradient(to right, {stops})"></span>'
        "<span>trust: −1 hostile … +1 full</span>"
        '<span><svg width="46" height="12"><line x1="0" y1="6" x2="46" y2="6" stroke="#555" stroke-width="8"/></svg>'
        " spoke this round</span>"
        '<span><svg width="46" height="12"><line x1="0" y1="6" x2="46" y2="6" stroke="#555" stroke-width="3" '
        'stroke-dasharray="10 7"/></svg> channel closed</span></div>'
    )


def proposals_html(model: BoardModel) -> str:
    """The open proposals side by side, issue by issue in titles, with who said yes and no: the
    table a room reads. Nothing once the game has ended (its outcome is shown instead)."""
    proposals = open_proposals(model)
    if not proposals:
        return '<p class="parley-empty">No proposal is open.</p>'
    names = model.names()
    voters = model.rule.voters
    head = "".join(
        f"<th>{html(p.id)}<br><small>from {html(names.get(p.proposer, p.proposer))}, round {p.round}</small></th>"
        for p in proposals
    )
    rows = []
    labels = Labels(model.world)
    for issue in model.world.issues:
        cells = []
        for p in proposals:
            option = p.package.get(issue.id, "")
            meaning = next((o.meaning for o in issue.options if o.id == option), "")
            cells.append(f'<td title="{html(meaning)}">{html(option_title(option, labels))}</td>')
        rows.append(f"<tr><th>{html(issue.title)}</th>{''.join(cells)}</tr>")
    support = []
    for p in proposals:
        yes = [a for a in p.accepted_by if a in voters]
        share = len(yes) / len(voters)
        support.append(
            f'<td><span class="parley-bar"><span style="width:{share * 100:.0f}%"></span></span>'
            f"{len(yes)} of {len(voters)} signatories<br><small>yes: {html(who(p.accepted_by, names))}"
            + (f"<br>no: {html(who(p.rejected_by, names))}" if p.rejected_by else "")
            + "</small></td>"
        )
    rows.append(f"<tr class='parley-support'><th>Support</th>{''.join(support)}</tr>")
    return f'<table class="parley-proposals-table"><tr><th>Issue</th>{head}</tr>{"".join(rows)}</table>'


def who(actors: Iterable[str], names: Mapping[str, str]) -> str:
    return ", ".join(names.get(a, a) for a in actors) or "nobody"


def speech_html(model: BoardModel, round_: int | None = None) -> str:
    """What was said in a round (the last played by default), one line each."""
    round_ = model.round if round_ is None else round_
    names = model.names()
    lines = [
        describe(e, names)
        for e in model.events
        if e["round"] == round_ and e["type"] in TALK_TYPES | {EventType.WALKOUT, EventType.CHANNEL, EventType.DEAL}
    ]
    if not lines:
        return '<p class="parley-empty">Nothing said yet.</p>'
    return "<ul>" + "".join(f"<li>{html(line)}</li>" for line in lines) + "</ul>"


def news_html(model: BoardModel) -> str:
    """The facilitator's news as it landed, newest first, with what each item changed."""
    names = model.names()
    items = [e for e in model.events if e["type"] == EventType.INJECT]
    if not items:
        return '<p class="parley-empty">No news yet.</p>'
    out = []
    for e in reversed(items):
        changed = [
            describe(c, names)
            for c in model.events
            if c["round"] == e["round"] and c["seq"] > e["seq"] and c.get("reason", c.get("cause")) == "inject"
        ]
        out.append(
            f"<li><b>Round {e['round']}</b>: {html(e.get('text', ''))}"
            + ("".join(f"<br><small>{html(c)}</small>" for c in changed))
            + "</li>"
        )
    return "<ul>" + "".join(out) + "</ul>"


def agreement_html(a: Agreement) -> str:
    """The deal (or closest offer) issue by issue: the option agreed, what it means, whose red line it crosses."""
    parts = [f'<p class="parley-headline">{html(a.headline)}.</p>']
    facts = []
    if a.signed:
        facts.append(("Signed by" if a.kind in ("deal", "framework") else "Yes from") + ": " + ", ".join(a.signed))
    if a.refused:
        facts.append(("Refused by" if a.kind in ("deal", "framework") else "No from") + ": " + ", ".join(a.refused))
    if a.walked_out:
        facts.append("Walked out: " + ", ".join(a.walked_out))
    if a.war:
        facts.append(a.war)
    parts += [f'<p class="parley-fact">{html(f)}</p>' for f in facts]
    if a.terms:
        rows = "".join(
            f"<tr><th>{html(t.issue)}</th><td><b>{html(t.option)}</b><br><small>{html(t.meaning)}</small></td>"
            f"<td>{html('crosses the red line of ' + ', '.join(t.crosses)) if t.crosses else ''}</td></tr>"
            for t in a.terms
        )
        parts.append(f'<table class="parley-deal-table"><tr><th>Issue</th><th>Agreed</th><th></th></tr>{rows}</table>')
    if a.utilities:
        cells = "".join(
            f"<tr><th>{html(n)}</th><td>{u:.2f}</td><td>{d:.2f}</td><td>{'better' if u > d else 'worse'} than no deal</td></tr>"
            for n, u, d in a.utilities
        )
        parts.append(
            '<table class="parley-deal-table"><tr><th>Actor</th><th>Its value</th><th>No deal</th><th></th></tr>'
            f"{cells}</table>"
        )
    return "".join(parts)


def as_markup(text: str) -> Markup:
    return Markup(text)
