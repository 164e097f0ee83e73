"""A hostile or careless world author, through the command line: every odd world file, template or
folder is one line naming the file (and the field), exit 2, no traceback, no hang (issue 14, items
12, 14, 15), and `parley validate` warns of worlds that load but cannot work (item 17).

Each case breaks a copy of the mini world in tmp_path, then runs `parley validate` through the
command's own entry point, in process (`tests.conftest.parley`: a traceback still shows); one case
runs `parley run` in a real subprocess as a user would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import MINI, ROOT, parley


def append(path: str, text: str) -> Callable[[Path], None]:
    def change(d: Path) -> None:
        with (d / path).open("a", encoding="utf-8") as f:
            f.write(text)

    return change


def template(text: str) -> Callable[[Path], None]:
    """The mini world's accept speech (rendered by validate's rehearsal) with `text` at its end."""
    return append("prompts/offline/accept.j2", "\n" + text + "\n")


def world_line(old: str, new: str) -> Callable[[Path], None]:
    def change(d: Path) -> None:
        w = d / "world.yaml"
        text = w.read_text(encoding="utf-8")
        assert old in text
        w.write_text(text.replace(old, new), encoding="utf-8")

    return change


def link(name: str, target: str, remove: bool = True) -> Callable[[Path], None]:
    def change(d: Path) -> None:
        if remove and (d / name).exists():
            (d / name).unlink()
        os.symlink(target, d / name)

    return change


def both(*changes: Callable[[Path], None]) -> Callable[[Path], None]:
    def change(d: Path) -> None:
        for c in changes:
            c(d)

    return change


def description(yaml_text: str) -> Callable[[Path], None]:
    """The world's description replaced by some YAML (an anchor bomb, a self-containing alias...)."""

    def change(d: Path) -> None:
        w = d / "world.yaml"
        lines = [line for line in w.read_text(encoding="utf-8").splitlines() if not line.startswith("description:")]
        w.write_text("\n".join(lines) + "\n" + yaml_text + "\n", encoding="utf-8")

    return change


