"""A scenario is a world file with its persona cards, chosen variants and source text, checked as one.

Loading collects every problem it can find before failing, so `parley validate` can list them all.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import re
import stat
import threading
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard, cast

import yaml
from pydantic import ValidationError

from parley.world.claims import Claim, claim_problems
from parley.world.persona import SPEECH_ACTS, Persona, VariantInfo, apply_variant
from parley.world.problems import InvalidInput, Problem, display_path, from_validation_error
from parley.world.sandbox import template_files
from parley.world.templates import DEFAULT_PROMPTS, Templates
from parley.world.world import ID_PATTERN, World, cross_reference_problems

DEFAULT_WORLD = Path("worlds/ukraine-2024.yaml")
BUNDLED = Path(__file__).resolve().parents[2]  # the project folder: its worlds, prompts and prices


def bundled(path: Path) -> Path:
    """A default file (the default world, the price table) found from any working folder."""
    return path if path.exists() or path.is_absolute() else BUNDLED / path


@dataclass(frozen=True)
class Scenario:
    world: World
    world_path: Path
    personas: dict[str, Persona]
    persona_paths: dict[str, Path]
    prompts_dir: Path
    paragraphs: list[str]
    variants: dict[str, str] = field(default_factory=dict)
    overlays: dict[str, VariantFile] = field(default_factory=dict)  # actor -> a variant from a file of its own

    def file_hashes(self) -> dict[str, str]:
        """Content hashes of every file the run depends on, keyed by a readable path."""
        files = [self.world_path, *self.persona_paths.values()]
        for folder in dict.fromkeys([self.prompts_dir.resolve(), DEFAULT_PROMPTS.resolve()]):
            files += template_files(folder)[0]
        return {display_path(p): sha256_file(p) for p in files}


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class VariantFile:
    """A persona variant written in a file of its own (by a workshop, say), not in the actor's card.

    The file names the actor and the variant, then overlays the card like a variant in `variants:`
    does: `actor: us`, `name: isolationist`, `description: ...`, then any card fields.
    """

    actor: str
    name: str
    overlay: dict[str, Any]  # description and card fields, merged over the base card
    path: Path
    text: str  # the file as read, so a run can keep a copy of exactly what it played

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def load_variant_file(path: Path | str, shown_as: str | None = None) -> VariantFile:
    """Read a variant file; InvalidInput (one line per problem, naming the file and field) when unusable.

    Only the file itself is checked here; `load_scenario(..., overlays=...)` checks the overlay
    against the actor's card and the world, exactly like a variant in the card.
    """
    path = Path(path)
    name = shown_as or display_path(path)
    problems: list[Problem] = []
    data = read_yaml(path, problems)
    if data is None:
        raise InvalidInput([Problem(name, p.field, p.message) for p in problems])
    for key in ("actor", "name"):
        value = data.get(key)
        if value is None:
            problems.append(Problem(name, key, "Field required"))
        elif not isinstance(value, str) or not re.match(ID_PATTERN, value):
            problems.append(
                Problem(name, key, f"{value!r} is not a usable name (use lowercase letters, digits, - and _)")
            )
        elif key == "name" and value == "base":
            problems.append(Problem(name, key, "'base' is the card without overlay: choose another name"))
    if "variants" in data:
        problems.append(Problem(name, "variants", "a variant file is one variant: it cannot hold variants of its own"))
    if problems:
        raise InvalidInput(problems)
    text = path.read_text(encoding="utf-8")
    overlay = {k: v for k, v in data.items() if k not in ("actor", "name")}
    return VariantFile(data["actor"], data["name"], overlay, path, text)


MAX_FILE_BYTES = 10_000_000  # a source text
MAX_YAML_BYTES = 1_000_000  # a world, a persona card, an inject or variant file (the largest bundled: 18 kB)
MAX_DEPTH = 64  # levels of nesting in a YAML file (a world needs six or so)
MAX_VALUES = 100_000  # values in a YAML file once its aliases are expanded (a world has a few thousand)


class _Refused(yaml.YAMLError):
    """A YAML file refused for its shape (too deep, too many values once aliases are expanded)."""

    def __init__(self, message: str, mark: Any) -> None:
        super().__init__(message)
        self.problem = message
        self.problem_mark = mark


class _Loader(yaml.SafeLoader):
    """A safe loader that notes duplicate keys, which plain YAML loading silently drops, and refuses
    what would bring a reader down: nesting deeper than MAX_DEPTH (Python's recursion limit), and
    aliases that expand to more than MAX_VALUES values ("billion laughs": nine aliases of nine
    aliases of nine... are a few lines that every walk over the data multiplies) or contain
    themselves."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[int, int, Any]] = []
        self._depth = 0
        self._sizes: dict[int, int] = {}  # id(node) -> how many values it stands for, aliases expanded
        self._total = 0  # values read so far, aliases expanded: refused as soon as it is too many

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(f"nested more than {MAX_DEPTH} levels deep", self.peek_event().start_mark)
            alias = self.check_event(yaml.AliasEvent)
            node = cast(
                yaml.Node, super().compose_node(parent, index)
            )  # the stub says `| None`; PyYAML never returns None
        finally:
            self._depth -= 1
        if alias and id(node) not in self._sizes:  # an alias of a node still being read: itself, or a parent
            raise _Refused("an alias inside its own anchor: the value would contain itself", node.start_mark)
        self._total += self._sizes[id(node)] if alias else 1
        if self._total > MAX_VALUES:
            raise _Refused(f"more than {MAX_VALUES:,} values (each alias counted as all it repeats)", node.start_mark)
        if id(node) not in self._sizes:
            children: list[yaml.Node] = []
            if isinstance(node, yaml.SequenceNode):
                children = list(node.value)
            elif isinstance(node, yaml.MappingNode):
                children = [n for pair in node.value for n in pair]
            size = 1
            for child in children:
                size += self._sizes[id(child)]
            self._sizes[id(node)] = size
        return node

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node.start_mark.line)
            except TypeError:  # an unhashable key: the constructor below reports it
                continue
            if first != key_node.start_mark.line:
                self.duplicates.append((key_node.start_mark.line + 1, first + 1, key))
        return super().construct_mapping(node, deep)


