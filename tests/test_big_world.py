"""Big worlds: offline actors talk along the relationship graph (their contacts and those whose
signature a deal needs), so what a round delivers grows with the graph's edges, not with N x N; and
the synthetic world generator of benchmarks/big_world.py writes worlds that load and play."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.big_world import write_world
from parley.engine.model import NegotiationModel
from parley.players.offline import OfflineStrategy
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


def test_an_actor_weighs_and_reads_those_it_deals_with_not_the_whole_world(tmp_path: Path) -> None:
    """What an offline actor weighs when it looks for a package, and whom it forms beliefs about,
    are its links and the signatories: its own edges, not the world. In a world without a graph,
    everyone is weighed."""
    world = write_world(tmp_path / "big", 30, n_issues=4, seed=3)
    model = played(world, 3)
    edges = model.world.edges
    signatories = set(model.world.signatories())
    for actor, agent in model.by_actor.items():
        strategy = agent.policy
        links = {e.target for e in edges if e.source == actor} | {e.source for e in edges if e.target == actor}
        weighed = {model.space.actors[a] for a in strategy._weighed}
        assert weighed == links | signatories | {actor}
        assert {model.space.actors[a] for a in np.flatnonzero(strategy.believes)} == weighed
        assert len(weighed) < len(model.by_actor) / 2
    mini = played(Path(__file__).parent / "fixtures" / "mini" / "world.yaml", 1)
    for agent in mini.by_actor.values():
        assert len(agent.policy._weighed) == len(mini.by_actor) and agent.policy.believes.all()


def test_learning_about_actors_one_does_not_weigh_would_change_nothing(tmp_path: Path, monkeypatch) -> None:
    """Beliefs about actors an offline actor does not weigh are never read: forming them at the start
    and learning from everything they say plays the same run, event for event."""
    world = write_world(tmp_path / "big", 24, n_issues=5, seed=5)
    kept = played(world, 4).events
    initial = OfflineStrategy._initial_beliefs

    def of_everyone(self: OfflineStrategy) -> np.ndarray:
        weighed, self._weighed = self._weighed, np.arange(len(self.space.actors))
        try:
            return initial(self)
        finally:
            self._weighed = weighed

    monkeypatch.setattr(OfflineStrategy, "_initial_beliefs", of_everyone)
    everything = played(world, 4)
    assert all(agent.policy.believes.all() for agent in everything.by_actor.values())
    assert everything.events == kept
    assert any(e["type"] == "mediated" for e in kept)  # some heard from actors they have no link to
