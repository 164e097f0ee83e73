"""Each layer of the LLM answerer stack on its own, over a small stub (the transport over real HTTP)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from parley.llm.answerer import ChatParams, Completion, build_request, request_hash
from parley.llm.cache import Cached, ResponseCache
from parley.llm.client import ChatClient
from parley.llm.errors import BudgetExhausted, LLMError, TransientFailure
from parley.llm.ledger import Budgeted, Ledger, Price, PriceTable
from parley.llm.recorded import NotRecorded, RecordedAnswers
from tests.fake_openai import FakeOpenAI

MESSAGES = [{"role": "system", "content": "You are a."}, {"role": "user", "content": "Your move."}]
SCHEMA = {"type": "object", "properties": {"actions": {"type": "array", "items": {"type": "string"}}}}
PARAMS = ChatParams(temperature=0.5, max_tokens=100, seed=1)
ASK = ("a", "m", MESSAGES, SCHEMA, "parley_move_a", PARAMS)


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coroutine)


def hash_in(mode: str) -> str:
    return request_hash(build_request("m", MESSAGES, SCHEMA, "parley_move_a", PARAMS, mode))


@dataclass
class Stub:
    """An answerer that answers every call with the next of its contents (or raises it), and counts."""

    contents: list[str | Exception] = field(default_factory=lambda: ["{}"])
    calls: int = 0
    mode: str = "json_schema"
    gate: asyncio.Event | None = None  # when set, each call waits for it

    async def complete(
        self, actor: str, model: str, messages: list[dict], schema: dict, schema_name: str, params: ChatParams
    ) -> Completion:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        content = self.contents[min(self.calls, len(self.contents)) - 1]
        if isinstance(content, Exception):
            raise content
        return Completion(content, model, hash_in(self.mode), self.mode, 10, 5, 0.0, False, 0.01)


def priced(input_usd: float = 10.0, output_usd: float = 10.0) -> Ledger:
    return Ledger(PriceTable(models={"m": Price(input=input_usd, output=output_usd)}))


# -- Cached --------------------------------------------------------------------------------------
def test_cached_asks_once_and_files_the_answer_under_the_server(tmp_path: Path) -> None:
    stub, ledger = Stub(['{"a": 1}']), priced()
    cached = Cached(stub, ResponseCache(tmp_path, "http://one/v1"), ledger)
    first, second = run(cached.complete(*ASK)), run(cached.complete(*ASK))
    assert stub.calls == 1
    assert not first.cached and second.cached and second.content == '{"a": 1}' and second.usd == 0.0
    assert first.request_hash == second.request_hash == hash_in("json_schema")  # the request's own hash
    assert ledger.accounts["a"].cached == 1
    other_server = Cached(stub, ResponseCache(tmp_path, "http://two/v1"))
    assert not run(other_server.complete(*ASK)).cached and stub.calls == 2


def test_cached_finds_an_answer_stored_in_a_fallback_mode(tmp_path: Path) -> None:
    stub = Stub(["{}"], mode="json_object")  # a server that took json_object the first time
    cached = Cached(stub, ResponseCache(tmp_path, "http://one/v1"))
    run(cached.complete(*ASK))
    again = run(cached.complete(*ASK))
    assert stub.calls == 1 and again.cached and again.mode == "json_object"


def test_cached_stores_nothing_when_the_call_fails(tmp_path: Path) -> None:
    stub = Stub([TransientFailure("down", "h"), "{}"])
    cached = Cached(stub, ResponseCache(tmp_path, "s"))
    with pytest.raises(TransientFailure):
        run(cached.complete(*ASK))
    assert not list(tmp_path.rglob("*.json"))
    assert not run(cached.complete(*ASK)).cached and stub.calls == 2


# -- Budgeted ------------------------------------------------------------------------------------
def test_budgeted_charges_the_ledger_and_sets_the_cost() -> None:
    ledger = priced()
    answer = run(Budgeted(Stub(), ledger).complete(*ASK))
    assert answer.usd == pytest.approx((10 * 10 + 5 * 10) / 1_000_000)
    assert ledger.spent == pytest.approx(answer.usd) and ledger.accounts["a"].calls == 1


def test_budgeted_refuses_a_call_that_could_pass_the_limit_without_asking() -> None:
    ledger = priced(input_usd=1000.0, output_usd=1000.0)
    budgeted = Budgeted(Stub(), ledger, limit_usd=0.01)
    ceiling = budgeted.ceiling("m", MESSAGES, SCHEMA, "parley_move_a", PARAMS)
    assert ceiling > 0.01
    with pytest.raises(BudgetExhausted, match="could cost up to"):
        run(budgeted.complete(*ASK))
    assert budgeted.inner.calls == 0  # type: ignore[attr-defined]
    assert run(Budgeted(Stub(), ledger, limit_usd=ceiling * 1.01).complete(*ASK)).usd > 0


def test_budgeted_reserves_what_calls_in_flight_could_cost() -> None:
    async def two_at_once() -> list[Any]:
        stub = Stub(gate=asyncio.Event())
        budgeted = Budgeted(stub, priced(1000.0, 1000.0), limit_usd=0.0)
        budgeted.limit_usd = budgeted.ceiling("m", MESSAGES, SCHEMA, "parley_move_a", PARAMS) * 1.5  # room for one
        first = asyncio.create_task(budgeted.complete(*ASK))
        await asyncio.sleep(0)  # the first is in flight, its ceiling reserved
        second = asyncio.create_task(budgeted.complete(*ASK))
        await asyncio.sleep(0)
        stub.gate.set()  # type: ignore[union-attr]
        return await asyncio.gather(first, second, return_exceptions=True)

    first, second = run(two_at_once())
    assert isinstance(first, Completion) and isinstance(second, BudgetExhausted)


# -- RecordedAnswers -----------------------------------------------------------------------------
def recorded_call(key: str, raw: str) -> dict:
    return {
        "type": "llm_call",
        "request_hash": key,
        "raw": raw,
        "tokens": {"prompt": 7, "completion": 3},
        "transport": {"usd": 0.25},
    }


def test_recorded_answers_serve_the_log_in_order_then_refuse() -> None:
    events = [recorded_call(hash_in("json_object"), "first"), recorded_call(hash_in("json_object"), "second")]
    ledger = priced()
    recorded = RecordedAnswers(events, ledger)
    assert [run(recorded.complete(*ASK)).content for _ in range(2)] == ["first", "second"]
    assert ledger.spent == pytest.approx(0.5)
    with pytest.raises(NotRecorded):
        run(recorded.complete(*ASK))


def test_recorded_answers_go_live_where_the_log_ends_and_fail_where_it_failed() -> None:
    failed = {"type": "llm_failed", "request_hash": hash_in("json_schema"), "error": "no answer after 5 attempts"}
    live = Stub(["live"])
    recorded = RecordedAnswers([failed], priced(), live=live)
    with pytest.raises(TransientFailure, match="no answer after 5 attempts"):
        run(recorded.complete(*ASK))
    assert run(recorded.complete(*ASK)).content == "live" and live.calls == 1
    halted = RecordedAnswers([{"type": "halted", "reason": "the budget"}], priced())
    with pytest.raises(BudgetExhausted, match="the budget"):
        run(halted.complete(*ASK))


# -- ChatClient, the transport, over real HTTP ---------------------------------------------------
def test_the_transport_cuts_off_a_dripping_answer_at_its_deadline() -> None:
    with FakeOpenAI() as server:
        server.script("a", {"kind": "drip", "seconds": 0.2, "pad": 5000})
        client = ChatClient(server.url, "k", timeout=0.5, max_retries=0)
        with pytest.raises(LLMError, match=r"no answer after 1 attempts \(Request timed out.\)"):
            run(client.complete(*ASK))
        run(client.aclose())


def test_the_transport_retries_after_what_the_server_says_and_notes_why() -> None:
    with FakeOpenAI() as server:
        server.script("a", {"kind": "status", "status": 429, "retry_after": 0.1})
        client = ChatClient(server.url, "k", timeout=5, max_retries=1, backoff=0.01)
        answer = run(client.complete(*ASK))
        run(client.aclose())
    assert answer.retries == ["RateLimitError: rate limited"] and answer.usd == 0.0 and not answer.cached
    assert answer.request_hash == hash_in("json_schema") and client.answered == 1


def test_the_transport_scrubs_its_key_from_answers_and_errors() -> None:
    key = "sk-transport-0123456789abcdef"
    with FakeOpenAI(require_key="the-right-one") as server:
        client = ChatClient(server.url.replace("http://", f"http://user:{key}@"), key, max_retries=0)
        with pytest.raises(LLMError) as refused:
            run(client.complete(*ASK))
        run(client.aclose())
    assert "API key was refused" in str(refused.value) and key not in str(refused.value)
    assert client.server == server.url.replace("http://", "http://***@")
