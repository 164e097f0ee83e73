"""A proposal typed in a line of words: `propose to russia, us: from P3, crimea=deferred, sanctions=phased`.

A person under time pressure names only what they change. Issues are named by their number on the
card, or by words of their title; options by their number in the issue's list, or by words of their
title (or, failing that, of their meaning); actors by name or id; the starting offer by its id, its
proposer or `best`. Each reader returns what was meant or raises `ValueError` saying what to type
instead, so a terminal can ask again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from parley.players.seat import IssueChoice, RecipientChoice, SeatOptions
from parley.ui.agreement import option_title
from parley.world.labels import Labels


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def find[T](query: str, choices: Sequence[tuple[T, Sequence[str]]], what: str, numbered: bool = True) -> T | None:
    """The choice `query` names: by number (from 1), by a name, or by the starts of words of exactly
    one choice's names; None if it names none; ValueError if it could be several."""
    query = query.strip()
    if numbered and query.isdigit():
        n = int(query)
        return choices[n - 1][0] if 1 <= n <= len(choices) else None
    lowered = query.lower()
    exact = [key for key, names in choices if any(lowered == name.lower() for name in names)]
    if len(exact) == 1:
        return exact[0]
    wanted = words(query)
    if not wanted:
        return None
    hits = []
    for key, names in choices:
        have = {w for name in names for w in words(name)}
        if all(any(h.startswith(w) for h in have) for w in wanted):
            hits.append((key, names))
    if len(hits) > 1:
        listed = "; ".join(names[-1] for _, names in hits[:4])
        raise ValueError(f"'{query}' could be any of several {what}s ({listed}): type more of its words")
    return hits[0][0] if hits else None


def issue_named(query: str, options: SeatOptions) -> IssueChoice:
    choices = [(i, [i.id, i.title]) for i in options.issues]
    found = find(query, choices, "issue")
    if found is None:
        raise ValueError(f"no issue is called '{query}': type its number (1-{len(choices)}) or words of its title")
    return found


def offered(issue: IssueChoice) -> list[str]:
    """The options the seat may put in the issue, best first: the order a person is shown them in."""
    return [o.id for o in sorted(issue.options, key=lambda o: -o.value)]


def option_named(query: str, issue: IssueChoice, labels: Labels) -> str:
    """An option of `issue` the seat may offer; one it may not (a red line, withdrawn) is refused with why."""
    best_first = offered(issue)
    found: str | None = None
    if query.strip().isdigit():
        n = int(query)
        found = best_first[n - 1] if 1 <= n <= len(best_first) else None
    else:
        titled = [(o, [o, option_title(o, labels)]) for o in best_first + list(issue.excluded)]
        found = find(query, titled, f"option of {issue.title}", numbered=False)
        if found is None:
            meanings = [(o.id, [o.meaning]) for o in issue.options]
            found = find(query, meanings, f"option of {issue.title}", numbered=False)
    if found is None:
        listed = ", ".join(f"{n} {option_title(o, labels)}" for n, o in enumerate(best_first, 1))
        raise ValueError(f"{issue.title} has no option '{query.strip()}' you may offer: {listed}")
    if found in issue.excluded:
        raise ValueError(f"{option_title(found, labels)} ({issue.title}) is not offered: {issue.excluded[found]}")
    return found


def changes_named(text: str, options: SeatOptions, labels: Labels) -> dict[str, str]:
    """`issue=option, issue=option` as issue id -> option id."""
    out: dict[str, str] = {}
    for part in re.split(r"[,;]", text):
        if not part.strip():
            continue
        issue_words, equals, option_words = part.partition("=")
        if not equals or not issue_words.strip() or not option_words.strip():
            raise ValueError(f"'{part.strip()}' is not a change: type issue=option, e.g. 3=2 or sanctions=phased")
        issue = issue_named(issue_words, options)
        out[issue.id] = option_named(option_words, issue, labels)
    return out


def recipients_named(text: str, recipients: Sequence[RecipientChoice]) -> list[str]:
    """Actors by number, name or id, separated by commas or `and`; `all` for everyone at the table."""
    if text.strip().lower() in ("all", "everyone"):
        return [r.id for r in recipients]
    choices = [(r.id, [r.id, r.name]) for r in recipients]
    chosen: list[str] = []
    for part in re.split(r",|\band\b", text):
        if not part.strip():
            continue
        found = find(part, choices, "actor")
        if found is None:
            listed = ", ".join(f"{n} {r.name}" for n, r in enumerate(recipients, 1))
            raise ValueError(f"'{part.strip()}' cannot be reached: name them ({listed}) or type all")
        if found not in chosen:
            chosen.append(found)
    if not chosen:
        raise ValueError("name at least one actor, or type all")
    return chosen


@dataclass(frozen=True)
class Start:
    """The offer a package starts from: a proposal on the table, or the seat's best (`proposal` None)."""

    label: str
    package: Mapping[str, str] | None = None
    proposal: str | None = None


def start_named(query: str, starts: Sequence[Start]) -> Start:
    """`best`, an offer's id, its number in `starts` (0 is the seat's best), or its proposer's name."""
    q = query.strip().lower()
    if q in ("", "best", "my best", "your best", "mine", "0"):
        return starts[0]
    by_id = [s for s in starts if s.proposal and s.proposal.lower() == q]
    if by_id:
        return by_id[-1]
    if q.isdigit() and int(q) < len(starts):
        return starts[int(q)]
    found = find(query, [(s, [s.label]) for s in starts[1:]], "offer", numbered=False)
    if found is None:
        listed = ", ".join(s.proposal or "best" for s in starts)
        raise ValueError(f"there is no offer '{query}' to start from: type one of {listed}")
    return found


@dataclass
class TypedProposal:
    """What a line such as `to russia, us: from P3, sanctions=phased` says."""

    to: str | None = None  # the recipients as typed; None: everyone at the table
    start: str | None = None  # the offer as typed; None: the seat's best
    changes: str = ""  # `issue=option, ...` as typed


def read_proposal_line(text: str) -> TypedProposal:
    """Split what follows `propose` into recipients, the starting offer and the changes (not yet checked)."""
    head, colon, body = text.partition(":")
    typed = TypedProposal()
    if not colon:
        head, body = ("", text) if not text.strip().lower().startswith("to ") else (text, "")
    head = head.strip()
    if head:
        if not head.lower().startswith("to "):
            raise ValueError(f"'{head}' before the colon should say to whom: `propose to russia, us: ...`")
        typed.to = head[3:].strip()
    changes = []
    for part in re.split(r"[,;]", body):
        part = part.strip()
        if not part:
            continue
        if part.lower().startswith("from "):
            typed.start = part[5:].strip()
        elif "=" in part:
            changes.append(part)
        else:
            raise ValueError(f"'{part}' is neither `from OFFER` nor a change `issue=option`")
    typed.changes = ", ".join(changes)
    return typed
