"""The workshop board: Mesa's SolaraViz page for a negotiation, for a room watching a projector.

Served by `parley board` (`solara run parley.ui.board_app`). Mesa's own controls step, play, pause and
reset the game; the model parameters choose the world, each actor's persona variant, who plays
and the seed. The components draw the relationship graph with the proposals in flight, plots over
rounds and the transcript; the sidebar has the facilitator's news and the saved runs. All the
game logic is in `parley.ui.board`; this module only draws it and passes clicks on.
"""

from __future__ import annotations

import io
import os
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import matplotlib as mpl
import networkx as nx
import solara
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from mesa.visualization import SolaraViz
from mesa.visualization.utils import force_update, update_counter

from parley.engine.actions import Move
from parley.runs.saved import BrowseError, list_runs
from parley.ui.agreement import agreement
from parley.ui.board import (
    LLM,
    NOBODY,
    OFFLINE,
    VARIANT,
    BoardModel,
    leading_support,
    proposals_in_flight,
    status,
    transcript,
    typed_inject,
    variant_choices,
    what_news_does,
)
from parley.ui.board_server import inject_files, world_files
from parley.ui.move_editor import MoveEditor
from parley.ui.projector import DebriefPage, Html, ProjectorPage, Refused, use_room
from parley.ui.room import PASS, PERSONA, ROOM, query
from parley.ui.seat_page import SeatPage
from parley.ui.seat_words import round_lines
from parley.ui.table_view import agreement_html, trust_colour
from parley.world.injects import InjectFile
from parley.world.problems import InvalidInput, display_path
from parley.world.scenario import DEFAULT_WORLD, read_yaml

if TYPE_CHECKING:
    from parley.llm.backend import LLMBackend

RUNS_DIR = Path(os.environ.get("PARLEY_BOARD_RUNS_DIR", "runs"))
WORLDS = world_files()
TRUST_COLOURS = mpl.colors.LinearSegmentedColormap.from_list(  # the projector's scale: vermilion, grey, blue
    "trust", [trust_colour(-1.0), trust_colour(0.0), trust_colour(1.0)]
)
TEXT = 15  # points, for figures read from the back of a room

CSS = """
.parley-cell { height: 100%; overflow-y: auto; font-size: 19px; line-height: 1.4; }
.parley-cell img { max-width: 100%; max-height: 100%; object-fit: contain; }
.parley-status { font-weight: bold; font-size: 18px; }
.parley-heading { font-weight: bold; font-size: 22px; }
.parley-round { font-weight: bold; font-size: 20px; margin-top: 8px; }
.parley-transcript span { display: block; margin-bottom: 4px; }
.parley-graph { flex-wrap: nowrap; align-items: flex-start; }
.parley-graph img { max-height: 285px; width: auto; }
.parley-proposals { flex: 1 1 40%; max-height: 285px; overflow-y: auto; font-size: 17px; }
.parley-proposals span { display: block; margin-bottom: 6px; }
.parley-panel { font-size: 17px; }
.parley-seat pre { white-space: pre-wrap; font-size: 15px; max-height: 420px; overflow-y: auto; }
.v-application .v-label, .v-application .v-select__selection, .v-application .v-btn,
.v-application .v-card__title { font-size: 17px; }
/* Mesa's developer controls: its intervals and threads (the card with the only checkbox), its step
   counter (the only card of its own with neither an input nor a button) and the tab of its single page */
.v-navigation-drawer .v-card:has(.v-input--checkbox) .v-input { display: none; }
.v-navigation-drawer .v-card:not(.parley-panel):not(:has(.v-input, .v-btn)) { display: none; }
.v-tabs { display: none; }
"""


def llm_backend() -> LLMBackend | None:
    """The LLM players the board may offer: only when `parley board --model` named a model."""
    model = os.environ.get("PARLEY_BOARD_MODEL")
    if not model:
        return None
    from parley.llm.backend import LLMBackend
    from parley.llm.settings import LLMSettings

    return LLMBackend(LLMSettings(model=model, base_url=os.environ.get("PARLEY_BOARD_BASE_URL") or None))


LLM_PLAYERS = llm_backend()