LAUGHS = "\n".join(
    ["description: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    + [f"x{k}: &a{k} [{', '.join([f'*a{k - 1}'] * 9)}]" for k in range(1, 9)]
)

# (id, change, words one stderr line must hold: the first is "FILE" or "FILE: FIELD")
CASES: list[tuple[str, Callable[[Path], None], list[str]]] = [
    # -- item 12: templates stay in their folder
    (
        "template-folder-link-out",
        both(link("prompts/leak", "/etc"), template("{% include 'leak/passwd' %}")),
        ["prompts/leak:", "a link out of the templates folder", "/etc"],
    ),
    (
        "template-file-link-out",
        both(link("prompts/offline/pw.j2", "/etc/passwd"), template("{% include 'offline/pw.j2' %}")),
        ["prompts/offline/pw.j2:", "a link out of the templates folder"],
    ),
    (
        "template-link-out-not-included",  # validate refuses it even when nothing includes it yet
        link("prompts/offline/hosts.j2", "/etc/hosts"),
        ["prompts/offline/hosts.j2:", "a link out of the templates folder"],
    ),
    (
        "template-includes-dotdot",
        template("{% include '../world.yaml' %}"),
        ["prompts/offline/accept.j2:", "'../world.yaml'", "climbs out of the templates folder"],
    ),
    (
        "template-link-loop",
        link("prompts/offline/loop.j2", "loop.j2"),
        ["prompts/offline/loop.j2:", "a link that leads nowhere"],
    ),
    (
        "template-includes-missing",
        template("{% include 'offline/nowhere.j2' %}"),
        ["prompts/offline/accept.j2:", "includes 'offline/nowhere.j2': template not found"],
    ),
    (
        "template-too-big",
        append("prompts/offline/accept.j2", "{# " + "x" * 1_100_000 + " #}"),
        ["prompts/offline/accept.j2:", "1,000,000"],
    ),
    (
        "template-not-utf8",
        lambda d: (d / "prompts/offline/accept.j2").write_bytes(b"\xff\xfe{{ me.name }}"),
        ["prompts/offline/accept.j2:", "not a UTF-8 text file"],
    ),
    # -- item 14: renders are bounded
    ("range-too-big", template("{{ range(10**8)|list|length }}"), ["prompts/offline/accept.j2:", "range"]),
    (
        "includes-itself",
        template("{% include 'offline/accept.j2' %}"),
        ["prompts/offline/accept.j2:", "includes or calls itself without end"],
    ),
    (
        "macro-calls-itself",
        template("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}"),
        ["prompts/offline/accept.j2:", "itself without end"],
    ),
    ("string-times-huge", template("{{ 'x' * 10**10 }}"), ["prompts/offline/accept.j2:", "'*' would make"]),
    ("list-times-huge", template("{{ ([1] * 10**9)|length }}"), ["prompts/offline/accept.j2:", "'*' would make"]),
    ("huge-power", template("{{ 7 ** (10 ** 9) }}"), ["prompts/offline/accept.j2:", "'**' would make"]),
    ("float-power", template("{{ 7.0 ** 100000 }}"), ["prompts/offline/accept.j2:", "cannot render"]),
    ("format-width", template("{{ '{:>999999999}'.format(1) }}"), ["prompts/offline/accept.j2:", "format width"]),
    ("percent-width", template("{{ '%999999999d' % 1 }}"), ["prompts/offline/accept.j2:", "format width"]),
    ("format-filter-width", template("{{ '%999999999s'|format('x') }}"), ["prompts/offline/accept.j2:", "width"]),
    ("ljust", template("{{ 'x'.ljust(10**10) }}"), ["prompts/offline/accept.j2:", "'ljust' of"]),
    ("center-filter", template("{{ 'x'|center(10**10) }}"), ["prompts/offline/accept.j2:", "centre width"]),
    (
        "replace-grows",
        template("{{ ('a' * 1000000)|replace('a', 'b' * 1000) }}"),
        ["prompts/offline/accept.j2:", "replacing would write more than"],
    ),
    (
        "join-grows",
        template("{{ ([range(99999)|join(',')] * 1000)|join }}"),
        ["prompts/offline/accept.j2:", "joining would write more than"],
    ),
    (
        "namespace-doubling",
        template("{% set ns = namespace(x='x') %}{% for i in range(60) %}{% set ns.x = ns.x ~ ns.x %}{% endfor %}"),
        ["prompts/offline/accept.j2:", "characters or items (at most"],
    ),
    (
        "set-doubling",
        template("{% set a = 'xxxxxxxx' %}" + "{% set a = a ~ a %}" * 45 + "{{ a|length }}"),
        ["prompts/offline/accept.j2:", "characters or items (at most"],
    ),
    (
        "macro-argument-doubling",
        template("{% macro d(n, s) %}{% if n %}{{ d(n-1, s ~ s) }}{% endif %}{% endmacro %}{{ d(60, 'x') }}"),
        ["prompts/offline/accept.j2:", "characters or items (at most"],
    ),
    (
        "nested-loops-forever",
        template("{% for a in range(99999) %}{% for b in range(99999) %}{% endfor %}{% endfor %}"),
        ["prompts/offline/accept.j2:", "stopped after"],
    ),
    (
        "nested-loops-filtered",
        template("{% for a in range(99999) %}{% for b in range(99999) if false %}{% endfor %}{% endfor %}"),
        ["prompts/offline/accept.j2:", "stopped after"],
    ),
    (
        "macro-fan-out",
        template("{% macro d(n) %}{% if n %}{{ d(n-1) }}{{ d(n-1) }}{% endif %}{% endmacro %}{{ d(40) }}"),
        ["prompts/offline/accept.j2:", "stopped after"],
    ),
    (
        "writes-a-gigabyte",
        template("{% for a in range(99999) %}{{ 'x' * 40000 }}{% endfor %}"),
        ["prompts/offline/accept.j2:", "writes more than 100,000,000 characters"],
    ),
    (
        "set-block-captures-a-gigabyte",
        template(
            "{% set big %}{% for a in range(99999) %}{% for b in range(20) %}"
            + "y" * 1000
            + "{% endfor %}{% endfor %}{% endset %}{{ big|length }}"
        ),
        ["prompts/offline/accept.j2:", "writes more than 100,000,000 characters"],
    ),
    ("division-by-zero", template("{{ 1 / 0 }}"), ["prompts/offline/accept.j2:", "division by zero"]),
    # -- item 15: odd world files
    (
        "world-nested-deep",
        append("world.yaml", "x: " + "[" * 5000 + "]" * 5000 + "\n"),
        ["world.yaml:", "nested more than 64 levels deep"],
    ),
    (
        "world-mapping-nested-deep",
        description("description: " + "{a: " * 3000 + "1" + "}" * 3000),
        ["world.yaml:", "nested more than 64 levels deep"],
    ),
    (
        "card-nested-deep",
        append("agents/east.yaml", "beliefs: " + "[" * 900 + "]" * 900 + "\n"),
        ["agents/east.yaml:", "nested more than 64 levels deep"],
    ),
    ("billion-laughs", description(LAUGHS), ["world.yaml:", "more than 100,000 values (each alias counted"]),
    (
        "a-list-of-a-hundred-thousand-values",
        append("world.yaml", "x: [" + "1," * 120_000 + "1]\n"),
        ["world.yaml:", "more than 100,000 values"],
    ),
    (
        "key-of-a-thousand-characters",
        append("world.yaml", "k" * 1000 + ": 1\n"),
        ["world.yaml: kkkk", "...: unknown field"],
    ),
    (
        "world-too-big",
        append("world.yaml", "# " + "x" * 1_000_000 + "\n"),
        ["world.yaml:", "too big (at most 1,000,000)"],
    ),
    (
        "value-of-a-million-characters",
        world_line("title: Mini bargaining", "title: [" + "t" * 990_000 + "]"),  # under the 1 MB file limit
        ["world.yaml: title:", "valid string"],
    ),
    ("alias-contains-itself", description("description: &a [*a]"), ["world.yaml:", "inside its own anchor"]),
    (
        "huge-integer",
        world_line("max_rounds: 12", "max_rounds: " + "9" * 5000),
        ["world.yaml:", "a number of more than 4,300 digits"],
    ),
    (
        "persona-link-loop",
        link("agents/east.yaml", "east.yaml"),
        ["world.yaml: actors[2].persona:", "a link that leads nowhere", "agents/east.yaml"],
    ),
    (
        "persona-link-cycle",
        both(link("agents/east.yaml", "e2.yaml"), link("agents/e2.yaml", "east.yaml", remove=False)),
        ["world.yaml: actors[2].persona:", "a link that leads nowhere"],
    ),
    (
        "persona-is-a-device",
        link("agents/east.yaml", "/dev/zero"),
        ["world.yaml: actors[2].persona:", "not a regular file"],
    ),
    (
        "persona-too-big",
        append("agents/east.yaml", "# " + "x" * 1_000_000 + "\n"),
        ["world.yaml: actors[2].persona:", "too big (at most 1,000,000)"],
    ),
    (
        "persona-not-utf8",
        lambda d: (d / "agents/east.yaml").write_bytes(b"id: east\nname: \xff\xfe\n"),
        ["agents/east.yaml:", "not a UTF-8 text file"],
    ),
    (
        "persona-is-a-folder",
        both(lambda d: (d / "agents/east.yaml").unlink(), lambda d: (d / "agents/east.yaml").mkdir()),
        ["world.yaml: actors[2].persona:", "a folder, not a persona card"],
    ),
    (
        "prompts-is-the-root",
        world_line("prompts: prompts", "prompts: /"),
        ["world.yaml: prompts:", "more than 2,000 files and folders: not a templates folder"],
    ),
    (
        "prompts-is-a-file",
        world_line("prompts: prompts", "prompts: world.yaml"),
        ["world.yaml: prompts:", "folder not found"],
    ),
    (
        "source-text-is-a-folder",
        world_line("prompts: prompts", "prompts: prompts\nsource_text: agents"),
        ["world.yaml: source_text:", "a folder, not a file"],
    ),
    (
        "source-text-too-big",
        both(
            world_line("prompts: prompts", "prompts: prompts\nsource_text: big.txt"),
            lambda d: (d / "big.txt").write_text("x" * 10_000_001, encoding="utf-8"),
        ),
        ["world.yaml: source_text:", "too big (at most 10,000,000)", "big.txt"],
    ),
    (
        "source-text-is-a-device",
        world_line("prompts: prompts", "prompts: prompts\nsource_text: /dev/zero"),
        ["world.yaml: source_text:", "not a regular file"],
    ),
    (
        "world-is-a-link-loop",
        both(lambda d: (d / "world.yaml").rename(d / "w.yaml"), link("world.yaml", "world.yaml", remove=False)),
        ["world.yaml:", "a link that leads nowhere"],
    ),
]


def _run(case: tuple[str, Callable[[Path], None], list[str]], base: Path) -> subprocess.CompletedProcess[str]:
    name, change, _ = case
    folder = base / name
    shutil.copytree(MINI.parent, folder)
    change(folder)
    return parley("validate", "world.yaml", cwd=folder, env={**os.environ, "COLUMNS": "300", "NO_COLOR": "1"})


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess[str]]:
    base = tmp_path_factory.mktemp("hostile-worlds")
    return {case[0]: _run(case, base) for case in CASES}  # in process, one after another (each changes cwd)