# YAML 1.2 booleans: only true/false. Under YAML 1.1 an option id `yes`, `no`, `on` or `off` became a bool.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _mark(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


def unreadable(path: Path, what: str = "file", most: int = MAX_FILE_BYTES) -> str:
    """Why `path` cannot be read as a file, in the user's words; "" when it can (a regular file, not
    a folder, a device, a pipe, a link to nowhere, or bigger than `most` bytes)."""
    try:
        info = path.stat()
    except (OSError, RuntimeError):
        if path.is_symlink():
            return "a link that leads nowhere (its target is missing, or it links to itself)"
        return "file not found"
    if stat.S_ISDIR(info.st_mode):
        return f"a folder, not a {what}"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file (a device, a pipe or a socket)"
    if info.st_size > most:
        return f"{info.st_size:,} bytes: too big (at most {most:,})"
    return ""


# Text -> (data, duplicate keys) of files read before: parsing is a pure function of the text, and the
# pure-Python loader above takes ~100x longer than a copy (a sweep or a test session re-reads the same
# world and cards for every run). Copies go in and out, so no caller shares a mutable value.
_PARSED: dict[str, tuple[Any, list[tuple[int, int, Any]]]] = {}
_PARSED_LOCK = threading.Lock()
_PARSED_MOST, _PARSED_LARGEST = 64, 256_000  # entries, characters: a few worlds' files, not a hostile one


def read_yaml(path: Path, problems: list[Problem]) -> dict[str, Any] | None:
    """A YAML mapping from a file, or None with the reason added to problems."""
    name = display_path(path)
    why = unreadable(path, "YAML file", MAX_YAML_BYTES)
    if why:
        problems.append(Problem(name, "", why))
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        problems.append(Problem(name, "", "not a UTF-8 text file"))
        return None
    except OSError as exc:
        problems.append(Problem(name, "", f"cannot read the file: {exc.strerror or exc}"))
        return None
    with _PARSED_LOCK:
        known = _PARSED.get(text)
    if known is not None:
        data, duplicates = copy.deepcopy(known)
    else:
        parsed = _parse_yaml(name, text, problems)
        if parsed is None:
            return None
        data, duplicates = parsed
        if len(text) <= _PARSED_LARGEST:
            kept = copy.deepcopy(parsed)
            with _PARSED_LOCK:
                if len(_PARSED) >= _PARSED_MOST:
                    del _PARSED[next(iter(_PARSED))]
                _PARSED[text] = kept
    for line, first, key in duplicates:
        problems.append(
            Problem(name, f"line {line}", f"duplicate key '{key}' (first on line {first}): YAML would keep only one")
        )
    if not isinstance(data, dict):
        what = "an empty file" if data is None else f"a {type(data).__name__}"
        problems.append(Problem(name, "", f"expected a mapping of fields at the top level, found {what}"))
        return None
    return data


