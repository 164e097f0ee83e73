"""Text from actors is data: one way to write it in each medium, so it is shown and never obeyed.

An LLM's answer, a person's message, a persona card's name, a model's name, a run folder's name: any
of it may hold what a medium would act on (a terminal's escape sequences, a Markdown heading, an HTML
tag, Rich markup). Each function here writes untrusted text for one medium:

- `printable`: plain text (a terminal, the board's text, a line of `parley show`): every control
  character shown as its escape (`\\x1b`), never sent;
- `markdown`: a value inside a line of Markdown (`transcript.md`): one line, its markup characters
  escaped, so it can neither start a heading nor forge bold text, a table cell or an HTML tag;
- `html`: a value in an HTML page (`report.html`): printable, then HTML-escaped;
- `rich_markup`: a value inside Rich console markup: printable, then its square brackets escaped;
- `plot_label`: a label in a Matplotlib figure: printable, and no `$` read as mathematics (a name with
  an unbalanced `$\\frac{$` would stop the report).

Templates apply `markdown` and `html` to every value they print (`Templates(..., medium=...)`).
"""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup, escape

# C0 controls but tab and newline, DEL, C1 controls; the bidirectional overrides and isolates that
# reorder what a terminal or a page shows ("Trojan Source"); the Unicode line and paragraph separators.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NEWLINES = re.compile("[\t\n]")
# Markdown's inline markup: emphasis, code, links and images, raw HTML, table cells, strikethrough,
# headings, and the backslash itself. An underscore inside a word (`nato_path`) marks nothing.
_MARKDOWN = re.compile(r"[\\`*\[\]<>|~#]|(?<![^\W_])_|_(?![^\W_])")


def printable(text: Any, one_line: bool = False) -> str:
    """The text with every control character written as its escape (`\\x1b[2J`), so a terminal prints
    it instead of obeying it; `one_line` also shows tabs and newlines that way."""
    text = str(text)
    if one_line:
        text = _NEWLINES.sub(_escaped, text)
    return _UNPRINTABLE.sub(_escaped, text)


def markdown(text: Any) -> str:
    """A value for a line of Markdown: printable, whitespace folded to single spaces, markup escaped."""
    return _MARKDOWN.sub(r"\\\g<0>", " ".join(printable(text).split()))


def html(value: Any) -> Markup:
    """A value for an HTML page: printable, then escaped (what is already `Markup` is kept as it is)."""
    if isinstance(value, Markup):
        return value
    return escape(printable(value))


def rich_markup(text: Any) -> str:
    """A value to embed in Rich console markup: printable, and no `[` read as a tag."""
    from rich.markup import escape as escape_markup  # Rich is the terminal's business: loaded only there

    return escape_markup(printable(text, one_line=True))


def plot_label(text: Any) -> str:
    """A label in a Matplotlib figure: printable on one line, every `$` a dollar sign (not mathtext)."""
    return printable(text, one_line=True).replace("$", r"\$")


def _escaped(match: re.Match[str]) -> str:
    return ascii(match.group())[1:-1]
