"""The seam between an LLM persona and where its answers come from, and the request it asks.

An `Answerer` gives one `Completion` for a persona's messages and move schema. The live answerer is a
stack, each layer wrapping the next (`LLMBackend` builds it): `Cached` (answers stored by request and
server), `Budgeted` (the ledger and the dollar limit), then `ChatClient` (the transport). A saved
run is answered by `RecordedAnswers`, which may wrap the live stack to go on where its log ends.

A request asks for a structured move in one of MODES: a compact GBNF `grammar` (llama.cpp), a strict
`json_schema`, the same without the length bounds some strict servers refuse (OpenAI's strict mode
takes no `maxLength`; the parser enforces them instead), `json_object`, or the schema in the prompt alone. Its `max_tokens` is derived from the
schema's bound, with the whitespace that mode lets a model write, so an answer that follows the
schema always has room to finish.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from parley.llm.bounds import GAP_WHITESPACE, answer_tokens
from parley.llm.grammar import gbnf

MODES = ("grammar", "json_schema", "json_schema_core", "json_object", "prompt")
LENGTH_KEYWORDS = ("maxLength", "minLength", "uniqueItems")  # bounds some strict servers refuse to take
GAPS = {"grammar": 1}  # whitespace a mode lets a model write in a gap of the JSON (else llama.cpp's worst)
UNBOUNDED_MAX_TOKENS = 1000  # when a schema bounds nothing and no limit is given


@dataclass(frozen=True)
class ChatParams:
    """How to sample. With `derive_max_tokens`, a request's `max_tokens` is what its schema needs
    (`tokens_per_char` tokens per character of text), capped by `max_tokens` when that is set;
    without, it is `max_tokens` itself (as runs recorded before bounds asked)."""

    temperature: float = 0.7
    max_tokens: int | None = 1000
    seed: int | None = None
    derive_max_tokens: bool = False
    tokens_per_char: int = 1


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
    finish_reason: str | None = None  # "length": cut off at max_tokens
    max_tokens: int | None = None  # what the request that got this answer allowed
    chars: int | None = None  # the answer's length as the server sent it, when `content` holds less

    @property
    def cut_off(self) -> bool:
        return self.finish_reason == "length"


class Answerer(Protocol):
    """Where an LLM persona gets its answers: a live server, or the answers a saved run recorded."""

    async def complete(
        self, actor: str, model: str, messages: list[dict], schema: dict, schema_name: str, params: ChatParams
    ) -> Completion: ...


def core_schema(schema: object) -> object:
    """The schema without LENGTH_KEYWORDS, for servers that refuse them."""
    if isinstance(schema, dict):
        return {k: core_schema(v) for k, v in schema.items() if k not in LENGTH_KEYWORDS}
    if isinstance(schema, list):
        return [core_schema(v) for v in schema]
    return schema


def max_tokens_for(schema: dict, params: ChatParams, mode: str) -> int:
    """The `max_tokens` of a request in `mode`: room for the longest answer the schema allows."""
    if not params.derive_max_tokens:
        return params.max_tokens or UNBOUNDED_MAX_TOKENS
    need = answer_tokens(schema, GAPS.get(mode, GAP_WHITESPACE), params.tokens_per_char)
    if need is None:
        return params.max_tokens or UNBOUNDED_MAX_TOKENS
    return min(need, params.max_tokens) if params.max_tokens else need


def build_request(model: str, messages: list[dict], schema: dict, name: str, params: ChatParams, mode: str) -> dict:
    """The chat-completion request for a structured move in one of MODES; its hash keys the cache."""
    request: dict = {
        "model": model,
        "messages": messages,
        "temperature": params.temperature,
        "max_tokens": max_tokens_for(schema, params, mode),
    }
    if params.seed is not None:
        request["seed"] = params.seed
    if mode == "grammar":
        request["grammar"] = gbnf(schema, name)  # sent alone: llama.cpp lets a response_format win over it
    elif mode in ("json_schema", "json_schema_core"):
        sent = schema if mode == "json_schema" else core_schema(schema)
        request["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": name, "strict": True, "schema": sent},
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
        try:
            request = build_request(model, messages, schema, name, params, mode)
        except ValueError:  # a schema the compact grammar cannot express: never asked in that mode
            continue
        yield mode, request, request_hash(request)
