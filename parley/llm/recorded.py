"""Answers a saved run received, served again: how replay, resume and fork re-execute an LLM run."""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field

from parley.engine.events import EventType
from parley.llm.answerer import Answerer, ChatParams, Completion, requests_for
from parley.llm.errors import BudgetExhausted, TransientFailure
from parley.llm.ledger import Ledger


class NotRecorded(Exception):
    """A call the saved run never made: its prompt differs from every recorded one."""


@dataclass
class RecordedAnswers:
    """Answers a saved run received, served again by request hash, in the order they came.

    With `live`, a request the run never made is asked of the server (resume, fork); without, it
    is NotRecorded (replay). Recorded failures and budget stops happen again where they happened.
    """

    events: list[dict]
    ledger: Ledger
    live: Answerer | None = None
    answers: dict[str, deque] = field(default_factory=lambda: defaultdict(deque))
    failures: dict[str, deque] = field(default_factory=lambda: defaultdict(deque))
    halt: str | None = None  # why the run stopped on its budget, if it did

    def __post_init__(self) -> None:
        for e in self.events:
            if e["type"] == EventType.LLM_CALL:
                self.answers[e["request_hash"]].append(e)
            elif e["type"] == EventType.LLM_FAILED and e.get("request_hash"):
                self.failures[e["request_hash"]].append(e)
            elif e["type"] == EventType.HALTED:
                self.halt = e["reason"]

    async def complete(
        self, actor: str, model: str, messages: list[dict], schema: dict, schema_name: str, params: ChatParams
    ) -> Completion:
        for mode, request, key in requests_for(model, messages, schema, schema_name, params):
            if self.answers.get(key):
                e = self.answers[key].popleft()
                usd = float(e.get("transport", {}).get("usd", 0.0))
                self.ledger.charge_usd(actor, e["tokens"]["prompt"], e["tokens"]["completion"], usd)
                return Completion(
                    e["raw"], model, key, mode, e["tokens"]["prompt"], e["tokens"]["completion"], usd, True, 0.0,
                    finish_reason=e.get("finish_reason"), max_tokens=request["max_tokens"], chars=e.get("raw_chars"),
                )  # fmt: skip
            if self.failures.get(key):
                raise TransientFailure(self.failures[key].popleft()["error"], key)
        if self.live is not None:
            return await self.live.complete(actor, model, messages, schema, schema_name, params)
        if self.halt is not None:
            raise BudgetExhausted(self.halt)
        raise NotRecorded(
            f"no recorded answer for {actor}'s call to {model}: its request (prompt, schema or limits) differs "
            "from every recorded one"
        )
