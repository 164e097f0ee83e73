"""A new user's worlds, servers and mistakes: worlds written from scratch outside the repository,
misbehaving OpenAI-compatible servers, and bad command-line input.

Tests of behaviour that works keep it working. Each known bug has a test marked
`xfail(strict=True)` whose reason starts with "BUG:"; it fails today and passes once the bug is fixed.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import random
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from rich.console import Console
from typer.testing import CliRunner

from parley.llm.backend import LLMBackend, LLMSettings
from parley.llm.client import LLMError
from parley.runs.folder import read_events
from parley.runs.play import RunResult, play
from parley.ui.cli import app
from parley.ui.console import print_summary
from parley.world.problems import InvalidInput
from tests.conftest import ROOT, parley
from tests.fake_openai import FakeOpenAI

KEY = "sk-canary-XYZ"
STATUSES = {"converged", "stalled", "breakdown", "max_rounds"}


# -- writing worlds from scratch -------------------------------------------------------------------
def trait(value: float) -> dict:
    return {"value": value, "why": "w", "cite": [1]}


def card(actor: str, prefs: dict, no_deal: float = 0.3, red_lines: list | None = None, full: bool = True) -> dict:
    """A persona card; `full=False` leaves out every optional trait, `red_lines=None` the red_lines key."""
    traits = {"patience": trait(0.5), "reciprocity": trait(0.2), "flattery_susceptibility": trait(0.3)}
    if full:
        traits |= {
            "flattery_use": trait(0.5),
            "assertiveness": trait(0.5),
            "walkout_propensity": trait(0.3),
            "openness": trait(0.6),
        }
    out = {
        "id": actor,
        "name": actor.title(),
        "leader": f"Leader of {actor}",
        "summary": {"text": "s", "cite": [1]},
        "objectives": [{"text": "o", "cite": [1]}],
        "traits": traits,
        "preferences": {
            issue: {"weight": w, "values": values, "why": "w", "cite": [1]} for issue, (w, values) in prefs.items()
        },
        "no_deal": {"value": no_deal, "why": "w", "cite": [1]},
    }
    if red_lines is not None:
        out["red_lines"] = [{"issue": i, "excludes": ex, "why": "w", "cite": [1]} for i, ex in red_lines]
    return out


def options(*ids: str) -> list[dict]:
    return [{"id": i, "meaning": f"option {i}"} for i in ids]


def write_world(folder: Path, world: dict, cards: dict[str, dict]) -> Path:
    (folder / "agents").mkdir(parents=True, exist_ok=True)
    world = {**world, "actors": [{"id": a, "persona": f"agents/{a}.yaml"} for a in cards]}
    (folder / "world.yaml").write_text(yaml.safe_dump(world, sort_keys=False))
    for actor, c in cards.items():
        (folder / "agents" / f"{actor}.yaml").write_text(yaml.safe_dump(c, sort_keys=False))
    return folder / "world.yaml"


XY = [
    {"id": "x", "title": "X", "options": options("p", "q", "r")},
    {"id": "y", "title": "Y", "options": options("s", "t")},
]
A_XY = {"x": (1, {"p": 1, "q": 0.5, "r": 0}), "y": (1, {"s": 1, "t": 0.2})}
B_XY = {"x": (1, {"p": 0, "q": 0.6, "r": 1}), "y": (1, {"s": 0.5, "t": 1})}
M_XY = {"x": (1, {"p": 0.3, "q": 1, "r": 0.3}), "y": (0.5, {"s": 0.5, "t": 0.5})}


def bilateral(folder: Path) -> Path:
    issues = [
        {"id": "price", "title": "Price", "options": options("low", "mid", "high")},
        {"id": "term", "title": "Term", "options": options("short", "long")},
    ]
    world = {
        "id": "bilateral",
        "title": "Bilateral",
        "issues": issues,
        "edges": [{"from": "a", "to": "b", "trust": 0.1}, {"from": "b", "to": "a", "trust": 0.1}],
    }
    cards = {
        "a": card("a", {"price": (2, {"low": 0, "mid": 0.6, "high": 1}), "term": (1, {"short": 0, "long": 1})}),
        # no optional trait, no red_lines key
        "b": card(
            "b", {"price": (2, {"low": 1, "mid": 0.6, "high": 0}), "term": (1, {"short": 1, "long": 0.3})}, full=False
        ),
    }
    return write_world(folder, world, cards)


def big(folder: Path, n_actors: int = 6, n_issues: int = 20) -> Path:
    """Six actors, twenty issues of 2..6 options: 268,738,560,000 packages."""
    rng = random.Random(3)
    actors = [f"a{i}" for i in range(1, n_actors + 1)]
    issues = [
        {"id": f"i{k}", "title": f"Issue {k}", "options": options(*[f"o{j}" for j in range(2 + k % 5)])}
        for k in range(n_issues)
    ]
    cards = {
        a: card(
            a,
            {
                i["id"]: (round(rng.uniform(0.1, 3), 2), {o["id"]: round(rng.random(), 2) for o in i["options"]})
                for i in issues
            },
            no_deal=0.35,
        )
        for a in actors
    }
    edges = [
        {"from": x, "to": y, "trust": round(rng.uniform(-0.5, 0.8), 2)}
        for x in actors
        for y in actors
        if x != y and rng.random() < 0.6
    ]
    return write_world(folder, {"id": "big", "title": "Big", "issues": issues, "edges": edges}, cards)


def quorum(folder: Path) -> Path:
    cards = {
        "n": card("n", {"x": (1, {"p": 1, "q": 0.5, "r": 0}), "y": (1, {"s": 1, "t": 0})}, no_deal=0.2),
        "s": card("s", {"x": (1, {"p": 0, "q": 1, "r": 0.5}), "y": (1, {"s": 0.3, "t": 1})}, no_deal=0.2),
        "e": card("e", {"x": (1, {"p": 0.5, "q": 0.5, "r": 1}), "y": (1, {"s": 1, "t": 0.5})}, no_deal=0.2),
        "w": card("w", {"x": (1, {"p": 1, "q": 0, "r": 0.5}), "y": (1, {"s": 0, "t": 1})}, no_deal=0.2),
    }
    protocol = {"rule": "quorum", "quorum": 3, "veto": ["n"], "min_utility": {"n": 0.4, "s": 0.3}, "max_rounds": 15}
    return write_world(folder, {"id": "quorum", "title": "Quorum", "issues": XY, "protocol": protocol}, cards)


def mediator(folder: Path, edges: list | None = None, world_id: str = "mediator") -> Path:
    """a and b sign; m does not, and is the only way between them."""
    if edges is None:
        edges = [
            {"from": "a", "to": "m", "trust": 0.5},
            {"from": "m", "to": "a", "trust": 0.5},
            {"from": "b", "to": "m", "trust": 0.5},
            {"from": "m", "to": "b", "trust": 0.5},
        ]
    world = {"id": world_id, "title": world_id, "issues": XY, "edges": edges, "protocol": {"signatories": ["a", "b"]}}
    return write_world(folder, world, {"a": card("a", A_XY), "b": card("b", B_XY), "m": card("m", M_XY)})


def no_edges(folder: Path) -> Path:
    return mediator(folder, edges=[], world_id="noedges")


def unreachable(folder: Path) -> Path:
    """c, a signatory, has no channel in or out."""
    edges = [{"from": "a", "to": "b", "trust": 0.2}, {"from": "b", "to": "a", "trust": 0.2}]
    world = {"id": "unreachable", "title": "Unreachable", "issues": XY, "edges": edges}
    return write_world(folder, world, {"a": card("a", A_XY), "b": card("b", B_XY), "c": card("c", M_XY)})


def no_zopa(folder: Path) -> Path:
    cards = {
        "a": card("a", {"x": (1, {"p": 1, "q": 0.5, "r": 0}), "y": (1, {"s": 1, "t": 0})}, no_deal=0.8, red_lines=[]),
        "b": card("b", {"x": (1, {"p": 0, "q": 0.5, "r": 1}), "y": (1, {"s": 0, "t": 1})}, no_deal=0.8, red_lines=[]),
    }
    return write_world(folder, {"id": "nozopa", "title": "No ZOPA", "issues": XY}, cards)


def impossible(folder: Path) -> Path:
    """a rules out p and q, b rules out r: every package crosses somebody's red line."""
    cards = {
        "a": card(
            "a", {"x": (1, {"p": 1, "q": 0.5, "r": 0}), "y": (1, {"s": 1, "t": 0})}, red_lines=[("x", ["p", "q"])]
        ),
        "b": card("b", {"x": (1, {"p": 0, "q": 0.5, "r": 1}), "y": (1, {"s": 0, "t": 1})}, red_lines=[("x", ["r"])]),
    }
    return write_world(folder, {"id": "redlines", "title": "Red lines", "issues": XY}, cards)


