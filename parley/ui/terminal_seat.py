"""A person at a terminal as a `MoveSource`: `parley run --human ACTOR`.

It shows what the team page of a board shows (`parley.ui.seat_words`): the seat's card once, and
each round the table in words, with issue and option titles, never ids, JSON or a language model's
instructions. The move is made an action at a time from a menu, offering only what the engine would
accept (`parley.players.seat.seat_options`). A proposal is one line, `propose to russia, us: from P3,
sanctions=phased`, or two questions (the offer to start from, then the issues to change). A bad answer
is asked again with the reason; `quit` or the end of input ends the run (`Abandoned`). Plain text on
the streams it is given, so tests and pipes can drive it like a person.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, TextIO, cast

from parley.engine.actions import Act, Channel, Counter, Message, MessageKind, Move, Pass, Propose, Respond, WalkOut
from parley.engine.policy import Observation
from parley.players.seat import Abandoned, ProposalChoice, RecipientChoice, SeatOptions, SeatView, default_package
from parley.ui.agreement import option_title
from parley.ui.seat_words import action_words, card_lines, card_of, offers_of, round_lines, terms_of
from parley.ui.typed_move import (
    Start,
    changes_named,
    find,
    offered,
    read_proposal_line,
    recipients_named,
    start_named,
)
from parley.world.escaping import printable
from parley.world.labels import Labels

ACTIONS = ["propose", "respond", "counter", "message", "channel", "walkout", "pass"]
ALIASES = {"walk out": "walkout", "walk": "walkout", "finish": "done", "end": "done", "?": "help"}
COMMANDS = ["undo", "show", "card", "done", "help", "quit"]
ANSWERS = ["accept", "reject"]  # `accept P2`, `reject P2: why`: a respond in one line
LINE_WORDS = {"propose", "counter", *ANSWERS}  # what may take more on its line
COMMAND_WORDS = {*ACTIONS, *COMMANDS, *ANSWERS, *ALIASES, "back"}  # never taken as what a person says
HELP = """\
propose   put a full package to chosen actors (it replaces your own earlier proposal). In one line:
            propose to russia, us: from P3, 4=2, sanctions=phased
          starts from offer P3 (or `from best`, your best package) and changes only the issues named,
          by their number on your card or words of their title, each to an option named by its number
          in the issue's list or words of its title. `propose` alone asks for the offer, then the changes.
respond   accept or reject a proposal addressed to you, with a reason; in one line: accept P2, reject P2: why
counter   reject a proposal addressed to you and propose a package of your own, starting from it;
          in one line: counter P2: donbas=frozen (to its proposer and recipients; `counter P2 to us: ...`)
