"""Words for what happened: one line per action, for a person checking their move and for the board."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from parley.engine.actions import Act, Channel, Counter, Message, Propose, Respond, WalkOut


def describe_action(action: Act, names: Mapping[str, str] | None = None) -> str:
    """One line per action, for the person to check what their move holds (actors by name if given)."""
    names = names or {}

    def who(actors: Sequence[str]) -> str:
        return ", ".join(names.get(a, a) for a in actors)

    said = f' saying "{action.text}"' if getattr(action, "text", "") else ""
    because = f" ({action.reason})" if getattr(action, "reason", "") else ""
    if isinstance(action, Propose):
        return f"propose to {who(action.to)}: {terms(action.package)}{said}"
    if isinstance(action, Counter):
        return f"reject {action.proposal}{because} and counter to {who(action.to)}: {terms(action.package)}{said}"
    if isinstance(action, Respond):
        return f"{'accept' if action.accept else 'reject'} {action.proposal}{because}"
    if isinstance(action, Message):
        return f'{action.kind} to {who(action.to)}: "{action.text}"'
    if isinstance(action, Channel):
        return f"{'open' if action.open else 'close'} your channel to {who([action.to])}{because}"
    if isinstance(action, WalkOut):
        return f"walk out{because}"
    return f"pass{because}"


def terms(package: Mapping[str, str]) -> str:
    return ", ".join(f"{issue}={option}" for issue, option in package.items())
