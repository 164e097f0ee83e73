"""A team's own page (`/seat?token=...`): its card, its private values and inbox, and its move.

The token in the link is the only thing that says which actor the page plays: it is looked up in
the room's seats on every render and every click, and a page without a valid one shows nothing of
the game. The page shows only what the engine shows that actor (its observation: the proposals
open to it, its inbox) and its own card, in plain words: issue and option titles, never ids or
JSON. Every move the engine allows can be made (propose from a chosen offer, counter, accept or
reject with a reason, message, open or close a channel, walk out), each checked as it is added by
the same rules the engine applies.
"""

from __future__ import annotations

from functools import partial

import solara

from parley.engine.actions import Move
from parley.engine.events import EventType
from parley.reports.text import describe
from parley.ui.agreement import agreement
from parley.ui.board import BoardModel, status
from parley.ui.move_editor import MoveEditor
from parley.ui.projector import PAGE_CSS, Html, Refused, use_room
from parley.ui.room import ROOM, query
from parley.ui.seat_words import card_of, offer_lines
from parley.ui.table_view import agreement_html
from parley.world.escaping import html
from parley.world.problems import InvalidInput

SEAT_CSS = """
.parley-seat-page .v-input, .parley-seat-page .v-btn, .parley-seat-page .v-label,
.parley-seat-page .v-select__selection { font-size: 18px !important; }
.parley-card-table { border-collapse: collapse; font-size: 17px; width: 100%; }
.parley-card-table th, .parley-card-table td { border: 1px solid #bbb; padding: 3px 8px; text-align: left; vertical-align: top; }
.parley-red { color: #a00; font-weight: bold; }
"""


def card_html(game: BoardModel, actor: str) -> str:
    """The seat's private card: what it wants, issue by issue, its red lines and its no-deal value."""
    card = card_of(game.setting.personas[actor], game.world)
    rows = []
    for issue in card.issues:
        options = "; ".join(
            f'<span title="{html(o.meaning)}">{html(o.title)} ({o.value:.2f})</span>'
            + (' <span class="parley-red">your red line</span>' if o.red_line else "")
            for o in issue.options
        )
        rows.append(f"<tr><th>{html(issue.title)}</th><td>{issue.share:.0%}</td><td>{options}</td></tr>")
    return (
        f"<p>{html(card.name)}: no deal is worth <b>{card.no_deal:.2f}</b> to you; "
        "a package is worth the weighted sum of its options' values (0 worst, 1 best).</p>"
        '<table class="parley-card-table"><tr><th>Issue</th><th>Weight</th><th>Options, best first (value)</th></tr>'
        + "".join(rows)
        + "</table>"
    )


def inbox_lines(game: BoardModel, actor: str) -> list[tuple[int, str]]:
    """What reached this actor, newest first: messages and proposals to it, answers to its proposals,
    the facilitator's news to it; in words."""
    names = game.names()
    mine = {p.id for p in game.table.proposals.values() if p.proposer == actor}
    out = []
    for e in game.events:
        kind = e["type"]
        to = e.get("to") or []
        if (
            (kind in (EventType.MESSAGE, EventType.PROPOSAL) and actor in to)
            or (kind == EventType.RESPONSE and e.get("proposal") in mine and e.get("actor") != actor)
            or (kind == EventType.INJECT and actor in to)
            or (kind == EventType.DEAL)
            or (kind == EventType.WALKOUT and e.get("actor") != actor)
        ):
            out.append((e["round"], describe(e, names)))
    return list(reversed(out))


@solara.component
def SeatPage() -> None:
    router = solara.use_router()
    use_room()
    actor = ROOM.seat_of(query(router.search, "token"))
    if actor is None:
        Refused("This is not a valid seat link. Ask the facilitator for your team's link.")
        return
    solara.Style(PAGE_CSS + SEAT_CSS)
    game = ROOM.game
    with solara.Column(classes=["parley-page", "parley-seat-page"]):
        if game is None or actor not in game.seats:
            solara.Text(
                "The facilitator has not started a game with your seat yet: this page shows it when they do.",
                classes=["parley-refused"],
            )
            return
        name = game.names()[actor]
        with game.lock:
            line = status(game)
            view = game.seat_view(actor)
            waiting = game.waiting_for
            left = ROOM.seconds_left()
        Html(f"<h1>You play {html(name)}</h1><p class='parley-status-line'>{html(line)}</p>")
        if game.outcome is not None:
            Html("<h2>The outcome</h2>" + agreement_html(agreement(game)))
        elif view is None:
            solara.Text("Waiting for the facilitator to open the next round.", classes=["parley-status-line"])
        elif actor not in waiting:
            others = ", ".join(game.names()[a] for a in waiting) or "nobody"
            solara.Success(f"Your move for round {game.round} is in. Waiting for: {others}.")
        else:
            clock = f" ({left} s left)" if left is not None else ""
            solara.Info(f"Round {game.round} is open: make your move{clock}.")
            MoveEditor(view, partial(send_move, game, actor, router.search)).key(f"move-{id(game)}-{game.round}")
        if view is not None and actor in waiting:
            with solara.Details(summary="The offers on the table", expand=True):
                offers = offer_lines(view)  # a line on the offer, then a line of its terms
                Html(
                    "<ul>"
                    + "".join(
                        f"<li>{html(head)}<br>{html(terms.strip())}</li>"
                        for head, terms in zip(offers[::2], offers[1::2], strict=True)
                    )
                    + "</ul>"
                    if offers
                    else "<p class='parley-empty'>None yet.</p>"
                )
        with solara.Details(summary="Your inbox", expand=True):
            lines = inbox_lines(game, actor)
            Html(
                "<ul>" + "".join(f"<li><b>Round {r}</b>: {html(t)}</li>" for r, t in lines) + "</ul>"
                if lines
                else "<p class='parley-empty'>Nothing yet.</p>"
            )
        with solara.Details(summary="Your card: what you want (private to your team)", expand=False):
            Html(card_html(game, actor))


def send_move(game: BoardModel, actor: str, search: str | None, move: Move) -> str | None:
    """A team's move to its game, if its link still plays that seat; why not, else None."""
    if ROOM.seat_of(query(search, "token")) != actor:  # checked again at the click
        return "This link is no longer valid for this seat."
    try:
        game.play_move(move, actor=actor)
    except InvalidInput as exc:
        return "Not sent: " + "; ".join(str(p) for p in exc.problems)
    return None
