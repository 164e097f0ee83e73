"""Problems found in user-supplied files, reported as one line each with file and field."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

MAX_SHOWN = 200  # the longest field name shown (a message may be four times as long): a line, not a page


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one field of one file."""

    file: str
    field: str
    message: str

    def __str__(self) -> str:
        field = self.field if len(self.field) <= MAX_SHOWN else self.field[: MAX_SHOWN - 3] + "..."
        message = self.message if len(self.message) <= 4 * MAX_SHOWN else self.message[: 4 * MAX_SHOWN - 3] + "..."
        where = f"{self.file}: {field}" if field else self.file
        return " ".join(f"{where}: {message}".splitlines())  # one line per problem, always


class InvalidInput(Exception):
    """Raised when user files cannot be used; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def display_path(path: Path) -> str:
    """A path as the user would recognise it: relative to the working directory when possible."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError, RuntimeError):  # elsewhere, or a link that loops
        return str(path)


def field_path(loc: tuple[str | int, ...]) -> str:
    """Turn a pydantic location like ('graph', 'edges', 3, 'to') into 'graph.edges[3].to'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def from_validation_error(file: str, error: ValidationError, prefix: str = "") -> list[Problem]:
    problems = []
    for err in error.errors():
        loc = tuple(p for p in err["loc"] if p not in ("function-after", "tagged-union"))
        field = field_path(loc)
        if prefix:
            field = f"{prefix}.{field}" if field else prefix
        msg = re.sub(r" or instance of \w+", "", err["msg"])  # the class name means nothing to the user
        if err["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling)"
        elif err["type"] == "value_error":
            msg = msg.removeprefix("Value error, ")
        elif err["type"] != "missing" and isinstance(err.get("input"), (str, int, float, bool, type(None))):
            shown = repr(err["input"])
            msg = f"{msg} (got {shown if len(shown) <= 60 else shown[:57] + '...'})"
        problems.append(Problem(file, field, msg))
    return problems
