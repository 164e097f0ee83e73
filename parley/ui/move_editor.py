"""The move editor of a seat on the board: a team's own page and the facilitator's sidebar use this one.

A move is built action by action from what the engine would accept (the seat's options), each action
checked as it is added by the same rules the engine applies, then sent. Packages start from a chosen
offer and change only the issues the person picks; everything is named in titles (`seat_words`).

Every widget is keyed: Reacton matches unkeyed children by position, so a widget that moves when the
kind of action changes would take another's place and lose what was typed in it. Text inputs send
every keystroke (`continuous_update`), so a redraw in between never loses one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import solara

from parley.engine.actions import Act, Channel, Counter, Message, MessageKind, Move, Pass, Propose, Respond, WalkOut
from parley.players.seat import ProposalChoice, SeatOptions, SeatView, default_package
from parley.ui.agreement import option_title
from parley.ui.seat_words import action_words, terms_of
from parley.world.escaping import html
from parley.world.labels import Labels

PROPOSE, COUNTER, ANSWER, MESSAGE, CHANNEL, WALK_OUT = ACTIONS = [
    "Propose a package",
    "Counter a proposal",
    "Accept or reject a proposal",
    "Send a message",
    "Open or close a channel",
    "Walk out",
]
YOUR_BEST = "your best package"
PACKAGE_KINDS = (PROPOSE, COUNTER)
ANSWER_KINDS = (COUNTER, ANSWER)
SPEAKING_KINDS = (PROPOSE, COUNTER, MESSAGE)
REASON_KINDS = (COUNTER, ANSWER, CHANNEL, WALK_OUT)

type Sender = Callable[[Move], str | None]  # sends the move; returns why it was not sent, or None


@dataclass(frozen=True)
class EditorState:
    """What the editor holds between redraws."""

    draft: solara.Reactive[list[Act]]
    kind: solara.Reactive[str]
    start_from: solara.Reactive[str]
    package: solara.Reactive[dict[str, str]]  # issue id -> option id, over the starting offer
    to: solara.Reactive[list[str]]  # names
    text: solara.Reactive[str]
    reason: solara.Reactive[str]
    answer_to: solara.Reactive[str]
    accept: solara.Reactive[str]
    message_kind: solara.Reactive[str]
    channel_to: solara.Reactive[str]
    problem: solara.Reactive[str]


def use_editor_state() -> EditorState:
    return EditorState(
        draft=solara.use_reactive(cast(list[Act], [])),
        kind=solara.use_reactive(PROPOSE),
        start_from=solara.use_reactive(YOUR_BEST),
        package=solara.use_reactive(cast(dict[str, str], {})),
        to=solara.use_reactive(cast(list[str], [])),
        text=solara.use_reactive(""),
        reason=solara.use_reactive(""),
        answer_to=solara.use_reactive(""),
        accept=solara.use_reactive("Reject"),
        message_kind=solara.use_reactive("statement"),
        channel_to=solara.use_reactive(""),
        problem=solara.use_reactive(""),
    )


@dataclass(frozen=True)
class Choices:
    """What the seat may choose from now, under the labels the editor shows them by."""

    view: SeatView
    options: SeatOptions
    offers: dict[str, dict | None]  # label -> a proposal on the seat's table (None: the seat's best)
    answerable: dict[str, ProposalChoice]
    ids: dict[str, str]  # name -> actor id

    def name(self, actor: str) -> str:
        return self.view.names.get(actor, actor)


def choices_of(view: SeatView, draft: list[Act]) -> Choices:
    options = view.options(draft)
    names = view.names
    offers: dict[str, dict | None] = {YOUR_BEST: None}
    offers |= {f"{p['id']} from {names.get(p['proposer'], p['proposer'])}": p for p in view.observation.table}
    answerable = {
        f"{p.id} from {names.get(p.proposer, p.proposer)} (worth {p.value:.2f} to you)": p for p in options.answerable
    }
    return Choices(view, options, offers, answerable, {n: a for a, n in names.items()})


# -- what the form describes ----------------------------------------------------------------------
def starting(state: EditorState, c: Choices) -> dict[str, str]:
    """The package the editor starts from: the proposal countered, or the offer chosen, where the
    seat may offer its options (else the seat's best)."""
    if state.kind.value == COUNTER and state.answer_to.value in c.answerable:
        return default_package(c.options, c.answerable[state.answer_to.value].package)
    offer = c.offers.get(state.start_from.value)
    return default_package(c.options, offer["package"] if offer else None)


def chosen(state: EditorState, c: Choices) -> dict[str, str]:
    return {**starting(state, c), **state.package.value}


def recipients(state: EditorState, c: Choices, default: list[str] | None = None) -> list[str]:
    """The actors chosen by name; nobody chosen: `default`, else everyone at the table."""
    picked = [c.ids[n] for n in state.to.value if n in c.ids]
    return picked or default or [r.id for r in c.options.recipients]


def build_propose(state: EditorState, c: Choices) -> Act | str:
    return Propose(package=chosen(state, c), to=recipients(state, c), text=state.text.value)


def picked_proposal(state: EditorState, c: Choices) -> ProposalChoice | str:
    picked = c.answerable.get(state.answer_to.value)
    if picked is None:
        return "choose a proposal first" if c.options.answerable else "no proposal is open for you to answer"
    return picked


def build_counter(state: EditorState, c: Choices) -> Act | str:
    picked = picked_proposal(state, c)
    if isinstance(picked, str):
        return picked
    back_to = [a for a in [picked.proposer, *picked.recipients] if a != c.view.actor]
    to = recipients(state, c, default=back_to)
    return Counter(
        proposal=picked.id, package=chosen(state, c), to=to, reason=state.reason.value, text=state.text.value
    )


def build_answer(state: EditorState, c: Choices) -> Act | str:
    picked = picked_proposal(state, c)
    if isinstance(picked, str):
        return picked
    return Respond(proposal=picked.id, accept=state.accept.value == "Accept", reason=state.reason.value)


def build_message(state: EditorState, c: Choices) -> Act | str:
    if not state.text.value.strip():
        return "a message needs text: write what you say"
    kind = cast(MessageKind, state.message_kind.value)
    return Message(kind=kind, to=recipients(state, c), text=state.text.value)


def build_channel(state: EditorState, c: Choices) -> Act | str:
    picked = next((ch for ch in c.options.channels if ch.name == state.channel_to.value), None)
    if picked is None:
        return "choose a channel first"
    return Channel(to=picked.to, open=not picked.open, reason=state.reason.value)


def build_walkout(state: EditorState, c: Choices) -> Act | str:
    return WalkOut(reason=state.reason.value)


BUILDERS: dict[str, Callable[[EditorState, Choices], Act | str]] = {
    PROPOSE: build_propose,
    COUNTER: build_counter,
    ANSWER: build_answer,
    MESSAGE: build_message,
    CHANNEL: build_channel,
    WALK_OUT: build_walkout,
}


def build(state: EditorState, c: Choices) -> Act | str:
    """The action the form describes, or what is missing from it."""
    if state.kind.value in PACKAGE_KINDS and c.options.why_not_propose:
        return f"you cannot propose now: {c.options.why_not_propose}"
    return BUILDERS[state.kind.value](state, c)


# -- the editor ----------------------------------------------------------------------------------
@solara.component
def MoveEditor(view: SeatView, on_send: Sender, send_label: str = "Send my move") -> None:
    """The seat's move, built action by action from what the engine would accept, then sent."""
    state = use_editor_state()
    c = choices_of(view, state.draft.value)

    def send(actions: list[Act]) -> None:
        problem = on_send(Move(actions=cast(list[Any], actions) or [Pass(reason="passes")]))
        state.problem.set(problem or "")

    def add() -> None:
        action = build(state, c)
        if isinstance(action, str):
            state.problem.set(f"Not added: {action}.")
            return
        if isinstance(action, WalkOut):
            send([action])
            return
        found = view.check(state.draft.value, action)
        if found:
            state.problem.set(f"Not added: {found}.")
            return
        state.problem.set("")
        state.draft.set([*state.draft.value, action])
        state.package.set({})
        state.text.set("")
        state.reason.set("")

    kind = state.kind.value
    solara.Select("What do you want to do?", value=state.kind, values=ACTIONS).key("kind")
    if kind in ANSWER_KINDS:
        AnswerFields(state, c).key("answer-fields")
    if kind == PROPOSE:
        solara.Select("Start from", value=state.start_from, values=list(c.offers)).key("start-from")
    if kind in PACKAGE_KINDS:
        PackageEditor(c.options, chosen(state, c), state.package, view).key("package")
    if kind == ANSWER:
        solara.Select("Answer", value=state.accept, values=["Accept", "Reject"]).key("answer")
    if kind == MESSAGE:
        solara.Select("Kind of message", value=state.message_kind, values=c.options.message_kinds).key("message-kind")
    if kind == CHANNEL:
        ChannelFields(state, c).key("channel-fields")
    SpeechFields(state, c).key("speech")
    with solara.Row(style={"flex-wrap": "wrap"}).key("buttons"):
        if kind == WALK_OUT:
            solara.Button("Walk out for good", on_click=add, color="error").key("walk-out")
        else:
            solara.Button("Add to my move", on_click=add, outlined=True).key("add")
            solara.Button("Clear my move", on_click=lambda: state.draft.set([]), outlined=True).key("clear")
    if state.problem.value:
        solara.Error(state.problem.value).key("problem")
    DraftList(state.draft.value, view).key("draft")
    solara.Button(send_label, on_click=lambda: send(state.draft.value), color="primary").key("send")


@solara.component
def AnswerFields(state: EditorState, c: Choices) -> None:
    """Which proposal to counter or answer, and its package in words."""
    if not c.options.answerable:
        solara.Text("No proposal is open for you to answer.").key("nothing-to-answer")
        return
    solara.Select("Which proposal", value=state.answer_to, values=list(c.answerable)).key("which-proposal")
    picked = c.answerable.get(state.answer_to.value)
    if picked is not None:
        world = c.view.observation.world
        rows = "".join(
            f'<tr><th>{html(t.issue)}</th><td title="{html(t.meaning)}">{html(t.option)}</td></tr>'
            for t in terms_of(world, picked.package)
        )
        table = f'<table class="parley-card-table">{rows}</table>'
        solara.HTML(tag="div", unsafe_innerHTML=table).key("picked-package")
        if not picked.can_accept:
            solara.Warning(f"You can only reject it: {picked.accept_problem}.").key("only-reject")


@solara.component
def ChannelFields(state: EditorState, c: Choices) -> None:
    solara.Select("Channel to", value=state.channel_to, values=[ch.name for ch in c.options.channels]).key("channel-to")
    for ch in c.options.channels:
        if ch.name == state.channel_to.value:
            flips = "open: this closes it" if ch.open else "closed: this opens it"
            solara.Text(f"Your channel to {ch.name} is {flips}.").key("channel-state")


@solara.component
def SpeechFields(state: EditorState, c: Choices) -> None:
    """To whom, what is said and why: kept (keyed) while the kind of action changes."""
    kind = state.kind.value
    if kind in SPEAKING_KINDS:
        solara.SelectMultiple(
            "To (nobody chosen: everyone at the table)",
            values=state.to.value,
            on_value=state.to.set,
            all_values=[r.name for r in c.options.recipients],
        ).key("to")
        solara.InputText("What you say", value=state.text, continuous_update=True).key("what-you-say")
    if kind in REASON_KINDS:
        solara.InputText("Your reason", value=state.reason, continuous_update=True).key("your-reason")


@solara.component
def DraftList(draft: list[Act], view: SeatView) -> None:
    solara.Text("Your move so far: " + ("nothing (you pass)" if not draft else "")).key("so-far")
    for n, action in enumerate(draft):
        solara.Text(f"- {action_words(action, view.names, view.observation.world)}").key(f"action-{n}")


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
        ).key(f"issue-{issue.id}")
    solara.Text(f"This package is worth {view.value(current):.2f} to you.").key("worth")
