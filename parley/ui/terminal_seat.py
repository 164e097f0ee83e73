"""A person at a terminal as a `MoveSource`: `parley run --human ACTOR`.

It shows the persona card once and, each round, the round as an LLM persona in the seat would read
it; then it asks for the move an action at a time, offering only what the engine would accept (the
options, proposals, recipients and channels of `parley.players.seat.seat_options`). A bad answer is asked
again with the reason; `quit` or the end of input ends the run (`Abandoned`). Plain text on the
streams it is given, so tests and pipes can drive it like a person.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from functools import partial
from typing import TextIO, cast

from parley.engine.actions import (
    Act,
    Action,
    Channel,
    Counter,
    Message,
    MessageKind,
    Move,
    Pass,
    Propose,
    Respond,
    WalkOut,
)
from parley.engine.policy import Observation
from parley.players.seat import (
    Abandoned,
    IssueChoice,
    ProposalChoice,
    RecipientChoice,
    SeatOptions,
    SeatView,
    default_package,
)
from parley.reports.text import describe_action
from parley.world.escaping import printable

ACTIONS = ["propose", "respond", "counter", "message", "channel", "walkout", "pass"]
ALIASES = {"walk out": "walkout", "walk": "walkout", "finish": "done", "end": "done", "?": "help"}
COMMANDS = ["undo", "show", "done", "help", "quit"]
HELP = """\
propose   put a full package to chosen actors (it replaces your own earlier proposal)
respond   accept or reject a proposal addressed to you, with a reason
counter   reject a proposal addressed to you and propose a package of your own instead
message   a statement, threat, concession signal or flattery to chosen actors
channel   open or close your direct channel to an actor
walkout   leave the table for good (ends your part in the negotiation)
pass      do nothing this round
undo      remove the last action you added      show   show the round again
done      end your move for this round          quit   end the whole run now (Ctrl-D too)
In any question: Enter takes the [default], `back` returns to this menu."""


class Back(Exception):
    """The person asked to leave a question and return to the menu."""


class TerminalSource:
    """Asks a person for each move on `input`, writing to `output` (default: stdin and stdout)."""

    def __init__(self, input: TextIO | None = None, output: TextIO | None = None) -> None:
        self._input = input
        self._output = output
        self.shown_cards: dict[str, str] = {}

    @property
    def input(self) -> TextIO:
        return self._input or sys.stdin

    @property
    def output(self) -> TextIO:
        return self._output or sys.stdout

    # -- talking -------------------------------------------------------------------------------
    def say(self, text: str = "") -> None:
        """A line for the person; what actors wrote is in it as data (no escape sequence reaches the terminal)."""
        self.output.write(printable(text) + "\n")
        self.output.flush()

    def ask(self, prompt: str, actor: str) -> str:
        """One answer, stripped; the end of input or `quit` ends the run, `back` leaves the question."""
        self.output.write(printable(prompt))
        self.output.flush()
        line = self.input.readline()
        if not line:
            self.say()
            raise Abandoned(f"the person playing {actor} ended the run (end of input)")
        answer = line.strip()
        if answer.lower() == "quit":
            raise Abandoned(f"the person playing {actor} ended the run (quit)")
        if answer.lower() == "back":
            raise Back
        return answer

    def ask_until[T](self, prompt: str, actor: str, read: Callable[[str], T]) -> T:
        """Ask until `read` accepts the answer; it raises ValueError with the reason to show."""
        while True:
            answer = self.ask(prompt, actor)
            try:
                return read(answer)
            except ValueError as exc:
                self.say(f"  {exc}")

    # -- a round -------------------------------------------------------------------------------
    def choose(self, observation: Observation, view: SeatView) -> Move:
        actor = view.actor
        if self.shown_cards.get(actor) != view.card:
            self.say(f"\n=== You play {view.names.get(actor, actor)} (`{actor}`): your persona card ===\n")
            self.say(view.card)
            self.shown_cards[actor] = view.card
        self.show_round(view)
        draft: list[Act] = []
        while True:
            options = view.options(draft)
            self.say()
            self.say("Your move so far: " + ("nothing yet" if not draft else ""))
            for action in draft:
                self.say(f"  - {describe_action(action)}")
            try:
                command = self.ask_until(self.menu(options), actor, partial(self.command, options=options, draft=draft))
            except Back:  # `back` at the menu itself: there is nothing to go back to, so ask again
                self.say("  You are at the menu: type an action, done to end your move, or help.")
                continue
            if command == "done":
                return Move(actions=cast(list[Action], draft) or [Pass()])  # a seat builds only the kinds Action lists
            if command == "help":
                self.say(HELP)
                continue
            if command == "show":
                self.show_round(view)
                continue
            if command == "undo":
                self.say(f"Removed: {describe_action(draft.pop())}")
                continue
            try:
                made = self.make(command, view, options, draft)
            except Back:
                continue
            if isinstance(made, Move):
                return made
            problem = view.check(draft, made)
            if problem:
                self.say(f"Not added: {problem}")
            else:
                draft.append(made)
                self.say(f"Added: {describe_action(made)}")

    def show_round(self, view: SeatView) -> None:
        name = view.names.get(view.actor, view.actor)
        self.say(f"\n=== Round {view.observation.round}: what {name} sees ===\n")
        self.say(view.round_text)

    def menu(self, options: SeatOptions) -> str:
        unavailable = self.unavailable(options)
        offered = [f"{n}) {a}" for n, a in enumerate(ACTIONS, 1) if a not in unavailable]
        return f"Action ({'  '.join(offered)}  | undo show done help quit): "

    @staticmethod
    def unavailable(options: SeatOptions) -> dict[str, str]:
        """Actions not on offer now, with why."""
        reasons = {
            "propose": options.why_not_propose,
            "respond": options.why_not_answer,
            "counter": options.why_not_answer or options.why_not_propose,
            "message": options.why_not_message,
            "channel": options.why_not_channel,
        }
        return {a: why for a, why in reasons.items() if why}

    def command(self, answer: str, options: SeatOptions, draft: Sequence[Act]) -> str:
        if not answer:
            raise ValueError("type an action's number or name, or done to end your move (help lists them)")
        word = ALIASES.get(answer.lower(), answer.lower())
        if word.isdigit() and 1 <= int(word) <= len(ACTIONS):
            word = ACTIONS[int(word) - 1]
        if word not in ACTIONS and word not in COMMANDS:
            raise ValueError(f"'{answer}' is not an action: type a number, a name ({', '.join(ACTIONS)}) or help")
        unavailable = self.unavailable(options)
        if word in unavailable:
            raise ValueError(f"you cannot {word} now: {unavailable[word]}")
        if word == "undo" and not draft:
            raise ValueError("there is nothing to undo")
        if word == "pass" and draft:
            raise ValueError(f"you have added {len(draft)} action(s): type done to end your move, or undo")
        return word

    def make(self, command: str, view: SeatView, options: SeatOptions, draft: Sequence[Act]) -> Act | Move:
        """One action built by asking, or a whole move (pass, walk out) that ends the round."""
        actor = view.actor
        if command == "pass":
            return Move(actions=[Pass(reason=self.ask("Why pass? (Enter for no reason): ", actor))])
        if command == "walkout":
            dropped = f" and the {len(draft)} action(s) added are dropped" if draft else ""
            question = f"Walk out for good? You cannot come back{dropped}. [y/N]: "
            if not self.ask_until(question, actor, yes_no(False)):
                raise Back
            reason = self.ask("Why? (Enter for no reason): ", actor)
            self.say("You leave the table; the others play on without you.")
            return Move(actions=[WalkOut(reason=reason)])
        if command == "propose":
            package = self.package(view, options, None)
            to = self.recipients(options, actor, [r.id for r in options.recipients])
            return Propose(package=package, to=to, text=self.ask("What do you say as you propose it? ", actor))
        if command == "respond":
            proposal = self.proposal(options, actor)
            accept = False
            if proposal.can_accept:
                accept = self.ask_until("Accept or reject? [a/r]: ", actor, accept_reject)
            else:
                self.say(f"You can only reject {proposal.id}: {proposal.accept_problem}.")
            verb = "accept" if accept else "reject"
            return Respond(proposal=proposal.id, accept=accept, reason=self.ask(f"Why do you {verb} it? ", actor))
        if command == "counter":
            proposal = self.proposal(options, actor)
            package = self.package(view, options, proposal.package)
            present = {r.id for r in options.recipients}
            default = [a for a in [proposal.proposer, *proposal.recipients] if a in present]
            to = self.recipients(options, actor, list(dict.fromkeys(default)))
            reason = self.ask(f"Why do you reject {proposal.id}? ", actor)
            text = self.ask("What do you say as you propose yours? ", actor)
            return Counter(proposal=proposal.id, package=package, to=to, reason=reason, text=text)
        if command == "message":
            kinds = options.message_kinds
            listing = "  ".join(f"{n}) {k}" for n, k in enumerate(kinds, 1))
            kind = self.ask_until(f"Kind ({listing}) [{kinds[0]}]: ", actor, pick_one(kinds, kinds[0]))
            to = self.recipients(options, actor, [r.id for r in options.recipients])
            text = self.ask_until("What do you say? ", actor, non_empty("a message needs some words"))
            return Message(kind=cast(MessageKind, kind), to=to, text=text)  # one of options.message_kinds
        if command != "channel":
            raise ValueError(f"unknown command {command!r}")
        self.say("Your channels (choosing one flips it):")
        for n, c in enumerate(options.channels, 1):
            self.say(f"  {n}) {c.to} ({c.name}): {'open, close it' if c.open else 'closed, open it'}")
        ids = [c.to for c in options.channels]
        target = self.ask_until("Which channel? ", actor, pick_one(ids, None))
        choice = next(c for c in options.channels if c.to == target)
        reason = self.ask("Why? (Enter for no reason): ", actor)
        return Channel(to=target, open=not choice.open, reason=reason)

    # -- the parts of an action ----------------------------------------------------------------
    def package(self, view: SeatView, options: SeatOptions, based_on: dict[str, str] | None) -> dict[str, str]:
        """One option per issue, chosen from those the seat may offer; Enter keeps the default."""
        defaults = default_package(options, based_on)
        start = "the proposal's option where you may offer it, else your best" if based_on else "your best option"
        self.say(f"The package, issue by issue (Enter keeps the default: {start}; `rest` keeps every default left):")
        package: dict[str, str] = {}
        keep_defaults = False
        for n, issue in enumerate(options.issues, 1):
            if keep_defaults:
                package[issue.id] = defaults[issue.id]
                continue
            self.say(
                f"\n{n}/{len(options.issues)} {issue.title} (`{issue.id}`, {issue.weight:.0%} of what you care about)"
            )
            for k, option in enumerate(issue.options, 1):
                mark = "  (default)" if option.id == defaults[issue.id] else ""
                self.say(f"  {k}) {option.id} = {option.value:.2f}: {option.meaning}{mark}")
            for option_id, why in issue.excluded.items():
                self.say(f"     not offered: {option_id} ({why})")
            chosen = self.ask_until(
                f"Option [{defaults[issue.id]}]: ", view.actor, pick_option(issue, defaults[issue.id])
            )
            keep_defaults = chosen is None
            package[issue.id] = chosen or defaults[issue.id]
        value = view.value(package)
        self.say(f"This package is worth {value:.2f} to you (no deal: {view.observation.persona.no_deal.value:.2f}).")
        return package

    def recipients(self, options: SeatOptions, actor: str, default: list[str]) -> list[str]:
        listing = "  ".join(f"{n}) {describe_recipient(r)}" for n, r in enumerate(options.recipients, 1))
        self.say(f"To whom? {listing}")
        shown = "all" if default == [r.id for r in options.recipients] else ", ".join(default)
        return self.ask_until(
            f"Recipients (numbers or ids, or all) [{shown}]: ",
            actor,
            pick_many([r.id for r in options.recipients], default),
        )

    def proposal(self, options: SeatOptions, actor: str) -> ProposalChoice:
        self.say("Proposals you may answer:")
        for n, p in enumerate(options.answerable, 1):
            note = "" if p.can_accept else f"; you cannot accept it: {p.accept_problem}"
            self.say(f"  {n}) {p.id} by {p.proposer} (round {p.round}), worth {p.value:.2f} to you{note}")
        ids = [p.id for p in options.answerable]
        default = ids[0] if len(ids) == 1 else None
        chosen = self.ask_until(f"Which proposal{f' [{default}]' if default else ''}? ", actor, pick_one(ids, default))
        return next(p for p in options.answerable if p.id == chosen)


# -- reading answers: each returns the value or raises ValueError with what to type instead ------
def pick_one(ids: list[str], default: str | None) -> Callable[[str], str]:
    def read(answer: str) -> str:
        if not answer and default is not None:
            return default
        found = pick(answer, ids)
        if found is None:
            raise ValueError(f"'{answer}' is not one of them: type 1-{len(ids)} or one of {', '.join(ids)}")
        return found

    return read


def pick_option(issue: IssueChoice, default: str) -> Callable[[str], str | None]:
    """An option of the issue; None for `rest`: the defaults of this and every issue left."""

    def read(answer: str) -> str | None:
        if not answer:
            return default
        if answer.lower() == "rest":
            return None
        if answer in issue.excluded:
            raise ValueError(f"{answer} is not offered: {issue.excluded[answer]}")
        found = pick(answer, [o.id for o in issue.options])
        if found is None:
            raise ValueError(
                f"'{answer}' is not an option here: type 1-{len(issue.options)}, an option id, or Enter for {default}"
            )
        return found

    return read


def pick_many(ids: list[str], default: list[str]) -> Callable[[str], list[str]]:
    def read(answer: str) -> list[str]:
        if not answer:
            if not default:
                raise ValueError("name at least one recipient")
            return default
        if answer.lower() == "all":
            return list(ids)
        chosen = []
        for part in answer.replace(",", " ").split():
            found = pick(part, ids)
            if found is None:
                raise ValueError(
                    f"'{part}' cannot be reached: type numbers 1-{len(ids)}, ids ({', '.join(ids)}) or all"
                )
            if found not in chosen:
                chosen.append(found)
        return chosen

    return read


def pick(answer: str, ids: list[str]) -> str | None:
    """An id typed by number (from 1) or by name, any case; None if it is neither."""
    if answer.isdigit() and 1 <= int(answer) <= len(ids):
        return ids[int(answer) - 1]
    lowered = {i.lower(): i for i in ids}
    return lowered.get(answer.lower())


def yes_no(default: bool) -> Callable[[str], bool]:
    def read(answer: str) -> bool:
        if not answer:
            return default
        if answer.lower() in ("y", "yes"):
            return True
        if answer.lower() in ("n", "no"):
            return False
        raise ValueError("type y or n")

    return read


def accept_reject(answer: str) -> bool:
    if answer.lower() in ("a", "accept", "y", "yes"):
        return True
    if answer.lower() in ("r", "reject", "n", "no"):
        return False
    raise ValueError("type a to accept or r to reject")


def non_empty(why: str) -> Callable[[str], str]:
    def read(answer: str) -> str:
        if not answer:
            raise ValueError(why)
        return answer

    return read


# -- describing ------------------------------------------------------------------------------
def describe_recipient(r: RecipientChoice) -> str:
    return f"{r.id}{'' if r.direct else ' (no open channel of yours: through others)'}"