def model_params() -> dict:
    """Mesa's model parameters: what Reset builds the next game from."""
    default = display_path(DEFAULT_WORLD) if DEFAULT_WORLD.exists() else display_path(WORLDS[0])
    params: dict = {
        "world": {
            "type": "Select",
            "value": default,
            "values": [display_path(p) for p in WORLDS],
            "label": "World",
        },
        "players": {
            "type": "Select",
            "value": OFFLINE,
            "values": [OFFLINE, LLM] if LLM_PLAYERS is not None else [OFFLINE],
            "label": "Who plays (offline: the built-in strategy; openai: a language model)",
        },
        "seed": {"type": "SliderInt", "value": 1, "min": 0, "max": 99, "step": 1, "label": "Seed"},
        "seat": {
            "type": "Select",
            "value": NOBODY,
            "values": [NOBODY, *variant_choices(WORLDS)],
            "label": "A person plays (nobody: every actor is played by the players above)",
        },
    }
    for actor, (name, variants) in variant_choices(WORLDS).items():
        params[f"{VARIANT}{actor}"] = {
            "type": "Select",
            "value": variants[0],
            "values": variants,
            "label": f"{name} plays as",
        }
    params["seats"] = ",".join(ROOM.seats)  # the teams' seats, fixed when the board was started
    params["runs_dir"] = str(RUNS_DIR)
    params["llm"] = LLM_PLAYERS
    return params


PARAMS = model_params()


def new_game() -> BoardModel:
    """The game the board opens with: every parameter at its first value."""
    return BoardModel(**{k: (v["value"] if isinstance(v, dict) else v) for k, v in PARAMS.items()})


# -- drawing ------------------------------------------------------------------------------------------
def draw_table(model: BoardModel) -> Figure:
    """The relationship graph: an arrow per channel, coloured by the sender's trust, dashed when closed."""
    graph, names = model.graph, model.names()
    actors = model.world.actor_ids()
    fig = Figure(figsize=(5.6, 5.2), dpi=100)
    ax = fig.subplots()
    pos: dict[str, Any] = nx.circular_layout(actors)  # type: ignore[arg-type]  # a list of nodes is a graph's nodes too
    for is_open, style in ((True, "solid"), (False, (0, (4, 3)))):
        edges = [(a, b) for a, b in graph.g.edges if graph.is_open(a, b) == is_open]
        nx.draw_networkx_edges(
            graph.g,
            pos,
            edgelist=edges,
            ax=ax,
            edge_color=[TRUST_COLOURS((graph.trust(a, b) + 1) / 2) for a, b in edges],
            style=style,  # type: ignore[arg-type]  # a dash tuple is a line style too; the stub says str
            width=3.0,
            arrowsize=22,
            connectionstyle="arc3,rad=0.12",
            node_size=2600,
        )
    present = [a for a in actors if a in graph.present]
    gone = [a for a in actors if a not in graph.present]
    nx.draw_networkx_nodes(
        graph.g, pos, nodelist=present, ax=ax, node_size=2600, node_color="#ffffff", edgecolors="#222222"
    )
    nx.draw_networkx_nodes(graph.g, pos, nodelist=gone, ax=ax, node_size=2600, node_color="#bbbbbb")
    labels = {a: names[a] + ("\n(walked out)" if a in gone else "") for a in actors}
    nx.draw_networkx_labels(graph.g, pos, labels=labels, ax=ax, font_size=TEXT, font_weight="bold")
    ax.set_axis_off()
    ax.margins(0.22)
    scale = mpl.cm.ScalarMappable(norm=mpl.colors.Normalize(-1, 1), cmap=TRUST_COLOURS)
    bar = fig.colorbar(scale, ax=ax, orientation="horizontal", fraction=0.05, pad=0.02)
    bar.set_label("trust: -1 hostile, +1 full", fontsize=TEXT - 2)
    ax.legend(
        handles=[
            Line2D([], [], color="grey", lw=3, label="open channel"),
            Line2D([], [], color="grey", lw=3, ls=(0, (4, 3)), label="closed channel"),
        ],
        loc="upper left",
        fontsize=TEXT - 3,
        frameon=False,
    )
    return fig


def draw_over_rounds(model: BoardModel, measure: str, title: str, ylabel: str) -> Figure:
    """One line per actor of an agent measure over the rounds played."""
    fig = Figure(figsize=(7.5, 3.9), dpi=90)
    ax = fig.subplots()
    data = model.datacollector.get_agent_vars_dataframe()
    names = model.names()
    if data.index.nlevels == 2:  # (round, agent) rows; before the first round Mesa gives a placeholder frame
        by_agent = {agent.unique_id: agent.actor for agent in model.agents}
        table = data[measure].unstack("AgentID").astype(float)
        for agent_id, values in table.items():
            ax.plot(range(1, len(values) + 1), values.to_numpy(), marker="o", lw=2.5, label=names[by_agent[agent_id]])
        ax.legend(fontsize=TEXT - 3, loc="best")
    finish(ax, title, ylabel)
    return fig


