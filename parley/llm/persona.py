"""An actor played by an LLM: prompted from its persona card, answering with a JSON move.

An answer that is not a legal move is sent back with the exact error, a bounded number of times;
after that, or when the server gives no answer after its retries, the actor passes this round. A
bad answer never ends the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from parley.engine.actions import Move, Pass
from parley.engine.events import EventType
from parley.engine.issue_space import IssueSpace
from parley.engine.policy import Observation
from parley.llm.answerer import Answerer, ChatParams, Completion
from parley.llm.errors import TransientFailure
from parley.llm.secrets import scrub, scrub_data
from parley.players.briefing import RoundMemory, round_context, system_context
from parley.players.move_schema import MoveError, move_schema, parse_move, schema_name
from parley.world.scenario import Scenario
from parley.world.templates import Templates


@dataclass(frozen=True)
class PersonaSettings:
    model: str
    params: ChatParams = field(default_factory=ChatParams)
    max_reasks: int = 2
    memory_window: int = 2


def without_secrets(move: Move) -> Move:
    """The move with any secret scrubbed from its text: the answer's text is scrubbed already, but
    what a parser decodes (JSON escapes) is checked again before other actors, logs and reports see it."""
    data = move.model_dump()
    clean = scrub_data(data)
    return move if clean == data else Move.model_validate(clean)


class LLMPersona:
    def __init__(
        self,
        actor: str,
        scenario: Scenario,
        space: IssueSpace,
        templates: Templates,
        client: Answerer,
        settings: PersonaSettings,
    ) -> None:
        self.actor = actor
        self.scenario = scenario
        self.space = space
        self.templates = templates
        self.client = client
        self.settings = settings
        self.memory = RoundMemory(window=settings.memory_window)
        self.system = templates.render("llm/system.j2", **self.system_context())
        self._events: list[dict] = []

    # -- prompts ----------------------------------------------------------------------------
    def system_context(self) -> dict:
        return system_context(self.scenario, self.space, self.actor)

    def round_context(self, obs: Observation) -> dict:
        return round_context(self.scenario, self.space, obs, self.memory)

    def messages(self, obs: Observation) -> list[dict]:
        return [
            {"role": "system", "content": self.system},
            {"role": "user", "content": self.templates.render("llm/round.j2", **self.round_context(obs))},
        ]

    # -- deciding ---------------------------------------------------------------------------
    async def adecide(self, obs: Observation) -> Move:
        world = self.scenario.world
        messages = self.messages(obs)
        schema = move_schema(world, obs)
        for attempt in range(self.settings.max_reasks + 1):
            try:
                answer = await self.client.complete(
                    self.actor, self.settings.model, messages, schema, schema_name(self.actor), self.settings.params
                )
            except TransientFailure as exc:
                self._events.append(
                    {
                        "type": EventType.LLM_FAILED,
                        "attempt": attempt,
                        "request_hash": exc.request_hash,
                        "error": str(exc),
                    }
                )
                return self.remembered(obs, Move(actions=[Pass(reason="no answer from the model this round")]))
            try:
                move = without_secrets(parse_move(answer.content, world, obs))
            except MoveError as exc:
                error = scrub(str(exc))  # it may quote what the answer said
                self._record(answer, attempt, None, error)
                messages = [
                    *messages,
                    {"role": "assistant", "content": answer.content},
                    {"role": "user", "content": self.templates.render("llm/reask.j2", error=error)},
                ]
                continue
            self._record(answer, attempt, move, None)
            return self.remembered(obs, move)
        self._events.append({"type": EventType.LLM_GAVE_UP, "reasks": self.settings.max_reasks})
        return self.remembered(obs, Move(actions=[Pass(reason="no legal move from the model this round")]))

    def remembered(self, obs: Observation, move: Move) -> Move:
        self.memory.remember(obs.round, obs.inbox, obs.table, move, self.actor)
        return move

    def _record(self, answer: Completion, attempt: int, move: Move | None, error: str | None) -> None:
        params = self.settings.params
        self._events.append(
            {
                "type": EventType.LLM_CALL,
                "model": answer.model,
                "request_hash": answer.request_hash,
                "params": {
                    "temperature": params.temperature,
                    "max_tokens": params.max_tokens,
                    "seed": params.seed,
                    "mode": answer.mode,
                },
                "reask": attempt,
                "raw": answer.content,
                "move": move.model_dump() if move is not None else None,
                "error": error,
                "tokens": {"prompt": answer.prompt_tokens, "completion": answer.completion_tokens},
                # how the answer travelled: differs between a live call and a cached one, so replay ignores it
                "transport": {
                    "cached": answer.cached,
                    "usd": round(answer.usd, 8),
                    "latency_s": round(answer.latency_s, 4),
                    "retries": answer.retries,
                    "fallbacks": answer.fallbacks,
                },
            }
        )

    def take_events(self) -> list[dict]:
        events, self._events = self._events, []
        return events
