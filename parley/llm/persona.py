"""An actor played by an LLM: prompted from its persona card, answering with a JSON move.

An answer that is not a legal move is sent back with the exact error, a bounded number of times;
after that, or when the server gives no answer after its retries, the actor passes this round. A
bad answer never ends the run. A re-ask is the round's prompt plus the last answer (cut short if
long) and what was wrong with it, numbered, so its prompt never grows with the attempts and never
repeats an earlier request. An answer cut off at `max_tokens` is not read: the re-ask asks for a
shorter move and allows the most tokens any answer could need (within the cap the run set).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from parley.engine.actions import Move, Pass
from parley.engine.events import EventType
from parley.engine.issue_space import IssueSpace
from parley.engine.policy import Observation
from parley.llm.answerer import Answerer, ChatParams, Completion
from parley.llm.bounds import STRICT_TOKENS_PER_CHAR
from parley.llm.errors import TransientFailure
from parley.llm.secrets import scrub, scrub_data
from parley.llm.settings import REQUEST_FORMAT
from parley.players.briefing import RoundMemory, round_context, system_context
from parley.players.move_schema import MoveError, MoveLimits, move_schema, parse_answer, schema_name
from parley.world.scenario import Scenario
from parley.world.templates import Templates

ECHOED_CHARS = 2000  # of a refused answer, sent back in the re-ask
KEPT_CHARS = 2000  # of an answer refused for its size, kept in the log (its full length is noted)


@dataclass(frozen=True)
class PersonaSettings:
    """`request_format` 1 is how runs recorded before bounds asked (one unbounded list of actions, a
    fixed max_tokens, re-asks that pile up): their replay asks the same requests again."""

    model: str
    params: ChatParams = field(default_factory=ChatParams)
    max_reasks: int = 2
    memory_window: int = 2
    request_format: int = REQUEST_FORMAT
    limits: MoveLimits = field(default_factory=MoveLimits)


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
        world, settings = self.scenario.world, self.settings
        bounded = settings.request_format >= 2
        limits = settings.limits
        base = messages = self.messages(obs)
        schema = move_schema(world, obs, limits if bounded else None)
        params = settings.params
        asks = settings.max_reasks + 1
        for attempt in range(asks):
            try:
                answer = await self.client.complete(
                    self.actor, settings.model, messages, schema, schema_name(self.actor), params
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
            numbered = {"attempt": attempt + 2, "attempts": asks} if bounded else {}
            if answer.cut_off:  # not read: what was written is not a move, and the re-ask must differ
                error = f"the answer was cut off at its limit of {answer.max_tokens or params.max_tokens or 0:,} tokens"
                self._record(answer, attempt, None, error)
                if params.derive_max_tokens:
                    params = replace(params, tokens_per_char=STRICT_TOKENS_PER_CHAR)
                reask = self.templates.render("llm/reask.j2", error=error, cut_off=True, **numbered)
                messages = [*base, {"role": "user", "content": reask}]
                continue
            try:
                if answer.finish_reason == "too_large":
                    raise MoveError(f"the answer is larger than {(answer.chars or 1) - 1:,} bytes; it was not read")
                parsed = parse_answer(answer.content, world, obs, limits, size=answer.chars)
                move = without_secrets(parsed.move)
            except MoveError as exc:
                error = scrub(str(exc))  # it may quote what the answer said
                self._record(answer, attempt, None, error)
                reask = self.templates.render("llm/reask.j2", error=error, **numbered)
                said = {"role": "assistant", "content": echoed(answer.content) if bounded else answer.content}
                messages = [*(base if bounded else messages), said, {"role": "user", "content": reask}]
                continue
            self._record(answer, attempt, move, None, parsed.trimmed)
            return self.remembered(obs, move)
        self._events.append({"type": EventType.LLM_GAVE_UP, "reasks": self.settings.max_reasks})
        return self.remembered(obs, Move(actions=[Pass(reason="no legal move from the model this round")]))

    def remembered(self, obs: Observation, move: Move) -> Move:
        self.memory.remember(obs.round, obs.inbox, obs.table, move, self.actor)
        return move

    def _record(
        self, answer: Completion, attempt: int, move: Move | None, error: str | None, trimmed: list[str] | None = None
    ) -> None:
        """The llm_call event. What a replay needs to read the answer the same way is kept: the raw
        answer (cut, with its full length, only when it was refused for its size) and why it ended."""
        params = self.settings.params
        size = answer.chars if answer.chars is not None else len(answer.content)
        keep = size <= self.settings.limits.answer_chars
        event: dict = {
            "type": EventType.LLM_CALL,
            "model": answer.model,
            "request_hash": answer.request_hash,
            "params": {
                "temperature": params.temperature,
                "max_tokens": answer.max_tokens if answer.max_tokens is not None else params.max_tokens,
                "seed": params.seed,
                "mode": answer.mode,
            },
            "reask": attempt,
            "raw": answer.content if keep else answer.content[:KEPT_CHARS],
        }
        if not keep:
            event["raw_chars"] = size
        if answer.finish_reason not in (None, "stop"):
            event["finish_reason"] = answer.finish_reason  # "length": cut off at max_tokens
        event |= {
            "move": move.model_dump() if move is not None else None,
            "error": error,
        }
        if trimmed:
            event["trimmed"] = trimmed  # what the parser dropped or cut from the answer
        self._events.append(
            event
            | {
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


def echoed(content: str) -> str:
    """A refused answer as the re-ask shows it back: whole if short, else its start."""
    if len(content) <= ECHOED_CHARS:
        return content
    return content[:ECHOED_CHARS] + f"… [{len(content) - ECHOED_CHARS:,} more characters not shown]"