def draw_support(model: BoardModel) -> Figure:
    fig = Figure(figsize=(7.5, 3.9), dpi=90)
    ax = fig.subplots()
    values = leading_support(model)
    ax.plot(range(1, len(values) + 1), [100 * v for v in values], marker="o", lw=3, color="#1f5fa8")
    ax.set_ylim(0, 105)
    finish(ax, "Support for the leading proposal", "% of the signatories who said yes")
    return fig


def finish(ax: mpl.axes.Axes, title: str, ylabel: str) -> None:
    ax.set_title(title, fontsize=TEXT + 2)
    ax.set_xlabel("round", fontsize=TEXT)
    ax.set_ylabel(ylabel, fontsize=TEXT - 2)
    ax.tick_params(labelsize=TEXT - 3)
    ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
    ax.grid(alpha=0.3)


# -- components on the board --------------------------------------------------------------------------
# Mesa lays them out two to a row in cells the room can drag bigger; each scrolls inside its cell.
def drawn_state(model: BoardModel) -> tuple[BoardModel, int]:
    """What the pictures and the transcript show changes only with the game's events; Mesa redraws every
    component on every change of any page (a team moving, the timer ticking), so they are kept by this.
    The game itself, not its id: a new game can get a freed game's id."""
    return model, len(model.events)


# Each game's pictures as PNGs, by name: (events drawn, PNG). Shared by every page that shows the game
# (the facilitator's, a second screen, a reload), so a picture is drawn once per change of the game.
_PICTURES: weakref.WeakKeyDictionary[BoardModel, dict[str, tuple[int, bytes]]] = weakref.WeakKeyDictionary()


def png(model: BoardModel, name: str, draw: Callable[[], Figure]) -> bytes:
    kept = _PICTURES.setdefault(model, {})
    events = len(model.events)
    if name not in kept or kept[name][0] != events:
        out = io.BytesIO()
        # the fastest zlib level: about a fifth less CPU for the graph's picture, a few % more bytes
        draw().savefig(out, format="png", bbox_inches="tight", pil_kwargs={"compress_level": 1})
        kept[name] = (events, out.getvalue())
    return kept[name][1]


def Picture(model: BoardModel, name: str, draw: Callable[[], Figure]) -> None:
    """A figure of the game, drawn again only when the game's events changed."""
    solara.Image(png(model, name, draw))


def GraphView(model: BoardModel) -> None:
    """Where the game stands, the graph, and the proposals in flight beside it."""
    with solara.Column(classes=["parley-cell"]):
        solara.Text(status(model), classes=["parley-status"])
        for notice in model.notices:
            solara.Info(notice, dense=True)
        if model.problem:
            solara.Error(model.problem, dense=True)
        DealView(model)
        with solara.Row(classes=["parley-graph"]):
            Picture(model, "table", lambda: draw_table(model))
            with solara.Column(classes=["parley-proposals"]):
                solara.Text("Proposals on the table", classes=["parley-heading"])
                for line in proposals_in_flight(model) or ["none open"]:
                    solara.Text(line)


def TranscriptView(model: BoardModel) -> None:
    """Who said what to whom, the newest round on top."""
    with solara.Column(classes=["parley-cell", "parley-transcript"]):
        solara.Text("What was said", classes=["parley-heading"])
        rounds = solara.use_memo(lambda: transcript(model), dependencies=[drawn_state(model)])
        if not rounds:
            solara.Text("Nothing yet: press Step to play the first round.")
        for number, lines in rounds:
            solara.Text(f"Round {number}", classes=["parley-round"])
            for line in lines:
                solara.Text(line)


def UtilityPlot(model: BoardModel) -> None:
    Picture(
        model,
        "utility",
        lambda: draw_over_rounds(
            model, "best_on_table", "What each side could get now", "its value of the best open offer"
        ),
    )


def TrustPlot(model: BoardModel) -> None:
    Picture(
        model,
        "trust",
        lambda: draw_over_rounds(
            model, "trusted_by_others", "How far the others trust each side", "mean trust, -1 to +1"
        ),
    )


def SupportPlot(model: BoardModel) -> None:
    Picture(model, "support", lambda: draw_support(model))


