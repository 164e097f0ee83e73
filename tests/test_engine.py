"""The engine with scripted policies: delivery, mediation, trust, the decision rule, every ending."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from parley.engine.actions import Channel, Counter, Message, Pass, Propose, Respond, WalkOut
from parley.engine.decision import DecisionRule
from parley.engine.graph import RelationshipGraph
from parley.engine.model import NegotiationModel
from parley.players.briefing import RoundMemory, round_context
from parley.ui.seat_words import heard_line
from parley.world.scenario import load_scenario
from parley.world.templates import Templates
from parley.world.world import World
from tests.conftest import MINI
from tests.scripted import ScriptedPolicy

DEAL = {"price": "mid", "border": "middle_line", "aid": "some"}
OTHER = {"price": "high", "border": "middle_line", "aid": "some"}


def model_with(scripts: dict, world: Path = MINI, max_rounds: int | None = None) -> NegotiationModel:
    scenario = load_scenario(world)
    policies = {a: ScriptedPolicy(scripts.get(a)) for a in scenario.world.actor_ids()}
    return NegotiationModel(scenario, policies, seed=7, max_rounds=max_rounds)


def of_type(model: NegotiationModel, kind: str) -> list[dict]:
    return [e for e in model.events if e["type"] == kind]


def edit_world(path: Path, change) -> Path:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# -- delivery and mediation ----------------------------------------------------------------------
def test_proposal_over_an_open_channel_reaches_the_recipient_next_round() -> None:
    m = model_with({"north": {1: [Propose(package=DEAL, to=["south"])]}})
    m.step()
    assert of_type(m, "proposal")[0]["proposal"] == "P1" and not of_type(m, "mediated")
    m.step()
    seen = m.by_actor["south"].policy.seen[-1]
    assert [i["proposal"] for i in seen.inbox if i["kind"] == "proposal"] == ["P1"]
    assert seen.table[0]["package"] == DEAL


def test_proposal_without_a_direct_channel_is_mediated_hop_by_hop() -> None:
    # south -> east is closed; south -> north -> east is open
    m = model_with({"south": {1: [Propose(package=DEAL, to=["east"])]}})
    m.step()
    (hop,) = of_type(m, "mediated")
    assert hop["path"] == ["south", "north", "east"] and hop["what"] == "proposal"
    m.step()
    assert m.by_actor["east"].policy.seen[-1].inbox[0]["path"] == ["south", "north", "east"]


def test_nothing_gets_through_when_every_path_is_closed() -> None:
    m = model_with({"south": {1: [Channel(to="north", open=False), Message(kind="statement", to=["east"], text="hi")]}})
    m.step()
    (lost,) = of_type(m, "undeliverable")
    assert lost["to"] == "east" and lost["what"] == "message"
    m.step()
    assert m.by_actor["east"].policy.seen[-1].inbox == []


def graph_world(edges: list[dict]) -> World:
    return World.model_validate(
        {
            "id": "g",
            "title": "graph",
            "actors": [{"id": a, "persona": "x"} for a in "abcd"],
            "issues": [
                {"id": "i", "title": "i", "options": [{"id": "x", "meaning": "x"}, {"id": "y", "meaning": "y"}]}
            ],
            "edges": edges,
        }
    )


def test_route_follows_open_channels_and_trust() -> None:
    world = graph_world(
        [
            {"from": "a", "to": "b", "trust": -0.5},
            {"from": "b", "to": "d", "trust": -0.5},
            {"from": "a", "to": "c", "trust": 0.9},
            {"from": "c", "to": "b", "trust": 0.9},
            {"from": "a", "to": "d", "trust": 0.9, "open": False},
        ]
    )
    g = RelationshipGraph(world)
    assert g.route("a", "d") == ["a", "c", "b", "d"]  # a longer, trusted way beats a -> b -> d
    g.adjust_trust("b", "d", 1.5)  # trust is clipped to 1
    assert g.trust("b", "d") == 1.0
    g.set_open("a", "d", True)
    assert g.route("a", "d") == ["a", "d"]
    g.set_open("a", "d", False)
    g.leave("b")
    assert g.route("a", "d") is None


def test_route_chooses_trusted_detour() -> None:
    world = graph_world(
        [
            {"from": "a", "to": "b", "trust": -0.9},
            {"from": "b", "to": "d", "trust": -0.9},
            {"from": "a", "to": "c", "trust": 0.9},
            {"from": "c", "to": "b", "trust": 0.9},
            {"from": "c", "to": "d", "trust": 0.8},
        ]
    )
    assert RelationshipGraph(world).route("a", "d") == ["a", "c", "d"]


# -- trust ---------------------------------------------------------------------------------------
def test_trust_moves_by_the_world_rules() -> None:
    m = model_with(
        {
            "north": {1: [Propose(package=DEAL, to=["south", "east"])]},
            "south": {2: [Respond(proposal="P1", accept=False, reason="no")]},
            "east": {
                1: [Message(kind="flattery", to=["south"], text="You are wise.")],
                2: [
                    Respond(proposal="P1", accept=True, reason="fine"),
                    Message(kind="threat", to=["north"], text="or else"),
                ],
            },
        }
    )
    g = m.graph
    before = {(a, b): g.trust(a, b) for a, b in [("south", "east"), ("north", "south"), ("north", "east")]}
    m.step()
    # flattery: listener's trust in the flatterer grows by rule x susceptibility (south: 0.8)
    assert g.trust("south", "east") == pytest.approx(before["south", "east"] + 0.12 * 0.8)
    m.step()
    assert g.trust("north", "south") == pytest.approx(before["north", "south"] - 0.04)
    assert g.trust("north", "east") == pytest.approx(before["north", "east"] + 0.08 - 0.15)
    causes = {(e["actor"], e["toward"], e["cause"]) for e in of_type(m, "trust")}
    assert {
        ("south", "east", "flattery"),
        ("north", "south", "rejected"),
        ("north", "east", "accepted"),
        ("north", "east", "threat"),
    } <= causes


def test_walkout_and_closed_channel_cost_trust() -> None:
    m = model_with({"east": {1: [Channel(to="north", open=False), WalkOut(reason="enough")]}})
    t_north, t_south = m.graph.trust("north", "east"), m.graph.trust("south", "east")
    m.step()
    assert m.graph.trust("north", "east") == pytest.approx(t_north - 0.3 - 0.1)
    assert m.graph.trust("south", "east") == pytest.approx(t_south - 0.3)
    assert "east" not in m.graph.present


# -- endings -------------------------------------------------------------------------------------
def test_converged_when_every_signatory_accepts() -> None:
    m = model_with(
        {
            "north": {1: [Propose(package=DEAL, to=["south", "east"])]},
            "south": {2: [Respond(proposal="P1", accept=True)]},
        }
    )
    outcome = m.run()
    assert outcome.status == "converged" and outcome.round == 2
    assert outcome.deal == DEAL and outcome.proposal == "P1"
    assert outcome.utilities == m.utilities_of(DEAL)
    assert m.events[-1]["type"] == "outcome" and m.events[-1]["status"] == "converged"
    assert outcome.pareto_optimal in (True, False) and outcome.nash["package"] is not None


def test_a_non_signatory_cannot_make_or_block_a_deal() -> None:
    m = model_with(
        {
            "north": {1: [Propose(package=DEAL, to=["south", "east"])]},
            "south": {2: [Respond(proposal="P1", accept=True)]},
            "east": {2: [Respond(proposal="P1", accept=False, reason="not mine")]},
        }
    )
    assert m.run().status == "converged"


def test_stalled_when_nothing_on_the_table_changes() -> None:
    m = model_with({"north": {1: [Propose(package=DEAL, to=["south"])], 2: [Propose(package=DEAL, to=["south"])]}})
    outcome = m.run()
    assert outcome.status == "stalled"
    assert outcome.round == 1 + 3  # the table last changed in round 1; patience is 3 rounds
    assert of_type(m, "proposal_reaffirmed")  # the same package again is not a change
    assert outcome.deal is None and outcome.closest["proposal"] == "P1"
    assert outcome.utilities == outcome.no_deal


def test_breakdown_when_a_signatory_walks_out() -> None:
    m = model_with({"south": {2: [WalkOut(reason="we are done")]}})
    outcome = m.run()
    assert outcome.status == "breakdown" and outcome.round == 2 and outcome.walked_out == ["south"]


def test_a_non_signatory_walking_out_is_no_breakdown() -> None:
    m = model_with(
        {
            "east": {1: [WalkOut()]},
            "north": {r: [Propose(package=DEAL if r % 2 else OTHER, to=["south"])] for r in range(1, 20)},
        }
    )
    assert m.run().status == "max_rounds"


def test_max_rounds_when_the_table_keeps_changing() -> None:
    flip = {r: [Propose(package=DEAL if r % 2 else OTHER, to=["south"])] for r in range(1, 20)}
    m = model_with({"north": flip}, max_rounds=5)
    outcome = m.run()
    assert outcome.status == "max_rounds" and outcome.round == 5
    assert [e["proposal"] for e in of_type(m, "proposal")] == ["P1", "P2", "P3", "P4", "P5"]
    assert [p.status for p in m.table.proposals.values()] == ["superseded"] * 4 + ["open"]


def test_counter_rejects_and_proposes() -> None:
    m = model_with(
        {
            "north": {1: [Propose(package=DEAL, to=["south"])]},
            "south": {2: [Counter(proposal="P1", package=OTHER, to=["north"], reason="better")]},
        }
    )
    m.step()
    m.step()
    p1, p2 = m.table.proposals["P1"], m.table.proposals["P2"]
    assert p1.rejected_by == ["south"] and p1.status == "dead"
    assert p2.counter_to == "P1" and p2.proposer == "south" and p2.accepted_by == ["south"]


def test_offers_made_as_a_deal_passes_are_set_aside_with_the_concession_announcing_them() -> None:
    """The round a deal passes, a new offer or a counter is never tabled: each is logged as set aside,
    with why; a counter's rejection stands; a concession sent with an offer is set aside too (it
    would announce an offer nobody received) and moves no trust, while a threat still goes out."""
    m = model_with(
        {
            "north": {1: [Propose(package=DEAL, to=["south", "east"])]},
            "south": {2: [Respond(proposal="P1", accept=True)]},
            "east": {
                2: [
                    Counter(proposal="P1", package=OTHER, to=["north", "south"], reason="too little", text="Better."),
                    Message(kind="concession", to=["north"], text="We moved."),
                    Message(kind="threat", to=["south"], text="Or else."),
                ]
            },
        }
    )
    outcome = m.run()
    assert outcome.status == "converged" and outcome.proposal == "P1"
    assert [e["proposal"] for e in of_type(m, "proposal")] == ["P1"]
    east = [e for e in of_type(m, "response") if e["actor"] == "east"]
    assert [(e["proposal"], e["accept"], e["countered"]) for e in east] == [("P1", False, True)]
    aside = of_type(m, "set_aside")
    assert [(e["actor"], e["what"], e.get("counter_to"), e.get("kind")) for e in aside] == [
        ("east", "message", None, "concession"),
        ("east", "proposal", "P1", None),
    ]
    assert all(e["closed"] == "deal" and "P1" in e["reason"] and e["round"] == 2 for e in aside)
    assert aside[1]["package"] == OTHER and aside[1]["to"] == ["north", "south"] and aside[1]["text"] == "Better."
    assert [e["kind"] for e in of_type(m, "message")] == ["threat"]
    assert not [e for e in of_type(m, "trust") if e["cause"] == "concession"]
    # and east is told, as a person or an LLM persona would read it next round (seat words, llm/round.j2)
    (told,) = [i for i in m.by_actor["east"].inbox if i["kind"] == "set_aside"]
    assert told["counter_to"] == "P1" and told["reason"] == aside[1]["reason"]
    assert heard_line(told, {}).startswith("Your counter to P1 was set aside, never delivered: the deal P1")
    obs = m.observation_for("east")
    prompt = Templates(load_scenario(MINI).prompts_dir).render(
        "llm/round.j2", **round_context(m.setting, m.space, obs, RoundMemory())
    )
    assert "Your counter to `P1` was set aside, never delivered" in prompt


def test_offers_made_as_a_framework_is_agreed_are_set_aside(mini_copy: Path) -> None:
    def ratify(data: dict) -> None:
        data["protocol"].update(
            {"rule": "ratify", "framework": ["north", "south"], "signatories": ["north", "south", "east"]}
        )

    world = edit_world(mini_copy, ratify)
    m = model_with(
        {
            "north": {1: [Propose(package=DEAL, to=["south", "east"])], 3: [Propose(package=OTHER, to=["east"])]},
            "south": {2: [Respond(proposal="P1", accept=True)]},
            "east": {2: [Counter(proposal="P1", package=OTHER, to=["north", "south"])]},
        },
        world=world,
    )
    m.run()
    assert [e["round"] for e in of_type(m, "framework")] == [2]
    aside = of_type(m, "set_aside")
    assert [(e["actor"], e["round"], e["closed"], e["counter_to"]) for e in aside] == [("east", 2, "framework", "P1")]
    assert "P1 was agreed this round" in aside[0]["reason"]
    assert [e["proposal"] for e in of_type(m, "proposal")] == ["P1"]
    # in the rounds after, while the ratifiers answer, an offer is a move the engine refuses
    assert [(e["actor"], e["round"]) for e in of_type(m, "invalid_action")] == [("north", 3)]


def test_invalid_actions_are_logged_and_the_run_goes_on() -> None:
    m = model_with(
        {
            "north": {
                1: [
                    Propose(package={**DEAL, "price": "free"}, to=["south"]),
                    Propose(package={"price": "mid"}, to=["south"]),
                    Propose(package=DEAL, to=["atlantis"]),
                    Respond(proposal="P9", accept=True),
                    Message(kind="statement", to=["north"], text="me"),
                ]
            },
            "east": {1: [Propose(package=DEAL, to=["south"]), Propose(package=OTHER, to=["south"])]},
        }
    )
    m.step()
    errors = [e["error"] for e in of_type(m, "invalid_action")]
    assert errors == [
        "issue 'price' has no option 'free' (options: low, mid, high)",
        "the package has no option for issue 'border'",
        "unknown actor 'atlantis' (actors: south, east)",
        "no proposal 'P9'",
        "an actor cannot address itself",
        "at most 1 proposal(s) per round",
    ]
    assert len(m.table.proposals) == 1


def test_responding_to_a_proposal_not_addressed_to_you_is_invalid() -> None:
    m = model_with(
        {"north": {1: [Propose(package=DEAL, to=["south"])]}, "east": {2: [Respond(proposal="P1", accept=True)]}}
    )
    m.step()
    m.step()
    assert of_type(m, "invalid_action")[0]["error"] == "proposal 'P1' was not addressed to east"


def test_pass_is_logged() -> None:
    m = model_with({"north": {1: [Pass(reason="waiting")]}})
    m.step()
    assert of_type(m, "pass") == [{"seq": 2, "round": 1, "type": "pass", "actor": "north", "reason": "waiting"}]


# -- the decision rule ---------------------------------------------------------------------------
def test_quorum_with_veto_and_minimum_utility(mini_copy: Path) -> None:
    def quorum(d: dict) -> None:
        d["protocol"] = {
            "signatories": ["north", "south", "east"],
            "rule": "quorum",
            "quorum": 2,
            "veto": ["south"],
            "max_rounds": 5,
        }

    world = load_scenario(edit_world(mini_copy, quorum)).world
    rule = DecisionRule.of(world)
    high = dict.fromkeys(["north", "south", "east"], 0.9)
    assert rule.passes(["north", "south"], high)
    assert not rule.passes(["north", "east"], high)  # the veto holder has not accepted
    assert not rule.passes(["south"], high)
    assert rule.required() == ("south",)
    assert not rule.can_still_pass(["south"], {"north", "south", "east"})
    assert rule.can_still_pass(["east"], {"north", "south", "east"})
    assert not rule.can_still_pass([], {"south"})

    floor = DecisionRule("quorum", ("north", "south", "east"), 2, ("south",), {"south": 0.5})
    assert not floor.passes(["north", "south"], {**high, "south": 0.4})


def test_minimum_utility_keeps_a_deal_from_passing(mini_copy: Path) -> None:
    edit_world(mini_copy, lambda d: d["protocol"].update(min_utility={"south": 0.99}))
    scenario = load_scenario(mini_copy)
    policies = {
        "north": ScriptedPolicy({1: [Propose(package=DEAL, to=["south"])]}),
        "south": ScriptedPolicy({2: [Respond(proposal="P1", accept=True)]}),
        "east": ScriptedPolicy(),
    }
    outcome = NegotiationModel(scenario, policies, seed=1).run()
    assert outcome.status == "stalled"


def test_breakdown_when_quorum_can_no_longer_be_reached(mini_copy: Path) -> None:
    edit_world(
        mini_copy,
        lambda d: d.update(protocol={"signatories": ["north", "south", "east"], "rule": "quorum", "quorum": 3}),
    )
    scenario = load_scenario(mini_copy)
    policies = {a: ScriptedPolicy({1: [WalkOut()]} if a == "east" else None) for a in scenario.world.actor_ids()}
    assert NegotiationModel(scenario, policies, seed=1).run().status == "breakdown"
