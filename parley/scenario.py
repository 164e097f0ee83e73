"""A scenario is a world file with its persona cards, chosen variants and source text, checked as one.

Loading collects every problem it can find before failing, so `parley validate` can list them all.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from parley.persona import Persona, VariantInfo, apply_variant
from parley.problems import InvalidInput, Problem, display_path, from_validation_error
from parley.world import World, cross_reference_problems

DEFAULT_WORLD = Path("worlds/ukraine-2024.yaml")


@dataclass(frozen=True)
class Scenario:
    world: World
    world_path: Path
    personas: dict[str, Persona]
    persona_paths: dict[str, Path]
    prompts_dir: Path
    paragraphs: list[str]
    variants: dict[str, str] = field(default_factory=dict)

    def file_hashes(self) -> dict[str, str]:
        """Content hashes of every file the run depends on, keyed by a readable path."""
        files = [self.world_path, *self.persona_paths.values()]
        files += sorted(p for p in self.prompts_dir.rglob("*") if p.is_file())
        return {display_path(p): sha256_file(p) for p in files}


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_yaml(path: Path, problems: list[Problem]) -> dict[str, Any] | None:
    """A YAML mapping from a file, or None with the reason added to problems."""
    name = display_path(path)
    if not path.is_file():
        problems.append(Problem(name, "", "file not found"))
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        problems.append(Problem(name, "", f"not valid YAML: {where}{reason}"))
        return None
    except UnicodeDecodeError:
        problems.append(Problem(name, "", "not a UTF-8 text file"))
        return None
    if not isinstance(data, dict):
        problems.append(Problem(name, "", "expected a mapping of fields at the top level"))
        return None
    return data


def paragraphs_of(text: str) -> list[str]:
    """Paragraphs as the personas cite them: the non-empty lines, numbered from 1."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def load_scenario(world_path: Path | str = DEFAULT_WORLD, variants: dict[str, str] | None = None) -> Scenario:
    """Load and check a world, its personas (with `variants` applied) and its templates' folder."""
    world_path = Path(world_path)
    variants = dict(variants or {})
    problems: list[Problem] = []
    wname = display_path(world_path)
    raw = read_yaml(world_path, problems)
    if raw is None:
        raise InvalidInput(problems)
    try:
        world = World.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput(from_validation_error(wname, exc)) from None
    problems += [Problem(wname, f, m) for f, m in cross_reference_problems(world)]

    base = world_path.parent
    paragraphs: list[str] = []
    if world.source_text:
        src = base / world.source_text
        if src.is_file():
            paragraphs = paragraphs_of(src.read_text(encoding="utf-8"))
        else:
            problems.append(Problem(wname, "source_text", f"file not found: {display_path(src)}"))
    prompts_dir = base / world.prompts
    if not prompts_dir.is_dir():
        problems.append(Problem(wname, "prompts", f"folder not found: {display_path(prompts_dir)}"))
    problems += citation_problems(
        wname, "issues", [(f"[{i}].cite", iss.cite) for i, iss in enumerate(world.issues)], paragraphs
    )
    problems += citation_problems(
        wname, "edges", [(f"[{i}].cite", e.cite) for i, e in enumerate(world.edges)], paragraphs
    )

    for actor in variants:
        if actor not in world.actor_ids():
            problems.append(
                Problem("--variant", actor, f"unknown actor '{actor}' (actors: {', '.join(world.actor_ids())})")
            )

    personas: dict[str, Persona] = {}
    persona_paths: dict[str, Path] = {}
    for idx, ref in enumerate(world.actors):
        path = base / ref.persona
        persona_paths[ref.id] = path
        card = read_yaml(path, problems)
        if card is None:
            if not path.is_file():
                problems[-1] = Problem(wname, f"actors[{idx}].persona", f"file not found: {display_path(path)}")
            continue
        persona, found = check_card(card, path, ref.id, world, paragraphs, variants.get(ref.id))
        problems += found
        if persona is not None:
            personas[ref.id] = persona

    if problems:
        raise InvalidInput(problems)
    return Scenario(world, world_path, personas, persona_paths, prompts_dir, paragraphs, variants)