# -- the sidebar: the facilitator and the saved runs ---------------------------------------------------
@solara.component
def Facilitator(game: solara.Reactive[BoardModel]) -> None:
    """News before the next round, from a file or typed in; checked before it is planned."""
    update_counter.get()
    model = game.value
    names = model.names()
    ids = {name: actor for actor, name in names.items()}
    files = {title_of(p): p for p in inject_files()}
    chosen_file = solara.use_reactive(next(iter(files), ""))
    text = solara.use_reactive("")
    audience = solara.use_reactive(cast(list[str], []))
    effects = solara.use_reactive(
        cast(list[tuple[str, str, str, float | bool]], [])
    )  # (trust or channel, from, to, value)
    source = solara.use_reactive(next(iter(names.values())))
    target = solara.use_reactive(list(names.values())[1])
    delta = solara.use_reactive(-0.3)
    message = solara.use_reactive(("", ""))  # (kind, text): "error" or "success"

    def plan_file() -> None:
        try:
            planned = model.inject_file(files[chosen_file.value])
        except InvalidInput as exc:
            message.set(("error", "Not planned: " + "; ".join(str(p) for p in exc.problems)))
            return
        message.set(("success", f"Planned: {chosen_file.value}, from round {planned[0].round}."))
        force_update()

    def add(kind: str, value: float | bool) -> None:
        if source.value not in ids or target.value not in ids:  # names of another world's actors
            message.set(("error", "Choose who it is from and to first."))
            return
        effects.set([*effects.value, (kind, ids[source.value], ids[target.value], value)])

    def plan_typed() -> None:
        trust = [{"from": a, "to": b, "delta": v} for kind, a, b, v in effects.value if kind == "trust"]
        channels = [{"from": a, "to": b, "open": v} for kind, a, b, v in effects.value if kind == "channel"]
        try:
            inject = model.inject_now(
                typed_inject(model, text.value, [ids[n] for n in audience.value], trust, channels)
            )
        except InvalidInput as exc:
            message.set(("error", "Not planned: " + "; ".join(str(p) for p in exc.problems)))
            return
        does = "; ".join(what_news_does(inject, names, model.cast.backend == OFFLINE))
        message.set(("success", f"Planned for round {inject.round}. What it does: {does}."))
        text.set("")
        audience.set([])
        effects.set([])
        force_update()

    with solara.Card("News for the next round", classes=["parley-panel"]):
        if files:
            solara.Select("From a prepared file", value=chosen_file, values=list(files))
            solara.Button("Plan this news", on_click=plan_file, color="primary", outlined=True)
        solara.InputTextArea("Or type what happened", value=text, rows=3)
        solara.SelectMultiple(
            "Who is told (nobody chosen: everyone)",
            values=audience,  # type: ignore[arg-type]  # solara takes a Reactive too; its stub says list
            all_values=list(names.values()),
        )
        with solara.Row():
            solara.Select("From", value=source, values=list(names.values()))
            solara.Select("To", value=target, values=list(names.values()))
        solara.SliderFloat("Trust change", value=delta, min=-1.0, max=1.0, step=0.05)
        with solara.Row(style={"flex-wrap": "wrap"}):
            solara.Button("Add trust change", on_click=lambda: add("trust", delta.value), outlined=True)
            solara.Button("Close channel", on_click=lambda: add("channel", False), outlined=True)
            solara.Button("Open channel", on_click=lambda: add("channel", True), outlined=True)
        for kind, a, b, value in effects.value:
            if kind == "trust":
                solara.Text(f"{names[a]}'s trust in {names[b]}: {value:+.2f}")
            else:
                solara.Text(f"{names[a]} {'opens' if value else 'closes'} its channel to {names[b]}")
        solara.Button("Plan the typed news", on_click=plan_typed, color="primary")
        kind, said = message.value
        if kind == "error":
            solara.Error(said)
        elif kind == "success":
            solara.Success(said)
        for inject in model.planned():
            told = "everyone" if inject.to == "all" else ", ".join(names.get(a, a) for a in inject.to)
            solara.Text(f"Round {inject.round}, to {told}: {inject.text}")
            for line in what_news_does(inject, names, model.cast.backend == OFFLINE):
                solara.Text(f"  → {line}")


@solara.component
def PersonAtTheTable(game: solara.Reactive[BoardModel]) -> None:
    """The seat of a person, when one plays: a fresh form for each round."""
    update_counter.get()
    model = game.value
    if model.seat is not None:
        SeatForm(game).key(f"seat-{id(model)}-{model.round}-{model.awaiting_move}")