def _parse_yaml(name: str, text: str, problems: list[Problem]) -> tuple[Any, list[tuple[int, int, Any]]] | None:
    """The data and duplicate keys of a YAML text, or None with the reason added to problems."""
    try:
        loader = _Loader(text)
    except yaml.YAMLError as exc:  # a NUL or other control character, found as the reader starts
        problems.append(Problem(name, "", f"not valid YAML: {str(exc).splitlines()[0]}"))
        return None
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{_mark(mark)}: " if mark else ""
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and context_mark is not None and (mark is None or context_mark.line != mark.line):
            reason += f" ({context} on line {context_mark.line + 1})"
        refused = "cannot be used" if isinstance(exc, _Refused) else "not valid YAML"
        problems.append(Problem(name, "", f"{refused}: {where}{reason}"))
        return None
    except ValueError as exc:  # an integer of more than 4,300 digits, Python's limit
        why = "a number of more than 4,300 digits" if "digits" in str(exc) else str(exc).splitlines()[0]
        problems.append(Problem(name, "", f"cannot be used: {why}"))
        return None
    except RecursionError:  # MAX_DEPTH is below Python's limit: a backstop only
        problems.append(Problem(name, "", "cannot be used: nested too deeply"))
        return None
    finally:
        loader.dispose()
    return data, loader.duplicates


def read_text(path: Path, owner: str, field: str, problems: list[Problem]) -> str | None:
    """A text file named by `field` of `owner`, or None with the reason added to problems."""
    why = unreadable(path)
    if why:
        problems.append(Problem(owner, field, f"{why}: {display_path(path)}"))
        return None
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        problems.append(Problem(display_path(path), "", "not a UTF-8 text file"))
    except OSError as exc:
        problems.append(Problem(display_path(path), "", f"cannot read the file: {exc.strerror or exc}"))
    return None


def paragraphs_of(text: str) -> list[str]:
    """Paragraphs as the personas cite them: the non-empty lines, numbered from 1 (pull-quotes too,
    which keep their number but may not be cited: see `pull_quotes`)."""
    return [line.strip() for line in text.splitlines() if line.strip()]


PULL_QUOTE_WORDS = 6  # shorter lines (headings, "Article 2nd half") are never taken for pull-quotes


def normalised(line: str) -> str:
    """A line's words only: NFKC, case-folded, typographic quotes unified, punctuation read as spaces."""
    text = unicodedata.normalize("NFKC", line).casefold()
    text = text.translate(str.maketrans("\u2018\u2019\u201c\u201d", "''\"\""))
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


@functools.cache
def pull_quotes(paragraphs: tuple[str, ...]) -> dict[int, int]:
    """Paragraph number -> the number of the paragraph it repeats, for every pull-quote of a source.

    An article page repeats some sentences in large type (pull-quotes), so the same words stand in
    two numbered paragraphs. A pull-quote is a paragraph of at least six words whose words (without
    case, punctuation or spacing differences) occur in a longer paragraph, or equal an earlier one.
    It keeps its number, so the numbers stay those of the source's non-empty lines, but a citation
    must name the paragraph where the words stand in their context.
    """
    words = [f" {normalised(p)} " for p in paragraphs]
    found: dict[int, int] = {}
    for k, mine in enumerate(words):
        if len(mine.split()) < PULL_QUOTE_WORDS:
            continue
        for j, other in enumerate(words):
            if j != k and ((len(other) > len(mine) and mine in other) or (other == mine and j < k)):
                found[k + 1] = j + 1
                break
    return found


def template_problems(folder: Path) -> list[Problem]:
    """Every template in the folder that cannot be read or does not parse, and every link out of it."""
    return Templates(folder).syntax_problems()


def _str(value: Any, default: str | None = None) -> str | None:
    return value if isinstance(value, str) else default


def _ints(value: Any) -> list[int]:
    return [n for n in value if isinstance(n, int) and not isinstance(n, bool)] if isinstance(value, list) else []


