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

from collections.abc import Mapping
from typing import Any, cast

import solara

from parley.engine.actions import Act, Channel, Counter, Message, MessageKind, Move, Pass, Propose, Respond, WalkOut
from parley.engine.events import EventType
from parley.players.seat import SeatOptions, SeatView, default_package
from parley.reports.text import describe
from parley.ui.agreement import agreement, option_title
from parley.ui.board import BoardModel, status
from parley.ui.projector import PAGE_CSS, Html, Refused, use_room
from parley.ui.room import ROOM, query
from parley.ui.table_view import agreement_html
from parley.world.escaping import html
from parley.world.labels import Labels
from parley.world.problems import InvalidInput

SEAT_CSS = """
.parley-seat-page .v-input, .parley-seat-page .v-btn, .parley-seat-page .v-label,
.parley-seat-page .v-select__selection { font-size: 18px !important; }
.parley-card-table { border-collapse: collapse; font-size: 17px; width: 100%; }
.parley-card-table th, .parley-card-table td { border: 1px solid #bbb; padding: 3px 8px; text-align: left; vertical-align: top; }
.parley-red { color: #a00; font-weight: bold; }
"""

ACTIONS = [
    "Propose a package",
    "Counter a proposal",
    "Accept or reject a proposal",
    "Send a message",
    "Open or close a channel",
    "Walk out",
]
YOUR_BEST = "your best package"


