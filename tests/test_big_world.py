"""Big worlds: offline actors talk along the relationship graph (their contacts and those whose
signature a deal needs), so what a round delivers grows with the graph's edges, not with N x N; and
the synthetic world generator of benchmarks/big_world.py writes worlds that load and play."""

from __future__ import annotations

from pathlib import Path

from benchmarks.big_world import write_world
from parley.engine.model import NegotiationModel
from parley.runs.cast import offline_cast
from parley.runs.play import prepare
from parley.world.scenario import load_scenario


def played(world: Path, rounds: int) -> NegotiationModel:
    scenario, templates, space = prepare(world)
    cast = offline_cast(templates, seed=1)
    model = NegotiationModel(scenario, cast.policies(scenario, space), seed=1, max_rounds=rounds, space=space)
    model.run()
    return model


def test_offline_actors_address_their_contacts_and_the_signatories(tmp_path: Path) -> None:
    world = write_world(tmp_path, 30, n_issues=4, seed=3)
    model = played(world, 3)
    edges = load_scenario(world).world.edges
    contacts = {
        a: {e.target for e in edges if e.source == a} | {e.source for e in edges if e.target == a}
        for a in model.by_actor
    }
    signatories = set(model.world.signatories())
    proposals = [e for e in model.events if e["type"] == "proposal"]
    assert len({e["actor"] for e in proposals}) > 20  # most of the 30 make offers
    for e in proposals:
        assert set(e["to"]) <= contacts[e["actor"]] | signatories
        assert set(e["to"]) >= (contacts[e["actor"]] | signatories) - {e["actor"]} - set(model.walked_out)
    for e in model.events:
        if e["type"] == "message" and e["kind"] == "flattery":
            assert set(e["to"]) <= contacts[e["actor"]] | signatories
    # every delivery of a round is along one of the actor's own links, or to a signatory: edges, not N x N
    deliveries = sum(len(e["to"]) for e in proposals)
    assert deliveries <= 3 * sum(len(contacts[a] | signatories) for a in model.by_actor)


def test_holdout_signatories_keep_a_big_world_playing_to_the_last_round(tmp_path: Path) -> None:
    model = played(write_world(tmp_path, 12, n_issues=4, seed=2), 6)
    assert model.outcome is not None and model.outcome.status == "max_rounds" and model.round == 6


def test_an_actor_sees_the_influence_of_each_actor_on_it_as_the_graph_has_it(tmp_path: Path) -> None:
    model = played(write_world(tmp_path, 10, n_issues=3, seed=4), 1)
    for actor in model.by_actor:
        seen = model.observation_for(actor).influence_on_me
        for other in model.by_actor:
            if other != actor:
                assert seen.get(other, 0.0) == model.graph.influence(other, actor)
