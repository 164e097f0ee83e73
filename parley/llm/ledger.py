"""What LLM calls cost: an editable price table, a ledger per actor and per run, and the budget
(between rounds, `DollarBudget`; per call, the `Budgeted` answerer)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from parley.engine.events import EventType
from parley.llm.answerer import Answerer, ChatParams, Completion, requests_for
from parley.llm.errors import BudgetExhausted
from parley.world.problems import InvalidInput, Problem, display_path, from_validation_error


class Price(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input: float = Field(ge=0, description="dollars per million prompt tokens")
    output: float = Field(ge=0, description="dollars per million completion tokens")


class PriceTable(BaseModel):
    model_config = ConfigDict(extra="forbid")
    models: dict[str, Price] = Field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None) -> PriceTable:
        if path is None or not path.is_file():
            return cls()
        name = display_path(path)
        try:
            return cls.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
        except yaml.YAMLError as exc:
            raise InvalidInput([Problem(name, "", f"not valid YAML: {str(exc).splitlines()[0]}")]) from None
        except ValidationError as exc:
            raise InvalidInput(from_validation_error(name, exc)) from None

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        price = self.models.get(model)
        if price is None:
            return 0.0
        return (prompt_tokens * price.input + completion_tokens * price.output) / 1_000_000


@dataclass
class Account:
    calls: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    usd: float = 0.0


@dataclass
class Ledger:
    """Tokens and dollars, per actor; the most one call has cost so far sizes the next round."""

    prices: PriceTable
    accounts: dict[str, Account] = field(default_factory=dict)
    dearest_call: float = 0.0
    reserved: float = 0.0  # the most the calls in flight may cost

    def charge(self, actor: str, model: str, prompt_tokens: int, completion_tokens: int, cached: bool) -> float:
        account = self.accounts.setdefault(actor, Account())
        account.calls += 1
        account.prompt_tokens += prompt_tokens
        account.completion_tokens += completion_tokens
        if cached:
            account.cached += 1
            return 0.0
        usd = self.prices.cost(model, prompt_tokens, completion_tokens)
        account.usd += usd
        self.dearest_call = max(self.dearest_call, usd)
        return usd

    def charge_usd(self, actor: str, prompt_tokens: int, completion_tokens: int, usd: float) -> None:
        """A call whose cost is already known (a recorded answer served again)."""
        account = self.accounts.setdefault(actor, Account())
        account.calls += 1
        account.prompt_tokens += prompt_tokens
        account.completion_tokens += completion_tokens
        account.usd += usd
        self.dearest_call = max(self.dearest_call, usd)

    @property
    def spent(self) -> float:
        return sum(a.usd for a in self.accounts.values())

    def reserve(self, usd: float, limit_usd: float) -> bool:
        """Hold `usd` for a call in flight unless spending, what is held and it could pass the limit."""
        if self.spent + self.reserved + usd > limit_usd:
            return False
        self.reserved += usd
        return True

    def release(self, usd: float) -> None:
        self.reserved -= usd

    def summary(self) -> dict:
        return {
            "usd": round(self.spent, 6),
            "actors": {
                a: {
                    "calls": x.calls,
                    "cached": x.cached,
                    "prompt_tokens": x.prompt_tokens,
                    "completion_tokens": x.completion_tokens,
                    "usd": round(x.usd, 6),
                }
                for a, x in sorted(self.accounts.items())
            },
        }


@dataclass
class DollarBudget:
    """Stops a run between rounds when the next round could take spending past the limit."""

    ledger: Ledger
    limit_usd: float
    calls_per_decider: int = 1

    def allows_round(self, deciders: int) -> bool:
        next_round = self.ledger.dearest_call * deciders * self.calls_per_decider
        return self.ledger.spent + next_round <= self.limit_usd


def costs_of(events: list[dict]) -> dict:
    """What one run's calls cost, from its own llm_call events (a shared ledger counts every run)."""
    actors: dict[str, dict] = {}
    for e in events:
        if e.get("type") != EventType.LLM_CALL:
            continue
        a = actors.setdefault(
            e["actor"], {"calls": 0, "cached": 0, "prompt_tokens": 0, "completion_tokens": 0, "usd": 0.0}
        )
        transport = e.get("transport", {})
        a["calls"] += 1
        a["cached"] += int(bool(transport.get("cached")))
        a["prompt_tokens"] += e["tokens"]["prompt"]
        a["completion_tokens"] += e["tokens"]["completion"]
        a["usd"] += float(transport.get("usd", 0.0))
    for a in actors.values():
        a["usd"] = round(a["usd"], 6)
    return {"usd": round(sum(a["usd"] for a in actors.values()), 6), "actors": dict(sorted(actors.items()))}


class Budgeted:
    """An answerer that charges every answer of `inner` to the ledger and, with a limit, refuses a
    call that could take spending past it: the most it could cost (every prompt character a token,
    and the longest answer) is reserved while it is in flight."""

    def __init__(self, inner: Answerer, ledger: Ledger, limit_usd: float | None = None) -> None:
        self.inner = inner
        self.ledger = ledger
        self.limit_usd = limit_usd

    async def complete(
        self, actor: str, model: str, messages: list[dict], schema: dict, schema_name: str, params: ChatParams
    ) -> Completion:
        ceiling = 0.0
        if self.limit_usd is not None:
            ceiling = self.ceiling(model, messages, schema, schema_name, params)
            if not self.ledger.reserve(ceiling, self.limit_usd):
                raise BudgetExhausted(
                    f"a call for {actor} could cost up to ${ceiling:.4f}; "
                    f"${self.ledger.spent:.4f} of ${self.limit_usd:.4f} is spent"
                )
        try:
            answer = await self.inner.complete(actor, model, messages, schema, schema_name, params)
        finally:
            if ceiling:
                self.ledger.release(ceiling)
        usd = self.ledger.charge(actor, model, answer.prompt_tokens, answer.completion_tokens, cached=answer.cached)
        return replace(answer, usd=usd)

    def ceiling(self, model: str, messages: list[dict], schema: dict, schema_name: str, params: ChatParams) -> float:
        """The most a call can cost, in whichever structured mode the server ends up taking."""
        return max(
            self.ledger.prices.cost(
                model,
                sum(len(str(m.get("content", ""))) for m in request["messages"])
                + len(json.dumps(request.get("response_format", "")))
                + len(request.get("grammar", "")),
                request["max_tokens"],
            )
            for _, request, _ in requests_for(model, messages, schema, schema_name, params)
        )
