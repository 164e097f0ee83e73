"""Jinja2's sandbox with limits: a world's template can read only its own folder, and cannot run for
ever or fill the memory.

Jinja2's `ImmutableSandboxedEnvironment` already keeps templates away from Python's internals; it
does not bound what they compute. A template is a facilitator's file, maybe from someone else, so
every render gets a `RenderBudget`:

- steps: every loop turn, value written, attribute and item lookup costs one, a call (macros too) `CALL_STEPS`; a
  render may take `MAX_STEPS` (seconds of work, not minutes), so nested loops or a macro that calls itself end with a message, not a hang. Counting
  steps (not seconds) keeps the limit the same on every machine, so a run that replays on one
  replays on all; `MAX_SECONDS` is only a backstop, checked at the same points;
- characters: what a render writes, including what it captures (`{% set %}` blocks, macro output)
  and the literal text of a loop's body at every turn, is at most `MAX_CHARS`; and no value it makes
  (`'x' * n`, `~`, `+`, `replace`, `join`, `center`, a `%` or `format` width, `7 ** n`, a namespace
  attribute, a macro's argument) may exceed it: each is checked before it is made where its size can
  be known in advance.

Templates are read by `ConfinedLoader`: a name with `..`, or a file or folder that is a link leading
out of the templates folder, is refused (`TemplateOutside`), as is a file over `MAX_TEMPLATE_BYTES`.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import nodes, pass_context
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace

MAX_STEPS = 2_000_000
MAX_CHARS = 100_000_000
CALL_STEPS = 50  # a call (a macro's above all) costs tens of times a loop turn
MAX_SECONDS = 60.0
# A whole run's page (the transcript, the report) grows with the run: per event it may take this much more.
STEPS_PER_ITEM = 200
CHARS_PER_ITEM = 5_000
SECONDS_PER_ITEM = 0.002
MAX_TEMPLATE_BYTES = 1_000_000
MAX_WIDTH = 10_000  # the widest `center`, `indent` or `wordwrap` string a template may ask for
MAX_BITS = 1_000_000  # the largest integer `**` may make (about 300,000 digits)


class RenderLimit(jinja2.TemplateError):
    """A render that went past one of the limits; the message says which, in the user's words."""


class TemplateOutside(jinja2.TemplateError):
    """A template name or link that leads out of the templates folder."""

    def __init__(self, path: str | None, message: str) -> None:
        super().__init__(message)
        self.path = path  # the file to name; None: the template that asked for it


class RenderBudget:
    """What one render may spend and has spent: steps, characters, and when it must end. `items`:
    how many events a whole run's page shows (its limits grow with them)."""

    __slots__ = ("chars", "deadline", "max_chars", "max_steps", "seconds", "steps")

    def __init__(self, items: int = 0) -> None:
        self.steps = 0
        self.chars = 0
        self.max_steps = MAX_STEPS + STEPS_PER_ITEM * items
        self.max_chars = MAX_CHARS + CHARS_PER_ITEM * items
        self.seconds = MAX_SECONDS + SECONDS_PER_ITEM * items
        self.deadline = time.monotonic() + self.seconds

    def step(self, n: int = 1) -> None:
        self.steps += n
        if self.steps > self.max_steps:
            raise RenderLimit(
                f"stopped after {self.max_steps:,} steps (loop turns, calls, lookups): "
                "a loop or a macro that never ends, or far too much work for one template"
            )
        if self.steps & 0x3FF == 0 and time.monotonic() > self.deadline:
            raise RenderLimit(f"stopped after {self.seconds:.0f} seconds: far too much work for one template")

    def write(self, n: int) -> None:
        self.chars += n
        if self.chars > self.max_chars:
            raise RenderLimit(f"stopped: it writes more than {self.max_chars:,} characters")


_budget: ContextVar[RenderBudget | None] = ContextVar("parley_render_budget", default=None)


def _step(n: int = 1) -> None:
    budget = _budget.get()
    if budget is not None:
        budget.step(n)


def _write(n: int) -> None:
    budget = _budget.get()
    if budget is not None:
        budget.write(n)


class budgeted:
    """`with budgeted(items):` around a render: its own fresh budget (renders do not nest budgets)."""

    def __init__(self, items: int = 0) -> None:
        self.items = items

    def __enter__(self) -> RenderBudget:
        self.budget = RenderBudget(self.items)
        self.token = _budget.set(self.budget)
        return self.budget

    def __exit__(self, *exc: object) -> None:
        _budget.reset(self.token)