@solara.component
def SeatForm(game: solara.Reactive[BoardModel]) -> None:
    """The move of the actor a person plays from the facilitator's page: what the seat sees in words,
    and the team page's move editor; sending it plays the round."""
    model = game.value
    view = model.seat_view()
    seat_name = model.names().get(model.seat or "", model.seat or "")

    def play(move: Move) -> str | None:
        try:
            model.play_move(move)
        except InvalidInput as exc:
            return "; ".join(str(p) for p in exc.problems)
        force_update()
        return None

    with solara.Card(f"{seat_name}: your move", classes=["parley-panel", "parley-seat"]):
        if view is None:
            solara.Text(
                f"A person plays {seat_name}. Press Step: the round opens, shows what {seat_name} sees, "
                "and waits for the move chosen here."
            ).key("waiting")
            return
        solara.Details(
            summary=f"What {seat_name} sees in round {model.round}",
            children=[solara.Preformatted("\n".join(round_lines(view)))],
            expand=False,
        ).key("sees")
        MoveEditor(view, play, send_label="Play the round with this move").key("editor")


def title_of(path: Path) -> str:
    """An inject file's title, as the room knows it."""
    raw = read_yaml(path, [])
    try:
        return InjectFile.model_validate(raw).title
    except ValueError:
        return path.stem


@solara.component
def SavedRuns(game: solara.Reactive[BoardModel], on_new_game: Callable[[BoardModel], None]) -> None:
    """Load a saved run to step through it again, or fork it at the current round."""
    update_counter.get()
    model = game.value
    refreshed = solara.use_reactive(0)
    runs = solara.use_memo(lambda: saved_runs(), [refreshed.value, model])
    chosen = solara.use_reactive("")
    message = solara.use_reactive(("", ""))

    def load() -> None:
        if chosen.value not in runs:
            message.set(("error", "Choose a saved run first."))
            return
        try:
            replay = BoardModel(replay_of=str(runs[chosen.value]), runs_dir=str(RUNS_DIR))
        except InvalidInput as exc:
            message.set(("error", "Cannot load it: " + "; ".join(str(p) for p in exc.problems)))
            return
        message.set(("success", f"Loaded {runs[chosen.value].name}: press Step to replay it round by round."))
        on_new_game(replay)

    def fork() -> None:
        try:
            folder = model.fork()
        except InvalidInput as exc:
            message.set(("error", "; ".join(str(p) for p in exc.problems)))
            return
        message.set(("success", f"Playing on live, saved as {folder.name}."))
        on_new_game(model)

    with solara.Card("Saved runs", classes=["parley-panel"]):
        solara.Select("Saved run", value=chosen, values=list(runs))
        with solara.Row():
            solara.Button("Load and step through", on_click=load, color="primary")
            solara.Button("Refresh", on_click=lambda: refreshed.set(refreshed.value + 1), outlined=True)
        if model.replaying:
            solara.Button(
                f"Fork: play on live from round {model.round + 1}",
                on_click=fork,
                color="primary",
                disabled=not model.can_fork,
            )
        kind, said = message.value
        if kind == "error":
            solara.Error(said)
        elif kind == "success":
            solara.Success(said)


def saved_runs() -> dict[str, Path]:
    """Runs in the runs folder that can be stepped through, newest first, by a label that says what they were."""
    try:
        summaries = list_runs(RUNS_DIR)
    except BrowseError:
        return {}
    out = {}
    for s in summaries:
        if s.problem is None:
            label = f"{s.run_id} ({s.status.replace('_', ' ')}, {s.rounds} rounds)"
            out[label] = s.folder
    return out


COMPONENTS = [GraphView, TranscriptView, UtilityPlot, SupportPlot, TrustPlot]


def shared_game() -> BoardModel:
    """The room's game: the one every page shows (made on the first visit to the facilitator's page)."""
    if ROOM.game is None:
        ROOM.set_game(new_game())
    assert ROOM.game is not None
    return ROOM.game


@solara.component
def Page() -> None:
    """The facilitator's page: Mesa's controls and parameters, the board, news, seats and saved runs."""
    router = solara.use_router()
    if not ROOM.lets_in(query(router.search, "key")):
        Refused("This page needs the facilitator's link (with its key).")
    else:
        FacilitatorPage()


