"""Jinja2 templates from a world's prompts folder, rendered in a sandbox with strict undefined names.

Templates are user data (a facilitator edits them, maybe from someone else's world), so errors name
the template file and line, and a template reads only its own folder and is bounded in the work it
does and what it writes (`parley.world.sandbox`).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, ClassVar, Literal

import jinja2
from jinja2 import meta

from parley.world.escaping import html, markdown
from parley.world.problems import InvalidInput, Problem, display_path
from parley.world.sandbox import BoundedSandbox, ConfinedLoader, RenderLimit, TemplateOutside, budgeted, template_files

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
KEPT = 4096  # compiled templates and syntax checks kept per process (a world has a few dozen templates)


class CompiledTemplates(jinja2.BytecodeCache):
    """Compiled templates shared by every `Templates` of the process: an ensemble, the board and the tests
    load the same templates over and over, and parsing and compiling them was most of preparing a run.
    Keyed by the medium (how the code was made) and file, and used only while the source is unchanged
    (Jinja checks its checksum), so an edited template is compiled (and its limits checked) again."""

    _code: ClassVar[dict[tuple[str, str], tuple[str, Any]]] = {}

    def __init__(self, medium: Medium) -> None:
        self.medium = medium

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        kept = self._code.get((self.medium, bucket.key))
        if kept is not None and kept[0] == bucket.checksum:
            bucket.code = kept[1]

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if len(self._code) >= KEPT:
            self._code.clear()
        self._code[(self.medium, bucket.key)] = (bucket.checksum, bucket.code)


_PARSED: dict[tuple[str, str], tuple[int, str] | None] = {}  # (file, digest of its source) -> (line, what is wrong)
_NAMES: dict[str, tuple[str, ...]] = {}  # digest of a template's source -> the context names it reads


def _parse_problem(env: jinja2.Environment, path: Path, rel: str, source: str) -> Problem | None:
    """What is wrong with a template's syntax (None: nothing), parsed once per process and source."""
    key = (str(path), hashlib.sha1(source.encode("utf-8", "surrogatepass")).hexdigest())
    if key not in _PARSED:
        if len(_PARSED) >= KEPT:
            _PARSED.clear()
        try:
            env.parse(source, name=rel)
            _PARSED[key] = None
        except jinja2.TemplateSyntaxError as exc:
            _PARSED[key] = (exc.lineno, exc.message or "syntax error")
    found = _PARSED[key]
    return None if found is None else Problem(display_path(path), f"line {found[0]}", found[1])


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
        self.env = BoundedSandbox(
            loader=jinja2.ChoiceLoader([ConfinedLoader(Path(f)) for f in folders]),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            auto_reload=False,  # one Templates per loaded scenario: no need to stat the file at every render
            autoescape=medium == "html",
            finalize={"text": None, "markdown": markdown, "html": html}[medium],
            bytecode_cache=CompiledTemplates(medium),
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

    def render(self, name: str, /, **context: Any) -> str:
        """The template rendered with `context`, within a prompt's limits."""
        return self._render(name, 0, context)

    def render_run_page(self, name: str, run_events: int, /, **context: Any) -> str:
        """A page of a whole run (its transcript, its report): limits that grow with its events."""
        return self._render(name, run_events, context)

    def _render(self, name: str, run_events: int, context: dict[str, Any]) -> str:
        try:
            with budgeted(run_events):
                return self.env.get_template(name).render(**context).strip()
        except jinja2.TemplateNotFound as exc:
            missing = exc.name if isinstance(exc.name, str) else name
            why = "template not found" if missing == name else f"includes '{missing}': template not found"
            raise TemplateError([Problem(self._where(name), "", why)]) from None
        except TemplateOutside as exc:
            file = display_path(Path(exc.path)) if exc.path else self._failing(name, exc)[0]
            raise TemplateError([Problem(file, "", exc.message or "refused")]) from None
        except jinja2.TemplateSyntaxError as exc:
            where = display_path(Path(exc.filename)) if exc.filename else self._where(name)
            raise TemplateError([Problem(where, f"line {exc.lineno}", exc.message or "syntax error")]) from None
        except RenderLimit as exc:
            raise TemplateError([Problem(*self._failing(name, exc), exc.message or "stopped")]) from None
        except RecursionError as exc:
            why = "includes or calls itself without end (recursion too deep)"
            raise TemplateError([Problem(*self._failing(name, exc), why)]) from None
        except MemoryError as exc:
            raise TemplateError([Problem(*self._failing(name, exc), "stopped: out of memory")]) from None
        except (
            jinja2.UndefinedError,
            jinja2.sandbox.SecurityError,
            TypeError,
            ValueError,
            ArithmeticError,
            LookupError,
            AttributeError,
        ) as exc:
            raise TemplateError([Problem(*self._failing(name, exc), f"cannot render: {exc}")]) from None

    def _failing(self, name: str, exc: BaseException) -> tuple[str, str]:
        """The template file and line where a render failed: the innermost frame of a template
        (Jinja2 rewrites a render's traceback to the templates' own files and lines)."""
        file, line = self._where(name), ""
        tb = exc.__traceback__
        roots = [Path(os.path.realpath(f)) for f in (self.folder, DEFAULT_PROMPTS) if f.is_dir()]
        while tb is not None:
            code = tb.tb_frame.f_code
            filename = Path(code.co_filename)
            real = Path(os.path.realpath(filename))
            if filename.suffix in (".j2", ".jinja") and any(r in real.parents for r in roots):
                file, line = display_path(filename), f"line {tb.tb_lineno}"
            tb = tb.tb_next
        return file, line

    def names_used(self, name: str) -> tuple[str, ...]:
        """The context names a template reads: what its output can depend on."""
        used = self._names.get(name)
        if used is None:
            try:
                source = self.env.loader.get_source(self.env, name)[0]  # type: ignore[union-attr]
                key = hashlib.sha1(source.encode("utf-8", "surrogatepass")).hexdigest()
                used = _NAMES.get(key)
                if used is None:
                    used = tuple(sorted(meta.find_undeclared_variables(self.env.parse(source))))
                    if len(_NAMES) >= KEPT:
                        _NAMES.clear()
                    _NAMES[key] = used
            except jinja2.TemplateError:
                used = ("*",)  # unknown: render every time, and let render() report the problem
            self._names[name] = used
        return used

    def syntax_problems(self) -> list[Problem]:
        """Every template in the folder that cannot be read or does not parse, and every link in it
        that leads out of it."""
        files, refused = template_files(self.folder)
        out = [Problem(display_path(path), "", why) for path, why in refused]
        for path in files:
            rel = path.relative_to(self.folder).as_posix()
            try:
                source = self.env.loader.get_source(self.env, rel)[0]  # type: ignore[union-attr]
                problem = _parse_problem(self.env, path, rel, source)
                if problem is not None:
                    out.append(problem)
            except TemplateOutside as exc:
                out.append(Problem(display_path(Path(exc.path or path)), "", exc.message or "refused"))
            except jinja2.TemplateNotFound:
                out.append(Problem(display_path(path), "", "cannot be read"))
            except OSError as exc:
                out.append(Problem(display_path(path), "", f"cannot read the file: {exc.strerror or exc}"))
        return out