def issue_options(world: World | dict[str, Any]) -> dict[str, list[str] | None] | None:
    """Issue id -> option ids, read leniently so that a world with schema problems can still be used.

    None when some issue has no usable id (cards cannot be checked against the issues then), and
    None for an issue some of whose options have no usable id.
    """
    if isinstance(world, World):
        return {i.id: i.option_ids() for i in world.issues}
    issues = world.get("issues") if isinstance(world, dict) else None
    if not isinstance(issues, list):
        return None
    out: dict[str, list[str] | None] = {}
    for issue in issues:
        if not (isinstance(issue, dict) and isinstance(issue.get("id"), str)):
            return None
        options = issue.get("options")
        ids = [o.get("id") for o in options if isinstance(o, dict)] if isinstance(options, list) else []
        names = [i for i in ids if isinstance(i, str)]
        usable = isinstance(options, list) and len(names) == len(options)
        out[issue["id"]] = names if usable else None
    return out


def load_scenario(
    world_path: Path | str = DEFAULT_WORLD,
    variants: dict[str, str] | None = None,
    overlays: dict[str, VariantFile] | None = None,
) -> Scenario:
    """Load and check a world, its personas (with `variants` applied) and its templates' folder.

    `overlays` (actor -> a variant file) plays actors in variants their cards do not hold; each is
    checked exactly like a variant of the card, its problems reported against its own file.

    Every problem found is collected before failing: a world with schema problems is still read
    leniently so that its cross-references, persona cards, source text and templates are checked too.
    """
    world_path = bundled(Path(world_path)) if Path(world_path) == DEFAULT_WORLD else Path(world_path)
    variants = dict(variants or {})
    overlays = dict(overlays or {})
    problems: list[Problem] = []
    wname = display_path(world_path)
    raw = read_yaml(world_path, problems)
    if raw is None:
        raise InvalidInput(problems)
    world: World | None = None
    try:
        world = World.model_validate(raw)
    except ValidationError as exc:
        problems += from_validation_error(wname, exc)
    problems += [Problem(wname, f, m) for f, m in cross_reference_problems(world if world is not None else raw)]

    base = world_path.parent
    paragraphs: list[str] = []
    source_text = world.source_text if world is not None else _str(raw.get("source_text"))
    if source_text:
        text = read_text(base / source_text, wname, "source_text", problems)
        paragraphs = paragraphs_of(text) if text is not None else []
    prompts_dir = _prompts_dir(base, world.prompts if world is not None else _str(raw.get("prompts")))
    problems += _prompts_problems(wname, prompts_dir)
    for section in ("issues", "edges"):
        items = raw.get(section)
        problems += citation_problems(
            wname,
            section,
            [
                (f"[{i}].cite", _ints(it.get("cite")))
                for i, it in enumerate(items if isinstance(items, list) else [])
                if isinstance(it, dict)
            ],
            paragraphs,
        )

    actor_refs: list[Any] = _list(raw.get("actors"))
    actor_ids = [a["id"] for a in actor_refs if isinstance(a, dict) and isinstance(a.get("id"), str)]
    problems += _variant_choice_problems(variants, overlays, actor_ids)
    personas: dict[str, Persona] = {}
    persona_paths: dict[str, Path] = {}
    card_variants: dict[str, list[str]] = {}
    for idx, ref in enumerate(actor_refs):
        actor, persona_file = (_str(ref.get("id")), _str(ref.get("persona"))) if isinstance(ref, dict) else (None, None)
        if actor is None or not persona_file:
            continue  # the schema check has reported it
        path = persona_paths[actor] = base / persona_file
        card = _read_card(path, wname, f"actors[{idx}].persona", problems)
        if card is None:
            continue
        card_variants[actor] = [str(v) for v in card["variants"]] if isinstance(card.get("variants"), dict) else []
        if actor in overlays and actor not in variants:
            persona, found = check_variant_file(
                card, path, actor, world if world is not None else raw, paragraphs, overlays[actor]
            )
        else:
            persona, found = check_card(
                card, path, actor, world if world is not None else raw, paragraphs, variants.get(actor)
            )
        problems += found
        if persona is not None:
            personas[actor] = persona

    claims: list[Any] = raw["claims"] if isinstance(raw.get("claims"), list) else []
    problems += [
        Problem(wname, f, m)
        for f, m in claim_problems(claims, actor_ids, issue_options(world if world is not None else raw), card_variants)
    ]
    problems += citation_problems(
        wname,
        "claims",
        [(f"[{i}].cite", _ints(c.get("cite"))) for i, c in enumerate(claims) if isinstance(c, dict)],
        paragraphs,
    )
    provisional = (
        Scenario(world, world_path, personas, persona_paths, prompts_dir, paragraphs) if world is not None else None
    )
    problems += claim_inject_problems(world_path, claims, provisional)

    if problems or world is None:
        raise InvalidInput(problems)
    chosen = {**variants, **{a: v.name for a, v in overlays.items()}}
    return Scenario(world, world_path, personas, persona_paths, prompts_dir, paragraphs, chosen, overlays)


