"""Chat completions from any OpenAI-compatible server: the transport under the stack of answerers.

`ChatClient` does what a call over HTTP needs (caching and the budget are the layers above it):
- Transient failures (429, honouring Retry-After; timeouts; connection errors; 5xx) are retried with
  exponential backoff and jitter, a bounded number of times, by tenacity. Other 4xx are never retried.
- `timeout` bounds each attempt as a whole (connecting, sending, every byte of the answer), so a
  server that drips its answer is cut off; the openai client's own timeout only bounds each read.
- Structured output is asked as a strict `json_schema`; a server that refuses it is asked with
  `json_object`, then with the schema in the prompt alone. A llama.cpp server (its `/v1/models` says
  `owned_by: llamacpp`) is first asked with a compact GBNF `grammar` instead, since the grammar it
  makes of a `response_format` lets a model write whitespace in every gap. The mode that works is
  remembered per model.
- An answer larger than `max_body_bytes` is refused unread; why an answer ended (`finish_reason`,
  "length" when cut off at `max_tokens`) is passed on.
- One semaphore bounds the calls in flight across everything the process runs.
- Secrets (the API key, a key in the base URL) are scrubbed from every answer and error it passes on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx2  # the openai client's HTTP library (its documented way to change the transport)
import openai
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from parley.llm.answerer import LENGTH_KEYWORDS, MODES, Answerer, ChatParams, Completion, build_request, request_hash
from parley.llm.errors import LLMError, TransientFailure
from parley.llm.secrets import SCRUBBER, public_url, scrub

__all__ = ["Answerer", "ChatClient", "ChatParams", "Completion", "LLMError", "TransientFailure"]  # what callers import

RETRY_AFTER_CAP = 60.0
OPENAI_API = "https://api.openai.com/v1"
MAX_BODY_BYTES = 4 * 1024 * 1024  # a move is a few kilobytes; a body this large is a broken or hostile server
EXTRA_FIELDS = ("grammar",)  # request fields the openai client does not know: sent in the body as they are
GRAMMAR_SERVERS = {"llamacpp"}  # `owned_by` of /v1/models on servers that take a GBNF `grammar`


class AnswerTooLarge(openai.OpenAIError):
    """The server's answer is larger than the client reads."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the answer is larger than {limit:,} bytes")
        self.limit = limit


class _Capped(httpx2.AsyncByteStream):
    def __init__(self, inner: Any, limit: int) -> None:
        self.inner, self.limit = inner, limit

    async def __aiter__(self) -> AsyncIterator[bytes]:
        seen = 0
        async for chunk in self.inner:
            seen += len(chunk)
            if seen > self.limit:
                raise AnswerTooLarge(self.limit)
            yield chunk

    async def aclose(self) -> None:
        await self.inner.aclose()


