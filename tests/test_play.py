"""Issue 10's play: the ratify protocol, the walkout and min_utility bugs, order independence, the round
cap as a pure cap, inject effects on values and beliefs, and the new card fields' one-line errors.

Everything plays the mini world (three actors, 108 packages), scripted or offline, so it is fast.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from parley.engine.actions import Message, Propose, Respond, WalkOut
from parley.engine.decision import DecisionRule
from parley.engine.issue_space import IssueSpace
from parley.engine.model import NegotiationModel
from parley.runs.cast import offline_cast
from parley.runs.play import EventSink, execute, prepare
from parley.world.injects import load_injects
from parley.world.problems import InvalidInput
from parley.world.scenario import load_scenario
from tests.scripted import ScriptedPolicy

DEAL = {"price": "mid", "border": "middle_line", "aid": "some"}
OTHER = {"price": "high", "border": "north_line", "aid": "none"}


def edit(path: Path, change: Callable[[dict], Any]) -> Path:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def scripted(world: Path, scripts: dict, max_rounds: int | None = None) -> NegotiationModel:
    scenario = load_scenario(world)
    policies = {a: ScriptedPolicy(scripts.get(a)) for a in scenario.world.actor_ids()}
    return NegotiationModel(scenario, policies, seed=7, max_rounds=max_rounds)


def of_type(model: NegotiationModel, kind: str) -> list[dict]:
    return [e for e in model.events if e["type"] == kind]


def ratify(d: dict, **extra: Any) -> None:
    d["protocol"] = {
        "signatories": ["north", "south", "east"],
        "rule": "ratify",
        "framework": ["north", "south"],
        "ratify_rounds": 2,
        "belligerents": ["south", "east"],
        "max_rounds": 10,
        **extra,
    }


@pytest.fixture
def ratify_world(mini_copy: Path) -> Path:
    return edit(mini_copy, ratify)


# -- the ratify protocol ---------------------------------------------------------------------------
def test_a_framework_refused_by_a_party_at_war_is_no_peace(ratify_world: Path) -> None:
    m = scripted(
        ratify_world,
        {
            "north": {1: [Propose(package=DEAL, to=["south", "east"])]},
            "south": {2: [Respond(proposal="P1", accept=True)]},
            "east": {3: [Respond(proposal="P1", accept=False, reason="not over our heads")]},
        },
    )
    outcome = m.run()
    (framework,) = of_type(m, "framework")
    assert framework["signed_by"] == ["north", "south"] and framework["to"] == ["east"] and framework["until"] == 4
    assert outcome.status == "refused" and outcome.round == 3 and outcome.deal is None
    assert outcome.signed == ["north", "south"] and outcome.refused == ["east"] and outcome.war_continues is True
    assert outcome.framework["package"] == DEAL and outcome.framework["status"] == "refused"
    assert outcome.utilities == outcome.no_deal  # a refused framework is valued as the cards say: no deal by default
    event = m.events[-1]
    assert event["signed"] == ["north", "south"] and event["refused"] == ["east"] and event["war_continues"] is True


def test_a_ratified_framework_is_the_deal_and_peace(ratify_world: Path) -> None:
    m = scripted(
        ratify_world,
        {
            "north": {1: [Propose(package=DEAL, to=["south"])]},  # east is not even addressed: it is put to it
            "south": {2: [Respond(proposal="P1", accept=True)]},
            "east": {3: [Respond(proposal="P1", accept=True)]},
        },
    )
    outcome = m.run()
    assert outcome.status == "converged" and outcome.deal == DEAL and outcome.round == 3
    assert outcome.signed == ["north", "south", "east"] and outcome.refused == [] and outcome.war_continues is False
    assert m.by_actor["east"].policy.seen[-1].ratification == {
        "proposal": "P1",
        "until": 4,
        "signed_by": ["north", "south"],
    }


def test_a_ratifier_not_at_war_refusing_does_not_stop_the_peace(mini_copy: Path) -> None:
    edit(mini_copy, lambda d: ratify(d, belligerents=["north", "south"]))
    m = scripted(
        mini_copy,
        {
            "north": {1: [Propose(package=DEAL, to=["south", "east"])]},
            "south": {2: [Respond(proposal="P1", accept=True)]},
            "east": {3: [Respond(proposal="P1", accept=False, reason="we will not pay for it")]},
        },
    )
    outcome = m.run()
    assert outcome.status == "converged" and outcome.deal == DEAL and outcome.round == 3
    assert outcome.signed == ["north", "south"] and outcome.refused == ["east"] and outcome.war_continues is False
    assert outcome.framework is not None and outcome.framework["refused_by"] == ["east"]


def test_a_ratifier_that_lets_the_time_run_out_has_refused(ratify_world: Path) -> None:
    m = scripted(
        ratify_world,
        {
            "north": {1: [Propose(package=DEAL, to=["south", "east"])]},
            "south": {2: [Respond(proposal="P1", accept=True)]},
        },
    )
    outcome = m.run()
    assert outcome.status == "refused" and outcome.round == 4 and outcome.refused == ["east"]


def test_what_a_ratifier_said_of_the_proposal_is_not_its_answer_to_the_framework(ratify_world: Path) -> None:
    m = scripted(
        ratify_world,
        {
            "north": {1: [Propose(package=DEAL, to=["south", "east"])]},
            "south": {2: [Respond(proposal="P1", accept=True)]},
            "east": {2: [Respond(proposal="P1", accept=False)], 3: [Respond(proposal="P1", accept=True)]},
        },
    )
    assert m.run().status == "converged"


def test_no_new_proposals_while_the_framework_is_before_the_ratifiers(ratify_world: Path) -> None:
    m = scripted(
        ratify_world,
        {
            "north": {1: [Propose(package=DEAL, to=["south", "east"])], 3: [Propose(package=OTHER, to=["east"])]},
            "south": {2: [Respond(proposal="P1", accept=True), Propose(package=OTHER, to=["north"])]},
        },
    )
    m.run()
    assert len(m.table.proposals) == 1  # south's proposal in the round the framework passed comes too late
    assert "the framework P1 is before the ratifiers" in of_type(m, "invalid_action")[0]["error"]


def test_a_ratifier_that_accepted_before_signs_at_once(ratify_world: Path) -> None:
    m = scripted(
        ratify_world,
        {
            "north": {1: [Propose(package=DEAL, to=["south", "east"])]},
            "south": {2: [Respond(proposal="P1", accept=True)]},
            "east": {2: [Respond(proposal="P1", accept=True)]},
        },
    )
    outcome = m.run()
    assert outcome.status == "converged" and outcome.round == 2 and not of_type(m, "framework")


def test_a_ratifier_walking_out_is_no_breakdown_but_a_refusal(ratify_world: Path) -> None:
    m = scripted(
        ratify_world,
        {
            "east": {1: [WalkOut(reason="not at this table")]},
            "north": {1: [Propose(package=DEAL, to=["south"])]},
            "south": {2: [Respond(proposal="P1", accept=True)]},
        },
    )
    outcome = m.run()
    assert outcome.status == "refused" and outcome.refused == ["east"] and outcome.round == 2


def test_a_framework_party_walking_out_is_a_breakdown(ratify_world: Path) -> None:
    m = scripted(ratify_world, {"south": {2: [WalkOut()]}})
    assert m.run().status == "breakdown"


def test_ratify_rules_are_checked_with_one_line_errors(mini_copy: Path) -> None:
    cases = [
        (lambda d: ratify(d, framework=[]), "protocol.framework: rule 'ratify' needs a 'framework'"),
        (lambda d: ratify(d, framework=["north", "west"]), "protocol.framework[1]: unknown actor 'west'"),
        (
            lambda d: ratify(d, signatories=["north", "south"]),
            "protocol.framework: every signatory is a framework party",
        ),
        (lambda d: ratify(d, quorum=2), "protocol.quorum: 'quorum' only applies with rule: quorum"),
        (lambda d: ratify(d, veto=["north"]), "protocol.veto: 'veto' only applies with rule: quorum"),
        (lambda d: ratify(d, deadline=12), "protocol.deadline: deadline 12 is after max_rounds 10"),
        (lambda d: ratify(d, belligerents=["west"]), "protocol.belligerents[0]: unknown actor 'west'"),
        (
            lambda d: d["protocol"].update(framework=["north"]),
            "protocol.framework: 'framework' only applies with rule: ratify",
        ),
    ]
    original = mini_copy.read_text()
    for change, expected in cases:
        mini_copy.write_text(original)
        edit(mini_copy, change)
        with pytest.raises(InvalidInput) as info:
            load_scenario(mini_copy)
        lines = [str(p) for p in info.value.problems]
        assert any(expected in line for line in lines), (expected, lines)
        assert all("\n" not in line for line in lines)


# -- the engine bugs -------------------------------------------------------------------------------
def test_a_signatory_that_walks_out_accepts_nothing_in_that_round(mini_copy: Path) -> None:
    """Base seed 10 of the default world: Europe walked out in round 17 and its own proposal passed
    "accepted by Europe" in the same round."""
    m = scripted(
        mini_copy,
        {
            "north": {1: [Propose(package=DEAL, to=["south"])], 2: [WalkOut()]},
            "south": {2: [Respond(proposal="P1", accept=True)]},
        },
    )
    outcome = m.run()
    assert outcome.status == "breakdown" and outcome.deal is None and not of_type(m, "deal")


def test_min_utility_holds_for_a_signatory_that_votes_no_under_quorum(mini_copy: Path) -> None:
    edit(
        mini_copy,
        lambda d: d.update(
            protocol={"signatories": ["north", "south", "east"], "rule": "quorum", "quorum": 2, "max_rounds": 4}
        ),
    )
    utilities = scripted(mini_copy, {}).utilities_of(DEAL)
    objector = min(["south", "east"], key=utilities.__getitem__)  # the one the deal leaves worst off votes no
    other = "east" if objector == "south" else "south"
    edit(mini_copy, lambda d: d["protocol"].update(min_utility={objector: round(utilities[objector] + 0.05, 3)}))
    m = scripted(
        mini_copy,
        {
            "north": {1: [Propose(package=DEAL, to=["south", "east"])]},
            other: {2: [Respond(proposal="P1", accept=True)]},
            objector: {2: [Respond(proposal="P1", accept=False)]},
        },
    )
    assert m.run().status != "converged"
    rule = DecisionRule("quorum", ("north", "south", "east"), 2, (), {"east": 0.9})
    assert not rule.passes(["north", "south"], {"north": 1.0, "south": 1.0, "east": 0.5})
    assert rule.passes(["north", "south"], {"north": 1.0, "south": 1.0, "east": 0.95})


# -- offline play: no artefacts --------------------------------------------------------------------
def offline_run(world: Path, seed: int, max_rounds: int | None = None, injects: list | None = None) -> NegotiationModel:
    scenario, templates, space = prepare(world)
    rounds = max_rounds or scenario.world.protocol.max_rounds
    return execute(
        scenario, templates, space, offline_cast(templates, seed), seed, rounds, None, EventSink(None), injects
    )


def reversed_world(world: Path, into: Path) -> Path:
    data = yaml.safe_load(world.read_text())
    data["actors"] = data["actors"][::-1]
    data["edges"] = data["edges"][::-1]
    out = into / "reversed.yaml"
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def play_record(model: NegotiationModel) -> tuple:
    """What happened, without the order the world lists actors in: each round's events as a sorted list
    (proposal numbers follow that order, so they are left out), and the outcome."""
    ignore = {"seq", "proposal", "counter_to", "text", "reason"}

    def plain(value: Any) -> Any:  # lists of actors come in the world's order: compare them as sets
        return sorted(value) if isinstance(value, list) and all(isinstance(v, str) for v in value) else value

    rounds: dict[int, list[str]] = {}
    for e in model.events:
        if e["type"] in ("outcome", "round_ended", "round_started"):
            continue
        kept = {k: plain(v) for k, v in e.items() if k not in ignore}
        rounds.setdefault(e["round"], []).append(json.dumps(kept, sort_keys=True))
    o = model.outcome
    assert o is not None
    ending = (o.status, o.round, o.deal, sorted(o.walked_out), o.utilities, sorted(o.signed), sorted(o.refused))
    return tuple(sorted(v) for _, v in sorted(rounds.items())), ending


@pytest.mark.parametrize("protocol", ["unanimity", "ratify"])
def test_play_does_not_depend_on_the_order_actors_are_listed_in(mini_copy: Path, tmp_path: Path, protocol: str) -> None:
    if protocol == "ratify":
        edit(mini_copy, lambda d: ratify(d, max_rounds=12))
    flipped = reversed_world(mini_copy, mini_copy.parent)
    for seed in range(1, 7):
        assert play_record(offline_run(mini_copy, seed)) == play_record(offline_run(flipped, seed)), seed


def test_the_round_cap_changes_nothing_before_it(mini_copy: Path) -> None:
    for seed in range(1, 7):
        short, long = offline_run(mini_copy, seed, max_rounds=3), offline_run(mini_copy, seed, max_rounds=12)
        assert short.outcome is not None
        cut = short.outcome.round
        before = [e for e in short.events if e["type"] != "outcome"]
        assert before == [e for e in long.events if e["round"] <= cut and e["type"] != "outcome"][: len(before)]
        assert len(before) == len([e for e in long.events if e["round"] <= cut and e["type"] != "outcome"])


def test_a_declared_deadline_is_known_and_ends_the_talks(mini_copy: Path) -> None:
    edit(mini_copy, lambda d: d["protocol"].update(deadline=3))
    m = scripted(
        mini_copy, {"north": {r: [Propose(package=DEAL if r % 2 else OTHER, to=["south"])] for r in range(1, 9)}}
    )
    outcome = m.run()
    assert outcome.status == "max_rounds" and outcome.round == 3
    assert m.by_actor["south"].policy.seen[0].deadline == 3


# -- injects that change what actors value and believe -------------------------------------------------
def inject_file(folder: Path, effects: dict, round_: int = 2, to: Any = "all") -> Path:
    path = folder / "news.yaml"
    path.write_text(
        yaml.safe_dump({"title": "news", "events": [{"round": round_, "to": to, "text": "News.", "effects": effects}]})
    )
    return path


def test_an_inject_changes_no_deal_values_and_weights_and_so_play(mini_copy: Path) -> None:
    scenario = load_scenario(mini_copy)
    news = load_injects(
        inject_file(
            mini_copy.parent,
            {
                "no_deal": [{"actor": "south", "delta": -0.25}],
                "weights": [{"actor": "south", "issue": "aid", "factor": 3}],
            },
        ),
        scenario,
    )
    changed = 0
    for seed in range(1, 6):
        plain, told = offline_run(mini_copy, seed), offline_run(mini_copy, seed, injects=news)
        assert told.outcome is not None and plain.outcome is not None
        (revalued,) = of_type(told, "revalued")
        assert revalued["no_deal"] == {"south": pytest.approx(scenario.personas["south"].no_deal.value - 0.25)}
        assert revalued["weights"] == {"south": ["aid"]}
        assert told.outcome.no_deal["south"] == pytest.approx(scenario.personas["south"].no_deal.value - 0.25)
        changed += play_record(plain) != play_record(told)
    assert changed >= 4  # news that changes what an actor values changes what happens


def test_those_told_learn_of_a_changed_no_deal_value_and_those_not_told_do_not(mini_copy: Path) -> None:
    scenario = load_scenario(mini_copy)
    news = load_injects(
        inject_file(mini_copy.parent, {"no_deal": [{"actor": "south", "delta": -0.2}]}, to=["north"]), scenario
    )
    m = offline_run(mini_copy, 1, max_rounds=2, injects=news)
    plain = offline_run(mini_copy, 1, max_rounds=2)
    s = m.space.index("south")
    north, east = m.by_actor["north"].policy, m.by_actor["east"].policy
    assert north._reservation_guess[s] == pytest.approx(plain.by_actor["north"].policy._reservation_guess[s] - 0.2)
    assert east._reservation_guess[s] == pytest.approx(plain.by_actor["east"].policy._reservation_guess[s])


def test_a_belief_effect_clears_what_one_actor_gets_wrong_about_another(mini_copy: Path) -> None:
    scenario = load_scenario(mini_copy)
    news = load_injects(
        inject_file(mini_copy.parent, {"beliefs": [{"actor": "north", "about": "south", "clarity": 1.0}]}), scenario
    )
    told, plain = offline_run(mini_copy, 3, max_rounds=2, injects=news), offline_run(mini_copy, 3, max_rounds=2)
    s = told.space.index("south")
    real = told.space.values[s] > -1

    def error(model: NegotiationModel, actor: str) -> float:
        return float(np.abs(model.by_actor[actor].policy.beliefs[s] - model.space.values[s])[real].sum())

    assert error(told, "north") < 0.5 * error(plain, "north")  # it reads south's card (almost) exactly now
    assert error(told, "east") == pytest.approx(error(plain, "east"))  # east was not told


def test_bad_value_effects_are_one_line_errors(mini_copy: Path) -> None:
    scenario = load_scenario(mini_copy)
    cases = [
        ({"no_deal": [{"actor": "west", "delta": 0.1}]}, "events[0].effects.no_deal[0].actor: unknown actor 'west'"),
        (
            {"weights": [{"actor": "south", "issue": "oil", "factor": 2}]},
            "events[0].effects.weights[0].issue: unknown issue 'oil'",
        ),
        (
            {"beliefs": [{"actor": "north", "about": "north", "clarity": 0.5}]},
            "events[0].effects.beliefs[0]: 'north' knows its own card",
        ),
        ({"beliefs": [{"actor": "north", "about": "south", "clarity": 2}]}, "events[0].effects.beliefs[0].clarity"),
        ({"no_deal": [{"actor": "south", "delta": 3}]}, "events[0].effects.no_deal[0].delta"),
    ]
    for effects, expected in cases:
        with pytest.raises(InvalidInput) as info:
            load_injects(inject_file(mini_copy.parent, effects), scenario)
        lines = [str(p) for p in info.value.problems]
        assert any(expected in line for line in lines), (expected, lines)


# -- the new card fields --------------------------------------------------------------------------
CORE = {
    "at_least": 2,
    "of": [{"issue": "price", "options": ["mid", "high"]}, {"issue": "border", "options": ["south_line"]}],
    "why": "what north will not trade away",
    "cite": [1],
}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda c: c.update(core={**CORE, "at_least": 3}),
            "core: at_least 3 is more than the 2 aims listed",
        ),
        (
            lambda c: c.update(core={**CORE, "of": [{"issue": "oil", "options": ["x"]}], "at_least": 1}),
            "core.of[0].issue: unknown issue 'oil'",
        ),
        (
            lambda c: c.update(core={**CORE, "of": [{"issue": "price", "options": ["free"]}], "at_least": 1}),
            "core.of[0].options[0]: issue 'price' has no option 'free'",
        ),
        (
            lambda c: c.update(
                core=CORE, red_lines=[{"issue": "border", "excludes": ["south_line"], "why": "w", "cite": [1]}]
            ),
            "core.at_least: only 1 of the aims can hold within the card's own red lines",
        ),
        (lambda c: c.update(core={k: v for k, v in CORE.items() if k != "why"}), "core.why: Field required"),
        (
            lambda c: c.update(reservation={"value": 0.1, "why": "w", "cite": [1]}),
            "reservation: 0.1 is below the no-deal value 0.3",
        ),
        (
            lambda c: c.update(
                reservation={"value": 0.5, "why": "w", "cite": [1]}, aspiration={"value": 0.4, "why": "w", "cite": [1]}
            ),
            "aspiration: 0.4 is below the reservation 0.5",
        ),
        (
            lambda c: c.update(information={"belief_noise": 0.1, "about": {"west": 0.0}, "why": "w", "cite": [1]}),
            "information.about.west: unknown actor 'west'",
        ),
        (lambda c: c.update(information={"belief_noise": 1.5, "why": "w", "cite": [1]}), "information.belief_noise"),
        (
            lambda c: c.update(outcomes={"framework_refused": {"value": 0.2, "why": "w", "cite": [99]}}),
            "outcomes.framework_refused.cite: paragraph 99 does not exist",
        ),
    ],
)
def test_new_card_fields_are_checked_with_one_line_errors(
    mini_copy: Path, change: Callable[[dict], None], expected: str
) -> None:
    card = mini_copy.parent / "agents" / "north.yaml"
    edit(mini_copy, lambda d: d.update(source_text="source.txt"))
    (mini_copy.parent / "source.txt").write_text("A title.\n\nOne paragraph.\n")
    edit(card, change)
    with pytest.raises(InvalidInput) as info:
        load_scenario(mini_copy)
    lines = [str(p) for p in info.value.problems]
    assert any(f"north.yaml: {expected}" in line for line in lines), (expected, lines)
    assert all("\n" not in line for line in lines)


def test_a_core_is_enforced_like_a_red_line(mini_copy: Path) -> None:
    edit(
        mini_copy.parent / "agents" / "south.yaml",
        lambda c: c.update(core={**CORE, "at_least": 1, "of": [{"issue": "price", "options": ["low"]}]}),
    )
    m = scripted(
        mini_copy,
        {
            "north": {1: [Propose(package=DEAL, to=["south"])]},
            "south": {1: [Propose(package=DEAL, to=["north"])], 2: [Respond(proposal="P1", accept=True)]},
        },
    )
    m.step()
    m.step()
    errors = [e["error"] for e in of_type(m, "invalid_action")]
    assert errors == ["the package meets 0 of your core aims, you need at least 1 (missed: price)"] * 2
    assert m.deal is None


def test_cores_are_kept_by_the_benchmarks(mini_copy: Path) -> None:
    """The Nash package and the Pareto check look only at packages that meet every party's core."""
    edit(
        mini_copy.parent / "agents" / "south.yaml",
        lambda c: c.update(core={**CORE, "at_least": 1, "of": [{"issue": "price", "options": ["low"]}]}),
    )
    scenario = load_scenario(mini_copy)
    space = IssueSpace.build(scenario.world, scenario.personas)
    m = NegotiationModel(scenario, {a: ScriptedPolicy() for a in scenario.world.actor_ids()}, seed=1, max_rounds=1)
    outcome = m.run()
    assert outcome.nash is not None and outcome.nash["package"]["price"] == "low"
    assert bool(space.meets_cores(space.encode(outcome.nash["package"])))


def test_a_message_in_a_ratification_round_still_travels(ratify_world: Path) -> None:
    m = scripted(
        ratify_world,
        {
            "north": {
                1: [Propose(package=DEAL, to=["south", "east"])],
                3: [Message(kind="threat", to=["east"], text="sign")],
            },
            "south": {2: [Respond(proposal="P1", accept=True)]},
            "east": {4: [Respond(proposal="P1", accept=True)]},
        },
    )
    assert m.run().status == "converged" and of_type(m, "message")