message   a statement, threat, concession signal or flattery to chosen actors
channel   open or close your direct channel to an actor
walkout   leave the table for good (ends your part in the negotiation)
pass      do nothing this round
undo      remove the last action you added      show   show the round again      card   your card again
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
        self.began: dict[int, tuple[str, dict[str, str]]] = {}  # a package in the draft -> the offer it began from
        self.last_start: tuple[str, dict[str, str]] | None = None

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

    def ask_words(self, prompt: str, actor: str, needed: str | None = None) -> str:
        """What the person says (a message, a reason): never a command word taken as words; `needed`
        is why an empty answer will not do (None: Enter says nothing)."""
        return self.ask_until(prompt, actor, partial(spoken, needed=needed))

    # -- a round -------------------------------------------------------------------------------
    def choose(self, observation: Observation, view: SeatView) -> Move:
        actor = view.actor
        card = card_lines(card_of(observation.persona, observation.world))
        self.began = {}
        if self.shown_cards.get(actor) != "\n".join(card):
            self.show_card(view, card)
            self.shown_cards[actor] = "\n".join(card)
        self.show_round(view)
        draft: list[Act] = []
        while True:
            options = view.options(draft)
            self.say()
            self.say("Your move so far: " + ("nothing yet" if not draft else ""))
            for action in draft:
                self.say(f"  - {self.words(view, action)}")
            try:
                command, rest = self.ask_until(
                    self.menu(options), actor, partial(self.command, options=options, draft=draft)
                )
            except Back:  # `back` at the menu itself: there is nothing to go back to, so ask again
                self.say("  You are at the menu: type an action, done to end your move, or help.")
                continue
            if command == "done":
                return Move(actions=cast(list[Any], draft) or [Pass()])
            if command in ("help", "show", "card", "undo"):
                self.aside(command, view, draft)
                continue
            try:
                made = self.make(command, rest, view, options, draft)
            except Back:
                continue
            except ValueError as exc:  # a one-line proposal that does not read
                self.say(f"Not added: {exc}")
                continue
            if isinstance(made, Move):
                return made
            problem = view.check(draft, made)
            if problem:
                self.say(f"Not added: {problem}")
            else:
                draft.append(made)
                if isinstance(made, Propose | Counter) and self.last_start is not None:
                    self.began[id(made)] = self.last_start
                self.say(f"Added: {self.words(view, made)}")

    def aside(self, command: str, view: SeatView, draft: list[Act]) -> None:
        """The commands that change nothing but what is shown (and `undo`)."""
        if command == "help":
            self.say(HELP)
        elif command == "show":
            self.show_round(view)
        elif command == "card":
            self.show_card(view, card_lines(card_of(view.observation.persona, view.observation.world)))
        else:
            self.say(f"Removed: {self.words(view, draft.pop())}")

    def words(self, view: SeatView, action: Act) -> str:
        return action_words(action, view.names, view.observation.world, self.began.get(id(action)))

    def show_card(self, view: SeatView, card: list[str]) -> None:
        name = view.names.get(view.actor, view.actor)
        self.say(f"\n=== You play {name}: your card (private to you) ===\n")
        for line in card:
            self.say(line)
        self.say(
            "\nType help for what you can do; propose in one line: propose to NAMES: from OFFER, ISSUE=OPTION, ..."
        )

    def show_round(self, view: SeatView) -> None:
        name = view.names.get(view.actor, view.actor)
        self.say(f"\n=== Round {view.observation.round}: what {name} sees ===\n")
        for line in round_lines(view):
            self.say(line)

    def menu(self, options: SeatOptions) -> str:
        unavailable = self.unavailable(options)
        offered_now = [f"{n}) {a}" for n, a in enumerate(ACTIONS, 1) if a not in unavailable]
        return f"Action ({'  '.join(offered_now)}  | undo show card done help quit): "

    @staticmethod
    def unavailable(options: SeatOptions) -> dict[str, str]:
        """Actions not on offer now, with why."""
        reasons = {
            "propose": options.why_not_propose,
            "respond": options.why_not_answer,
            "accept": options.why_not_answer,
            "reject": options.why_not_answer,
            "counter": options.why_not_answer or options.why_not_propose,
            "message": options.why_not_message,
            "channel": options.why_not_channel,
        }
        return {a: why for a, why in reasons.items() if why}

    def command(self, answer: str, options: SeatOptions, draft: Sequence[Act]) -> tuple[str, str]:
        """The action or command typed, and what follows it (only a proposal takes more on its line)."""
        if not answer:
            raise ValueError("type an action's number or name, or done to end your move (help lists them)")
        word, rest = command_word(answer)
        if word not in ACTIONS and word not in COMMANDS and word not in ANSWERS:
            raise ValueError(f"'{answer}' is not an action: type a number, a name ({', '.join(ACTIONS)}) or help")
        if rest and word not in LINE_WORDS:
            raise ValueError(
                f"type {word} alone: it asks for the rest (only {', '.join(sorted(LINE_WORDS))} take more)"
            )
        unavailable = self.unavailable(options)
        if word in unavailable:
            raise ValueError(f"you cannot {word} now: {unavailable[word]}")
        if word == "undo" and not draft:
            raise ValueError("there is nothing to undo")
        if word == "pass" and draft:
            raise ValueError(f"you have added {len(draft)} action(s): type done to end your move, or undo")
        return word, rest

    def make(self, command: str, rest: str, view: SeatView, options: SeatOptions, draft: Sequence[Act]) -> Act | Move:
        """One action built by asking, or a whole move (pass, walk out) that ends the round."""
        actor = view.actor
        if command == "pass":
            return Move(actions=[Pass(reason=self.ask_words("Why pass? (Enter for no reason): ", actor))])
        if command == "walkout":
            return self.walk_out(actor, draft)
        if command == "propose":
            return self.propose_line(view, options, rest) if rest else self.propose(view, options)
        if command in ("respond", *ANSWERS):
            return self.respond(view, options, command, rest)
        if command == "counter":
            return self.counter_line(view, options, rest) if rest else self.counter(view, options)
        if command == "message":
            kinds = options.message_kinds
            listing = "  ".join(f"{n}) {k}" for n, k in enumerate(kinds, 1))
            kind = self.ask_until(f"Kind ({listing}) [{kinds[0]}]: ", actor, pick_one(kinds, kinds[0]))
            to = self.recipients(options, actor, [r.id for r in options.recipients])
            text = self.ask_words("What do you say? ", actor, needed="a message needs some words")
            return Message(kind=cast(MessageKind, kind), to=to, text=text)
        if command != "channel":
            raise ValueError(f"unknown command {command!r}")
        return self.channel(actor, options)

    # -- the actions ---------------------------------------------------------------------------
    def walk_out(self, actor: str, draft: Sequence[Act]) -> Move:
        dropped = f" and the {len(draft)} action(s) added are dropped" if draft else ""
        question = f"Walk out for good? You cannot come back{dropped}. [y/N]: "
        if not self.ask_until(question, actor, yes_no(False)):
            raise Back
        reason = self.ask_words("Why? (Enter for no reason): ", actor)
        self.say("You leave the table; the others play on without you.")
        return Move(actions=[WalkOut(reason=reason)])

    def propose(self, view: SeatView, options: SeatOptions) -> Propose:
        """Two questions: the offer to start from, then the issues to change; then to whom, and what is said."""
        actor = view.actor
        starts = self.starts(view)
        start = starts[0]
        if len(starts) > 1:
            listing = "  ".join(
                f"{n}) {s.label} ({view.value(s.package or default_package(options)):.2f})"
                for n, s in enumerate(starts)
            )
            self.say(f"Start from: {listing}")
            start = self.ask_until("Which offer? [0: your best]: ", actor, partial(start_named, starts=starts))
        package = self.edit(view, options, start)
        to = self.recipients(options, actor, [r.id for r in options.recipients])
        text = self.ask_words("What do you say as you propose it? (Enter for nothing): ", actor)
        return Propose(package=package, to=to, text=text)

    def propose_line(self, view: SeatView, options: SeatOptions, line: str) -> Propose:
        """`to russia, us: from P3, sanctions=phased`: checked whole, shown in words, then what is said."""
        typed = read_proposal_line(line)
        start = start_named(typed.start or "", self.starts(view))
        package = self.started(view, options, start)
        package.update(self.changes(view, options, typed.changes, package))
        to = recipients_named(typed.to, options.recipients) if typed.to else [r.id for r in options.recipients]
        self.show_package(view, package, start)
        text = self.ask_words("What do you say as you propose it? (Enter for nothing): ", view.actor)
        return Propose(package=package, to=to, text=text)

    def respond(self, view: SeatView, options: SeatOptions, command: str = "respond", line: str = "") -> Respond:
        """Accept or reject a proposal: asked for, or named on the line (`accept P2`, `reject P2: why`)."""
        actor = view.actor
        named, colon, reason = line.partition(":")
        proposal = self.answerable(options, named) if named.strip() else self.proposal(view, options)
        accept = command == "accept"
        if accept and not proposal.can_accept:
            raise ValueError(f"you can only reject {proposal.id}: {proposal.accept_problem}")
        if command == "respond" and proposal.can_accept:
            accept = self.ask_until("Accept or reject? [a/r]: ", actor, accept_reject)
        elif command == "respond":
            self.say(f"You can only reject {proposal.id}: {proposal.accept_problem}.")
        verb = "accept" if accept else "reject"
        if colon:
            reason = spoken(reason.strip(), None)
        else:
            reason = self.ask_words(f"Why do you {verb} it? ", actor)
        return Respond(proposal=proposal.id, accept=accept, reason=reason)

    @staticmethod
    def answerable(options: SeatOptions, named: str) -> ProposalChoice:
        found = next((p for p in options.answerable if p.id.lower() == named.strip().lower()), None)
        if found is None:
            open_to_you = ", ".join(p.id for p in options.answerable) or "none"
            raise ValueError(f"'{named.strip()}' is not a proposal you may answer (open to you: {open_to_you})")
        return found

    def counter_line(self, view: SeatView, options: SeatOptions, line: str) -> Counter:
        """`P2: donbas=frozen` or `P2 to us, europe: ...`: the proposal's package with the changes named."""
        named, _, rest = line.strip().partition(" ")
        named, colon, after = named.partition(":")
        proposal = self.answerable(options, named)
        typed = read_proposal_line(after + rest if colon else rest)
        if typed.start is not None:
            raise ValueError(f"a counter starts from the proposal it answers ({proposal.id}): leave out `from`")
        by = view.names.get(proposal.proposer, proposal.proposer)
        start = Start(f"{proposal.id} from {by}", proposal.package, proposal.id)
        if not typed.changes:  # `counter P2` alone: the changes are asked for
            package = self.edit(view, options, start)
        else:
            package = self.started(view, options, start)
            package.update(self.changes(view, options, typed.changes, package))
            self.show_package(view, package, start)
        present = {r.id for r in options.recipients}
        back_to = list(dict.fromkeys(a for a in [proposal.proposer, *proposal.recipients] if a in present))
        to = recipients_named(typed.to, options.recipients) if typed.to else back_to
        reason = self.ask_words(f"Why do you reject {proposal.id}? ", view.actor)
        text = self.ask_words("What do you say as you propose yours? (Enter for nothing): ", view.actor)
        return Counter(proposal=proposal.id, package=package, to=to, reason=reason, text=text)

    def counter(self, view: SeatView, options: SeatOptions) -> Counter:
        actor = view.actor
        proposal = self.proposal(view, options)
        start = Start(
            f"{proposal.id} from {view.names.get(proposal.proposer, proposal.proposer)}", proposal.package, proposal.id
        )
        package = self.edit(view, options, start)
        present = {r.id for r in options.recipients}
        default = [a for a in [proposal.proposer, *proposal.recipients] if a in present]
        to = self.recipients(options, actor, list(dict.fromkeys(default)))
        reason = self.ask_words(f"Why do you reject {proposal.id}? ", actor)
        text = self.ask_words("What do you say as you propose yours? (Enter for nothing): ", actor)
        return Counter(proposal=proposal.id, package=package, to=to, reason=reason, text=text)

    def channel(self, actor: str, options: SeatOptions) -> Channel:
        self.say("Your channels (choosing one flips it):")
        for n, c in enumerate(options.channels, 1):
            self.say(f"  {n}) {c.name}: {'open, close it' if c.open else 'closed, open it'}")
        choices = [(c, [c.to, c.name]) for c in options.channels]
        choice = self.ask_until("Which channel? ", actor, partial(named, choices=choices, what="channel"))
        reason = self.ask_words("Why? (Enter for no reason): ", actor)
        return Channel(to=choice.to, open=not choice.open, reason=reason)

    # -- the parts of an action ----------------------------------------------------------------
    def starts(self, view: SeatView) -> list[Start]:
        """What a package may start from: the seat's best, or any offer on its table, newest last."""
        offers = [Start(o.label, o.package, o.id) for o in offers_of(view, open_only=False)]
        return [Start("your best package"), *offers]

    def started(self, view: SeatView, options: SeatOptions, start: Start) -> dict[str, str]:
        """The starting package, where the seat may offer it; where it may not, the seat's best, said so."""
        package = default_package(options, start.package)
        labels = Labels(view.observation.world)
        for issue in options.issues:
            wanted = (start.package or {}).get(issue.id)
            if wanted is not None and wanted != package.get(issue.id) and issue.id in package:
                why = issue.excluded.get(wanted, "not offered")
                self.say(
                    f"  {issue.title}: {option_title(wanted, labels)} is not yours to offer ({why}); "
                    f"your best instead, {option_title(package[issue.id], labels)}"
                )
        return package

    def changes(self, view: SeatView, options: SeatOptions, typed: str, package: dict[str, str]) -> dict[str, str]:
        """The changes typed on a line; one that changes nothing is said to, so a person knows."""
        changes = changes_named(typed, options, Labels(view.observation.world))
        for term in terms_of(view.observation.world, {i: o for i, o in changes.items() if package.get(i) == o}):
            self.say(f"  {term.issue}: {term.option} already (no change)")
        return changes

    def edit(self, view: SeatView, options: SeatOptions, start: Start) -> dict[str, str]:
        """The package from `start`, with the changes typed (issue=option, by number or words), until Enter."""
        labels = Labels(view.observation.world)
        package = self.started(view, options, start)
        self.say(f"The package, from {start.label}: each issue's options are listed after it, your best first.")
        for n, issue in enumerate(options.issues, 1):
            choices = " | ".join(
                f"{k} {option_title(o, labels)} {issue.option(o).value:.2f}"  # type: ignore[union-attr]
                for k, o in enumerate(offered(issue), 1)
            )
            now = option_title(package[issue.id], labels) if issue.id in package else "none left"
            self.say(f"  {n:>2}. {issue.title}: {now}   [{choices}]")
        prompt = "Change (e.g. 3=2, sanctions=phased; Enter keeps the package): "
        while True:
            changes = self.ask_until(prompt, view.actor, partial(changes_named, options=options, labels=labels))
            if not changes:
                break
            package.update(changes)
            prompt = "More changes (Enter: none): "
            self.say(
                f"  Changed: {'; '.join(f'{t.issue}: {t.option}' for t in terms_of(view.observation.world, changes))}"
            )
        self.show_package(view, package, start)
        return package

    def show_package(self, view: SeatView, package: dict[str, str], start: Start) -> None:
        base = default_package(view.options(), start.package)
        self.last_start = (start.label, base)
        self.say(f"The package (from {start.label}; * marks what you changed):")
        labels = Labels(view.observation.world)
        for n, issue in enumerate(view.observation.world.issues, 1):
            if issue.id in package:
                changed = " *" if package[issue.id] != base.get(issue.id) else ""
                self.say(f"  {n:>2}. {issue.title}: {option_title(package[issue.id], labels)}{changed}")
        value = view.value(package)
        self.say(f"It is worth {value:.2f} to you (no deal: {view.observation.persona.no_deal.value:.2f}).")

    def recipients(self, options: SeatOptions, actor: str, default: list[str]) -> list[str]:
        listing = "  ".join(f"{n}) {describe_recipient(r)}" for n, r in enumerate(options.recipients, 1))
        self.say(f"To whom? {listing}")
        everyone = [r.id for r in options.recipients]
        names = {r.id: r.name for r in options.recipients}
        shown = "all" if default == everyone else ", ".join(names.get(a, a) for a in default)

        def read(answer: str) -> list[str]:
            return recipients_named(answer, options.recipients) if answer else default

        return self.ask_until(f"Recipients (numbers or names, or all) [{shown}]: ", actor, read)

    def proposal(self, view: SeatView, options: SeatOptions) -> ProposalChoice:
        actor = view.actor
        self.say("Proposals you may answer:")
        for n, p in enumerate(options.answerable, 1):
            note = "" if p.can_accept else f"; you cannot accept it: {p.accept_problem}"
            by = view.names.get(p.proposer, p.proposer)
            self.say(f"  {n}) {p.id} from {by} (round {p.round}), worth {p.value:.2f} to you{note}")
        ids = [p.id for p in options.answerable]
        default = ids[0] if len(ids) == 1 else None
        chosen = self.ask_until(f"Which proposal{f' [{default}]' if default else ''}? ", actor, pick_one(ids, default))
        return next(p for p in options.answerable if p.id == chosen)


