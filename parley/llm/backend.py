"""Everything an LLM run shares: settings, the stack of answerers, the ledger, the budget, the event loop."""

from __future__ import annotations

import os
from collections.abc import Callable

from parley.llm.answerer import Answerer, ChatParams
from parley.llm.cache import Cached, ResponseCache
from parley.llm.client import OPENAI_API, ChatClient
from parley.llm.ledger import Budgeted, DollarBudget, Ledger, PriceTable
from parley.llm.loop import BackgroundLoop
from parley.llm.persona import PersonaSettings
from parley.llm.secrets import public_url
from parley.llm.settings import DEFAULT_PRICES, LLMSettings
from parley.world.problems import InvalidInput, Problem
from parley.world.scenario import Scenario, bundled


class LLMBackend:
    """Built once per process; runs can share it (one client, one concurrency limit, one budget)."""

    def __init__(
        self,
        settings: LLMSettings,
        ledger: Callable[[PriceTable], Ledger] = Ledger,
        gate: Callable[[Answerer], Answerer] | None = None,
    ) -> None:
        """`ledger` and `gate` are for runs spread over many processes (a Dask cluster): a ledger that
        keeps one spend for all, and a layer around the server that holds one limit on calls in flight."""
        self.settings = settings
        prices = (
            bundled(settings.prices or DEFAULT_PRICES) if settings.prices in (None, DEFAULT_PRICES) else settings.prices
        )
        if not prices.is_file():
            raise InvalidInput([Problem("--prices", str(settings.prices), "file not found")])
        if settings.cache_dir is not None and settings.cache_dir.exists() and not settings.cache_dir.is_dir():
            raise InvalidInput([Problem("--cache-dir", str(settings.cache_dir), "not a folder")])
        self.ledger = ledger(PriceTable.load(prices))
        self.transport = ChatClient(
            settings.base(),
            os.environ.get("OPENAI_API_KEY"),
            concurrency=settings.concurrency,
            timeout=settings.timeout,
            max_retries=settings.max_retries,
            backoff=settings.backoff,
        )
        # the answerers, outermost first: the cache (free answers skip the budget), the budget, the server
        server: Answerer = self.transport if gate is None else gate(self.transport)
        self.client: Answerer = Budgeted(server, self.ledger, settings.budget_usd)
        if settings.cache_dir is not None:
            self.client = Cached(self.client, ResponseCache(settings.cache_dir, self.transport.server), self.ledger)
        self.loop = BackgroundLoop()
        self.budget = (
            DollarBudget(self.ledger, settings.budget_usd, settings.max_reasks + 1)
            if settings.budget_usd is not None
            else None
        )

    def models(self, scenario: Scenario) -> dict[str, str]:
        """The model of each actor: --model-for, then the world's per-actor model, then --model, then the world's."""
        world = scenario.world
        default = self.settings.model or world.llm.model
        out, problems = {}, []
        for actor in self.settings.models_for:
            if actor not in world.actor_ids():
                problems.append(
                    Problem("--model-for", actor, f"unknown actor '{actor}' (actors: {', '.join(world.actor_ids())})")
                )
        for actor in world.actor_ids():
            model = self.settings.models_for.get(actor) or world.llm.models.get(actor) or default
            if not model:
                problems.append(
                    Problem(
                        "--model", "", f"no model for '{actor}': give --model NAME (or llm.model in the world file)"
                    )
                )
                break
            out[actor] = model
        if problems:
            raise InvalidInput(problems)
        return out

    def persona_settings(self, scenario: Scenario, seed: int) -> dict[str, PersonaSettings]:
        world = scenario.world
        bounded = self.settings.request_format >= 2
        params = ChatParams(
            temperature=self.settings.temperature if self.settings.temperature is not None else world.llm.temperature,
            # a cap on each answer; without one, each request allows what its schema needs (format 1: 1000)
            max_tokens=self.settings.max_tokens or world.llm.max_tokens or (None if bounded else 1000),
            seed=seed,
            derive_max_tokens=bounded,
        )
        return {
            actor: PersonaSettings(
                model,
                params,
                self.settings.max_reasks,
                self.settings.memory_window,
                request_format=self.settings.request_format,
            )
            for actor, model in self.models(scenario).items()
        }

    def describe(self, scenario: Scenario) -> dict:
        """What the manifest records of this backend (never the key)."""
        some = next(iter(self.persona_settings(scenario, 0).values()))
        return {
            "models": self.models(scenario),
            "temperature": some.params.temperature,
            "max_tokens": some.params.max_tokens,
            "memory_window": self.settings.memory_window,
            "base_url": public_url(self.settings.base()) or OPENAI_API,  # never a key it may hold
            "max_reasks": self.settings.max_reasks,
            "max_retries": self.settings.max_retries,
            "budget_usd": self.settings.budget_usd,
            "cache": self.settings.cache_dir is not None,
            "request_format": self.settings.request_format,
        }

    def close(self) -> None:
        self.loop.run(self.transport.aclose())
        self.loop.close()
