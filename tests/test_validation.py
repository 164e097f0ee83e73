"""Bad input gets one clear line per problem, naming the file and the field, and nothing is lost.

Most cases break a copy of the mini world and call `prepare` in-process (what both `parley validate`
and `parley run` call first); the command line itself (`tests.conftest.parley`, its entry point in
process) is run for a representative subset and for everything that only the command line does (exit
code, stderr, --variant, run folder).
"""

from __future__ import annotations

import copy
import os
import random
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from parley.runs.play import prepare
from parley.world.problems import InvalidInput
from parley.world.scenario import load_scenario, paragraphs_of, pull_quotes
from tests.conftest import MINI, ROOT, UKRAINE, parley

# ---------------------------------------------------------------- helpers


def read(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def write(path: Path, data: Any) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def edit(path: Path, change: Callable[[Any], Any]) -> None:
    """Load a YAML file, let `change` mutate it in place (its return value is ignored), write it back."""
    data = read(path)
    change(data)
    write(path, data)


def problems(world: Path | str, variants: dict[str, str] | None = None) -> list[str]:
    """The problem lines `prepare` reports; fails the test if it raises anything but InvalidInput."""
    with pytest.raises(InvalidInput) as info:
        prepare(world, variants)
    lines = [str(p) for p in info.value.problems]
    assert lines, "InvalidInput with no problems"
    for line in lines:
        assert "\n" not in line and "\r" not in line, f"a problem spans several lines: {line!r}"
    return lines


def has_line(lines: list[str], *words: str) -> bool:
    return any(all(w in line for w in words) for line in lines)


def assert_line(lines: list[str], *words: str) -> None:
    assert has_line(lines, *words), f"no one line has all of {words}; got:\n" + "\n".join(lines)


def cli_many(*calls: tuple[list[str], Path]) -> list[subprocess.CompletedProcess[str]]:
    """`parley ARGS` in `cwd` for each (args, cwd), through the command's entry point in process."""
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1"}
    return [parley(*args, cwd=cwd, env=env) for args, cwd in calls]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return cli_many((list(args), cwd))[0]


def assert_fails_cleanly(result: subprocess.CompletedProcess[str]) -> list[str]:
    """Exit code 2, no traceback, and the stderr lines (one per problem)."""
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert result.returncode == 2, f"exit {result.returncode}\n{output}"
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, "no error printed"
    return lines


@pytest.fixture
def mini(mini_copy: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A writable copy of the mini world, with the working directory at its folder (short names)."""
    monkeypatch.chdir(mini_copy.parent)
    return mini_copy.parent


# ---------------------------------------------------------------- mutations of the mini world
# Each case: (id, mutate(folder), [words that must all appear on one problem line]...).
# The first word is always "FILE: FIELD" so that both the file and the field are checked.


def world_edit(change: Callable[[dict], Any]) -> Callable[[Path], None]:
    return lambda d: edit(d / "world.yaml", change)


def card_edit(actor: str, change: Callable[[dict], Any]) -> Callable[[Path], None]:
    return lambda d: edit(d / "agents" / f"{actor}.yaml", change)


def setitem(obj: Any, key: Any, value: Any) -> None:
    obj[key] = value


def delitem(obj: Any, key: Any) -> None:
    del obj[key]


def quorum_protocol(**extra: Any) -> Callable[[dict], None]:
    return lambda w: w["protocol"].update({"rule": "quorum", **extra})


RED_LINE = {"issue": "price", "excludes": ["low"], "why": "never cheap", "cite": [1]}

WORLD_CASES = [
    (
        "world-top-level-list",
        lambda d: write(d / "world.yaml", ["a", "b"]),
        ["world.yaml: expected a mapping of fields at the top level", "list"],
    ),
    (
        "world-top-level-string",
        lambda d: (d / "world.yaml").write_text("just words\n"),
        ["world.yaml: expected a mapping of fields at the top level", "str"],
    ),
    (
        "world-empty",
        lambda d: (d / "world.yaml").write_text(""),
        ["world.yaml: expected a mapping of fields at the top level", "empty file"],
    ),
    ("world-missing-file", lambda d: (d / "world.yaml").unlink(), ["world.yaml: file not found"]),
    (
        "world-typo-top-level",
        world_edit(lambda w: w.update(titel=w.pop("title"))),
        ["world.yaml: titel: unknown field"],
        ["world.yaml: title: Field required"],
    ),
    (
        "world-unknown-field-in-edge",
        world_edit(lambda w: w["edges"][2].update(weight=1)),
        ["world.yaml: edges[2].weight: unknown field"],
    ),
    ("world-missing-title", world_edit(lambda w: delitem(w, "title")), ["world.yaml: title: Field required"]),
    (
        "world-bad-actor-id",
        world_edit(lambda w: w["actors"][0].update(id="North")),
        ["world.yaml: actors[0].id:", "pattern", "'North'"],
    ),
    (
        "world-one-actor",
        world_edit(lambda w: setitem(w, "actors", w["actors"][:1])),
        ["world.yaml: actors:", "at least 2"],
    ),
    (
        "edge-to-unknown-actor",
        world_edit(lambda w: w["edges"][3].update(to="chinaa")),
        ["world.yaml: edges[3].to: unknown actor 'chinaa'", "(actors: north, south, east)"],
    ),
    (
        "edge-from-unknown-actor",
        world_edit(lambda w: w["edges"][0].update({"from": "west"})),
        ["world.yaml: edges[0].from: unknown actor 'west'", "north, south, east"],
    ),
    (
        "edge-to-itself",
        world_edit(lambda w: w["edges"][0].update(to="north")),
        ["world.yaml: edges[0]:", "from 'north' to itself"],
    ),
    (
        "duplicate-edge",
        world_edit(lambda w: w["edges"].append(dict(w["edges"][1]))),
        ["world.yaml: edges[6]:", "second edge", "'south' to 'north'"],
    ),
    (
        "trust-above-1",
        world_edit(lambda w: w["edges"][1].update(trust=1.5)),
        ["world.yaml: edges[1].trust:", "less than or equal to 1", "1.5"],
    ),
    (
        "trust-below-minus-1",
        world_edit(lambda w: w["edges"][4].update(trust=-2)),
        ["world.yaml: edges[4].trust:", "greater than or equal to -1", "-2"],
    ),
    (
        "trust-not-a-number",
        world_edit(lambda w: w["edges"][4].update(trust="high")),
        ["world.yaml: edges[4].trust:", "number", "'high'"],
    ),
    (
        "influence-above-1",
        world_edit(lambda w: w["edges"][0].update(influence=3)),
        ["world.yaml: edges[0].influence:", "less than or equal to 1"],
    ),
    (
        "duplicate-actor",
        world_edit(lambda w: w["actors"].append({"id": "north", "persona": "agents/north.yaml"})),
        ["world.yaml: actors[3].id: actor 'north' appears twice"],
    ),
    (
        "duplicate-issue",
        world_edit(lambda w: w["issues"].append(copy.deepcopy(w["issues"][0]))),
        ["world.yaml: issues[3].id: issue 'price' appears twice"],
    ),
    (
        "duplicate-option",
        world_edit(lambda w: w["issues"][1]["options"][2].update(id="north_line")),
        ["world.yaml: issues[1].options[2].id: option 'north_line' appears twice", "issue 'border'"],
    ),
    (
        "issue-with-one-option",
        world_edit(lambda w: setitem(w["issues"][0], "options", w["issues"][0]["options"][:1])),
        ["world.yaml: issues[0].options:", "at least 2"],
    ),
    (
        "issue-without-options",
        world_edit(lambda w: delitem(w["issues"][2], "options")),
        ["world.yaml: issues[2].options: Field required"],
    ),
    ("no-issues", world_edit(lambda w: setitem(w, "issues", [])), ["world.yaml: issues:", "at least 1"]),
    (
        "option-without-meaning",
        world_edit(lambda w: delitem(w["issues"][0]["options"][1], "meaning")),
        ["world.yaml: issues[0].options[1].meaning: Field required"],
    ),
    (
        "signatory-not-an-actor",
        world_edit(lambda w: w["protocol"].update(signatories=["north", "west"])),
        ["world.yaml: protocol.signatories[1]: unknown actor 'west'", "north, south, east"],
    ),
    (
        "veto-with-unanimity",
        world_edit(lambda w: w["protocol"].update(veto=["north"])),
        ["world.yaml: protocol.veto:", "only applies with rule: quorum"],
    ),
    (
        "quorum-number-with-unanimity",
        world_edit(lambda w: w["protocol"].update(quorum=2)),
        ["world.yaml: protocol.quorum:", "only applies with rule: quorum"],
    ),
    (
        "quorum-rule-without-quorum",
        world_edit(quorum_protocol()),
        ["world.yaml: protocol.quorum:", "rule 'quorum' needs a 'quorum'"],
    ),
    (
        "quorum-larger-than-voters",
        world_edit(quorum_protocol(quorum=3)),
        ["world.yaml: protocol.quorum: 3 is more than the 2 voting actors"],
    ),
    (
        "quorum-zero",
        world_edit(quorum_protocol(quorum=0)),
        ["world.yaml: protocol.quorum:", "greater than or equal to 1"],
    ),
    (
        "veto-holder-not-signatory",
        world_edit(quorum_protocol(quorum=1, veto=["east"])),
        ["world.yaml: protocol.veto[0]: veto holder 'east' is not a signatory"],
    ),
    (
        "veto-holder-unknown",
        world_edit(quorum_protocol(quorum=1, veto=["west"])),
        ["world.yaml: protocol.veto[0]: unknown actor 'west'"],
    ),
    (
        "bad-rule",
        world_edit(lambda w: w["protocol"].update(rule="majority")),
        ["world.yaml: protocol.rule:", "'unanimity', 'quorum' or 'ratify'", "'majority'"],
    ),
    (
        "min-utility-unknown-actor",
        world_edit(lambda w: w["protocol"].update(min_utility={"west": 0.5})),
        ["world.yaml: protocol.min_utility.west: unknown actor 'west'"],
    ),
    (
        "min-utility-above-1",
        world_edit(lambda w: w["protocol"].update(min_utility={"north": 1.5})),
        ["world.yaml: protocol.min_utility.north: 1.5 is outside 0..1"],
    ),
    (
        "min-utility-negative",
        world_edit(lambda w: w["protocol"].update(min_utility={"south": -0.1})),
        ["world.yaml: protocol.min_utility.south: -0.1 is outside 0..1"],
    ),
    (
        "max-rounds-zero",
        world_edit(lambda w: w["protocol"].update(max_rounds=0)),
        ["world.yaml: protocol.max_rounds:", "greater than or equal to 1"],
    ),
    (
        "protocol-typo",
        world_edit(lambda w: w["protocol"].update(signatores=["north"])),
        ["world.yaml: protocol.signatores: unknown field"],
    ),
    (
        "missing-persona-file",
        lambda d: (d / "agents" / "south.yaml").unlink(),
        ["world.yaml: actors[1].persona: file not found: agents/south.yaml"],
    ),
    (
        "persona-path-typo",
        world_edit(lambda w: w["actors"][2].update(persona="agents/eats.yaml")),
        ["world.yaml: actors[2].persona: file not found: agents/eats.yaml"],
    ),
    (
        "persona-path-is-folder",
        world_edit(lambda w: w["actors"][2].update(persona="agents")),
        ["world.yaml: actors[2].persona:", "folder"],
    ),
    (
        "missing-source-text",
        world_edit(lambda w: w.update(source_text="article.txt")),
        ["world.yaml: source_text: file not found: article.txt"],
    ),
    (
        "missing-prompts-folder",
        lambda d: (d / "prompts").rename(d / "templates"),
        ["world.yaml: prompts: folder not found: prompts"],
    ),
    (
        "prompts-typo",
        world_edit(lambda w: w.update(prompts="promts")),
        ["world.yaml: prompts: folder not found: promts"],
    ),
]

CARD_CASES = [
    (
        "card-top-level-list",
        lambda d: write(d / "agents" / "south.yaml", [1, 2]),
        ["agents/south.yaml: expected a mapping of fields at the top level"],
    ),
    (
        "card-typo-top-level",
        card_edit("south", lambda c: c.update(leaderr=c.pop("leader"))),
        ["agents/south.yaml: leaderr: unknown field"],
        ["agents/south.yaml: leader: Field required"],
    ),
    (
        "card-typo-nested",
        card_edit("south", lambda c: c["traits"].update(patiense=c["traits"].pop("patience"))),
        ["agents/south.yaml: traits.patiense: unknown field"],
        ["agents/south.yaml: traits.patience: Field required"],
    ),
    (
        "persona-id-mismatch",
        card_edit("east", lambda c: c.update(id="west")),
        ["agents/east.yaml: id: 'west' does not match the world's actor id 'east'"],
    ),
    (
        "preference-unknown-issue",
        card_edit("south", lambda c: c["preferences"].update(tariffs=c["preferences"]["price"])),
        ["agents/south.yaml: preferences.tariffs: unknown issue 'tariffs'", "(issues: price, border, aid)"],
    ),
    (
        "preference-unknown-option",
        card_edit("south", lambda c: c["preferences"]["price"]["values"].update(cheap=0.5)),
        [
            "agents/south.yaml: preferences.price.values.cheap:",
            "issue 'price' has no option 'cheap'",
            "(options: low, mid, high)",
        ],
    ),
    (
        "preference-missing-value",
        card_edit("south", lambda c: delitem(c["preferences"]["aid"]["values"], "loans")),
        ["agents/south.yaml: preferences.aid.values:", "no value for option(s) loans", "issue 'aid'"],
    ),
    (
        "preference-value-above-1",
        card_edit("south", lambda c: c["preferences"]["border"]["values"].update(middle_line=1.5)),
        ["agents/south.yaml: preferences.border.values.middle_line: 1.5 is outside 0..1"],
    ),
    (
        "preference-value-negative",
        card_edit("east", lambda c: c["preferences"]["price"]["values"].update(low=-0.2)),
        ["agents/east.yaml: preferences.price.values.low: -0.2 is outside 0..1"],
    ),
    (
        "preference-value-not-number",
        card_edit("east", lambda c: c["preferences"]["price"]["values"].update(low="good")),
        ["agents/east.yaml: preferences.price.values.low:", "number", "'good'"],
    ),
    (
        "all-weights-zero",
        card_edit("south", lambda c: [p.update(weight=0) for p in c["preferences"].values()]),
        ["agents/south.yaml: preferences: every weight is 0"],
    ),
    (
        "negative-weight",
        card_edit("south", lambda c: c["preferences"]["price"].update(weight=-1)),
        ["agents/south.yaml: preferences.price.weight:", "greater than or equal to 0"],
    ),
    (
        "no-preferences",
        card_edit("south", lambda c: setitem(c, "preferences", {})),
        ["agents/south.yaml: preferences:", "at least 1"],
    ),
    (
        "red-line-unknown-issue",
        card_edit("south", lambda c: setitem(c, "red_lines", [{**RED_LINE, "issue": "tariffs"}])),
        ["agents/south.yaml: red_lines[0].issue: unknown issue 'tariffs'", "price, border, aid"],
    ),
    (
        "red-line-unknown-option",
        card_edit("south", lambda c: setitem(c, "red_lines", [{**RED_LINE, "excludes": ["low", "free"]}])),
        ["agents/south.yaml: red_lines[0].excludes[1]: issue 'price' has no option 'free'", "low, mid, high"],
    ),
    (
        "red-line-excludes-everything",
        card_edit("south", lambda c: setitem(c, "red_lines", [{**RED_LINE, "excludes": ["low", "mid", "high"]}])),
        ["agents/south.yaml: red_lines[0].excludes: excludes every option of 'price'"],
    ),
    (
        "red-line-empty-excludes",
        card_edit("south", lambda c: setitem(c, "red_lines", [{**RED_LINE, "excludes": []}])),
        ["agents/south.yaml: red_lines[0].excludes:", "at least 1"],
    ),
    (
        "missing-required-trait",
        card_edit("south", lambda c: delitem(c["traits"], "reciprocity")),
        ["agents/south.yaml: traits.reciprocity: Field required"],
    ),
    (
        "trait-above-1",
        card_edit("south", lambda c: c["traits"]["patience"].update(value=1.2)),
        ["agents/south.yaml: traits.patience.value:", "less than or equal to 1", "1.2"],
    ),
    (
        "trait-without-why",
        card_edit("south", lambda c: delitem(c["traits"]["openness"], "why")),
        ["agents/south.yaml: traits.openness.why: Field required"],
    ),
    (
        "no-deal-above-1",
        card_edit("south", lambda c: c["no_deal"].update(value=2)),
        ["agents/south.yaml: no_deal.value:", "less than or equal to 1"],
    ),
    (
        "empty-citation-summary",
        card_edit("south", lambda c: c["summary"].update(cite=[])),
        ["agents/south.yaml: summary.cite:", "at least 1"],
    ),
    (
        "empty-citation-preference",
        card_edit("east", lambda c: c["preferences"]["aid"].update(cite=[])),
        ["agents/east.yaml: preferences.aid.cite:", "at least 1"],
    ),
    (
        "missing-citation-trait",
        card_edit("east", lambda c: delitem(c["traits"]["patience"], "cite")),
        ["agents/east.yaml: traits.patience.cite: Field required"],
    ),
    (
        "no-objectives",
        card_edit("east", lambda c: setitem(c, "objectives", [])),
        ["agents/east.yaml: objectives:", "at least 1"],
    ),
    (
        "variants-not-a-mapping",
        card_edit("north", lambda c: setitem(c, "variants", ["hardliner"])),
        ["agents/north.yaml: variants: expected a mapping"],
    ),
    (
        "variant-not-a-mapping",
        card_edit("north", lambda c: setitem(c["variants"], "hardliner", "tough")),
        ["agents/north.yaml: variants.hardliner: expected a mapping"],
    ),
    (
        "variant-without-description",
        card_edit("north", lambda c: delitem(c["variants"]["hardliner"], "description")),
        ["agents/north.yaml: variants.hardliner.description: every variant needs a description"],
    ),
    (
        "variant-breaks-trait",
        card_edit("north", lambda c: c["variants"]["hardliner"]["traits"]["patience"].update(value=1.4)),
        ["agents/north.yaml: variants.hardliner.traits.patience.value:", "less than or equal to 1", "1.4"],
    ),
    (
        "variant-unknown-option",
        card_edit(
            "north", lambda c: c["variants"]["hardliner"].update(preferences={"price": {"values": {"cheap": 1}}})
        ),
        ["agents/north.yaml: variants.hardliner.preferences.price.values.cheap: issue 'price' has no option 'cheap'"],
    ),
    (
        "variant-typo",
        card_edit("north", lambda c: c["variants"]["hardliner"].update(traitz={})),
        ["agents/north.yaml: variants.hardliner.traitz: unknown field"],
    ),
    (
        "variant-red-line-unknown-issue",
        card_edit("north", lambda c: c["variants"]["hardliner"].update(red_lines=[{**RED_LINE, "issue": "nato"}])),
        ["agents/north.yaml: variants.hardliner.red_lines[0].issue: unknown issue 'nato'"],
    ),
    (
        "variant-all-weights-zero",
        card_edit(
            "north",
            lambda c: c["variants"]["hardliner"].update(
                preferences={k: {"weight": 0} for k in ("price", "border", "aid")}
            ),
        ),
        ["agents/north.yaml: variants.hardliner.preferences: every weight is 0"],
    ),
    (
        "variant-named-base",
        card_edit("north", lambda c: c["variants"].update(base={"description": "x"})),
        ["agents/north.yaml: variants.base:", "not a usable variant name"],
    ),
]

RAW_CASES = [
    (
        "world-yaml-syntax",
        lambda d: (d / "world.yaml").write_text("id: mini\ntitle: Mini\nactors: [\n  {id: a\n"),
        ["world.yaml: not valid YAML:", "flow mapping on line 4"],
    ),
    (
        "world-yaml-bad-indent",
        lambda d: (d / "world.yaml").write_text("id: mini\n  title: Mini\nactors: []\n"),
        ["world.yaml: not valid YAML: line 2"],
    ),
    (
        "world-yaml-tab",
        lambda d: (d / "world.yaml").write_text("id: mini\ntitle:\n\t- x\n"),
        ["world.yaml: not valid YAML: line 3"],
    ),
    (
        "persona-yaml-syntax",
        lambda d: (d / "agents" / "south.yaml").write_text("id: south\nname: South\nsummary: {text: x, cite: [1]\n"),
        ["agents/south.yaml: not valid YAML: line 4"],
    ),
    (
        "persona-yaml-unclosed-quote",
        lambda d: (d / "agents" / "east.yaml").write_text("id: east\nname: 'East\nleader: x\n"),
        ["agents/east.yaml: not valid YAML: line"],
    ),
    (
        "persona-not-utf8",
        lambda d: (d / "agents" / "east.yaml").write_bytes(b"id: east\nname: \xff\xfe\n"),
        ["agents/east.yaml: not a UTF-8 text file"],
    ),
    (
        "world-duplicate-key",
        lambda d: (d / "world.yaml").write_text(
            (d / "world.yaml").read_text().replace("title: Mini bargaining\n", "title: Mini bargaining\ntitle: Again\n")
        ),
        ["world.yaml: line 4: duplicate key 'title' (first on line 3)"],
    ),
    (
        "persona-duplicate-key",
        lambda d: (d / "agents" / "north.yaml").write_text(
            (d / "agents" / "north.yaml")
            .read_text()
            .replace("leader: Leader of North\n", "leader: Leader of North\nleader: Someone\n")
        ),
        ["agents/north.yaml: line 4: duplicate key 'leader' (first on line 3)"],
    ),
    (
        "template-syntax-error",
        lambda d: (d / "prompts" / "offline" / "threat.j2").write_text(
            "line one\n{% if to %}\n{{ to | join(', ') }\n{% endif %}\n"
        ),
        ["prompts/offline/threat.j2: line 3:"],
    ),
    (
        "template-unclosed-block",
        lambda d: (d / "prompts" / "offline" / "walkout.j2").write_text(
            "{{ me.leader }} leaves.\n{% if me.no_deal %}\nBye.\n"
        ),
        ["prompts/offline/walkout.j2: line", "endif"],
    ),
    (
        "transcript-template-syntax",
        lambda d: (d / "prompts" / "transcript.md.j2").write_text("# {{ world.title \n"),
        ["prompts/transcript.md.j2: line 1:"],
    ),
    (
        "template-undefined-variable",
        lambda d: (d / "prompts" / "offline" / "flattery.j2").write_text(
            "Only {{ to | join(' and ') }} can do it, {{ flatterer_name }}.\n"
        ),
        ["prompts/offline/flattery.j2:", "'flatterer_name' is undefined"],
    ),
    (
        "template-undefined-attribute",
        lambda d: (d / "prompts" / "offline" / "walkout.j2").write_text("{{ me.leeder }} leaves the table.\n"),
        ["prompts/offline/walkout.j2:", "leeder"],
    ),
    (
        "transcript-undefined-variable",
        lambda d: (d / "prompts" / "transcript.md.j2").write_text("# {{ world.title }} {{ subtitle }}\n"),
        ["prompts/transcript.md.j2:", "'subtitle' is undefined"],
    ),
    (
        "template-not-utf8",
        lambda d: (d / "prompts" / "offline" / "reject.j2").write_bytes(b"\xff\xfe{{ x }}"),
        ["prompts/offline/reject.j2: not a UTF-8 text file"],
    ),
]


def _params(cases: list[tuple]) -> list:
    return [pytest.param(mutate, expected, id=name) for name, mutate, *expected in cases]


@pytest.mark.parametrize(("mutate", "expected"), _params(WORLD_CASES + CARD_CASES + RAW_CASES))
def test_bad_input_is_reported_with_file_and_field(mini: Path, mutate: Callable[[Path], None], expected) -> None:
    mutate(mini)
    lines = problems("world.yaml")
    for words in expected:
        assert_line(lines, *words)


def test_unmodified_fixture_is_valid(mini: Path) -> None:
    scenario, _, space = prepare("world.yaml")
    assert set(scenario.personas) == {"north", "south", "east"}
    assert space.size == 36


# ---------------------------------------------------------------- citations against the source text


@pytest.fixture
def cited(mini: Path) -> Path:
    """The mini world with a three-paragraph source text (blank lines do not count as paragraphs)."""
    (mini / "article.txt").write_text("First paragraph.\n\nSecond paragraph.\n\n\nThird paragraph.\n", encoding="utf-8")
    edit(mini / "world.yaml", lambda w: w.update(source_text="article.txt"))
    return mini


def test_citations_within_the_source_text_are_valid(cited: Path) -> None:
    edit(cited / "agents" / "north.yaml", lambda c: c["summary"].update(cite=[1, 3]))
    assert prepare("world.yaml")[0].paragraphs[2] == "Third paragraph."


@pytest.mark.parametrize(
    ("file", "change", "expected"),
    [
        (
            "agents/north.yaml",
            lambda c: c["objectives"][0].update(cite=[1, 9]),
            "agents/north.yaml: objectives[0].cite: paragraph 9 does not exist (the source has 3)",
        ),
        (
            "agents/south.yaml",
            lambda c: c["traits"]["patience"].update(cite=[4]),
            "agents/south.yaml: traits.patience.cite: paragraph 4 does not exist",
        ),
        (
            "agents/east.yaml",
            lambda c: c["preferences"]["aid"].update(cite=[0]),
            "agents/east.yaml: preferences.aid.cite: paragraph 0 does not exist",
        ),
        (
            "agents/east.yaml",
            lambda c: c["no_deal"].update(cite=[-1]),
            "agents/east.yaml: no_deal.cite: paragraph -1 does not exist",
        ),
        (
            "agents/north.yaml",
            lambda c: c["variants"]["hardliner"].update(summary={"cite": [5]}),
            "agents/north.yaml: variants.hardliner.summary.cite: paragraph 5 does not exist",
        ),
        (
            "world.yaml",
            lambda w: w["issues"][1].update(cite=[2, 7]),
            "world.yaml: issues[1].cite: paragraph 7 does not exist",
        ),
        (
            "world.yaml",
            lambda w: w["edges"][0].update(cite=[4]),
            "world.yaml: edges[0].cite: paragraph 4 does not exist",
        ),
    ],
    ids=["objective", "trait", "preference", "no-deal-negative", "variant", "world-issue", "world-edge"],
)
def test_citation_to_a_missing_paragraph(cited: Path, file: str, change, expected: str) -> None:
    edit(cited / file, change)
    assert_line(problems("world.yaml"), expected)


PULL_QUOTED = """\
A title

Putin is drawing Trump into a negotiation. Zelenskyy fears that Trump might agree to terms he does not understand.

"Zelenskyy fears that Trump might agree to terms he does not understand!"

A heading

A heading

The last paragraph says something else entirely, at some length.
"""


@pytest.fixture
def pull_quoted(mini: Path) -> Path:
    """The mini world citing an article whose line 3 repeats part of line 2 as a pull-quote."""
    (mini / "article.txt").write_text(PULL_QUOTED, encoding="utf-8")
    edit(mini / "world.yaml", lambda w: w.update(source_text="article.txt"))
    return mini


def test_a_pull_quote_is_found_by_its_words_not_its_punctuation() -> None:
    paragraphs = paragraphs_of(PULL_QUOTED)
    assert len(paragraphs) == 6  # every non-empty line keeps its number
    assert pull_quotes(tuple(paragraphs)) == {3: 2}  # short repeated lines (headings) are not pull-quotes


def test_the_ukraine_articles_pull_quotes() -> None:
    text = (ROOT / "worlds/sources/article-2024-11-12-can-trump-do-a-deal-with-putin.txt").read_text(encoding="utf-8")
    assert pull_quotes(tuple(paragraphs_of(text))) == {7: 9, 22: 25, 31: 33}


def test_citing_a_pull_quote_is_an_error_that_names_the_paragraph_to_cite(pull_quoted: Path) -> None:
    edit(pull_quoted / "agents" / "north.yaml", lambda c: c["objectives"][0].update(cite=[2, 3]))
    edit(pull_quoted / "world.yaml", lambda w: w["edges"][0].update(cite=[3]))
    lines = problems("world.yaml")
    assert_line(
        lines, "agents/north.yaml: objectives[0].cite: paragraph 3 is a pull-quote repeating paragraph 2: cite 2"
    )
    assert_line(lines, "world.yaml: edges[0].cite: paragraph 3 is a pull-quote repeating paragraph 2: cite 2")
    assert len(lines) == 2


def test_citing_beyond_the_last_paragraph_is_an_error(pull_quoted: Path) -> None:
    edit(pull_quoted / "agents" / "south.yaml", lambda c: c["no_deal"].update(cite=[6, 7]))
    assert problems("world.yaml") == ["agents/south.yaml: no_deal.cite: paragraph 7 does not exist (the source has 6)"]


def test_source_text_not_utf8(cited: Path) -> None:
    (cited / "article.txt").write_bytes(b"\xff\xfe\x00 not text")
    assert_line(problems("world.yaml"), "article.txt: not a UTF-8 text file")


# ---------------------------------------------------------------- all problems, once each


def break_many(d: Path) -> list[str]:
    """Break the world, two cards and a template in independent ways; the lines each must produce."""
    edit(d / "world.yaml", lambda w: (w["edges"][1].update(trust=1.5), w["edges"][3].update(to="chinaa")))
    edit(d / "agents" / "north.yaml", lambda c: c["preferences"]["price"]["values"].update(cheap=0.5))
    edit(d / "agents" / "south.yaml", lambda c: (c["traits"]["patience"].update(value=7), c.update(id="sud")))
    (d / "prompts" / "offline" / "threat.j2").write_text("{% if to %}\nno end\n")
    return [
        "world.yaml: edges[1].trust:",
        "world.yaml: edges[3].to: unknown actor 'chinaa'",
        "agents/north.yaml: preferences.price.values.cheap: issue 'price' has no option 'cheap'",
        "agents/south.yaml: traits.patience.value:",
        "agents/south.yaml: id: 'sud' does not match the world's actor id 'south'",
        "prompts/offline/threat.j2: line",
    ]


def test_every_problem_is_reported_once(mini: Path) -> None:
    expected = break_many(mini)
    lines = problems("world.yaml")
    for start in expected:
        assert sum(line.startswith(start) for line in lines) == 1, f"{start!r} not exactly once in:\n" + "\n".join(
            lines
        )
    assert len(lines) == len(expected), "\n".join(lines)


def test_world_schema_problems_do_not_hide_the_cards(mini: Path) -> None:
    """A world that fails its schema is still read leniently: cards and templates are checked too."""
    edit(mini / "world.yaml", lambda w: (w.update(colour="red"), w["issues"][0].update(options=[{"id": "low"}])))
    edit(mini / "agents" / "east.yaml", lambda c: c["preferences"]["aid"]["values"].update(grants=1))
    lines = problems("world.yaml")
    assert_line(lines, "world.yaml: colour: unknown field")
    assert_line(lines, "world.yaml: issues[0].options[0].meaning: Field required")
    assert_line(lines, "agents/east.yaml: preferences.aid.values.grants: issue 'aid' has no option 'grants'")


def test_a_base_card_problem_is_not_repeated_for_each_variant(mini: Path) -> None:
    def add_variant(c: dict) -> None:
        c["preferences"]["tariffs"] = c["preferences"]["price"]
        del c["traits"]["patience"]
        c["variants"]["dove"] = {"description": "North gives in.", "no_deal": {"value": 0.1}}

    edit(mini / "agents" / "north.yaml", add_variant)
    lines = problems("world.yaml")
    assert [line for line in lines if "tariffs" in line] == [
        "agents/north.yaml: preferences.tariffs: unknown issue 'tariffs' (issues: price, border, aid)"
    ]
    assert [line for line in lines if "patience" in line] == ["agents/north.yaml: traits.patience: Field required"]


def test_a_problem_only_in_a_variant_names_the_variant(mini: Path) -> None:
    edit(mini / "agents" / "north.yaml", lambda c: c["variants"]["hardliner"].update(id="south"))
    assert problems("world.yaml") == [
        "agents/north.yaml: variants.hardliner.id: 'south' does not match the world's actor id 'north'"
    ]


# ---------------------------------------------------------------- variants chosen for a run


def test_a_known_variant_loads(mini: Path) -> None:
    scenario = load_scenario("world.yaml", {"north": "hardliner"})
    assert scenario.personas["north"].variant == "hardliner"
    assert scenario.personas["north"].traits.patience.value == 0.8
    assert scenario.personas["south"].variant == "base"


@pytest.mark.parametrize(
    ("variants", "expected"),
    [
        ({"west": "hardliner"}, ["--variant: west: unknown actor 'west'", "(actors: north, south, east)"]),
        (
            {"north": "softie"},
            ["agents/north.yaml: variants: no variant 'softie' for actor 'north'", "(variants: hardliner)"],
        ),
        ({"south": "hardliner"}, ["agents/south.yaml: variants: no variant 'hardliner' for actor 'south'"]),
    ],
    ids=["unknown-actor", "unknown-variant", "variant-of-another-actor"],
)
def test_bad_variant_choice(mini: Path, variants: dict[str, str], expected: list[str]) -> None:
    assert_line(problems("world.yaml", variants), *expected)


# ---------------------------------------------------------------- robustness: any garbage gives InvalidInput


GARBAGE: list[Any] = [None, "x", 7, -3.5, True, [], {}, ["north"], {"a": 1}, "", "DELETE"]


def _nodes(node: Any, path: tuple = ()) -> list[tuple]:
    out = [path] if path else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _nodes(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _nodes(v, (*path, i))
    return out


def _replace(data: Any, path: tuple, value: Any) -> Any:
    data = copy.deepcopy(data)
    node = data
    for key in path[:-1]:
        node = node[key]
    if value == "DELETE":
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


@pytest.mark.parametrize("file", ["world.yaml", "agents/north.yaml"])
def test_garbage_anywhere_is_reported_not_crashed(mini: Path, file: str) -> None:
    """Replace randomly chosen fields (fixed seed) with values of the wrong kind: never a crash."""
    original = read(mini / file)
    rng = random.Random(20240)
    cases = rng.sample([(p, g) for p in _nodes(original) for g in GARBAGE], 25)
    for path, value in cases:
        write(mini / file, _replace(original, path, value))
        try:
            prepare("world.yaml")
        except InvalidInput as exc:
            assert exc.problems and all("\n" not in str(p) for p in exc.problems)
        except Exception as exc:  # pragma: no cover - the failure message is the point
            pytest.fail(f"{file}: {path} = {value!r} raised {type(exc).__name__}: {exc}")


# ---------------------------------------------------------------- the real world


def test_every_variant_of_every_real_persona_loads() -> None:
    world = read(UKRAINE)
    failures = []
    for ref in world["actors"]:
        card = read(UKRAINE.parent / ref["persona"])
        for name in card.get("variants") or {}:
            try:
                scenario = load_scenario(UKRAINE, {ref["id"]: name})
            except InvalidInput as exc:
                failures.append(f"{ref['id']}={name}: " + "; ".join(str(p) for p in exc.problems))
                continue
            assert scenario.personas[ref["id"]].variant == name
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------- the command line itself


def test_cli_validate_exit_0_on_good_worlds() -> None:
    default, fixture = cli_many((["validate"], ROOT), (["validate", str(MINI)], ROOT))
    assert default.returncode == 0, default.stdout + default.stderr
    assert default.stdout.startswith("ok ") and "Traceback" not in default.stderr
    assert fixture.returncode == 0, fixture.stdout + fixture.stderr
    assert fixture.stdout.startswith("ok ") and "3 actors" in fixture.stdout and fixture.stderr == ""


def test_cli_missing_world_file(tmp_path: Path) -> None:
    lines = assert_fails_cleanly(cli("validate", "worlds/nowhere.yaml", cwd=tmp_path))
    assert lines == ["error: worlds/nowhere.yaml: file not found"]


CLI_CASES = [
    (
        "yaml-syntax",
        lambda d: (d / "world.yaml").write_text("id: mini\ntitle: [unclosed\nactors: []\n"),
        ["world.yaml: not valid YAML: line 3"],
    ),
    (
        "edge-to-unknown-actor",
        world_edit(lambda w: w["edges"][3].update(to="chinaa")),
        ["world.yaml: edges[3].to: unknown actor 'chinaa' (actors: north, south, east)"],
    ),
    (
        "unknown-option",
        card_edit("east", lambda c: c["preferences"]["aid"]["values"].update(foo=0.5)),
        [
            "agents/east.yaml: preferences.aid.values.foo: issue 'aid' has no option 'foo'",
            "(options: none, some, lots, loans)",
        ],
    ),
    (
        "template-syntax",
        lambda d: (d / "prompts" / "offline" / "propose.j2").write_text("a\nb\n{% for x in y %}\n"),
        ["prompts/offline/propose.j2: line", "endfor"],
    ),
    (
        "template-undefined",
        lambda d: (d / "prompts" / "offline" / "concession.j2").write_text("{{ nobody }} moved.\n"),
        ["prompts/offline/concession.j2:", "'nobody' is undefined"],
    ),
]


def test_cli_validate_reports_each_problem(tmp_path: Path) -> None:
    """Each case through the command in process: exit 2, `error: FILE: FIELD: message` on stderr."""
    folders = []
    for name, mutate, *_ in CLI_CASES:
        shutil.copytree(MINI.parent, tmp_path / name)
        mutate(tmp_path / name)
        folders.append(tmp_path / name)
    results = cli_many(*[(["validate", "world.yaml"], folder) for folder in folders])
    for (name, _, *expected), result in zip(CLI_CASES, results, strict=True):
        lines = assert_fails_cleanly(result)
        assert all(line.startswith("error: ") for line in lines), (name, lines)
        for words in expected:
            assert has_line(lines, *words), f"{name}: no line with {words} in:\n" + "\n".join(lines)


def test_cli_validate_and_run_list_every_problem_and_run_saves_nothing(mini_copy: Path, tmp_path: Path) -> None:
    folder = mini_copy.parent
    expected = break_many(folder)
    runs = tmp_path / "runs"
    validate, run = cli_many(
        (["validate", str(mini_copy)], folder), (["run", "world.yaml", "--runs-dir", str(runs)], folder)
    )
    lines = assert_fails_cleanly(validate)
    assert len(lines) == len(expected), "\n".join(lines)
    for start in expected:
        assert_line(lines, f"error: {start}")
    assert assert_fails_cleanly(run) == lines
    assert not runs.exists() or not any(runs.iterdir())


def test_cli_run_bad_variant(mini_copy: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    unknown_actor, unknown_variant = cli_many(
        (["run", "world.yaml", "--variant", "west=hardliner", "--runs-dir", str(runs)], mini_copy.parent),
        (["run", "world.yaml", "--variant", "north=softie", "--runs-dir", str(runs)], mini_copy.parent),
    )
    assert_line(assert_fails_cleanly(unknown_actor), "--variant: west: unknown actor 'west'", "north, south, east")
    assert_line(
        assert_fails_cleanly(unknown_variant),
        "agents/north.yaml: variants: no variant 'softie' for actor 'north'",
        "(variants: hardliner)",
    )
    assert not runs.exists() or not any(runs.iterdir())


# In-process through the command line's own entry point (fast): what only the command line does.


def invoke(*args: str) -> list[str]:
    """`parley ARGS` in the current folder, in process; expect exit 2 and no traceback (an exception that
    escapes the command prints one and exits 1), and return the stderr lines."""
    return assert_fails_cleanly(cli(*args, cwd=Path.cwd()))


@pytest.mark.parametrize("value", ["north", "=hardliner", "north=", "="])
def test_cli_malformed_variant(mini: Path, tmp_path: Path, value: str) -> None:
    runs = tmp_path / "runs"
    lines = invoke("run", "world.yaml", "--variant", value, "--runs-dir", str(runs))
    assert lines == [f"error: --variant {value}: expected ACTOR=NAME, e.g. --variant us=hardliner"]
    assert not runs.exists()


def test_cli_prints_field_names_literally(mini: Path) -> None:
    """User text is never read as console markup or emoji codes (a stray '[/x]' used to crash it)."""
    edit(mini / "world.yaml", lambda w: w.update({"[/red]": 1, ":smile: [bold]x": 2}))
    lines = invoke("validate", "world.yaml")
    assert lines == [
        "error: world.yaml: [/red]: unknown field (check the spelling)",
        "error: world.yaml: :smile: [bold]x: unknown field (check the spelling)",
    ]


@pytest.mark.parametrize(("mutate", "expected"), _params(WORLD_CASES[:12:3] + CARD_CASES[3:30:6] + RAW_CASES[::4]))
def test_cli_run_refuses_bad_input_without_a_run_folder(mini: Path, tmp_path: Path, mutate, expected) -> None:
    mutate(mini)
    runs = tmp_path / "runs"
    lines = invoke("run", "world.yaml", "--runs-dir", str(runs), "-q")
    for words in expected:
        assert_line(lines, *words)
    assert not runs.exists() or not any(runs.iterdir())