def _prompts_dir(base: Path, prompts: str | None) -> Path:
    """The world's template folder: as named, else the conventional sibling folder, else Parley's own."""
    if prompts is not None:
        return base / prompts
    return base / "../prompts" if (base / "../prompts").is_dir() else DEFAULT_PROMPTS


def _prompts_problems(wname: str, prompts_dir: Path) -> list[Problem]:
    if not prompts_dir.is_dir():
        return [Problem(wname, "prompts", f"folder not found: {display_path(prompts_dir)}")]
    if (crowded := template_files(prompts_dir)[1]) and crowded[0][0] == prompts_dir:
        return [Problem(wname, "prompts", f"{display_path(prompts_dir)} {crowded[0][1]}")]
    return template_problems(prompts_dir)


def _variant_choice_problems(
    variants: dict[str, str], overlays: dict[str, VariantFile], actor_ids: list[str]
) -> list[Problem]:
    """--variant and variant files that name no actor of the world, or an actor given two variants."""
    out: list[Problem] = []
    for actor in variants:
        if actor_ids and actor not in actor_ids:
            out.append(Problem("--variant", actor, f"unknown actor '{actor}' (actors: {', '.join(actor_ids)})"))
    for actor, vfile in overlays.items():
        fname = display_path(vfile.path)
        if actor_ids and actor not in actor_ids:
            out.append(Problem(fname, "actor", f"unknown actor '{actor}' (actors: {', '.join(actor_ids)})"))
        elif actor in variants:
            out.append(
                Problem(
                    fname, "actor", f"'{actor}' is also given the variant '{variants[actor]}': one variant per actor"
                )
            )
    return out


def _read_card(path: Path, wname: str, field: str, problems: list[Problem]) -> dict[str, Any] | None:
    """A persona card, or None with the reason added to problems."""
    why = unreadable(path, "persona card", MAX_YAML_BYTES)
    if why:
        problems.append(Problem(wname, field, f"{why}: {display_path(path)}"))
        return None
    return read_yaml(path, problems)


def claim_inject_problems(world_path: Path, claims: list[Any], scenario: Scenario | None) -> list[Problem]:
    """The inject files a world's claims play: each found, and (with the scenario, when the world is
    usable) valid against the world; each file checked once."""
    from parley.world.injects import load_injects  # injects build on scenarios

    out: list[Problem] = []
    checked: set[Path] = set()
    for i, item in enumerate(claims):
        try:
            claim = Claim.model_validate(item)
        except ValidationError:
            continue  # the schema check reports it
        for side, arm in (("arm", claim.arm), ("against", claim.against)):
            if arm is None or arm.inject is None:
                continue
            path = world_path.parent / arm.inject
            if not path.is_file():
                out.append(
                    Problem(
                        display_path(world_path),
                        f"claims[{i}].{side}.inject",
                        f"file not found: {arm.inject} (a path from the world's folder, {display_path(world_path.parent)})",
                    )
                )
            elif scenario is not None and path.resolve() not in checked:
                checked.add(path.resolve())
                try:
                    load_injects(path, scenario)
                except InvalidInput as exc:
                    out += exc.problems
    return out


