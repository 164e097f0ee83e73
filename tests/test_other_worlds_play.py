"""The offline default plays believably beyond the bundled world: three small worlds (a quorum with a
veto and a `min_utility`, a ratify world whose framework parties and belligerents are not Ukraine's,
with a `deadline`, and six actors with no `edges:` and a public red line and core) keep the invariants
the Ukraine world's tests check, over seeds."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from parley.engine.issue_space import IssueSpace
from parley.engine.model import NegotiationModel
from parley.world.scenario import Scenario, load_scenario
from tests.conftest import ROOT
from tests.test_play import offline_run, play_record

WORLDS = ["quorum4", "ratify4", "open6"]
SEEDS = range(1, 7)
ROUNDS = 5
# the words of tests/fixtures/*/prompts/offline/{accept,reject}.j2
REFUSES = re.compile(r"cannot accept|not good enough|asks too much", re.I)
PRAISES = re.compile(r"we accept|live with|won by firmness", re.I)


def world(name: str) -> Path:
    return ROOT / "tests" / "fixtures" / name / "world.yaml"


def reversed_world(path: Path, into: Path) -> Path:
    """The same world with its actors (and edges, if any) listed the other way round."""
    data = yaml.safe_load(path.read_text())
    data["actors"] = data["actors"][::-1]
    data["edges"] = data.get("edges", [])[::-1]
    data["prompts"] = str(path.parent / data["prompts"])
    for actor in data["actors"]:
        actor["persona"] = str(path.parent / actor["persona"])
    out = into / "reversed.yaml"
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def check_run(model: NegotiationModel, scenario: Scenario, space: IssueSpace) -> Counter:
    """Every invariant over one run's events; returns counts of what was checked."""
    seen: Counter = Counter()
    events = model.events
    table = {e["proposal"]: e for e in events if e["type"] == "proposal"}
    last: dict[str, dict] = {}
    moved: dict[tuple[str, int], bool] = {}
    for e in (e for e in events if e["type"] == "proposal"):
        moved[(e["actor"], e["round"])] = last.get(e["actor"]) not in (None, e["package"])
        last[e["actor"]] = e["package"]
    agreed = {e["round"] for e in events if e["type"] in ("deal", "framework")}
    for e in events:
        if e["type"] == "response":
            proposal, persona = table[e["proposal"]], scenario.personas[e["actor"]]
            package = proposal["package"]
            if e["accept"]:
                seen["accepts"] += 1
                assert not any(package[line.issue] in line.excludes for line in persona.red_lines), e
                utility = space.utility(space.encode(package), space.index(e["actor"]))
                assert utility >= persona.reservation_value() - 1e-9, e
                assert not REFUSES.search(e["reason"]), e
            else:
                seen["rejects"] += 1
                assert proposal["actor"] != e["actor"], e  # never rejects its own package
                assert not PRAISES.search(e["reason"]), e
        elif e["type"] == "message" and e["kind"] == "concession":
            seen["concessions"] += 1
            assert moved.get((e["actor"], e["round"])), e
        elif e["type"] == "set_aside":
            seen["set_aside"] += 1
            assert e["round"] in agreed, e
    return seen


@pytest.mark.parametrize("name", WORLDS)
def test_invariants_hold_over_seeds(name: str) -> None:
    scenario = load_scenario(world(name))
    space = IssueSpace.build(scenario.world, scenario.personas)
    seen: Counter = Counter()
    for seed in SEEDS:
        seen += check_run(offline_run(world(name), seed, max_rounds=ROUNDS), scenario, space)
    assert seen["accepts"] and seen["rejects"]  # the checks above were exercised


@pytest.mark.parametrize("name", WORLDS)
def test_play_does_not_depend_on_the_order_of_actors(name: str, tmp_path: Path) -> None:
    flipped = reversed_world(world(name), tmp_path)
    for seed in range(1, 5):
        a, b = offline_run(world(name), seed, max_rounds=ROUNDS), offline_run(flipped, seed, max_rounds=ROUNDS)
        assert play_record(a) == play_record(b), (name, seed)


@pytest.mark.parametrize("name", WORLDS)
def test_the_round_cap_changes_nothing_before_it(name: str) -> None:
    for seed in range(1, 5):
        short, long = offline_run(world(name), seed, max_rounds=3), offline_run(world(name), seed, max_rounds=8)
        assert short.outcome is not None
        cut = short.outcome.round
        before = [e for e in short.events if e["type"] != "outcome"]
        assert before == [e for e in long.events if e["round"] <= cut and e["type"] != "outcome"]
