"""The seam between an LLM persona and where its answers come from, and the request it asks.

An `Answerer` gives one `Completion` for a persona's messages and move schema. The live answerer is a
stack, each layer wrapping the next (`LLMBackend` builds it): `Cached` (answers stored by request and
server), `Budgeted` (the ledger and the dollar limit), then `ChatClient` (the transport). A saved
run is answered by `RecordedAnswers`, which may wrap the live stack to go on where its log ends.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

MODES = ("json_schema", "json_object", "prompt")


@dataclass(frozen=True)
class ChatParams:
    temperature: float = 0.7
    max_tokens: int = 1000
    seed: int | None = None


@dataclass
class Completion:
    content: str
    model: str
    request_hash: str
    mode: str
    prompt_tokens: int
    completion_tokens: int
    usd: float
    cached: bool
    latency_s: float
    retries: list[str] = field(default_factory=list)
    fallbacks: list[str] = field(default_factory=list)


class Answerer(Protocol):
    """Where an LLM persona gets its answers: a live server, or the answers a saved run recorded."""

    async def complete(
        self, actor: str, model: str, messages: list[dict], schema: dict, schema_name: str, params: ChatParams
    ) -> Completion: ...


def build_request(model: str, messages: list[dict], schema: dict, name: str, params: ChatParams, mode: str) -> dict:
    """The chat-completion request for a structured move in one of MODES; its hash keys the cache."""
    request: dict = {
        "model": model,
        "messages": messages,
        "temperature": params.temperature,
        "max_tokens": params.max_tokens,
    }
    if params.seed is not None:
        request["seed"] = params.seed
    if mode == "json_schema":
        request["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": name, "strict": True, "schema": schema},
        }
    else:
        if mode == "json_object":
            request["response_format"] = {"type": "json_object"}
        spelled_out = "Answer with one JSON object, and nothing else, that matches this JSON schema:\n" + json.dumps(
            schema
        )
        request["messages"] = [
            *messages[:-1],
            {**messages[-1], "content": messages[-1]["content"] + "\n\n" + spelled_out},
        ]
    return request


def request_hash(request: dict) -> str:
    """What a run's `llm_call` event records of its request, and replay finds the answer by."""
    return hashlib.sha256(json.dumps(request, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def requests_for(
    model: str, messages: list[dict], schema: dict, name: str, params: ChatParams
) -> Iterator[tuple[str, dict, str]]:
    """The request in each mode, best first, with its hash: where a stored answer may be filed."""
    for mode in MODES:
        request = build_request(model, messages, schema, name, params, mode)
        yield mode, request, request_hash(request)