def check_variant_file(
    card: dict[str, Any],
    path: Path,
    actor: str,
    world: World | dict[str, Any],
    paragraphs: list[str],
    vfile: VariantFile,
) -> tuple[Persona | None, list[Problem]]:
    """Check a variant file's overlay over `card` as if it were one of the card's variants; its problems
    name the variant file and the field in it (the card's own problems are reported as usual)."""
    fname = display_path(vfile.path)
    existing = card.get("variants")
    if isinstance(existing, dict) and vfile.name in existing:
        _, found = check_card(card, path, actor, world, paragraphs, None)
        return None, [
            *found,
            Problem(fname, "name", f"'{vfile.name}' is already a variant in {display_path(path)}: choose another name"),
        ]
    holder = f"variants.{vfile.name}"
    extended = {**card, "variants": {**(existing if isinstance(existing, dict) else {}), vfile.name: vfile.overlay}}
    persona, found = check_card(extended, path, actor, world, paragraphs, vfile.name)
    out: list[Problem] = []
    for p in found:
        if p.file == display_path(path) and p.field == holder:
            out.append(Problem(fname, "name" if "variant name" in p.message else "", p.message))
        elif p.file == display_path(path) and p.field.startswith(holder + "."):
            out.append(Problem(fname, p.field[len(holder) + 1 :], p.message))
        else:
            out.append(p)
    return (persona if not out else None), out


def check_card(
    card: dict[str, Any],
    path: Path,
    actor: str,
    world: World | dict[str, Any],
    paragraphs: list[str],
    variant: str | None,
) -> tuple[Persona | None, list[Problem]]:
    """Validate a card and every variant in it; return the persona with `variant` applied.

    A variant is reported only for what it gets wrong itself: a problem it inherits unchanged from
    the base card is reported once, on the base card.
    """
    name = display_path(path)
    problems: list[Problem] = []
    overlays = card.get("variants", {}) or {}
    if not isinstance(overlays, dict):
        return None, [Problem(name, "variants", "expected a mapping of variant name to overlay")]
    base_card = {k: v for k, v in card.items() if k != "variants"}
    base_found: set[tuple[str, str]] = set()
    broken: list[str] = []
    chosen: Persona | None = None
    for index, (vname, overlay) in enumerate([("base", {}), *overlays.items()]):
        is_base = index == 0
        prefix = "" if is_base else f"variants.{vname}"
        found: list[Problem] = []
        if not is_base:
            if not isinstance(vname, str) or not re.match(ID_PATTERN, vname) or vname == "base":
                why = (
                    "'base' is the card without overlay"
                    if vname == "base"
                    else "use lowercase letters, digits, - and _"
                )
                problems.append(Problem(name, prefix, f"not a usable variant name ({why})"))
                continue
            if not isinstance(overlay, dict):
                problems.append(Problem(name, prefix, "expected a mapping that overlays the card"))
                continue
            try:
                VariantInfo.model_validate({"description": overlay.get("description")})
            except ValidationError:
                found.append(Problem(name, f"{prefix}.description", "every variant needs a description"))
            merged = apply_variant(base_card, vname, overlay)
        else:
            merged = base_card
        persona: Persona | None = None
        schema: list[Problem] = []
        try:
            persona = Persona.model_validate(merged)
        except ValidationError as exc:
            schema = from_validation_error(name, exc, prefix)
        found += schema
        found += [
            Problem(name, f"{prefix}.{f}" if prefix else f, m)
            for f, m in persona_problems(persona if persona is not None else merged, actor, world, paragraphs)
        ]
        if is_base:
            base_found = {(p.field, p.message) for p in found}
            broken = [p.field for p in schema]
        else:
            found = [p for p in found if not _inherited(p.field[len(prefix) + 1 :], p.message, base_found, broken)]
        problems += found
        if persona is not None and vname == (variant or "base"):
            chosen = persona
    if variant and variant != "base" and variant not in overlays:
        have = ", ".join(str(v) for v in overlays) or "none"
        problems.append(Problem(name, "variants", f"no variant '{variant}' for actor '{actor}' (variants: {have})"))
    return chosen, problems


def _inherited(field: str, message: str, base_found: set[tuple[str, str]], broken: list[str]) -> bool:
    """Whether a variant's problem is one the base card has already been reported for: the same
    problem, or a field missing under a part of the base card that is itself broken."""
    if (field, message) in base_found:
        return True
    return message == "Field required" and any(field.startswith((f"{b}.", f"{b}[")) for b in broken)