@solara.component
def FacilitatorPage() -> None:
    first: BoardModel = solara.use_memo(shared_game, [])
    first_seen = solara.use_memo(ROOM.version, [])
    game: solara.Reactive[BoardModel] = solara.use_reactive(first)
    generation = solara.use_reactive(0)  # a new number remounts Mesa's controls for a game they did not build
    seen = use_room(active=bool(ROOM.seats))  # with teams, a round may close from a seat's page or the timer
    solara.use_effect(lambda: force_update() if seen != first_seen else None, [seen])  # Mesa's parts redraw too

    def on_new_game(model: BoardModel) -> None:
        game.set(model)
        generation.set(generation.value + 1)

    def share() -> None:  # a game made here (Reset, Load) becomes the room's; one made elsewhere is taken up
        if game.value is not ROOM.game:
            previous = ROOM.game
            ROOM.set_game(game.value)
            if previous is not None and previous is not game.value:
                previous.close()  # a game replaced lets go of its log

    solara.use_effect(share, [game.value])
    solara.Style(CSS)
    SolaraViz(
        game,
        components=COMPONENTS,
        model_params=PARAMS,
        name="Parley: the workshop board",
        play_interval=500,
    ).key(f"board-{generation.value}")
    with solara.Column():
        BoardSidebar(game, on_new_game)


@solara.component
def BoardSidebar(game: solara.Reactive[BoardModel], on_new_game: Callable[[BoardModel], None]) -> None:
    """The board's own cards. Solara orders the sidebar by how deep in the page each part asks for it:
    rendered one component deeper than SolaraViz, they come after Mesa's controls."""
    with solara.Sidebar():
        Teams(game)
        PersonAtTheTable(game)
        Facilitator(game)
        SavedRuns(game, on_new_game)


@solara.component
def Teams(game: solara.Reactive[BoardModel]) -> None:
    """The teams' seats: who has moved, the round's timer, and closing the round by hand."""
    update_counter.get()
    use_room(active=bool(ROOM.seats))
    model = game.value
    names = model.names()
    if not ROOM.seats:
        return

    def typed_seconds(value: int | None) -> None:
        ROOM.draft_seconds = max(0, value or 0)

    def typed_late(value: str) -> None:
        ROOM.draft_on_timeout = value

    def set_timer() -> None:
        ROOM.set_timer(ROOM.draft_seconds, ROOM.draft_on_timeout)
        force_update()

    def close() -> None:
        model.close_now(persona=ROOM.draft_on_timeout == PERSONA)
        force_update()

    with solara.Card("Teams", classes=["parley-panel"]):
        for actor in ROOM.seats:
            if actor not in model.seats:
                solara.Text(f"{names.get(actor, actor)}: not in this world (no seat)")
                continue
            state = (
                "moved"
                if model.awaiting_move and actor not in model.waiting_for
                else ("to move" if model.awaiting_move else "waiting for the round")
            )
            solara.Text(f"{names[actor]}: {state}")
        left = ROOM.seconds_left()
        if left is not None:
            # keyed (as are the controls below), so the clock appearing does not redraw what is being typed
            solara.Text(f"{left} s left in this round", classes=["parley-status"]).key("timer-left")
        solara.Text(ROOM.timer_says()).key("timer-says")
        solara.InputInt(
            "Seconds per round (0: no timer)", value=ROOM.draft_seconds, on_value=typed_seconds, continuous_update=True
        ).key("timer-seconds")
        solara.Select(
            "When the time runs out, a team that has not moved",
            value=ROOM.draft_on_timeout,
            on_value=typed_late,
            values=[PASS, PERSONA],
        ).key("timer-late")
        solara.Button("Set the timer", on_click=set_timer, outlined=True).key("timer-set")
        solara.Button("Close the round now", on_click=close, color="primary", disabled=not model.waiting_for).key(
            "timer-close"
        )


def DealView(model: BoardModel) -> None:
    """What the game came to: the deal (or the closest offer) issue by issue, once it has ended."""
    if model.outcome is None:
        return
    solara.Text("The outcome", classes=["parley-heading"])
    Html(agreement_html(agreement(model)))


@solara.component
def Layout(children: list | None = None) -> None:
    """Mesa's app layout (toolbar, sidebar) for the facilitator; the other pages stand alone, with
    no navigation to the facilitator's page."""
    route, _ = solara.use_route()
    if route is not None and route.path == "/":
        solara.AppLayout(children=children or [], navigation=False)
    else:
        solara.Column(children=children or [], style={"width": "100%"})


routes = [
    solara.Route(path="/", component=Page, label="Facilitator", layout=Layout),
    solara.Route(path="projector", component=ProjectorPage, label="Projector"),
    solara.Route(path="seat", component=SeatPage, label="Seat"),
    solara.Route(path="debrief", component=DebriefPage, label="Debrief"),
]
