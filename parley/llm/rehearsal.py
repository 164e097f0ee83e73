"""Render every LLM prompt once with a sample round, so a broken template fails before any call."""

from __future__ import annotations

from parley.engine.actions import Move, Pass
from parley.engine.issue_space import IssueSpace
from parley.engine.policy import Observation
from parley.llm.client import ChatClient
from parley.llm.persona import LLMPersona, PersonaSettings
from parley.world.scenario import Scenario
from parley.world.templates import Templates


def sample_observation(scenario: Scenario, space: IssueSpace, actor: str) -> Observation:
    world = scenario.world
    others = [a for a in world.actor_ids() if a != actor]
    other = others[0]
    package = space.decode(space.ideal(space.index(other)))
    proposal = {
        "id": "P1",
        "round": 1,
        "proposer": other,
        "package": package,
        "recipients": [actor],
        "counter_to": None,
        "accepted_by": [other],
        "rejected_by": [],
        "status": "open",
    }
    inbox = [
        {"kind": "proposal", "round": 1, "from": other, "proposal": "P1", "text": "a proposal", "path": [other, actor]},
        {"kind": "response", "round": 1, "from": other, "proposal": "P1", "accept": False, "reason": "a reason"},
        {
            "kind": "message",
            "round": 1,
            "from": other,
            "message_kind": "threat",
            "text": 'a "quoted" threat',
            "path": [other, actor],
        },
        {"kind": "inject", "round": 2, "from": "facilitator", "text": "news"},
        {"kind": "set_aside", "round": 1, "from": actor, "counter_to": "P1", "reason": "a framework came first"},
    ]
    channels = [{"to": b, "open": True, "trust": 0.1, "trust_back": -0.1} for b in others]
    return Observation(
        round=2,
        max_rounds=world.protocol.max_rounds,
        actor=actor,
        persona=scenario.personas[actor],
        world=world,
        present=world.actor_ids(),
        required=list(world.signatories()),
        table=[proposal],
        inbox=inbox,
        channels=channels,
        withdrawn={world.issues[0].id: [world.issues[0].options[0].id]},
    )


def rehearse_prompts(scenario: Scenario, space: IssueSpace, templates: Templates) -> None:
    client = ChatClient(None, None)  # never called
    for actor in scenario.world.actor_ids():
        persona = LLMPersona(actor, scenario, space, templates, client, PersonaSettings(model="rehearsal"))
        obs = sample_observation(scenario, space, actor)
        persona.messages(obs)
        persona.remembered(obs, Move(actions=[Pass(reason="rehearsal")]))
        persona.messages(obs)
    templates.render("llm/reask.j2", error="a sample error")
