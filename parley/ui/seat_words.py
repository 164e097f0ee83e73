"""What a person in a seat is shown, in words: their card, the offers on the table, what reached them,
a package and a move.

The team page (`/seat`), the facilitator's seat editor and the terminal seat (`parley run --human`)
show a person the same things, built here: issue and option titles in the world's words, never
option ids, JSON or a language model's instructions. Each lays them out its own way (HTML, lines).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from parley.engine.actions import Act, Channel, Counter, Message, Propose, Respond, WalkOut
from parley.players.seat import SeatView
from parley.ui.agreement import option_title
from parley.world.labels import Labels
from parley.world.persona import Persona
from parley.world.templates import and_list
from parley.world.world import World


# -- the card -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CardOption:
    id: str
    title: str
    meaning: str
    value: float  # what it is worth to the seat, 0 worst .. 1 best
    red_line: bool


@dataclass(frozen=True)
class CardIssue:
    id: str
    title: str
    share: float  # of what the seat cares about
    options: list[CardOption]  # best first


@dataclass(frozen=True)
class Card:
    """The seat's private card: what it wants, issue by issue, its red lines and its no-deal value."""

    name: str
    no_deal: float
    issues: list[CardIssue]  # in the world's order, so a number names the same issue everywhere


def card_of(persona: Persona, world: World) -> Card:
    red = {line.issue: set(line.excludes) for line in persona.red_lines}
    total = sum(p.weight for p in persona.preferences.values()) or 1.0
    labels = Labels(world)
    issues = []
    for issue in world.issues:
        pref = persona.preferences.get(issue.id)
        values = pref.values if pref is not None else {}
        options = [
            CardOption(
                o.id, option_title(o.id, labels), o.meaning, values.get(o.id, 0.0), o.id in red.get(issue.id, ())
            )
            for o in issue.options
        ]
        options.sort(key=lambda o: -o.value)
        share = 0.0 if pref is None else pref.weight / total
        issues.append(CardIssue(issue.id, issue.title, share, options))
    return Card(persona.name, persona.no_deal.value, issues)


def card_lines(card: Card) -> list[str]:
    """The card as lines of plain text, an issue a line."""
    out = [
        f"{card.name}: no deal is worth {card.no_deal:.2f} to you; a package is worth the weighted sum of "
        "its options' values (0 worst, 1 best). Your red lines are marked: never propose or accept one."
    ]
    for n, issue in enumerate(card.issues, 1):
        options = "; ".join(f"{o.title} {o.value:.2f}{' (YOUR RED LINE)' if o.red_line else ''}" for o in issue.options)
        out.append(f"{n:>2}. {issue.title} ({issue.share:.0%}): {options}")
    return out


# -- packages -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Term:
    issue: str  # title
    option: str  # short title
    meaning: str


def terms_of(world: World, package: Mapping[str, str]) -> list[Term]:
    """A package issue by issue in the world's order, in titles."""
    labels = Labels(world)
    out = []
    for issue in world.issues:
        chosen = package.get(issue.id)
        if chosen is None:
            continue
        meaning = next((o.meaning for o in issue.options if o.id == chosen), "")
        out.append(Term(issue.title, option_title(chosen, labels), meaning))
    return out


def package_words(world: World, package: Mapping[str, str]) -> str:
    """A package on one line: "Issue: Option; Issue: Option"."""
    return "; ".join(f"{t.issue}: {t.option}" for t in terms_of(world, package))


def changes_words(world: World, package: Mapping[str, str], start: Mapping[str, str]) -> str:
    """How a package differs from the one it started from, in titles ("no change" when it does not)."""
    labels = Labels(world)
    changed = [
        f"{i.title}: {option_title(package[i.id], labels)}"
        for i in world.issues
        if i.id in package and package[i.id] != start.get(i.id)
    ]
    return "; ".join(changed) or "no change"


# -- the table ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Offer:
    """A proposal on the seat's table, as the seat sees it."""

    id: str
    proposer: str  # name
    round: int
    status: str
    to: list[str]  # names
    yes: list[str]  # names of those who accepted it
    no: list[str]
    package: dict[str, str]
    value: float  # to the seat
    answerable: bool  # addressed to the seat, not yet answered by it
    mine: bool
    crosses: list[str]  # titles of the issues where it crosses the seat's red lines

    @property
    def label(self) -> str:
        return f"{self.id} from {self.proposer}"


def offers_of(view: SeatView, open_only: bool = True) -> list[Offer]:
    """The proposals the seat made or received (open ones unless `open_only` is False), newest last."""
    obs, names = view.observation, view.names
    red = {line.issue: set(line.excludes) for line in obs.persona.red_lines}
    titles = {i.id: i.title for i in obs.world.issues}
    out = []
    for p in obs.table:
        if open_only and p["status"] != "open":
            continue
        answerable = obs.actor in p["recipients"] and obs.actor not in p["accepted_by"] + p["rejected_by"]
        out.append(
            Offer(
                p["id"],
                names.get(p["proposer"], p["proposer"]),
                p["round"],
                p["status"],
                [names.get(a, a) for a in p["recipients"]],
                [names.get(a, a) for a in p["accepted_by"]],
                [names.get(a, a) for a in p["rejected_by"]],
                dict(p["package"]),
                view.value(p["package"]),
                answerable and p["status"] == "open",
                p["proposer"] == obs.actor,
                [titles.get(i, i) for i, o in p["package"].items() if o in red.get(i, ())],
            )
        )
    return out