def card_html(game: BoardModel, actor: str) -> str:
    """The seat's private card: what it wants, issue by issue, its red lines and its no-deal value."""
    persona = game.setting.personas[actor]
    red = {line.issue: set(line.excludes) for line in persona.red_lines}
    total = sum(p.weight for p in persona.preferences.values()) or 1.0
    rows = []
    labels = Labels(game.world)
    for issue in game.world.issues:
        pref = persona.preferences.get(issue.id)
        weight = 0.0 if pref is None else pref.weight / total
        options = []
        for o in sorted(issue.options, key=lambda o: -(pref.values.get(o.id, 0.0) if pref else 0.0)):
            value = pref.values.get(o.id, 0.0) if pref else 0.0
            mark = ' <span class="parley-red">your red line</span>' if o.id in red.get(issue.id, set()) else ""
            options.append(
                f'<span title="{html(o.meaning)}">{html(option_title(o.id, labels))} ({value:.2f})</span>{mark}'
            )
        rows.append(f"<tr><th>{html(issue.title)}</th><td>{weight:.0%}</td><td>{'; '.join(options)}</td></tr>")
    return (
        f"<p>{html(persona.name)}: no deal is worth <b>{persona.no_deal.value:.2f}</b> to you; "
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


def package_lines(game: BoardModel, package: Mapping[str, str]) -> str:
    rows = []
    labels = Labels(game.world)
    for issue in game.world.issues:
        option = package.get(issue.id, "")
        meaning = next((o.meaning for o in issue.options if o.id == option), "")
        rows.append(
            f'<tr><th>{html(issue.title)}</th><td title="{html(meaning)}">{html(option_title(option, labels))}</td></tr>'
        )
    return '<table class="parley-card-table">' + "".join(rows) + "</table>"


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
            MoveEditor(game, actor, view).key(f"move-{id(game)}-{game.round}")
        with solara.Details(summary="Your inbox", expand=True):
            lines = inbox_lines(game, actor)
            Html(
                "<ul>" + "".join(f"<li><b>Round {r}</b>: {html(t)}</li>" for r, t in lines) + "</ul>"
                if lines
                else "<p class='parley-empty'>Nothing yet.</p>"
            )
        with solara.Details(summary="Your card: what you want (private to your team)", expand=False):
            Html(card_html(game, actor))


@solara.component
def MoveEditor(game: BoardModel, actor: str, view: SeatView) -> None:  # noqa: C901  # issue 12: seat editors being merged
    """The seat's move, built action by action from what the engine would accept, then sent."""
    names = game.names()
    ids = {n: a for a, n in names.items()}
    draft = solara.use_reactive(cast(list[Act], []))
    kind = solara.use_reactive(ACTIONS[0])
    start_from = solara.use_reactive(YOUR_BEST)
    package = solara.use_reactive(cast(dict[str, str], {}))  # issue id -> option id, over the starting offer
    to = solara.use_reactive(cast(list[str], []))
    text = solara.use_reactive("")
    reason = solara.use_reactive("")
    answer_to = solara.use_reactive("")
    accept = solara.use_reactive("Reject")
    message_kind = solara.use_reactive("statement")
    channel_to = solara.use_reactive("")
    problem = solara.use_reactive("")
    options = view.options(draft.value)
    offers = {YOUR_BEST: None} | {
        f"{p['id']} from {names.get(p['proposer'], p['proposer'])}": p for p in view.observation.table
    }
    answerable = {
        f"{p.id} from {names.get(p.proposer, p.proposer)} (worth {p.value:.2f} to you)": p for p in options.answerable
    }

    def starting() -> dict[str, str]:
        if kind.value == ACTIONS[1] and answer_to.value in answerable:
            return default_package(options, answerable[answer_to.value].package)
        offer = offers.get(start_from.value)
        return default_package(options, offer["package"] if offer else None)

    def chosen() -> dict[str, str]:
        return {**starting(), **package.value}

    def recipients() -> list[str]:
        return [ids[n] for n in to.value if n in ids] or [r.id for r in options.recipients]

    def build() -> Act | str:
        what = kind.value
        if what in (ACTIONS[0], ACTIONS[1]) and options.why_not_propose:
            return f"you cannot propose now: {options.why_not_propose}"
        if what == ACTIONS[0]:
            return Propose(package=chosen(), to=recipients(), text=text.value)
        if what in (ACTIONS[1], ACTIONS[2]):
            picked = answerable.get(answer_to.value)
            if picked is None:
                return "choose a proposal first" if options.answerable else "no proposal is open for you to answer"
            if what == ACTIONS[1]:
                default_to = [a for a in [picked.proposer, *picked.recipients] if a != actor]
                to_ids = [ids[n] for n in to.value if n in ids] or default_to
                return Counter(proposal=picked.id, package=chosen(), to=to_ids, reason=reason.value, text=text.value)
            return Respond(proposal=picked.id, accept=accept.value == "Accept", reason=reason.value)
        if what == ACTIONS[3]:
            if not text.value.strip():
                return "a message needs text: write what you say"
            return Message(kind=cast(MessageKind, message_kind.value), to=recipients(), text=text.value)
        if what == ACTIONS[4]:
            picked_channel = next((c for c in options.channels if c.name == channel_to.value), None)
            if picked_channel is None:
                return "choose a channel first"
            return Channel(to=picked_channel.to, open=not picked_channel.open, reason=reason.value)
        return WalkOut(reason=reason.value)

    def add() -> None:
        action = build()
        if isinstance(action, str):
            problem.set(f"Not added: {action}.")
            return
        if isinstance(action, WalkOut):
            send([action])
            return
        found = view.check(draft.value, action)
        if found:
            problem.set(f"Not added: {found}.")
            return
        problem.set("")
        draft.set([*draft.value, action])
        package.set({})
        text.set("")
        reason.set("")

    def send(actions: list[Act]) -> None:
        seat = ROOM.seat_of(query(router_search(), "token"))  # checked again at the click
        if seat != actor:
            problem.set("This link is no longer valid for this seat.")
            return
        try:
            chosen_actions: list[Any] = list(actions) or [Pass(reason="passes")]
            game.play_move(Move(actions=chosen_actions), actor=actor)
        except InvalidInput as exc:
            problem.set("Not sent: " + "; ".join(str(p) for p in exc.problems))

    router = solara.use_router()

    def router_search() -> str | None:
        return router.search

    # keyed, so that a widget shown for several kinds of action keeps what was typed when the kind changes
    solara.Select("What do you want to do?", value=kind, values=ACTIONS).key("kind")
    if kind.value in (ACTIONS[1], ACTIONS[2]):
        if options.answerable:
            solara.Select("Which proposal", value=answer_to, values=list(answerable)).key("which-proposal")
            if answer_to.value in answerable:
                picked = answerable[answer_to.value]
                solara.HTML(tag="div", unsafe_innerHTML=package_lines(game, picked.package)).key("picked-package")
                if not picked.can_accept:
                    solara.Warning(f"You can only reject it: {picked.accept_problem}.").key("only-reject")
        else:
            solara.Text("No proposal is open for you to answer.").key("nothing-to-answer")
    if kind.value == ACTIONS[0]:
        solara.Select("Start from", value=start_from, values=list(offers)).key("start-from")
    if kind.value in (ACTIONS[0], ACTIONS[1]):
        PackageEditor(options, chosen(), package, view).key("package")
    if kind.value == ACTIONS[2]:
        solara.Select("Answer", value=accept, values=["Accept", "Reject"]).key("answer")
    if kind.value == ACTIONS[3]:
        solara.Select("Kind of message", value=message_kind, values=options.message_kinds).key("message-kind")
    if kind.value == ACTIONS[4]:
        labels = [c.name for c in options.channels]
        solara.Select("Channel to", value=channel_to, values=labels).key("channel-to")
        for c in options.channels:
            if c.name == channel_to.value:
                solara.Text(
                    f"Your channel to {c.name} is {'open: this closes it' if c.open else 'closed: this opens it'}."
                ).key("channel-state")
    if kind.value in (ACTIONS[0], ACTIONS[1], ACTIONS[3]):
        solara.SelectMultiple(
            "To (nobody chosen: everyone at the table)",
            values=to.value,
            on_value=to.set,
            all_values=[r.name for r in options.recipients],
        ).key("to")
    if kind.value in (ACTIONS[0], ACTIONS[1], ACTIONS[3]):
        solara.InputText("What you say", value=text, continuous_update=True).key("what-you-say")
    if kind.value in (ACTIONS[1], ACTIONS[2], ACTIONS[4], ACTIONS[5]):
        solara.InputText("Your reason", value=reason, continuous_update=True).key("your-reason")
    with solara.Row(style={"flex-wrap": "wrap"}).key("buttons"):
        if kind.value == ACTIONS[5]:
            solara.Button("Walk out for good", on_click=add, color="error")
        else:
            solara.Button("Add to my move", on_click=add, outlined=True)
            solara.Button("Clear my move", on_click=lambda: draft.set([]), outlined=True)
    if problem.value:
        solara.Error(problem.value).key("problem")
    solara.Text("Your move so far: " + ("nothing (you pass)" if not draft.value else "")).key("so-far")
    for n, action in enumerate(draft.value):
        solara.Text(f"- {say(action, names, game)}").key(f"action-{n}")
    solara.Button("Send my move", on_click=lambda: send(draft.value), color="primary").key("send")


@solara.component
def PackageEditor(options: SeatOptions, current: dict[str, str], package: solara.Reactive, view: SeatView) -> None:
    """One select per issue, starting from the chosen offer; only what the seat may offer is listed."""
    words = Labels(view.observation.world)
    for issue in options.issues:
        labels = {f"{option_title(o.id, words)} (worth {o.value:.2f} to you)": o.id for o in issue.options}
        now = next((label for label, o in labels.items() if o == current.get(issue.id)), None)
        solara.Select(
            f"{issue.title} ({issue.weight:.0%} of what you care about)",
            value=now,
            values=list(labels),
            on_value=lambda label, i=issue.id, labels=labels: package.set({**package.value, i: labels[label]}),
        )
    solara.Text(f"This package is worth {view.value(current):.2f} to you.")


def say(action: Act, names: Mapping[str, str], game: BoardModel) -> str:
    """An action in words, its package in option titles."""
    words = Labels(game.world)

    def who(actors: list[str]) -> str:
        return ", ".join(names.get(a, a) for a in actors)

    if isinstance(action, Propose | Counter):
        head = f"counter {action.proposal}" if isinstance(action, Counter) else "propose"
        changed = "; ".join(
            f"{i.title}: {option_title(action.package[i.id], words)}"
            for i in game.world.issues
            if i.id in action.package
        )
        return f"{head} to {who(action.to)}: {changed}"
    if isinstance(action, Respond):
        return f"{'accept' if action.accept else 'reject'} {action.proposal}" + (
            f" ({action.reason})" if action.reason else ""
        )
    if isinstance(action, Message):
        return f'{action.kind} to {who(action.to)}: "{action.text}"'
    if isinstance(action, Channel):
        return f"{'open' if action.open else 'close'} your channel to {who([action.to])}"
    return type(action).__name__.lower()
