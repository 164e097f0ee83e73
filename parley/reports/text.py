"""Words for what happened: one plain-text line per event and for a run's ending.

`describe` is the one describer of events: `parley show`, the workshop board and the HTML run report
all print its lines, so a new event type needs one describer here and every face has words for it.
Each line is plain text on one line, and what actors wrote is in it as data (control characters shown
as escapes, never sent): see `parley.world.escaping`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from parley.engine.events import EventType
from parley.runs.saved import SavedRun
from parley.world.escaping import printable

Names = Mapping[str, str]  # actor id -> display name
Event = Mapping[str, Any]


# -- events ----------------------------------------------------------------------------------------
def describe(event: Event, names: Names) -> str:
    """One line of words for an event, whatever its type (a type this version does not know is shown
    by its fields, so a newer run still reads in full). Callers choose which types they show."""
    kind = str(event.get("type"))
    describer = DESCRIBERS.get(kind)  # a str finds its EventType: a member is the string it names
    line = describer(event, names) if describer is not None else f"{kind}: {_fields(event)}"
    return one_line(line)


def describe_package(event: Event, changes: Mapping[str, tuple[str | None, str]] | None = None) -> str | None:
    """A proposal's terms: what changed from its proposer's previous one (`changes`, from
    `parley.runs.transcript.package_changes`), else the whole package; None for other events."""
    if event.get("type") != EventType.PROPOSAL:
        return None
    if changes:
        line = "changes " + ", ".join(f"{k}: {old or '-'} -> {new}" for k, (old, new) in changes.items())
    elif changes is not None:
        line = "the same package as before"
    else:
        line = ", ".join(f"{k}={v}" for k, v in _mapping(event.get("package")).items())
    return one_line(line) or None


def describe_outcome(run: SavedRun, names: Names) -> str:
    """The closing line of a run: how it ended, the deal or the closest offer, each actor's utility,
    and what its LLM calls cost; or why it has no outcome."""
    outcome = run.outcome
    if outcome is None:
        when = f"in round {run.rounds}" if run.rounds else "before round 1"
        if run.error is not None:
            return one_line(f"Outcome: none; the run stopped with an error {when}: {run.error}")
        return f"Outcome: none; the run was interrupted {when} (no outcome line)"
    line = _outcome(outcome, names, run.rounds)
    if run.cost_usd is not None:
        line += f"; LLM {run.tokens or 0:,} tokens, ${run.cost_usd:.4f}"
    return one_line(line)


def one_line(text: str) -> str:
    """Whitespace folded to single spaces, control characters shown as escapes."""
    return printable(" ".join(text.split()))


def _who(event: Event, names: Names) -> str:
    return _names(event.get("actor"), names)


def _of(name: str) -> str:
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def _names(value: Any, names: Names) -> str:
    if isinstance(value, list):
        return ", ".join(names.get(str(v), str(v)) for v in value) or "nobody"
    return names.get(str(value), str(value))


def _quote(text: Any) -> str:
    return f': "{text}"' if text else ""


def _because(text: Any) -> str:
    return f": {text}" if text else ""


def _number(value: Any, form: str) -> str:
    return format(value, form) if isinstance(value, int | float) and not isinstance(value, bool) else "?"


def _mapping(value: Any) -> Mapping[str, Any]:
    """A field that should hold an object: a damaged log may hold anything else there (then: empty)."""
    return value if isinstance(value, dict) else {}


def _sequence(value: Any) -> Sequence[Any]:
    return value if isinstance(value, list) else []


def _fields(event: Event) -> str:
    """The fields of an event in words (no JSON), shortened."""

    def words(value: Any) -> str:
        if isinstance(value, dict):
            return ", ".join(f"{k} {words(v)}" for k, v in value.items()) or "none"
        if isinstance(value, list):
            return ", ".join(words(v) for v in value) or "none"
        return str(value)

    text = "; ".join(f"{k} {words(v)}" for k, v in event.items() if k not in ("seq", "round", "type"))
    return text if len(text) <= 200 else text[:197] + "..."


def _round_started(e: Event, names: Names) -> str:
    return f"round {e.get('round', '?')} begins"


def _round_ended(e: Event, names: Names) -> str:
    support, trust = e.get("leading_support"), e.get("mean_trust")
    return (
        f"end of round: {e.get('open_proposals', '?')} open proposal(s)"
        + (f", leading support {100 * support:.0f}%" if isinstance(support, int | float) else "")
        + (f", mean trust {trust:+.2f}" if isinstance(trust, int | float) else "")
    )


def _inject(e: Event, names: Names) -> str:
    to = e.get("to")
    told = "everyone" if isinstance(to, list) and names and set(to) == set(names) else _names(to, names)
    return f"News from the facilitator to {told}{_because(e.get('text'))}"


def _variant_switched(e: Event, names: Names) -> str:
    variant = e.get("variant", "?")
    played = "its card as written" if variant == "base" else f'its "{variant}" variant'
    return f"{_who(e, names)} is now played as {played}"


def _pass(e: Event, names: Names) -> str:
    return f"{_who(e, names)} passes{_because(e.get('reason'))}"


def _invalid_action(e: Event, names: Names) -> str:
    return f"{_who(e, names)} tried an invalid action{_because(e.get('error'))}"


def _walkout(e: Event, names: Names) -> str:
    return f"{_who(e, names)} walks out{_because(e.get('reason'))}"


def _channel(e: Event, names: Names) -> str:
    verb = "opens" if e.get("open") else "closes"
    return f"{_who(e, names)} {verb} a channel to {_names(e.get('to'), names)}{_because(e.get('reason'))}"


def _response(e: Event, names: Names) -> str:
    verb = "accepts" if e.get("accept") else "rejects"
    countered = " and counters" if e.get("countered") else ""
    return f"{_who(e, names)} {verb} {e.get('proposal', '?')}{countered}{_because(e.get('reason'))}"


def _proposal_dead(e: Event, names: Names) -> str:
    return f"{e.get('proposal', '?')} is off the table{_because(e.get('reason'))}"


def _deal(e: Event, names: Names) -> str:
    return f"Deal: {e.get('proposal', '?')} passes, accepted by {_names(e.get('accepted_by') or [], names)}"


def _framework(e: Event, names: Names) -> str:
    until = f" by round {e['until']}" if e.get("until") is not None else ""
    return (
        f"Framework: {e.get('proposal', '?')} agreed by {_names(e.get('signed_by') or [], names)}, "
        f"put to {_names(e.get('to') or [], names)} to accept or refuse{until}"
    )


def _framework_refused(e: Event, names: Names) -> str:
    war = "; the war goes on" if e.get("war_continues") else ""
    return (
        f"Framework {e.get('proposal', '?')} refused by {_names(e.get('refused_by') or [], names)} "
        f"(signed by {_names(e.get('signed_by') or [], names)}){war}"
    )


def _revalued(e: Event, names: Names) -> str:
    moved = _mapping(e.get("no_deal"))
    weights = _mapping(e.get("weights"))
    parts = [f"{names.get(a, a)} now values no deal at {v}" for a, v in moved.items()]
    parts += [f"{names.get(a, a)} weighs {', '.join(map(str, i))} differently" for a, i in weights.items()]
    return "The news changes what actors value" + (": " + "; ".join(parts) if parts else "")


def _message(e: Event, names: Names) -> str:
    return f"{_who(e, names)} -> {_names(e.get('to'), names)} ({e.get('kind', 'message')}){_quote(e.get('text'))}"


def _proposal(e: Event, names: Names) -> str:
    pid = e.get("proposal", "?")
    verb = f"counters {e['counter_to']} with {pid}" if e.get("counter_to") else f"proposes {pid}"
    return f"{_who(e, names)} {verb} to {_names(e.get('to'), names)}{_quote(e.get('text'))}"


def _proposal_reaffirmed(e: Event, names: Names) -> str:
    return f"{_who(e, names)} stands by {e.get('proposal', '?')}{_quote(e.get('text'))}"


def _set_aside(e: Event, names: Names) -> str:
    if e.get("what") == "message":
        what = f"{_of(_who(e, names))} {e.get('kind', 'message')} to {_names(e.get('to'), names)}"
    elif e.get("counter_to"):
        what = f"{_of(_who(e, names))} counter to {e['counter_to']}"
    else:
        what = f"{_of(_who(e, names))} offer to {_names(e.get('to'), names)}"
    why = f" ({e['reason']})" if e.get("reason") else ""
    return f"{what} is set aside, never delivered{why}{_quote(e.get('text'))}"


def _relayed(e: Event) -> str:
    return f"{e.get('what', 'message')}" + (f" {e['proposal']}" if e.get("proposal") else "")


def _mediated(e: Event, names: Names) -> str:
    via = _sequence(e.get("path"))
    return f"{_of(_who(e, names))} {_relayed(e)} reaches {_names(e.get('to'), names)} via {_names(via[1:-1], names)}"


def _undeliverable(e: Event, names: Names) -> str:
    return f"{_of(_who(e, names))} {_relayed(e)} cannot reach {_names(e.get('to'), names)}: no open path"


def _trust(e: Event, names: Names) -> str:
    move = f"{_number(e.get('before'), '+.2f')} -> {_number(e.get('after'), '+.2f')}"
    return f"{_of(_who(e, names))} trust in {_names(e.get('toward'), names)}: {move} ({e.get('cause', '?')})"


def _halted(e: Event, names: Names) -> str:
    return f"the run is halted{_because(e.get('reason'))}"


def _outcome_event(e: Event, names: Names) -> str:
    return _outcome(e, names, e.get("round"))


def _outcome(outcome: Event, names: Names, rounds: Any) -> str:
    status = str(outcome.get("status", "unknown")).replace("_", " ")
    parts = [f"Outcome: {status} after {outcome.get('round', rounds)} round(s)"]
    closest = _mapping(outcome.get("closest"))
    if outcome.get("deal"):
        parts.append(f"deal {outcome.get('proposal') or ''}".rstrip())
    elif closest:
        parts.append(f"no deal; closest {closest.get('proposal', '?')} by {_names(closest.get('proposer'), names)}")
    else:
        parts.append("no deal")
    utilities, no_deal = _mapping(outcome.get("utilities")), _mapping(outcome.get("no_deal"))
    if utilities:
        parts.append(
            "utilities "
            + ", ".join(
                f"{names.get(a, a)} {u:.3f}"
                + (f" (no deal {no_deal[a]:.3f})" if isinstance(no_deal.get(a), int | float) else "")
                for a, u in utilities.items()
                if isinstance(u, int | float)
            )
        )
    if outcome.get("walked_out"):
        parts.append(f"walked out: {_names(outcome['walked_out'], names)}")
    return "; ".join(parts)


def _llm_call(e: Event, names: Names) -> str:
    tokens, transport = _mapping(e.get("tokens")), _mapping(e.get("transport"))
    usd = transport.get("usd")
    notes = [f"{tokens.get('prompt', 0) or 0:,} + {tokens.get('completion', 0) or 0:,} tokens"]
    if isinstance(usd, int | float):
        notes.append(f"${usd:.4f}")
    if transport.get("cached"):
        notes.append("cached")
    if e.get("reask"):
        notes.append(f"re-ask {e['reask']}")
    if e.get("error"):
        notes.append(f"answer refused: {e['error']}")
    return f"{_who(e, names)} asks {e.get('model', '?')}: " + ", ".join(notes)


def _llm_failed(e: Event, names: Names) -> str:
    return f"{_who(e, names)}: no answer from the model{_because(e.get('error'))}"


def _llm_gave_up(e: Event, names: Names) -> str:
    return f"{_who(e, names)}: no legal move after {e.get('reasks', '?')} re-ask(s); passes"


def _human_move(e: Event, names: Names) -> str:
    actions = _sequence(_mapping(e.get("move")).get("actions"))
    kinds = ", ".join(str(a.get("type")) for a in actions if isinstance(a, dict)) or "nothing"
    return f"{_who(e, names)} (played by a person) moves: {kinds}"


def _human_left(e: Event, names: Names) -> str:
    return f"{_who(e, names)} (played by a person) ends the run{_because(e.get('reason'))}"


def _error(e: Event, names: Names) -> str:
    return f"the run stopped on an error{_because(e.get('message'))}"


DESCRIBERS: Mapping[str, Callable[[Event, Names], str]] = {
    EventType.ROUND_STARTED: _round_started,
    EventType.ROUND_ENDED: _round_ended,
    EventType.INJECT: _inject,
    EventType.VARIANT_SWITCHED: _variant_switched,
    EventType.PASS: _pass,
    EventType.INVALID_ACTION: _invalid_action,
    EventType.WALKOUT: _walkout,
    EventType.CHANNEL: _channel,
    EventType.RESPONSE: _response,
    EventType.PROPOSAL_DEAD: _proposal_dead,
    EventType.DEAL: _deal,
    EventType.FRAMEWORK: _framework,
    EventType.FRAMEWORK_REFUSED: _framework_refused,
    EventType.REVALUED: _revalued,
    EventType.MESSAGE: _message,
    EventType.SET_ASIDE: _set_aside,
    EventType.PROPOSAL: _proposal,
    EventType.PROPOSAL_REAFFIRMED: _proposal_reaffirmed,
    EventType.MEDIATED: _mediated,
    EventType.UNDELIVERABLE: _undeliverable,
    EventType.TRUST: _trust,
    EventType.HALTED: _halted,
    EventType.OUTCOME: _outcome_event,
    EventType.LLM_CALL: _llm_call,
    EventType.LLM_FAILED: _llm_failed,
    EventType.LLM_GAVE_UP: _llm_gave_up,
    EventType.HUMAN_MOVE: _human_move,
    EventType.HUMAN_LEFT: _human_left,
    EventType.ERROR: _error,
}