def offer_lines(view: SeatView) -> list[str]:
    """Each open offer in two lines: who, to whom, who said yes, its worth; then its terms."""
    world = view.observation.world
    out = []
    for o in offers_of(view):
        said = f"yes from {and_list(o.yes) or 'nobody'}" + (f", no from {and_list(o.no)}" if o.no else "")
        mine = " (yours)" if o.mine else ""
        crosses = f"; it crosses your red line on {and_list(o.crosses)}" if o.crosses else ""
        answer = ": you may only reject it" if o.crosses else "; you may answer it"
        you = crosses + (answer if o.answerable else "")
        out.append(f"{o.label}{mine} (round {o.round}) to {and_list(o.to)}: {said}. Worth {o.value:.2f} to you{you}.")
        out.append(f"    {package_words(world, o.package)}")
    return out


def heard_line(item: Mapping, names: Mapping[str, str]) -> str:
    """One thing that reached the seat (an item of its observation's inbox), in words."""
    who = names.get(str(item.get("from")), str(item.get("from")))
    text = item.get("text") or item.get("reason") or ""
    said = f': "{text}"' if text else ""
    kind = item.get("kind")
    if kind == "proposal":
        path = item.get("path") or []
        through = f" (through {and_list([names.get(a, a) for a in path[1:-1]])})" if len(path) > 2 else ""
        return f"{who} proposed {item.get('proposal')}{through}{said}"
    if kind == "response":
        return f"{who} {'accepted' if item.get('accept') else 'rejected'} {item.get('proposal')}{said}"
    if kind == "message":
        return f"{who} sent you a {item.get('message_kind')}{said}"
    if kind == "inject":
        return f"News from the facilitator (this is true){said}"
    if kind == "set_aside":
        what = f"counter to {item['counter_to']}" if item.get("counter_to") else "new offer"
        return f"Your {what} was set aside, never delivered: {item.get('reason')}"
    if kind == "framework":
        return f"{who}'s {item.get('proposal')} is now a framework, put to you to accept or refuse"
    return f"{who}: {kind}{said}"


def round_lines(view: SeatView) -> list[str]:
    """The round as the seat sees it: who is at the table, its channels, what reached it, the offers."""
    obs, names = view.observation, view.names
    labels = Labels(obs.world)

    def who(actors: Sequence[str]) -> str:
        return and_list([names.get(a, a) for a in actors])

    late = " Time is nearly up." if obs.round > obs.max_rounds - 2 else ""
    out = [f"Round {obs.round} of {obs.max_rounds}.{late}"]
    needs = f" A deal needs the signatures of {who(obs.required)}." if obs.required else ""
    out.append(f"At the table: {who(obs.present)}.{needs}")
    channels = "; ".join(
        f"{names.get(c['to'], c['to'])} {'open' if c['open'] else 'closed'} "
        f"(your trust in them {c['trust']:+.2f}, theirs in you {c['trust_back']:+.2f})"
        for c in obs.channels
    )
    out.append(f"Your channels: {channels or 'none'}.")
    titles = {i.id: i.title for i in obs.world.issues}
    for issue, gone in obs.withdrawn.items():
        taken = and_list([option_title(o, labels) for o in gone])
        out.append(f"Taken off the table ({titles.get(issue, issue)}): {taken}.")
    out.append("What reached you last round:")
    out += [f"  - {heard_line(item, names)}" for item in obs.inbox] or ["  - nothing"]
    out.append("Offers on the table:")
    out += [f"  {line}" for line in offer_lines(view)] or ["  - none yet"]
    return out


# -- a move -------------------------------------------------------------------------------------------
def action_words(
    action: Act, names: Mapping[str, str], world: World, start: tuple[str, Mapping[str, str]] | None = None
) -> str:
    """An action in words, its package in option titles; with `start` (the offer it began from, and
    that offer's package), only what it changes from that offer."""

    def who(actors: Sequence[str]) -> str:
        return ", ".join(names.get(a, a) for a in actors)

    reason = getattr(action, "reason", "")
    because = f" ({reason})" if reason else ""
    text = getattr(action, "text", "")
    said = f' saying "{text}"' if text else ""
    if isinstance(action, Propose | Counter):
        head = f"counter {action.proposal}" if isinstance(action, Counter) else "propose"
        if start is not None:
            changed = changes_words(world, action.package, start[1])
            terms = f"{start[0]}, " + ("unchanged" if changed == "no change" else f"changing {changed}")
        else:
            terms = package_words(world, action.package)
        rejecting = f" (rejecting {action.proposal}: {reason})" if isinstance(action, Counter) and reason else ""
        return f"{head} to {who(action.to)}: {terms}{';' if said else ''}{said}{rejecting}"
    if isinstance(action, Respond):
        return f"{'accept' if action.accept else 'reject'} {action.proposal}{because}"
    if isinstance(action, Message):
        return f'{action.kind} to {who(action.to)}: "{action.text}"'
    if isinstance(action, Channel):
        return f"{'open' if action.open else 'close'} your channel to {who([action.to])}{because}"
    if isinstance(action, WalkOut):
        return f"walk out{because}"
    return f"pass{because}"