def _size(value: Any) -> int:
    return len(value) if isinstance(value, (str, bytes, list, tuple, dict, set, frozenset)) else 0


def check_size(value: Any, what: str = "a value") -> Any:
    """The value, if it is not bigger than any render may write; else RenderLimit."""
    if _size(value) > MAX_CHARS:
        raise RenderLimit(f"stopped: {what} of {_size(value):,} characters or items (at most {MAX_CHARS:,})")
    return value


_WIDTH = re.compile(r"(\d{5,})")  # a width or precision of 10,000 or more, in a % or {} format


def _check_format(spec: Any) -> None:
    if isinstance(spec, str):
        for digits in _WIDTH.findall(spec):
            if int(digits) > MAX_WIDTH:
                raise RenderLimit(f"stopped: a format width of {int(digits):,} (at most {MAX_WIDTH:,})")


def _check_width(width: Any, what: str) -> None:
    if (isinstance(width, int) and width > MAX_WIDTH) or (isinstance(width, str) and len(width) > MAX_WIDTH):
        shown = f"{width:,}" if isinstance(width, int) else f"of {len(width):,} characters"
        raise RenderLimit(f"stopped: {what} {shown} (at most {MAX_WIDTH:,})")


class BoundedNamespace(Namespace):
    """`namespace()` whose attributes cannot grow past the limit (`{% set ns.x = ns.x ~ ns.x %}`)."""

    def __setitem__(self, name: str, value: Any) -> None:
        _step()
        check_size(value, f"namespace attribute '{name}'")
        super().__setitem__(name, value)


class _Counted:
    """An iterable a loop walks, each turn a step and the loop body's literal text written."""

    __slots__ = ("iterable", "weight")

    def __init__(self, iterable: Iterable[Any], weight: int) -> None:
        self.iterable = iterable
        self.weight = weight

    def __len__(self) -> int:
        return len(self.iterable)  # type: ignore[arg-type]  # TypeError when unsized: LoopContext copes

    def __iter__(self) -> Iterator[Any]:
        budget = _budget.get()
        for item in self.iterable:
            if budget is not None:
                budget.step()
                budget.write(self.weight)
            yield item


@pass_context  # never folded at compile time: it must count at every turn
def _loop(context: Context, iterable: Any, weight: int) -> Any:
    if isinstance(iterable, jinja2.Undefined):
        return iterable
    return _Counted(iterable, weight)


@pass_context
def _charge(context: Context, value: Any, weight: int) -> str:
    _step()
    _write(weight)
    return ""


def _bounded(value: Any) -> Any:
    return check_size(value, "a value")


def _literal_size(node: nodes.Node) -> int:
    return sum(len(data.data) for data in node.find_all(nodes.TemplateData)) + 1


def _limit_tree(tree: nodes.Template) -> nodes.Template:
    """Rewrite a parsed template so that it counts its own work: every loop's iterable counted, every
    macro and call block charged its literal text when it runs, every `~` checked for size."""
    for loop in tree.find_all(nodes.For):
        weight = sum(_literal_size(n) for n in loop.body)
        loop.iter = nodes.Filter(loop.iter, "_parley_loop", [nodes.Const(weight)], [], None, None)
    blocks: list[nodes.Macro | nodes.CallBlock] = [*tree.find_all(nodes.Macro), *tree.find_all(nodes.CallBlock)]
    for block in blocks:
        weight = sum(_literal_size(n) for n in block.body)
        charge = nodes.Filter(nodes.Const(None), "_parley_charge", [nodes.Const(weight)], [], None, None)
        block.body.insert(0, nodes.ExprStmt(charge))
    for concat in list(tree.find_all(nodes.Concat)):
        _replace(tree, concat, lambda n: nodes.Filter(n, "_parley_bounded", [], [], None, None))
    return tree


def _replace(tree: nodes.Node, old: nodes.Node, make: Callable[[nodes.Node], nodes.Node]) -> None:
    for parent in tree.find_all(nodes.Node):
        for field in parent.fields:
            value = getattr(parent, field, None)
            if value is old:
                setattr(parent, field, make(old))
                return
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if item is old:
                        value[i] = make(old)
                        return