def check_card(
    card: dict[str, Any], path: Path, actor: str, world: World, paragraphs: list[str], variant: str | None
) -> tuple[Persona | None, list[Problem]]:
    """Validate a card and every variant in it; return the persona with `variant` applied."""
    name = display_path(path)
    problems: list[Problem] = []
    overlays = card.get("variants", {}) or {}
    if not isinstance(overlays, dict):
        return None, [Problem(name, "variants", "expected a mapping of variant name to overlay")]
    base_card = {k: v for k, v in card.items() if k != "variants"}
    chosen: Persona | None = None
    for vname, overlay in [("base", {}), *overlays.items()]:
        prefix = "" if vname == "base" else f"variants.{vname}"
        if vname != "base":
            if not isinstance(overlay, dict):
                problems.append(Problem(name, prefix, "expected a mapping that overlays the card"))
                continue
            try:
                VariantInfo.model_validate({"description": overlay.get("description")})
            except ValidationError:
                problems.append(Problem(name, f"{prefix}.description", "every variant needs a description"))
            merged = apply_variant(base_card, vname, overlay)
        else:
            merged = base_card
        try:
            persona = Persona.model_validate(merged)
        except ValidationError as exc:
            problems += from_validation_error(name, exc, prefix)
            continue
        problems += [
            Problem(name, f"{prefix}.{f}" if prefix else f, m)
            for f, m in persona_problems(persona, actor, world, paragraphs)
        ]
        if vname == (variant or "base"):
            chosen = persona
    if variant and variant != "base" and variant not in overlays:
        have = ", ".join(overlays) or "none"
        problems.append(Problem(name, "variants", f"no variant '{variant}' for actor '{actor}' (variants: {have})"))
    return chosen, problems


def persona_problems(persona: Persona, actor: str, world: World, paragraphs: list[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if persona.id != actor:
        out.append(("id", f"'{persona.id}' does not match the world's actor id '{actor}'"))
    issues = {i.id: i for i in world.issues}
    for issue_id, pref in persona.preferences.items():
        field = f"preferences.{issue_id}"
        issue = issues.get(issue_id)
        if issue is None:
            out.append((field, f"unknown issue '{issue_id}' (issues: {', '.join(issues)})"))
            continue
        options = issue.option_ids()
        for opt, value in pref.values.items():
            if opt not in options:
                out.append(
                    (
                        f"{field}.values.{opt}",
                        f"issue '{issue_id}' has no option '{opt}' (options: {', '.join(options)})",
                    )
                )
            elif not 0.0 <= value <= 1.0:
                out.append((f"{field}.values.{opt}", f"{value} is outside 0..1"))
        missing = [o for o in options if o not in pref.values]
        if missing and pref.weight > 0:
            out.append((f"{field}.values", f"no value for option(s) {', '.join(missing)} of issue '{issue_id}'"))
    if sum(p.weight for p in persona.preferences.values()) <= 0:
        out.append(("preferences", "every weight is 0: the actor cares about nothing"))
    for idx, line in enumerate(persona.red_lines):
        issue = issues.get(line.issue)
        if issue is None:
            out.append((f"red_lines[{idx}].issue", f"unknown issue '{line.issue}' (issues: {', '.join(issues)})"))
            continue
        for opt in line.excludes:
            if opt not in issue.option_ids():
                out.append(
                    (
                        f"red_lines[{idx}].excludes",
                        f"issue '{line.issue}' has no option '{opt}' (options: {', '.join(issue.option_ids())})",
                    )
                )
        if set(issue.option_ids()) <= set(line.excludes):
            out.append(
                (f"red_lines[{idx}].excludes", f"excludes every option of '{line.issue}': no deal could ever pass")
            )
    out += [(f, m) for f, m in cited_fields(persona, paragraphs)]
    return out


def cited_fields(persona: Persona, paragraphs: list[str]) -> list[tuple[str, str]]:
    items: list[tuple[str, list[int]]] = [
        ("summary.cite", persona.summary.cite),
        ("no_deal.cite", persona.no_deal.cite),
    ]
    items += [(f"objectives[{i}].cite", c.cite) for i, c in enumerate(persona.objectives)]
    items += [(f"beliefs[{i}].cite", c.cite) for i, c in enumerate(persona.beliefs)]
    items += [(f"red_lines[{i}].cite", r.cite) for i, r in enumerate(persona.red_lines)]
    items += [(f"preferences.{k}.cite", p.cite) for k, p in persona.preferences.items()]
    for tname in type(persona.traits).model_fields:
        trait = getattr(persona.traits, tname)
        if trait is not None:
            items.append((f"traits.{tname}.cite", trait.cite))
    return [(f, m) for p in citation_problems("", "", items, paragraphs) for f, m in [(p.field, p.message)]]


def citation_problems(
    file: str, prefix: str, items: list[tuple[str, list[int]]], paragraphs: list[str]
) -> list[Problem]:
    """Citations must point at a paragraph of the source text (when the world names one)."""
    if not paragraphs:
        return []
    out = []
    for where, cites in items:
        for n in cites:
            if not 1 <= n <= len(paragraphs):
                out.append(
                    Problem(
                        file, f"{prefix}{where}", f"paragraph {n} does not exist (the source has {len(paragraphs)})"
                    )
                )
    return out
