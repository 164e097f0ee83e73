"""Chat completions from any OpenAI-compatible server: retries, format fallbacks, cache, cost, concurrency.

- Transient failures (429, honouring Retry-After; timeouts; connection errors; 5xx) are retried with
  exponential backoff and jitter, a bounded number of times, by tenacity. Other 4xx are never retried.
- Structured output is asked as a strict `json_schema`; a server that refuses it is asked with
  `json_object`, then with the schema in the prompt alone. The mode that works is remembered per model.
- Every answer is cached by the content of its request; a cached answer costs nothing and makes no call.
- One semaphore bounds the calls in flight across everything the process runs.
- The API key is never logged or put in an error message.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Protocol

import openai
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from parley.llm.cache import ResponseCache, request_hash
from parley.llm.errors import BudgetExhausted, LLMError, TransientFailure
from parley.llm.ledger import Ledger

MODES = ("json_schema", "json_object", "prompt")
RETRY_AFTER_CAP = 60.0


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


def transient(exc: BaseException) -> bool:
    if isinstance(exc, (openai.RateLimitError, openai.APITimeoutError, openai.APIConnectionError)):
        return True
    return isinstance(exc, openai.APIStatusError) and exc.status_code >= 500


def retry_after(exc: BaseException | None) -> float | None:
    if isinstance(exc, openai.APIStatusError):
        value = exc.response.headers.get("retry-after")
        try:
            return min(float(value), RETRY_AFTER_CAP) if value is not None else None
        except ValueError:
            return None
    return None


class Answerer(Protocol):
    """Where an LLM persona gets its answers: a live server, or the answers a saved run recorded."""

    async def complete(
        self, actor: str, model: str, messages: list[dict], schema: dict, schema_name: str, params: ChatParams
    ) -> Completion: ...


class ChatClient:
    def __init__(
        self,
        base_url: str | None,
        api_key: str | None,
        ledger: Ledger,
        cache: ResponseCache | None = None,
        concurrency: int = 8,
        timeout: float = 60.0,
        max_retries: int = 4,
        backoff: float = 1.0,
        limit_usd: float | None = None,
    ) -> None:
        self.base_url = base_url
        self._api_key = api_key or "not-needed"  # local servers take any key
        self.ledger = ledger
        self.cache = cache
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.limit_usd = limit_usd
        self._reserved = 0.0  # the most the calls in flight may cost
        self.modes: dict[str, str] = {}
        self.answered = 0  # answers received; while none has come, a dead server is fatal, not a pass
        self._client: openai.AsyncOpenAI | None = None
        self._semaphore: asyncio.Semaphore | None = None

    def _scrub(self, text: str) -> str:
        return text.replace(self._api_key, "***") if len(self._api_key) >= 4 else text

    def _where(self, model: str) -> str:
        return f"model '{model}' at {self.base_url or 'the OpenAI API'}"

    async def complete(
        self, actor: str, model: str, messages: list[dict], schema: dict, schema_name: str, params: ChatParams
    ) -> Completion:
        """One answer, from the cache or the server, in the best structured mode the server takes."""
        fallbacks: list[str] = []
        while True:
            mode = self.modes.get(model, MODES[0])
            request = build_request(model, messages, schema, schema_name, params, mode)
            key = request_hash(request)
            cached = self.cache.get(key) if self.cache else None
            if cached is not None:
                usd = self.ledger.charge(
                    actor, model, cached["prompt_tokens"], cached["completion_tokens"], cached=True
                )
                return Completion(
                    cached["content"],
                    model,
                    key,
                    mode,
                    cached["prompt_tokens"],
                    cached["completion_tokens"],
                    usd,
                    True,
                    0.0,
                    [],
                    fallbacks,
                )
            try:
                return await self._call(actor, model, request, key, mode, fallbacks)
            except openai.BadRequestError as exc:
                if mode != MODES[-1] and _about_format(exc):
                    self.modes[model] = MODES[MODES.index(mode) + 1]
                    fallbacks.append(f"{mode} refused: {self._scrub(_message(exc))}")
                    continue
                raise LLMError(f"{self._where(model)} refused the request: {self._scrub(_message(exc))}") from None

    async def _call(
        self, actor: str, model: str, request: dict, key: str, mode: str, fallbacks: list[str]
    ) -> Completion:
        if self._client is None:
            self._client = openai.AsyncOpenAI(
                api_key=self._api_key, base_url=self.base_url, max_retries=0, timeout=self.timeout
            )
            self._semaphore = asyncio.Semaphore(self.concurrency)
        assert self._semaphore is not None
        retries: list[str] = []

        def note(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            retries.append(self._scrub(f"{type(exc).__name__}: {_message(exc)}" if exc else "retry"))

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            after = retry_after(exc)
            return after if after is not None else wait_exponential_jitter(multiplier=self.backoff, max=30)(state)

        ceiling = self._ceiling(model, request)
        if self.limit_usd is not None and self.ledger.spent + self._reserved + ceiling > self.limit_usd:
            raise BudgetExhausted(
                f"a call for {actor} could cost up to ${ceiling:.4f}; ${self.ledger.spent:.4f} of ${self.limit_usd:.4f} is spent"
            )
        self._reserved += ceiling
        start = time.monotonic()
        try:
            async with self._semaphore:
                async for attempt in AsyncRetrying(
                    retry=retry_if_exception(transient),
                    stop=stop_after_attempt(self.max_retries + 1),
                    wait=wait,
                    before_sleep=note,
                    reraise=True,
                ):
                    with attempt:
                        response = await self._client.chat.completions.create(**request)
        except openai.BadRequestError:
            raise
        except openai.AuthenticationError as exc:
            raise LLMError(
                f"{self._where(model)}: the API key was refused ({exc.status_code}); set OPENAI_API_KEY"
            ) from None
        except (openai.NotFoundError, openai.PermissionDeniedError, openai.UnprocessableEntityError) as exc:
            hint = ""
            if (
                isinstance(exc, openai.NotFoundError)
                and self.base_url
                and not self.base_url.rstrip("/").endswith("/v1")
            ):
                hint = "; OpenAI-compatible servers usually answer under /v1: is --base-url right?"
            raise LLMError(f"{self._where(model)}: {self._scrub(_message(exc))} ({exc.status_code}){hint}") from None
        except Exception as exc:
            if transient(exc) or not isinstance(exc, openai.OpenAIError):
                why = (
                    self._scrub(_message(exc))
                    if transient(exc)
                    else f"its answer is not a chat completion ({type(exc).__name__})"
                )
                unreachable = isinstance(exc, openai.APIConnectionError) or not isinstance(exc, openai.OpenAIError)
                if unreachable and self.answered == 0:  # never a single answer: no server there, or not this kind
                    raise LLMError(
                        f"{self._where(model)}: no answer after {self.max_retries + 1} attempts ({why}); is the server running?"
                    ) from None
                raise TransientFailure(
                    f"{self._where(model)}: no answer after {self.max_retries + 1} attempts ({why})", key
                ) from None
            if isinstance(exc, openai.APIStatusError):
                raise LLMError(f"{self._where(model)}: {self._scrub(_message(exc))} ({exc.status_code})") from None
            raise
        finally:
            self._reserved -= ceiling
        latency = time.monotonic() - start
        try:
            choice = response.choices[0] if response.choices else None
            content = self._scrub((choice.message.content or "") if choice else "")
            prompt_tokens = response.usage.prompt_tokens if response.usage else 0
            completion_tokens = response.usage.completion_tokens if response.usage else 0
        except (AttributeError, TypeError, IndexError) as exc:
            if self.answered == 0:
                raise LLMError(
                    f"{self._where(model)}: its answer is not a chat completion ({type(exc).__name__}); is --base-url right?"
                ) from None
            raise TransientFailure(f"{self._where(model)}: its answer is not a chat completion", key) from None
        self.answered += 1
        usd = self.ledger.charge(actor, model, prompt_tokens, completion_tokens, cached=False)
        if self.cache is not None:
            self.cache.put(
                key,
                {
                    "content": content,
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "model": model,
                },
            )
        return Completion(
            content, model, key, mode, prompt_tokens, completion_tokens, usd, False, latency, retries, fallbacks
        )

    def _ceiling(self, model: str, request: dict) -> float:
        """The most a call can cost: every prompt character a token, and the longest answer."""
        chars = sum(len(str(m.get("content", ""))) for m in request["messages"]) + len(
            json.dumps(request.get("response_format", ""))
        )
        return self.ledger.prices.cost(model, chars, int(request.get("max_tokens", 0)))

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


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


def _message(exc: BaseException | None) -> str:
    if exc is None:
        return ""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _about_format(exc: openai.BadRequestError) -> bool:
    text = _message(exc).lower()
    body = getattr(exc, "body", None)
    inner = body.get("error", body) if isinstance(body, dict) else None
    param = inner.get("param") if isinstance(inner, dict) else None
    return param == "response_format" or "response_format" in text or "json_schema" in text or "json_object" in text