# -- filters that can make much more than they are given: checked before they run -------------
def _guard(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    def center(value: Any, width: int = 80) -> Any:
        _check_width(width, "a centre width of")
        return original(value, width)

    def indent(s: Any, width: Any = 4, first: bool = False, blank: bool = False) -> Any:
        _check_width(width, "an indent")
        check_size(str(s), "a text to indent")
        if isinstance(width, int) and (str(s).count("\n") + 1) * width + len(str(s)) > MAX_CHARS:
            raise RenderLimit(f"stopped: indenting would write more than {MAX_CHARS:,} characters")
        return original(s, width, first, blank)

    def wordwrap(environment: Any, s: Any, width: int = 79, *args: Any, **kwargs: Any) -> Any:
        wrap = kwargs.get("wrapstring") or (args[1] if len(args) > 1 else None)
        if isinstance(wrap, str) and len(wrap) * (len(str(s)) + 1) > MAX_CHARS:
            raise RenderLimit(f"stopped: wrapping would write more than {MAX_CHARS:,} characters")
        return original(environment, s, width, *args, **kwargs)

    def replace(eval_ctx: Any, s: Any, old: Any, new: Any, count: int | None = None) -> Any:
        text, old_s, new_s = str(s), str(old), str(new)
        times = (len(text) + 1 if not old_s else text.count(old_s)) if count is None else count
        if isinstance(times, int) and len(text) + max(times, 0) * max(len(new_s) - len(old_s), 0) > MAX_CHARS:
            raise RenderLimit(f"stopped: replacing would write more than {MAX_CHARS:,} characters")
        return original(eval_ctx, s, old, new, count)

    def join(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> Any:
        items = list(value) if not isinstance(value, jinja2.Undefined) else value
        if isinstance(items, list) and attribute is None:
            check_size(items, "a list to join")
            total = len(str(d)) * len(items)
            for item in items:
                total += len(str(item))
                if total > MAX_CHARS:
                    raise RenderLimit(f"stopped: joining would write more than {MAX_CHARS:,} characters")
        return original(eval_ctx, items, d, attribute)

    def format_(value: Any, *args: Any, **kwargs: Any) -> Any:
        _check_format(value)
        return original(value, *args, **kwargs)

    guards: dict[str, Callable[..., Any]] = {
        "center": center,
        "indent": indent,
        "wordwrap": wordwrap,
        "replace": replace,
        "join": join,
        "format": format_,
    }
    guarded = guards[name]
    if hasattr(original, "jinja_pass_arg"):  # pass_context, pass_eval_context, pass_environment
        guarded.jinja_pass_arg = original.jinja_pass_arg  # type: ignore[attr-defined]
    return guarded


_STR_WIDTHS = {"center", "ljust", "rjust", "zfill", "expandtabs"}  # str methods whose int argument is a width


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, counting and checking the work of every render (see the module)."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        for name in ("center", "indent", "wordwrap", "replace", "join", "format"):
            self.filters[name] = _guard(name, self.filters[name])
        self.filters["_parley_loop"] = _loop
        self.filters["_parley_charge"] = _charge
        self.filters["_parley_bounded"] = _bounded
        self.globals["namespace"] = BoundedNamespace
        lipsum: Callable[..., Any] = self.globals["lipsum"]  # type: ignore[assignment]

        def bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> Any:
            _check_width(n, "lipsum of")
            _check_width(max, "lipsum of")
            return lipsum(n, html, min, max)

        self.globals["lipsum"] = bounded_lipsum
        finalize = self.finalize

        def counted_finalize(value: Any) -> Any:
            shown = finalize(value) if finalize is not None else value
            _step()
            _write(len(shown) if isinstance(shown, str) else 8)
            return shown

        self.finalize = counted_finalize

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        return _limit_tree(super()._parse(source, name, filename))

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _step()
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if _size(seq) and isinstance(times, int) and _size(seq) * times > MAX_CHARS:
                    raise RenderLimit(f"stopped: '*' would make {_size(seq) * times:,} characters or items")
        elif operator == "**":
            if isinstance(left, int) and isinstance(right, int) and abs(left) > 1 and right > 0:
                if right * math.log2(abs(left)) > MAX_BITS:
                    raise RenderLimit(f"stopped: '**' would make a number of more than {MAX_BITS:,} bits")
        elif operator == "%":
            _check_format(left)
        elif operator == "+" and _size(left) + _size(right) > MAX_CHARS:
            raise RenderLimit(f"stopped: '+' would make {_size(left) + _size(right):,} characters or items")
        return check_size(super().call_binop(context, operator, left, right))

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _step(CALL_STEPS)
        for arg in (*args, *kwargs.values()):
            check_size(arg, "an argument")
        bound = getattr(__obj, "__wrapped__", __obj)  # the sandbox wraps str.format in a function of its own
        method = getattr(bound, "__name__", None)
        if isinstance(getattr(bound, "__self__", None), str):
            if method in ("format", "format_map"):
                _check_format(bound.__self__)
            elif method in _STR_WIDTHS:
                for arg in (*args, *kwargs.values()):
                    _check_width(arg, f"'{method}' of")
        return check_size(super().call(__context, __obj, *args, **kwargs), "a call's result")

    def getattr(self, obj: Any, attribute: str) -> Any:
        _step()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _step()
        return super().getitem(obj, argument)


class ConfinedLoader(jinja2.BaseLoader):
    """Templates from one folder and nothing outside it.

    Jinja2's FileSystemLoader already refuses `..` in a name but follows links: `prompts/leak -> /etc`
    would let `{% include 'leak/passwd' %}` read any file. Here the real path of every template must
    lie inside the real path of the folder, checked before the file is opened.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        pieces = [p for p in template.replace("\\", "/").split("/") if p not in ("", ".")]
        shown = "/".join(pieces)
        if ".." in pieces:
            raise TemplateOutside(None, f"includes '{template}', which climbs out of the templates folder with '..'")
        path = self.folder.joinpath(*pieces)
        if not os.path.lexists(path):
            raise jinja2.TemplateNotFound(template)
        outside = leads_outside(path, self.folder)
        if outside:
            raise TemplateOutside(str(path), outside)
        if not path.is_file():
            if path.is_dir():
                raise TemplateOutside(str(path), f"'{shown}' is a folder, not a template")
            raise jinja2.TemplateNotFound(template)
        size = path.stat().st_size
        if size > MAX_TEMPLATE_BYTES:
            raise TemplateOutside(str(path), f"{size:,} bytes: a template may have at most {MAX_TEMPLATE_BYTES:,}")
        try:
            source = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise TemplateOutside(str(path), "not a UTF-8 text file") from None
        mtime = path.stat().st_mtime
        return source, str(path), lambda: path.stat().st_mtime == mtime


def leads_outside(path: Path, folder: Path) -> str:
    """Why `path` (inside `folder` by name) is not inside it in fact: a link out of it, or a link that
    leads nowhere; "" when it is inside."""
    try:
        real = Path(os.path.realpath(path, strict=True))
        root = Path(os.path.realpath(folder, strict=True))
    except (OSError, RuntimeError):
        return "a link that leads nowhere (its target is missing, or it links to itself)"
    if real != root and root not in real.parents:
        return f"a link out of the templates folder (to {real}): templates must stay inside it"
    return ""


MAX_FOLDER_ENTRIES = 2_000


def template_files(folder: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The `*.j2` files of a templates folder, and the entries refused (links out of it, links that
    lead nowhere). Links inside the folder are not followed (every file is reached once by its own
    name); a folder of more than MAX_FOLDER_ENTRIES entries (say `prompts: /`) is refused whole."""
    found: list[Path] = []
    refused: list[tuple[Path, str]] = []
    seen = 0
    for top, dirs, files in os.walk(folder, followlinks=False):
        seen += len(dirs) + len(files)
        if seen > MAX_FOLDER_ENTRIES:
            why = f"holds more than {MAX_FOLDER_ENTRIES:,} files and folders: not a templates folder"
            return [], [(folder, why)]
        here = Path(top)
        for name in sorted(dirs):
            if (here / name).is_symlink():
                why = leads_outside(here / name, folder)
                if why:
                    refused.append((here / name, why))
        for name in sorted(files):
            path = here / name
            if path.is_symlink():
                why = leads_outside(path, folder)
                if why:
                    refused.append((path, why))
                    continue
            if name.endswith(".j2"):
                found.append(path)
        dirs.sort()
    return sorted(found), refused