def command_word(answer: str) -> tuple[str, str]:
    """The first word of a menu answer (an alias or a menu number read as its action) and the rest."""
    first, _, rest = answer.partition(" ")
    whole = ALIASES.get(answer.lower(), answer.lower())
    if whole in ACTIONS or whole in COMMANDS:
        return whole, ""
    word = ALIASES.get(first.lower(), first.lower())
    if word.isdigit() and 1 <= int(word) <= len(ACTIONS):
        word = ACTIONS[int(word) - 1]
    return word, rest.strip()


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


def named[T](answer: str, choices: list[tuple[T, list[str]]], what: str) -> T:
    """One of `choices` by number, name or words of its name."""
    found = find(answer, choices, what)
    if found is None:
        listed = ", ".join(f"{n} {names[-1]}" for n, (_, names) in enumerate(choices, 1))
        raise ValueError(f"'{answer}' is not one of them: type a number or a name ({listed})")
    return found


def spoken(answer: str, needed: str | None) -> str:
    """Words a person says: a command word alone is refused (it was meant for the menu), and an empty
    answer too if `needed` says why."""
    if answer.lower() in COMMAND_WORDS:
        raise ValueError(
            f"'{answer}' is a command, not something to say: type your words, or back to return to the menu "
            "(what you have added to your move is kept)"
        )
    if not answer and needed:
        raise ValueError(needed)
    return answer


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


# -- describing ------------------------------------------------------------------------------
def describe_recipient(r: RecipientChoice) -> str:
    return f"{r.name}{'' if r.direct else ' (no open channel of yours: through others)'}"
