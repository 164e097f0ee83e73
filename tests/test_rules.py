"""The legality rules, called directly (no run): what the engine drops and LLM answers are held to."""

from __future__ import annotations

from pathlib import Path

import pytest

from parley.engine.actions import Channel, Counter, Message, Move, Pass, Propose, Respond
from parley.engine.rules import action_problem, crossing, move_problems, package_problem, red_lines_of
from parley.world.scenario import load_scenario

MINI = Path(__file__).parent / "fixtures" / "mini" / "world.yaml"
PACKAGE = {"price": "mid", "border": "middle_line", "aid": "some"}


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(MINI)


def view(pid: str = "P1", status: str = "open", recipients: tuple = ("south",), **extra) -> dict:
    return {
        "id": pid,
        "status": status,
        "proposer": "north",
        "recipients": list(recipients),
        "accepted_by": ["north"],
        "rejected_by": [],
        "package": dict(PACKAGE),
        **extra,
    }


def test_a_whole_package_of_known_options_is_legal(scenario) -> None:
    assert package_problem(scenario.world, PACKAGE) is None


@pytest.mark.parametrize(
    ("package", "words"),
    [
        ({"price": "mid", "border": "middle_line"}, "no option for issue 'aid'"),
        ({**PACKAGE, "aid": "heaps"}, "has no option 'heaps'"),
        ({**PACKAGE, "tariffs": "none"}, "unknown issue 'tariffs'"),
    ],
)
def test_a_package_that_misses_or_invents_is_refused(scenario, package: dict, words: str) -> None:
    assert words in package_problem(scenario.world, package)


def test_a_withdrawn_option_is_refused(scenario) -> None:
    assert "withdrawn" in package_problem(scenario.world, PACKAGE, {"aid": ["some"]})


def test_red_lines_are_read_from_the_card_and_crossing_names_the_issue(scenario) -> None:
    lines = red_lines_of(scenario.personas["north"])
    for issue, excluded in lines.items():
        assert f"red line on '{issue}'" in crossing({issue: excluded[0]}, lines)
    assert crossing(PACKAGE, {}) is None


@pytest.mark.parametrize(
    ("action", "words"),
    [
        (Propose(package=PACKAGE, to=["nobody"]), "unknown actor 'nobody'"),
        (Propose(package=PACKAGE, to=["north"]), "cannot address itself"),
        (Message(to=["north"], text="hello"), "cannot address itself"),
        (Channel(to="west", open=True), "unknown actor 'west'"),
        (Respond(proposal="P9", accept=True), "no proposal 'P9'"),
    ],
)
def test_actions_with_bad_targets_are_refused(scenario, action, words: str) -> None:
    assert words in action_problem(scenario.world, "north", action, {"P1": view()})


def test_answering_needs_an_open_proposal_addressed_to_you_and_not_yet_answered(scenario) -> None:
    world = scenario.world
    assert action_problem(world, "south", Respond(proposal="P1", accept=False), {"P1": view()}) is None
    assert "not addressed to east" in action_problem(world, "east", Respond(proposal="P1", accept=True), {"P1": view()})
    closed = {"P1": view(status="superseded")}
    assert "is superseded" in action_problem(world, "south", Respond(proposal="P1", accept=True), closed)
    answered = {"P1": view(rejected_by=["south"])}
    assert "already answered" in action_problem(
        world, "south", Counter(proposal="P1", package=PACKAGE, to=["north"]), answered
    )


def test_accepting_across_your_own_red_line_is_refused(scenario) -> None:
    lines = red_lines_of(scenario.personas["south"])
    issue, excluded = next(iter(lines.items()))
    crossing_view = {"P1": view(package={**PACKAGE, issue: excluded[0]})}
    problem = action_problem(
        scenario.world, "south", Respond(proposal="P1", accept=True), crossing_view, red_lines=lines
    )
    assert f"red line on '{issue}'" in problem
    refusing = Respond(proposal="P1", accept=False)
    assert action_problem(scenario.world, "south", refusing, crossing_view, red_lines=lines) is None


def test_a_move_may_hold_only_as_many_proposals_as_the_protocol_allows(scenario) -> None:
    limit = scenario.world.protocol.max_proposals_per_round
    move = Move(actions=[Pass(), *[Propose(package=PACKAGE, to=["south"]) for _ in range(limit + 1)]])
    problems = move_problems(scenario.world, "north", move, {})
    assert problems == [(limit + 1, f"at most {limit} proposal(s) per round")]