def booleans(folder: Path) -> Path:
    """Option ids that YAML reads as booleans unless quoted (yaml.safe_dump quotes them)."""
    issues = [
        {"id": "ceasefire", "title": "Ceasefire", "options": options("yes", "no")},
        {"id": "monitors", "title": "Monitors", "options": options("on", "off")},
        {"id": "troops", "title": "Troops", "options": options("t1000", "t5000")},
    ]
    prefs_a = {
        "ceasefire": (1, {"yes": 1, "no": 0}),
        "monitors": (1, {"on": 1, "off": 0}),
        "troops": (1, {"t1000": 1, "t5000": 0}),
    }
    prefs_b = {
        "ceasefire": (1, {"yes": 0.6, "no": 1}),
        "monitors": (1, {"on": 0.5, "off": 1}),
        "troops": (1, {"t1000": 0, "t5000": 1}),
    }
    return write_world(
        folder,
        {"id": "booleans", "title": "Booleans", "issues": issues},
        {"a": card("a", prefs_a), "b": card("b", prefs_b)},
    )


SMALL = {
    "bilateral": bilateral,
    "quorum": quorum,
    "mediator": mediator,
    "noedges": no_edges,
    "unreachable": unreachable,
    "nozopa": no_zopa,
    "redlines": impossible,
    "booleans": booleans,
}


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every world written once, in a fresh folder outside the repository, without a prompts folder."""
    base = tmp_path_factory.mktemp("other-worlds")
    out = {name: make(base / name) for name, make in SMALL.items()}
    out["big"] = big(base / "big")
    return out


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work from a folder that is neither the repository nor a world's folder."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


# -- running things --------------------------------------------------------------------------------
def cli(*args: str, cwd: Path) -> tuple[int, str, str, BaseException | None]:
    """The CLI in-process: exit code, stdout, stderr, and an exception that escaped (None or SystemExit)."""
    with contextlib.chdir(cwd):
        result = CliRunner().invoke(app, list(args))
    exc = result.exception
    return result.exit_code, result.stdout, result.stderr, None if isinstance(exc, SystemExit) else exc


def lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.strip()]


def events_of(folder: Path) -> list[dict]:
    return read_events(folder / "events.jsonl")


def check_run_folder(folder: Path) -> list[dict]:
    """manifest.json, events.jsonl ending in the outcome, transcript.md: what every finished run leaves."""
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["run_id"] == folder.name
    events = events_of(folder)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["type"] == "outcome"
    assert (folder / "transcript.md").read_text().startswith("# ")
    return events


def red_line_crossings(world: Path, deal: dict[str, str], accepted_by: list[str]) -> list[str]:
    data = yaml.safe_load(world.read_text())
    out = []
    for ref in data["actors"]:
        persona = yaml.safe_load((world.parent / ref["persona"]).read_text())
        for line in persona.get("red_lines") or []:
            if ref["id"] in accepted_by and deal[line["issue"]] in line["excludes"]:
                out.append(f"{ref['id']} accepted {line['issue']}={deal[line['issue']]}")
    return out


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# =================================================================================================
# 1. New worlds written from scratch
# =================================================================================================
@pytest.mark.parametrize("name", [*SMALL, "big"])
def test_a_world_written_from_scratch_validates_from_another_folder(
    worlds: dict[str, Path], name: str, elsewhere: Path
) -> None:
    code, out, err, exc = cli("validate", str(worlds[name]), cwd=elsewhere)
    assert exc is None and code == 0, err
    assert out.startswith("ok ")


@pytest.mark.parametrize("name", list(SMALL))
def test_a_world_written_from_scratch_runs_and_leaves_a_complete_run_folder(
    worlds: dict[str, Path], name: str, elsewhere: Path
) -> None:
    result = play(worlds[name], seed=1, max_rounds=8, runs_dir=elsewhere / "runs")
    assert result.folder.parent == elsewhere / "runs"
    events = check_run_folder(result.folder)
    assert events[-1]["status"] in STATUSES and events[-1]["round"] <= 8
    manifest = json.loads((result.folder / "manifest.json").read_text())
    assert manifest["max_rounds"] == 8 and manifest["seed"] == 1 and manifest["world"]["id"] == name


def test_the_cli_runs_an_outside_world_from_another_folder(worlds: dict[str, Path], tmp_path: Path) -> None:
    done = parley("run", str(worlds["bilateral"]), "--seed", "3", "--max-rounds", "4", "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "Outcome:" in done.stdout
    (folder,) = (tmp_path / "runs").iterdir()
    events = check_run_folder(folder)
    assert events[-1]["round"] <= 4


@pytest.mark.parametrize("name", ["quorum", "unreachable", "booleans"])
def test_same_seed_same_events_byte_for_byte(worlds: dict[str, Path], name: str, elsewhere: Path) -> None:
    first = play(worlds[name], seed=5, runs_dir=elsewhere / "one")
    second = play(worlds[name], seed=5, runs_dir=elsewhere / "two")
    assert (first.folder / "events.jsonl").read_bytes() == (second.folder / "events.jsonl").read_bytes()


def test_max_rounds_is_honoured(worlds: dict[str, Path], elsewhere: Path) -> None:
    for rounds in (1, 2):
        result = play(worlds["nozopa"], seed=1, max_rounds=rounds, runs_dir=elsewhere / "runs")
        assert result.outcome.round <= rounds
        assert max(e["round"] for e in events_of(result.folder)) <= rounds


def test_a_quorum_deal_counts_only_acceptances_above_min_utility_and_needs_the_veto(
    worlds: dict[str, Path], elsewhere: Path
) -> None:
    for seed in (1, 2, 3):
        result = play(worlds["quorum"], seed=seed, runs_dir=elsewhere / "runs")
        events = check_run_folder(result.folder)
        deals = [e for e in events if e["type"] == "deal"]
        if not deals:
            assert events[-1]["status"] in STATUSES - {"converged"}
            continue
        u = events[-1]["utilities"]
        minimum = {"n": 0.4, "s": 0.3}
        counted = [a for a in deals[0]["accepted_by"] if u[a] >= minimum.get(a, 0.0)]
        assert len(counted) >= 3 and "n" in counted


def test_a_non_signatory_mediator_carries_proposals(worlds: dict[str, Path], elsewhere: Path) -> None:
    result = play(worlds["mediator"], seed=1, runs_dir=elsewhere / "runs")
    events = check_run_folder(result.folder)
    mediated = [e for e in events if e["type"] == "mediated"]
    assert mediated and all(e["path"][1] == "m" for e in mediated)
    assert result.outcome.nash is not None and set(result.outcome.nash["utilities"] or {}) >= {"a", "b"}


def test_a_world_without_edges_needs_no_intermediary(worlds: dict[str, Path], elsewhere: Path) -> None:
    events = check_run_folder(play(worlds["noedges"], seed=1, runs_dir=elsewhere / "runs").folder)
    closed: set[tuple[str, str]] = set()  # an actor may close its channel; only then does it need another
    for e in events:
        if e["type"] == "channel" and not e["open"]:
            closed.add((e["actor"], e["to"]))
        if e["type"] in ("mediated", "undeliverable"):
            assert (e["actor"], e["to"]) in closed, e


def test_an_empty_zopa_ends_without_a_deal(worlds: dict[str, Path], elsewhere: Path) -> None:
    result = play(worlds["nozopa"], seed=1, runs_dir=elsewhere / "runs")
    assert result.outcome.status in STATUSES - {"converged"}
    assert result.outcome.nash["package"] is None and "no package" in result.outcome.nash["note"]


def test_an_unreachable_signatory_is_logged_as_undeliverable(worlds: dict[str, Path], elsewhere: Path) -> None:
    events = check_run_folder(play(worlds["unreachable"], seed=6, max_rounds=3, runs_dir=elsewhere / "runs").folder)
    assert {e["to"] for e in events if e["type"] == "undeliverable" and e["round"] == 1} >= {"c"}


def test_unquoted_numbers_as_option_ids_are_refused_with_file_and_field(tmp_path: Path) -> None:
    folder = tmp_path / "w"
    booleans(folder)
    world = folder / "world.yaml"
    world.write_text(world.read_text().replace("id: t1000", "id: 1000"))
    code, _, err, exc = cli("validate", str(world), cwd=tmp_path)
    assert exc is None and code == 2
    assert all(ln.startswith("error: w/world.yaml: ") for ln in lines(err))
    assert "issues[2].options[0].id" in err


def test_unquoted_yes_and_no_are_option_ids_not_booleans(tmp_path: Path) -> None:
    """YAML 1.2 booleans: only true/false; `yes`, `no`, `on`, `off` stay the words a facilitator wrote."""
    folder = tmp_path / "w"
    booleans(folder)
    for path in [folder / "world.yaml", *(folder / "agents").glob("*.yaml")]:
        path.write_text(path.read_text().replace("'yes'", "yes").replace("'no'", "no"))
    code, _, err, _ = cli("validate", str(folder / "world.yaml"), cwd=tmp_path)
    assert code == 0, err


# -- bugs in the engine ----------------------------------------------------------------------------
def test_red_lines_that_rule_out_every_package_never_give_a_deal(worlds: dict[str, Path], elsewhere: Path) -> None:
    result = play(worlds["redlines"], seed=1, runs_dir=elsewhere / "runs")
    events = events_of(result.folder)
    for deal in [e for e in events if e["type"] == "deal"]:
        assert red_line_crossings(worlds["redlines"], deal["package"], deal["accepted_by"]) == []
    assert result.outcome.status != "converged"


def test_an_undelivered_proposal_cannot_be_answered(worlds: dict[str, Path], elsewhere: Path) -> None:
    events = events_of(play(worlds["unreachable"], seed=6, max_rounds=3, runs_dir=elsewhere / "runs").folder)
    missed = {(e["proposal"], e["to"]) for e in events if e["type"] == "undeliverable" and e["what"] == "proposal"}
    answered = [(e["proposal"], e["actor"]) for e in events if e["type"] == "response"]
    assert [a for a in answered if a in missed] == []


def test_a_proposal_dies_once(worlds: dict[str, Path], elsewhere: Path) -> None:
    events = events_of(play(worlds["unreachable"], seed=1, runs_dir=elsewhere / "runs").folder)
    dead = [e["proposal"] for e in events if e["type"] == "proposal_dead"]
    assert len(dead) == len(set(dead))


def test_a_big_world_plays_a_round(worlds: dict[str, Path], elsewhere: Path) -> None:
    """How long it takes is measured in benchmarks/, not asserted here (a busy CI machine is no clock)."""
    result = play(worlds["big"], seed=1, max_rounds=1, runs_dir=elsewhere / "runs")
    assert result.outcome.round == 1


def test_an_infinite_weight_is_refused(tmp_path: Path) -> None:
    world = bilateral(tmp_path / "w")
    persona = world.parent / "agents" / "a.yaml"
    persona.write_text(persona.read_text().replace("weight: 2", "weight: .inf", 1))
    code, _, err, exc = cli("validate", str(world), cwd=tmp_path)
    assert exc is None and code == 2 and "preferences.price.weight" in err


def test_square_brackets_in_names_are_printed_as_text(tmp_path: Path) -> None:
    world = bilateral(tmp_path / "w")
    persona = world.parent / "agents" / "a.yaml"
    persona.write_text(persona.read_text().replace("name: A", "name: 'The [/] Alliance'"))
    result = play(world, seed=1, runs_dir=tmp_path / "runs")
    buffer = io.StringIO()
    print_summary(Console(file=buffer, width=200), result)
    assert "The [/] Alliance" in buffer.getvalue()


# =================================================================================================
# 2. Bad input on the command line
# =================================================================================================
def test_bad_world_files_are_one_line_errors(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("")
    (tmp_path / "garbage.yaml").write_bytes(bytes(range(128, 256)) * 3)
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    (tmp_path / "tabs.yaml").write_text("id: x\n\ttitle: y\n")
    (tmp_path / "tag.yaml").write_text("id: !!python/object/apply:os.system ['echo hi']\n")
    for name, words in [
        ("nowhere.yaml", "file not found"),
        ("empty.yaml", "empty file"),
        ("garbage.yaml", "UTF-8"),
        ("list.yaml", "mapping"),
        ("tabs.yaml", "not valid YAML"),
        ("tag.yaml", "not valid YAML"),
    ]:
        for command in ("validate", "run"):
            code, _, err, exc = cli(command, name, cwd=tmp_path)
            assert exc is None and code == 2, (name, command, err)
            (line,) = lines(err)
            assert line.startswith(f"error: {name}") and words in line
            assert not (tmp_path / "runs").exists()


def test_a_folder_as_the_world_says_it_is_a_folder(worlds: dict[str, Path], tmp_path: Path) -> None:
    code, _, err, exc = cli("validate", str(worlds["bilateral"].parent), cwd=tmp_path)
    assert exc is None and code == 2
    assert "folder" in err or "directory" in err


@pytest.mark.parametrize("where", ["world", "persona"])
def test_a_control_character_in_yaml_is_a_one_line_error(tmp_path: Path, where: str) -> None:
    world = bilateral(tmp_path / "w")
    path = world if where == "world" else world.parent / "agents" / "a.yaml"
    path.write_text(path.read_text() + "\x00\n")
    code, _, err, exc = cli("validate", str(world), cwd=tmp_path)
    assert exc is None and code == 2
    assert path.name in err and len(lines(err)) == 1


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--seed", "abc"], "--seed"),
        (["--max-rounds", "0"], "--max-rounds"),
        (["--max-rounds", "-3"], "--max-rounds"),
        (["--variant", "a"], "expected ACTOR=NAME"),
        (["--variant", "=x"], "expected ACTOR=NAME"),
        (["--variant", "a="], "expected ACTOR=NAME"),
        (["--variant", "zz=x"], "unknown actor 'zz'"),
        (["--variant", "A=base"], "unknown actor 'A'"),
        (["--variant", "a=nosuch"], "no variant 'nosuch'"),
        (["--variant", "a=x=y"], "no variant 'x=y'"),
        (["--variant", "a=base", "--variant", "a=base"], "already given"),
        (["--backend", "gpt"], "--backend"),
    ],
)
def test_bad_options_exit_2_without_a_traceback_or_a_run_folder(
    worlds: dict[str, Path], tmp_path: Path, args: list[str], words: str
) -> None:
    code, _, err, exc = cli("run", str(worlds["bilateral"]), "--runs-dir", str(tmp_path / "runs"), *args, cwd=tmp_path)
    assert exc is None and code == 2
    assert words in err
    assert not (tmp_path / "runs").exists()


def test_a_usage_error_is_one_line(worlds: dict[str, Path], tmp_path: Path) -> None:
    done = parley("run", str(worlds["bilateral"]), "--seed", "abc", cwd=tmp_path)  # as a user runs it: main()
    assert done.returncode == 2 and len(lines(done.stderr)) == 1


def test_huge_seeds_and_base_variant_are_fine(worlds: dict[str, Path], tmp_path: Path) -> None:
    for args in (["--seed", "99999999999999999999999"], ["--variant", "a=base"]):
        code, _, err, exc = cli("run", str(worlds["bilateral"]), "-q", "--max-rounds", "2", *args, cwd=tmp_path)
        assert exc is None and code == 0, err


def test_a_negative_seed_is_refused_or_played(worlds: dict[str, Path], tmp_path: Path) -> None:
    done = parley("run", str(worlds["bilateral"]), "--seed", "-5", "--max-rounds", "2", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert len(lines(done.stderr)) == 1 and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("target", ["a file", "/proc/parley-runs"])
def test_an_unusable_runs_dir_is_a_one_line_error(worlds: dict[str, Path], tmp_path: Path, target: str) -> None:
    runs = str(worlds["bilateral"]) if target == "a file" else target
    code, _, err, exc = cli("run", str(worlds["bilateral"]), "--runs-dir", runs, "--max-rounds", "2", cwd=tmp_path)
    assert exc is None and code == 2
    assert len(lines(err)) == 1 and (runs in err or Path(runs).name in err)


def test_the_default_world_is_found_from_any_folder(tmp_path: Path) -> None:
    code, _, err, exc = cli("validate", cwd=tmp_path)
    assert exc is None and code == 0, err


def test_a_subprocess_run_with_a_bad_world_has_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "w.yaml").write_text("id: Bad Id\ntitle: ''\nactors: []\nissues: []\n")
    done = parley("run", "w.yaml", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert all(ln.startswith("error: w.yaml: ") for ln in lines(done.stderr))
    assert {"id", "title", "actors", "issues"} <= {ln.split(": ")[2] for ln in lines(done.stderr)}


# =================================================================================================
# 3. LLM personas against servers that misbehave
# =================================================================================================
@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


def _free_prices(tmp_path: Path) -> Path:
    path = tmp_path / "free-prices.yaml"
    path.write_text("models: {}\n")
    return path


def backend(base_url: str, tmp_path: Path, **overrides: object) -> LLMBackend:
    base: dict = {
        "model": "fake",
        "base_url": base_url,
        "cache_dir": None,
        "prices": _free_prices(tmp_path),
        "timeout": 5.0,
        "max_retries": 2,
        "backoff": 0.02,
    }
    return LLMBackend(LLMSettings(**{**base, **overrides}))


def llm_play(world: Path, base_url: str, tmp_path: Path, max_rounds: int = 2, **overrides: object) -> RunResult:
    llm = backend(base_url, tmp_path, **overrides)
    try:
        return play(world, seed=1, max_rounds=max_rounds, runs_dir=tmp_path / "runs", llm=llm)
    finally:
        llm.close()


def calls(result: RunResult) -> list[dict]:
    return [e for e in events_of(result.folder) if e["type"] == "llm_call"]


@pytest.mark.parametrize(
    ("schema", "obj", "mode"), [(True, True, "json_schema"), (False, True, "json_object"), (False, False, "prompt")]
)
def test_servers_with_fewer_structured_modes_still_play(
    worlds: dict[str, Path], tmp_path: Path, schema: bool, obj: bool, mode: str
) -> None:
    with FakeOpenAI(supports_json_schema=schema, supports_json_object=obj) as fake:
        result = llm_play(worlds["booleans"], fake.url, tmp_path)
    check_run_folder(result.folder)
    made = calls(result)
    assert made and all(c["params"]["mode"] == mode and c["error"] is None for c in made)


def test_garbage_answers_are_reasked_then_the_actor_passes(
    worlds: dict[str, Path], server: FakeOpenAI, tmp_path: Path
) -> None:
    server.script(
        "a",
        {"kind": "content", "content": "lol no"},
        {"kind": "content", "content": "[1, 2]"},
        {"kind": "content", "content": '{"actions": 5}'},
        {"kind": "content", "content": ""},
        {"kind": "content", "content": "\x00{{{{"},
    )
    result = llm_play(worlds["bilateral"], server.url, tmp_path, max_rounds=2)
    events = check_run_folder(result.folder)
    assert any(e["type"] == "llm_gave_up" and e["actor"] == "a" for e in events)
    assert events[-1]["status"] in STATUSES


def test_a_429_storm_is_ridden_out(worlds: dict[str, Path], server: FakeOpenAI, tmp_path: Path) -> None:
    server.script("a", *[{"kind": "status", "status": 429, "retry_after": 0.05}] * 5)
    server.script("b", {"kind": "status", "status": 429}, {"kind": "status", "status": 503})
    result = llm_play(worlds["bilateral"], server.url, tmp_path, max_rounds=3)
    events = check_run_folder(result.folder)
    assert any(e["type"] == "llm_failed" and e["actor"] == "a" for e in events)  # 3 attempts in round 1, all 429
    assert any(c["actor"] == "b" and c["transport"]["retries"] for c in calls(result))
    assert events[-1]["status"] in STATUSES


def test_a_trailing_slash_in_the_base_url_is_fine(worlds: dict[str, Path], server: FakeOpenAI, tmp_path: Path) -> None:
    result = llm_play(worlds["bilateral"], server.url + "/", tmp_path)
    assert calls(result)


def test_a_base_url_without_v1_is_a_clean_error(worlds: dict[str, Path], server: FakeOpenAI, tmp_path: Path) -> None:
    with pytest.raises(LLMError) as caught:
        llm_play(worlds["bilateral"], server.url.removesuffix("/v1"), tmp_path)
    assert "404" in str(caught.value) and "\n" not in str(caught.value)


def test_a_base_url_without_v1_is_fixed_or_explained(
    worlds: dict[str, Path], server: FakeOpenAI, tmp_path: Path
) -> None:
    try:
        llm_play(worlds["bilateral"], server.url.removesuffix("/v1"), tmp_path)
    except LLMError as exc:
        assert "/v1" in str(exc)


def test_no_api_key_is_needed_for_a_local_server(
    worlds: dict[str, Path], server: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    result = llm_play(worlds["bilateral"], server.url, tmp_path)
    assert calls(result) and check_run_folder(result.folder)


def test_budget_zero_stops_a_priced_model_before_any_call(
    worlds: dict[str, Path], server: FakeOpenAI, tmp_path: Path
) -> None:
    result = llm_play(
        worlds["bilateral"], server.url, tmp_path, model="gpt-4o-mini", budget_usd=0.0, prices=ROOT / "prices.yaml"
    )
    assert result.outcome.status == "budget_exhausted" and not server.requests


def test_budget_zero_lets_a_free_local_model_play(worlds: dict[str, Path], server: FakeOpenAI, tmp_path: Path) -> None:
    result = llm_play(worlds["bilateral"], server.url, tmp_path, budget_usd=0.0)
    assert result.outcome.status in STATUSES and calls(result)


def test_the_budget_holds_when_run_from_another_folder(
    worlds: dict[str, Path], server: FakeOpenAI, tmp_path: Path, elsewhere: Path
) -> None:
    from parley.llm.backend import DEFAULT_PRICES

    result = llm_play(
        worlds["bilateral"], server.url, tmp_path, model="gpt-4o-mini", budget_usd=0.0, prices=DEFAULT_PRICES
    )
    assert result.outcome.status == "budget_exhausted" and not server.requests


def test_model_for_an_unknown_actor_is_a_one_line_error(
    worlds: dict[str, Path], server: FakeOpenAI, tmp_path: Path
) -> None:
    code, _, err, exc = cli(
        "run", str(worlds["bilateral"]), "--backend", "openai", "--model", "fake", "--base-url", server.url,
        "--model-for", "zz=fake", "--runs-dir", str(tmp_path / "runs"), cwd=tmp_path,
    )  # fmt: skip
    assert exc is None and code == 2
    (line,) = lines(err)
    assert "--model-for" in line and "zz" in line and not server.requests


@pytest.mark.parametrize("args", [["--model-for", "zz=fake", "--model", "fake"], []])
def test_a_model_error_leaves_no_run_folder(
    worlds: dict[str, Path], server: FakeOpenAI, tmp_path: Path, args: list[str]
) -> None:
    code, _, _, _ = cli(
        "run", str(worlds["bilateral"]), "--backend", "openai", "--base-url", server.url, *args,
        "--runs-dir", str(tmp_path / "runs"), cwd=tmp_path,
    )  # fmt: skip
    assert code == 2
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())


def test_the_key_never_reaches_the_run_folder_or_the_terminal(
    worlds: dict[str, Path], server: FakeOpenAI, tmp_path: Path
) -> None:
    server.script(
        "a",
        {"kind": "status", "status": 500, "message": f"boom for {KEY}"},
        {"kind": "status", "status": 418, "message": f"teapot {KEY}"},
    )
    env = {**os.environ, "OPENAI_API_KEY": KEY}
    done = parley(
        "run", str(worlds["bilateral"]), "--backend", "openai", "--model", "fake", "--base-url", server.url,
        "--max-retries", "1", "--max-rounds", "2", "--no-cache", "--runs-dir", str(tmp_path / "runs"), cwd=tmp_path, env=env,
    )  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr
    (line,) = lines(done.stderr)
    assert "teapot ***" in line and "418" in line
    assert KEY not in done.stdout + done.stderr
    (folder,) = (tmp_path / "runs").iterdir()
    assert events_of(folder)[-1]["type"] == "error"
    for path in folder.rglob("*"):
        assert KEY not in path.read_text()
    headers = {k.lower(): v for k, v in server.requests[0]["headers"].items()}
    assert headers["authorization"] == f"Bearer {KEY}"


def test_an_echoed_key_is_scrubbed_from_raw_answers(
    worlds: dict[str, Path], server: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    server.script("b", {"kind": "content", "content": f"my key is {KEY}"})
    result = llm_play(worlds["bilateral"], server.url, tmp_path, max_rounds=1)
    assert KEY not in (result.folder / "events.jsonl").read_text()


@pytest.mark.parametrize("url", ["down", "127.0.0.1:{port}/v1", "not a url"])
def test_a_server_that_is_down_ends_the_run_with_one_line(worlds: dict[str, Path], tmp_path: Path, url: str) -> None:
    port = closed_port()
    base = f"http://127.0.0.1:{port}/v1" if url == "down" else url.format(port=port)
    done = parley(
        "run", str(worlds["bilateral"]), "--backend", "openai", "--model", "fake", "--base-url", base,
        "--max-retries", "0", "--max-rounds", "2", "--no-cache", "--runs-dir", str(tmp_path / "runs"), cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode != 0 and "Traceback" not in done.stderr
    (line,) = lines(done.stderr)
    assert base in line or str(port) in line
    (folder,) = (tmp_path / "runs").iterdir()
    assert events_of(folder)[-1]["type"] == "error"


class _Broken(BaseHTTPRequestHandler):
    body = b""
    content_type = "application/json"

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)


@contextlib.contextmanager
def broken_server(body: bytes, content_type: str) -> Iterator[str]:
    handler = type("H", (_Broken,), {"body": body, "content_type": content_type})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_200_without_choices_makes_the_actors_pass(worlds: dict[str, Path], tmp_path: Path) -> None:
    body = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": []}).encode()
    with broken_server(body, "application/json") as url:
        result = llm_play(worlds["bilateral"], url, tmp_path, max_rounds=1)
    assert check_run_folder(result.folder)[-1]["status"] in STATUSES


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"<html><body>Please log in</body></html>", "text/html"), (b'{"choices": [', "application/json")],
    ids=["html-page", "truncated-json"],
)
def test_a_200_that_is_not_a_completion_is_a_clean_error(
    worlds: dict[str, Path], tmp_path: Path, body: bytes, content_type: str
) -> None:
    with broken_server(body, content_type) as url:
        try:
            llm_play(worlds["bilateral"], url, tmp_path, max_rounds=1, max_retries=0)
        except (LLMError, InvalidInput):
            pass


def test_an_unusable_cache_dir_is_a_clean_error(worlds: dict[str, Path], server: FakeOpenAI, tmp_path: Path) -> None:
    try:
        llm_play(worlds["bilateral"], server.url, tmp_path, max_rounds=1, cache_dir=worlds["bilateral"])
    except (LLMError, InvalidInput):
        pass


def test_nan_free_events_in_an_ordinary_run(worlds: dict[str, Path], elsewhere: Path) -> None:
    """Strict JSON: no NaN or Infinity in any event line."""

    def strict(constant: str) -> float:
        raise ValueError(constant)

    result = play(worlds["bilateral"], seed=1, runs_dir=elsewhere / "runs")
    for line in (result.folder / "events.jsonl").read_text().splitlines():
        json.loads(line, parse_constant=strict)
    assert all(math.isfinite(u) for u in result.outcome.utilities.values())
