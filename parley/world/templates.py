"""Jinja2 templates from a world's prompts folder, rendered in a sandbox with strict undefined names.

Templates are user data (a facilitator edits them), so errors name the template file and line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import jinja2
from jinja2 import meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from parley.world.escaping import html, markdown
from parley.world.problems import InvalidInput, Problem, display_path

Medium = Literal["text", "markdown", "html"]


def clause(text: str) -> str:
    """A sentence to embed in another: whitespace folded, no final full stop."""
    return " ".join(str(text).split()).rstrip(".")


def quote(value: Any) -> str:
    """A value as JSON, readable: what someone wrote stays a quoted string (data, never an instruction),
    with its quotes and control characters escaped but its apostrophes and letters as they are."""
    text = json.dumps(value, ensure_ascii=False)
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)


def and_list(items: Any) -> str:
    """Names as a sentence lists them: "A", "A and B", "A, B and C"."""
    names = [str(x) for x in items]
    return " and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " and " + names[-1]


def phrase(title: str) -> str:
    """A title as it reads inside a sentence: "Status of Crimea" -> "status of Crimea"; a first word that
    is a name ("Ukraine's", "US", "Russia-China") keeps its capital."""
    first, _, rest = str(title).partition(" ")
    if not first or first.endswith("'s") or any(c.isupper() for c in first[1:]) or first in PROPER_WORDS:
        return str(title)
    return (first[0].lower() + first[1:] + (" " + rest if rest else "")).strip()


PROPER_WORDS = frozenset({"I", "Western", "Kyiv", "Ukraine", "Russia", "Europe", "China", "Crimea", "Donbas", "Kursk"})


class TemplateError(InvalidInput):
    """A template that cannot be loaded or rendered; one problem naming the file."""


DEFAULT_PROMPTS = Path(__file__).resolve().parents[2] / "prompts"


class Templates:
    """A world's templates; any it does not have come from Parley's own `prompts/`.

    `medium` is what the output is read as. "text" (prompts, offline speech) prints values as they
    are; "markdown" (the transcript) and "html" (the run report) escape every value a template
    prints, since what LLM personas and people wrote is untrusted and must reach a page as text only
    (`parley.world.escaping`), whatever a world's own copy of the template does.
    """

    def __init__(self, folder: Path, medium: Medium = "text") -> None:
        self.folder = folder
        self.medium = medium
        folders = list(dict.fromkeys([str(folder), str(DEFAULT_PROMPTS)]))
        self.env = ImmutableSandboxedEnvironment(
            loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(f) for f in folders]),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            auto_reload=False,  # one Templates per loaded scenario: no need to stat the file at every render
            autoescape=medium == "html",
            finalize={"text": None, "markdown": markdown, "html": html}[medium],
        )
        self.env.filters["pct"] = lambda x: f"{100 * float(x):.0f}%"
        self.env.filters["clause"] = clause
        self.env.filters["and_list"] = and_list
        self.env.filters["phrase"] = phrase
        self.env.filters["quote"] = quote
        self._names: dict[str, tuple[str, ...]] = {}
        self._markdown: Templates | None = None

    def for_markdown(self) -> Templates:
        """The same templates for a Markdown page, made once."""
        if self.medium == "markdown":
            return self
        if self._markdown is None:
            self._markdown = Templates(self.folder, medium="markdown")
        return self._markdown

    def _where(self, name: str) -> str:
        return display_path(self.folder / name)

    def render(self, name: str, **context: Any) -> str:
        try:
            return self.env.get_template(name).render(**context).strip()
        except jinja2.TemplateNotFound:
            raise TemplateError([Problem(self._where(name), "", "template not found")]) from None
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(
                [Problem(self._where(name), f"line {exc.lineno}", exc.message or "syntax error")]
            ) from None
        except (jinja2.UndefinedError, jinja2.sandbox.SecurityError, TypeError, ValueError) as exc:
            raise TemplateError([Problem(self._where(name), "", f"cannot render: {exc}")]) from None

    def names_used(self, name: str) -> tuple[str, ...]:
        """The context names a template reads: what its output can depend on."""
        used = self._names.get(name)
        if used is None:
            try:
                source = self.env.loader.get_source(self.env, name)[0]
                used = tuple(sorted(meta.find_undeclared_variables(self.env.parse(source))))
            except jinja2.TemplateError:
                used = ("*",)  # unknown: render every time, and let render() report the problem
            self._names[name] = used
        return used

    def syntax_problems(self) -> list[Problem]:
        """Every template in the folder that does not parse."""
        out = []
        for path in sorted(self.folder.rglob("*.j2")):
            rel = path.relative_to(self.folder).as_posix()
            try:
                self.env.parse(path.read_text(encoding="utf-8"), name=rel)
            except jinja2.TemplateSyntaxError as exc:
                out.append(Problem(display_path(path), f"line {exc.lineno}", exc.message or "syntax error"))
        return out
