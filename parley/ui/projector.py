"""The projector's page (`/projector`) and the debrief (`/debrief`): the room's view of the game.

No controls at all: the facilitator steps the game from their own page, and this page follows it
(it looks for a change twice a second). Large type and a graph that scales with the screen, laid out
in a grid that stacks into one column on a narrow or zoomed screen, so nothing is clipped at 1080p,
720p or 150% zoom.
"""

from __future__ import annotations

import threading

import solara

from parley.ui.agreement import agreement, in_words
from parley.ui.board import status, transcript
from parley.ui.room import ROOM, Room, query
from parley.ui.table_view import agreement_html, graph_svg, legend_html, news_html, proposals_html, speech_html
from parley.world.escaping import html

PAGE_CSS = """
.parley-page { font-family: system-ui, sans-serif; font-size: 20px; line-height: 1.4; padding: 12px 20px;
  color: #111; background: #fff; max-width: 100%; box-sizing: border-box; }
.parley-page h1 { font-size: 30px; margin: 4px 0 8px 0; }
.parley-page h2 { font-size: 24px; margin: 14px 0 6px 0; }
.parley-grid { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 20px; }
@media (max-width: 1100px) { .parley-grid { grid-template-columns: minmax(0, 1fr); } }
.parley-graph-svg { width: 100%; height: auto; max-height: 72vh; display: block; }
.parley-graph-svg .parley-node { font-size: 26px; font-weight: bold; fill: #111; }
.parley-graph-svg .parley-trust { font-size: 17px; fill: #222; paint-order: stroke; stroke: #fff; stroke-width: 4px; }
.parley-legend { display: flex; flex-wrap: wrap; gap: 18px; align-items: center; font-size: 17px; }
.parley-scale { display: inline-block; width: 180px; height: 14px; border: 1px solid #444; }
.parley-scroll { overflow-x: auto; }
.parley-proposals-table, .parley-deal-table { border-collapse: collapse; font-size: 17px; width: 100%; }
.parley-proposals-table th, .parley-proposals-table td, .parley-deal-table th, .parley-deal-table td {
  border: 1px solid #bbb; padding: 4px 8px; text-align: left; vertical-align: top; }
.parley-proposals-table tr > th:first-child { white-space: normal; min-width: 11em; }
.parley-bar { display: block; width: 100%; height: 12px; background: #eee; border: 1px solid #999; }
.parley-bar > span { display: block; height: 100%; background: #005ab5; }
.parley-headline { font-size: 24px; font-weight: bold; }
.parley-status-line { font-size: 20px; font-weight: bold; }
.parley-empty { color: #555; }
.parley-page ul { margin: 4px 0; padding-left: 1.2em; }
.parley-page li { margin-bottom: 4px; }
.parley-refused { font-size: 22px; padding: 40px; }
"""


def use_room(room: Room = ROOM, active: bool = True) -> tuple:
    """Redraw whenever the room's game changes (polled twice a second: a change made from another
    page, the timer or a seat arrives in another browser tab's thread). `active=False` (a page that
    makes every change itself) watches nothing."""
    seen, set_seen = solara.use_state(room.version())

    def watch(cancel: threading.Event) -> None:
        if not active:
            return
        last = room.version()
        while not cancel.wait(0.5):
            now = room.version()
            if now != last:
                last = now
                set_seen(now)

    solara.use_thread(watch, [])
    return seen


def Html(text: str, classes: list[str] | None = None) -> None:
    """A piece of HTML built by `parley.ui.table_view` (every value in it already escaped)."""
    solara.HTML(tag="div", unsafe_innerHTML=text, classes=classes or [])


@solara.component
def Refused(what: str) -> None:
    solara.Style(PAGE_CSS)
    with solara.Column(classes=["parley-page"]):
        solara.Text(what, classes=["parley-refused"])


@solara.component
def ProjectorPage() -> None:
    """The big screen: status, the graph, the open proposals with their support, this round's words,
    the news, and the deal once there is one."""
    router = solara.use_router()
    use_room()
    if not ROOM.lets_in(query(router.search, "key")):
        Refused("This page needs the facilitator's link (with its key).")
        return
    solara.Style(PAGE_CSS)
    game = ROOM.game
    with solara.Column(classes=["parley-page"]):
        if game is None:
            solara.Text("The facilitator has not opened a game yet.", classes=["parley-refused"])
            return
        with game.lock:
            left = ROOM.seconds_left()
            line = status(game)
            if game.awaiting_move:
                waiting = ", ".join(game.names()[a] for a in game.waiting_for)
                line += f" Waiting for: {waiting}." if waiting else ""
                line += f" {left} s left." if left is not None else ""
            deal = agreement(game) if game.outcome is not None else None
            parts = [f"<h1>{html(game.world.title)}</h1>"]
            parts.append(f'<p class="parley-status-line">{html(line)}</p>')
            if deal is not None:
                parts.append(f"<h2>The outcome</h2>{agreement_html(deal)}")
            graph = graph_svg(game) + legend_html()
            side = (
                f"<h2>Proposals on the table</h2><div class='parley-scroll'>{proposals_html(game)}</div>"
                f"<h2>Round {game.round}: what was said</h2>{speech_html(game)}"
                f"<h2>News</h2>{news_html(game)}"
            )
        Html("".join(parts))
        with solara.Div(classes=["parley-grid"]):
            Html(graph)
            Html(side)


@solara.component
def DebriefPage() -> None:
    """After the game: the outcome, the deal in words, and the turning points round by round."""
    router = solara.use_router()
    use_room()
    if not ROOM.lets_in(query(router.search, "key")):
        Refused("This page needs the facilitator's link (with its key).")
        return
    solara.Style(PAGE_CSS)
    game = ROOM.game
    with solara.Column(classes=["parley-page"]):
        if game is None:
            solara.Text("No game yet.", classes=["parley-refused"])
            return
        with game.lock:
            body = debrief_html(game)
        Html(body)
        from parley.ui.board_debrief import PersonaCompare  # pandas: only once a debrief is opened

        PersonaCompare(game, game.version)


def debrief_html(game) -> str:  # noqa: ANN001 - a BoardModel
    """The debrief as one page of HTML: the outcome in words and the rounds where things turned."""
    from parley.ui.turning_points import turning_points

    a = agreement(game)
    parts = [f"<h1>Debrief</h1><p class='parley-status-line'>{html(status(game))}</p>"]
    if game.outcome is None:
        parts.append("<p>The game is still going: this is where it stands.</p>")
    parts.append("<h2>The outcome, in words</h2><ul>" + "".join(f"<li>{html(x)}</li>" for x in in_words(a)) + "</ul>")
    parts.append(agreement_html(a))
    points = turning_points(game)
    parts.append("<h2>Turning points</h2>")
    if points:
        parts.append("<ul>" + "".join(f"<li><b>Round {r}</b>: {html(t)}</li>" for r, t in points) + "</ul>")
    else:
        parts.append("<p class='parley-empty'>None yet.</p>")
    parts.append("<h2>Round by round</h2>")
    for number, lines in transcript(game):
        parts.append(f"<h3>Round {number}</h3><ul>" + "".join(f"<li>{html(x)}</li>" for x in lines) + "</ul>")
    return "".join(parts)