@pytest.mark.parametrize(("name", "words"), [(c[0], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_an_odd_world_is_one_line_and_exit_2(results: dict[str, Any], name: str, words: list[str]) -> None:
    result = results[name]
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output[-3000:]
    assert result.returncode == 2, f"exit {result.returncode}\n{output[-3000:]}"
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and all(line.startswith("error: ") for line in lines), output[-3000:]
    assert any(all(w in line for w in words) for line in lines), f"no line has all of {words}:\n" + "\n".join(lines)
    assert len(output) < 5000, "a refusal is a few short lines, not the file it refused"


def test_a_run_with_a_leaking_template_saves_nothing(mini_copy: Path, tmp_path: Path) -> None:
    """`parley run` refuses the link before playing: no run folder, nothing from /etc anywhere."""
    folder = mini_copy.parent
    os.symlink("/etc", folder / "prompts" / "leak")
    template("{% include 'leak/passwd' %}")(folder)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "300", "NO_COLOR": "1"}
    runs = tmp_path / "runs"
    result = subprocess.run(
        [sys.executable, "-m", "parley", "run", "world.yaml", "--runs-dir", str(runs), "--quiet"],
        cwd=folder,
        env=env,
        text=True,
        capture_output=True,
        timeout=300,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "prompts/leak: a link out of the templates folder" in result.stderr
    assert "root:" not in result.stdout + result.stderr
    assert not runs.exists() or not any(runs.iterdir())


# -- item 17: warnings -------------------------------------------------------------------------
def validate(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return parley("validate", "world.yaml", *args, cwd=folder, env={**os.environ, "COLUMNS": "300", "NO_COLOR": "1"})


def edit_yaml(path: Path, change: Callable[[Any], None]) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def test_warnings_for_a_world_that_cannot_work(mini_copy: Path) -> None:
    folder = mini_copy.parent

    def cut_south_off(w: dict) -> None:  # nothing leads to south any more; stalls can never happen
        w["edges"] = [e for e in w["edges"] if e["to"] != "south"]
        w["protocol"]["stall_patience"] = 13

    edit_yaml(folder / "world.yaml", cut_south_off)
    red_line = {"issue": "border", "excludes": ["north_line", "middle_line"], "why": "never", "cite": [1]}
    edit_yaml(folder / "agents" / "north.yaml", lambda c: c.update(red_lines=[red_line]))
    (folder / "late.yaml").write_text(
        "title: late news\nevents:\n  - {round: 3, text: early}\n  - {round: 40, text: too late}\n", encoding="utf-8"
    )
    plain, strict = validate(folder, "--inject", "late.yaml"), validate(folder, "--inject", "late.yaml", "--strict")
    for result in (plain, strict):
        assert "Traceback" not in result.stderr, result.stderr
    warnings = [line for line in plain.stderr.splitlines() if line.startswith("warning: ")]
    expected = [
        ("world.yaml: protocol.signatories[0]:", "'north' has no open path to south", "no channel at all"),
        ("world.yaml: issues[1]:", "exclude every option of 'border'", "north_line by north", "south_line by south"),
        ("world.yaml: protocol.stall_patience:", "13", "more than max_rounds (12)"),
        ("late.yaml: events[1].round:", "round 40 is beyond protocol.max_rounds (12)", "never happens"),
    ]
    for words in expected:
        assert any(all(w in line for w in words) for line in warnings), f"{words} not in:\n{plain.stderr}"
    assert len(warnings) == len(expected), plain.stderr
    assert plain.returncode == 0 and "ok world.yaml" in plain.stdout and "4 warnings" in plain.stdout
    assert strict.returncode == 2 and "4 warnings, and --strict" in strict.stderr and "ok " not in strict.stdout


def test_run_warns_of_inject_events_beyond_its_last_round(mini_copy: Path, tmp_path: Path) -> None:
    """`validate --inject` warned, but `run --inject` played on in silence: news the facilitator planned
    for round 40 (or beyond --max-rounds) never came, and nothing said so."""
    folder = mini_copy.parent
    (folder / "late.yaml").write_text(
        "title: late news\nevents:\n  - {round: 2, text: early}\n  - {round: 4, text: too late}\n", encoding="utf-8"
    )
    env = {**os.environ, "COLUMNS": "300", "NO_COLOR": "1"}
    args = ("run", "world.yaml", "--inject", "late.yaml", "--runs-dir", str(tmp_path / "runs"), "--quiet")
    capped = parley(*args, "--max-rounds", "3", cwd=folder, env=env)
    assert capped.returncode == 0 and "Traceback" not in capped.stderr, capped.stderr
    warnings = [line for line in capped.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1, capped.stderr
    assert all(w in warnings[0] for w in ("late.yaml: events[1].round:", "round 4", "run's last round (3)")), warnings
    plain = parley(*args, cwd=folder, env=env)
    assert plain.returncode == 0 and "warning" not in plain.stderr, plain.stderr


def test_a_claims_inject_moved_beyond_the_last_round_is_warned(mini_copy: Path) -> None:
    folder = mini_copy.parent
    (folder / "news.yaml").write_text("title: news\nevents:\n  - {round: 2, text: news}\n", encoding="utf-8")
    claim = {
        "id": "late-news",
        "says": "news changes nothing",
        "basis": "design",
        "arm": {"inject": "news.yaml", "at_round": 20},
        "share": {"outcome": "deal"},
        "at_least": 0.0,
    }
    edit_yaml(folder / "world.yaml", lambda w: w.update(claims=[claim]))
    result = validate(folder)
    assert result.returncode == 0, result.stderr
    assert "news.yaml: events[0].round: round 2 (moved by claims[0].arm.at_round to round 20)" in result.stderr


def test_good_worlds_have_no_warnings() -> None:
    for world in (MINI, ROOT / "worlds" / "ukraine-2024.yaml"):
        result = parley("validate", str(world), "--strict", env={**os.environ, "COLUMNS": "300", "NO_COLOR": "1"})
        assert result.returncode == 0 and not result.stderr.strip(), result.stderr