def _num(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _map(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


IssueOptions = dict[str, list[str] | None]


def persona_problems(
    persona: Persona | dict[str, Any], actor: str, world: World | dict[str, Any], paragraphs: list[str]
) -> list[tuple[str, str]]:
    """(field, message) pairs for what a card gets wrong against its world.

    Takes a Persona or the raw mapping of a card that failed schema validation (values of the
    wrong type are skipped: the schema check reports them), and a World or a raw world mapping.
    """
    data = persona.model_dump() if isinstance(persona, Persona) else _map(persona)
    out: list[tuple[str, str]] = []
    ident = data.get("id")
    if isinstance(ident, str) and ident != actor:
        out.append(("id", f"'{ident}' does not match the world's actor id '{actor}'"))
    issues = issue_options(world)
    if issues is not None:
        out += _preference_problems(_map(data.get("preferences")), issues)
        out += _red_line_problems(_list(data.get("red_lines")), issues)
    out += limit_problems(data, world, issues)
    out += cited_fields(data, paragraphs)
    return out


def _unknown_option(field: str, issue_id: str, opt: str, options: list[str]) -> tuple[str, str]:
    return (field, f"issue '{issue_id}' has no option '{opt}' (options: {', '.join(options)})")


def _preference_problems(preferences: dict[Any, Any], issues: IssueOptions) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for issue_id, pref in preferences.items():
        field = f"preferences.{issue_id}"
        if issue_id not in issues:
            out.append((field, f"unknown issue '{issue_id}' (issues: {', '.join(issues)})"))
            continue
        options = issues[issue_id]
        if options is None:
            continue
        values = _map(_map(pref).get("values"))
        for opt, value in values.items():
            if opt not in options:
                out.append(_unknown_option(f"{field}.values.{opt}", issue_id, opt, options))
            elif _num(value) and not 0.0 <= value <= 1.0:
                out.append((f"{field}.values.{opt}", f"{value} is outside 0..1"))
        missing = [o for o in options if o not in values]
        weight = _map(pref).get("weight")
        if missing and isinstance(_map(pref).get("values"), dict) and (not _num(weight) or weight > 0):
            out.append((f"{field}.values", f"no value for option(s) {', '.join(missing)} of issue '{issue_id}'"))
    weights = [_map(p).get("weight") for p in preferences.values()]
    numbers = [w for w in weights if _num(w)]
    if weights and len(numbers) == len(weights) and all(w <= 0 for w in numbers):
        out.append(("preferences", "every weight is 0: the actor cares about nothing"))
    return out


def _red_line_problems(red_lines: list[Any], issues: IssueOptions) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for idx, item in enumerate(red_lines):
        line = _map(item)
        issue_id = line.get("issue")
        if not isinstance(issue_id, str):
            continue
        if issue_id not in issues:
            out.append((f"red_lines[{idx}].issue", f"unknown issue '{issue_id}' (issues: {', '.join(issues)})"))
            continue
        options = issues[issue_id]
        if options is None:
            continue
        excludes = _list(line.get("excludes"))
        for j, opt in enumerate(excludes):
            if isinstance(opt, str) and opt not in options:
                out.append(_unknown_option(f"red_lines[{idx}].excludes[{j}]", issue_id, opt, options))
        if options and set(options) <= {o for o in excludes if isinstance(o, str)}:
            out.append(
                (f"red_lines[{idx}].excludes", f"excludes every option of '{issue_id}': no deal could ever pass")
            )
    return out


def limit_problems(
    data: dict[str, Any], world: World | dict[str, Any], issues: IssueOptions | None
) -> list[tuple[str, str]]:
    """A card's core aims and information against its world: issues, options and actors that exist,
    and a core that its own red lines do not make impossible."""
    out = _core_problems(data, issues) if issues is not None else []
    actors = (
        [a.id for a in world.actors]
        if isinstance(world, World)
        else [_map(a).get("id") for a in _list(_map(world).get("actors"))]
    )
    listing = ", ".join(map(str, actors))
    for name in _map(_map(data.get("information")).get("about")):
        if actors and name not in actors:
            out.append((f"information.about.{name}", f"unknown actor '{name}' (actors: {listing})"))
    out += _voice_problems(_map(data.get("voice")), issues, actors)
    return out


def _core_problems(data: dict[str, Any], issues: IssueOptions) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    core = _map(data.get("core"))
    excluded = {
        _map(line).get("issue"): set(_list(_map(line).get("excludes"))) for line in _list(data.get("red_lines"))
    }
    possible = 0
    for idx, item in enumerate(_list(core.get("of"))):
        aim = _map(item)
        issue_id, options = aim.get("issue"), _list(aim.get("options"))
        if not isinstance(issue_id, str):
            continue
        if issue_id not in issues:
            out.append((f"core.of[{idx}].issue", f"unknown issue '{issue_id}' (issues: {', '.join(issues)})"))
            continue
        known = issues[issue_id]
        if known is None:
            continue
        for j, opt in enumerate(options):
            if isinstance(opt, str) and opt not in known:
                out.append(_unknown_option(f"core.of[{idx}].options[{j}]", issue_id, opt, known))
        if any(isinstance(o, str) and o in known and o not in excluded.get(issue_id, set()) for o in options):
            possible += 1
    at_least = core.get("at_least")
    if _num(at_least) and core.get("of") and possible < at_least:
        out.append(("core.at_least", f"only {possible} of the aims can hold within the card's own red lines"))
    return out


def _voice_problems(voice: dict[Any, Any], issues: IssueOptions | None, actors: list[Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for j, issue_id in enumerate(_list(voice.get("stresses"))):
        if issues is not None and isinstance(issue_id, str) and issue_id not in issues:
            out.append((f"voice.stresses[{j}]", f"unknown issue '{issue_id}' (issues: {', '.join(issues)})"))
    for act in SPEECH_ACTS:
        for i, line in enumerate(_list(voice.get(act))):
            for j, issue_id in enumerate(_list(_map(line).get("issues"))):
                if issues is not None and isinstance(issue_id, str) and issue_id not in issues:
                    out.append((f"voice.{act}[{i}].issues[{j}]", f"unknown issue '{issue_id}'"))
            for name in _list(_map(line).get("to")):
                if actors and name not in actors:
                    out.append(
                        (f"voice.{act}[{i}].to", f"unknown actor '{name}' (actors: {', '.join(map(str, actors))})")
                    )
    return out


def cited_fields(persona: Persona | dict[str, Any], paragraphs: list[str]) -> list[tuple[str, str]]:
    data = persona.model_dump() if isinstance(persona, Persona) else _map(persona)
    items: list[tuple[str, list[int]]] = [
        ("summary.cite", _ints(_map(data.get("summary")).get("cite"))),
        ("no_deal.cite", _ints(_map(data.get("no_deal")).get("cite"))),
    ]
    for level in ("reservation", "aspiration", "core", "information"):
        if isinstance(data.get(level), dict):
            items.append((f"{level}.cite", _ints(data[level].get("cite"))))
    items += [
        (f"core.of[{i}].cite", _ints(_map(a).get("cite")))
        for i, a in enumerate(_list(_map(data.get("core")).get("of")))
    ]
    items += [(f"outcomes.{k}.cite", _ints(_map(v).get("cite"))) for k, v in _map(data.get("outcomes")).items()]
    for section in ("objectives", "beliefs", "red_lines"):
        items += [(f"{section}[{i}].cite", _ints(_map(c).get("cite"))) for i, c in enumerate(_list(data.get(section)))]
    items += [(f"preferences.{k}.cite", _ints(_map(p).get("cite"))) for k, p in _map(data.get("preferences")).items()]
    items += [(f"traits.{k}.cite", _ints(_map(t).get("cite"))) for k, t in _map(data.get("traits")).items()]
    voice = _map(data.get("voice"))
    if voice:
        items.append(("voice.cite", _ints(voice.get("cite"))))
        for act in SPEECH_ACTS:
            items += [
                (f"voice.{act}[{i}].cite", _ints(_map(c).get("cite"))) for i, c in enumerate(_list(voice.get(act)))
            ]
    return [(p.field, p.message) for p in citation_problems("", "", items, paragraphs)]


def citation_problems(
    file: str, prefix: str, items: list[tuple[str, list[int]]], paragraphs: list[str]
) -> list[Problem]:
    """Citations must point at a paragraph of the source text (when the world names one), and not at
    a pull-quote: the paragraph it repeats is the one to cite."""
    if not paragraphs:
        return []
    repeats = pull_quotes(tuple(paragraphs))
    out = []
    for where, cites in items:
        for n in cites:
            if not 1 <= n <= len(paragraphs):
                message = f"paragraph {n} does not exist (the source has {len(paragraphs)})"
            elif n in repeats:
                message = f"paragraph {n} is a pull-quote repeating paragraph {repeats[n]}: cite {repeats[n]}"
            else:
                continue
            out.append(Problem(file, f"{prefix}{where}", message))
    return out