class CappedTransport(httpx2.AsyncBaseTransport):
    """HTTP that stops reading an answer once it passes `limit` bytes (whatever Content-Length says)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.inner = httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            await response.aclose()
            raise AnswerTooLarge(self.limit)
        return httpx2.Response(
            response.status_code,
            headers=response.headers,
            stream=_Capped(response.stream, self.limit),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


def too_large(exc: BaseException) -> AnswerTooLarge | None:
    """The AnswerTooLarge behind an exception (some openai versions wrap it as a connection error)."""
    while exc is not None:
        if isinstance(exc, AnswerTooLarge):
            return exc
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return None


# -- how failures are told apart ------------------------------------------------------------------
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


def timed_out() -> openai.APITimeoutError:
    """What the openai client raises when a read times out, raised when a whole attempt has."""
    return openai.APITimeoutError(request=None)  # type: ignore[arg-type]  # the request is only kept, never read


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
    return param in ("response_format", "grammar") or any(
        word in text for word in ("response_format", "json_schema", "json_object", "grammar", "schema")
    )


def next_mode(mode: str, refusal: str) -> str:
    """The mode to ask in after `mode` was refused: a strict schema refused for its length bounds is
    asked again without them (the parser enforces them); any other refusal goes on to a looser mode."""
    after = MODES[MODES.index(mode) + 1]
    if after == "json_schema_core" and not any(word.lower() in refusal.lower() for word in LENGTH_KEYWORDS):
        return MODES[MODES.index(after) + 1]
    return after


# -- the transport --------------------------------------------------------------------------------
class ChatClient:
    """One answer from the server: format fallbacks, retries, a deadline per attempt, error classes."""

    def __init__(
        self,
        base_url: str | None,
        api_key: str | None,
        concurrency: int = 8,
        timeout: float = 60.0,
        max_retries: int = 4,
        backoff: float = 1.0,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.base_url = base_url
        self.server = public_url(base_url) or OPENAI_API  # the server as it may be written (no secrets)
        self._api_key = api_key or "not-needed"  # local servers take any key
        SCRUBBER.add_key(api_key)
        SCRUBBER.add_url(base_url)
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_body_bytes = max_body_bytes
        self.modes: dict[str, str] = {}
        self.answered = 0  # answers received; while none has come, a dead server is fatal, not a pass
        self.kind: str | None = None  # what /v1/models says owns the models ("llamacpp"), once asked
        self._client: openai.AsyncOpenAI | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self._asking: asyncio.Lock | None = None

    def _where(self, model: str) -> str:
        return f"model '{model}' at {self.server if self.base_url else 'the OpenAI API'}"

    async def complete(
        self, actor: str, model: str, messages: list[dict], schema: dict, schema_name: str, params: ChatParams
    ) -> Completion:
        """One answer from the server, in the best structured mode it takes."""
        fallbacks: list[str] = []
        if model not in self.modes:
            self.modes[model] = "grammar" if await self.server_kind() in GRAMMAR_SERVERS else "json_schema"
        while True:
            mode = self.modes[model]
            try:
                request = build_request(model, messages, schema, schema_name, params, mode)
            except ValueError as exc:  # a schema the compact grammar cannot express
                self.modes[model] = MODES[MODES.index(mode) + 1]
                fallbacks.append(f"{mode} not used: {exc}")
                continue
            try:
                return await self._answer(model, request, mode, fallbacks)
            except openai.BadRequestError as exc:
                if mode != MODES[-1] and _about_format(exc):
                    self.modes[model] = next_mode(mode, _message(exc))
                    fallbacks.append(f"{mode} refused: {scrub(_message(exc))}")
                    continue
                raise LLMError(f"{self._where(model)} refused the request: {scrub(_message(exc))}") from None

    async def server_kind(self) -> str:
        """Who serves the models, as `GET /models` says (`owned_by`), asked once; "" when it does not say."""
        if self.kind is not None:
            return self.kind
        if self._asking is None:
            self._asking = asyncio.Lock()
        async with self._asking:
            if self.kind is None:
                client, _ = self._connection()
                owners: set[str] = set()
                try:
                    async with asyncio.timeout(min(self.timeout, 30.0)):
                        page = await client.models.list()
                        owners = {str(getattr(m, "owned_by", "") or "") for m in page.data}
                except Exception:  # any failure: not a server we know; ask as any other
                    owners = set()
                self.kind = next(iter(sorted(owners & GRAMMAR_SERVERS)), "")
        return self.kind

    async def _answer(self, model: str, request: dict, mode: str, fallbacks: list[str]) -> Completion:
        key = request_hash(request)
        retries: list[str] = []
        start = time.monotonic()
        try:
            response = await self._send(request, retries)
        except openai.BadRequestError:
            raise
        except Exception as exc:
            big = too_large(exc)
            if big is None:
                raise self._failure(exc, model, key) from None
            self.answered += 1  # an answer came, too large to read: the persona refuses it and asks again
            latency = time.monotonic() - start
            return Completion(
                "", model, key, mode, 0, 0, 0.0, False, latency, retries, fallbacks,
                finish_reason="too_large", max_tokens=request["max_tokens"], chars=big.limit + 1,
            )  # fmt: skip
        latency = time.monotonic() - start
        content, prompt_tokens, completion_tokens, finish_reason = self._read(response, model, key)
        self.answered += 1
        return Completion(
            content, model, key, mode, prompt_tokens, completion_tokens, 0.0, False, latency, retries, fallbacks,
            finish_reason=finish_reason, max_tokens=request["max_tokens"],
        )  # fmt: skip

    async def _send(self, request: dict, retries: list[str]) -> Any:
        """The server's response, after as many retries of transient failures as allowed."""
        client, semaphore = self._connection()

        def note(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            retries.append(scrub(f"{type(exc).__name__}: {_message(exc)}" if exc else "retry"))

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            after = retry_after(exc)
            return after if after is not None else wait_exponential_jitter(multiplier=self.backoff, max=30)(state)

        async with semaphore:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(transient),
                stop=stop_after_attempt(self.max_retries + 1),
                wait=wait,
                before_sleep=note,
                reraise=True,
            ):
                with attempt:
                    response = await self._attempt(client, request)
        return response

    async def _attempt(self, client: openai.AsyncOpenAI, request: dict) -> Any:
        """One request, cut off when the whole of it (not each read) takes longer than the timeout."""
        deadline = asyncio.timeout(self.timeout)
        known = {k: v for k, v in request.items() if k not in EXTRA_FIELDS}
        extra = {k: v for k, v in request.items() if k in EXTRA_FIELDS}
        try:
            async with deadline:
                return await client.chat.completions.create(**known, extra_body=extra or None)
        except TimeoutError:
            if not deadline.expired():
                raise
            raise timed_out() from None

    def _connection(self) -> tuple[openai.AsyncOpenAI, asyncio.Semaphore]:
        if self._client is None or self._semaphore is None:
            try:
                self._client = openai.AsyncOpenAI(
                    api_key=self._api_key,
                    base_url=self.base_url,
                    max_retries=0,
                    timeout=self.timeout,
                    http_client=openai.DefaultAsyncHttpxClient(transport=CappedTransport(self.max_body_bytes)),
                )
            except Exception as exc:  # a base URL the client cannot use: its text may hold the key
                raise LLMError(f"{self.server}: the openai client refused it ({scrub(_message(exc))})") from None
            self._semaphore = asyncio.Semaphore(self.concurrency)
        return self._client, self._semaphore

    def _failure(self, exc: Exception, model: str, key: str) -> Exception:
        """What a failed call means: the run cannot go on (LLMError), or the actor sits it out."""
        where = self._where(model)
        if isinstance(exc, LLMError):
            return exc
        if isinstance(exc, openai.AuthenticationError):
            return LLMError(f"{where}: the API key was refused ({exc.status_code}); set OPENAI_API_KEY")
        if isinstance(exc, (openai.NotFoundError, openai.PermissionDeniedError, openai.UnprocessableEntityError)):
            hint = ""
            if isinstance(exc, openai.NotFoundError) and self.base_url and not self.server.rstrip("/").endswith("/v1"):
                hint = "; OpenAI-compatible servers usually answer under /v1: is --base-url right?"
            return LLMError(f"{where}: {scrub(_message(exc))} ({exc.status_code}){hint}")
        if transient(exc) or not isinstance(exc, openai.OpenAIError):
            why = (
                scrub(_message(exc))
                if transient(exc)
                else f"its answer is not a chat completion ({type(exc).__name__})"
            )
            unreachable = isinstance(exc, openai.APIConnectionError) or not isinstance(exc, openai.OpenAIError)
            tried = f"no answer after {self.max_retries + 1} attempts ({why})"
            if unreachable and self.answered == 0:  # never a single answer: no server there, or not this kind
                return LLMError(f"{where}: {tried}; is the server running?")
            return TransientFailure(f"{where}: {tried}", key)
        if isinstance(exc, openai.APIStatusError):
            return LLMError(f"{where}: {scrub(_message(exc))} ({exc.status_code})")
        return LLMError(f"{where}: {scrub(_message(exc))} ({type(exc).__name__})")

    def _read(self, response: Any, model: str, key: str) -> tuple[str, int, int, str | None]:
        """The answer's text (scrubbed), token counts and why it ended, or why it is not a chat completion."""
        try:
            choice = response.choices[0] if response.choices else None
            content = scrub((choice.message.content or "") if choice else "")
            finish_reason = str(choice.finish_reason) if choice is not None and choice.finish_reason else None
            prompt_tokens = response.usage.prompt_tokens if response.usage else 0
            completion_tokens = response.usage.completion_tokens if response.usage else 0
        except (AttributeError, TypeError, IndexError) as exc:
            if self.answered == 0:
                raise LLMError(
                    f"{self._where(model)}: its answer is not a chat completion ({type(exc).__name__}); is --base-url right?"
                ) from None
            raise TransientFailure(f"{self._where(model)}: its answer is not a chat completion", key) from None
        return content, prompt_tokens, completion_tokens, finish_reason

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
