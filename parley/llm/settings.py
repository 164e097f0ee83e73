"""How an LLM run is configured; importable without the openai client."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from parley.llm.secrets import REDACTED, public_url

DEFAULT_PRICES = Path("prices.yaml")
DEFAULT_CACHE = Path(".parley-cache/llm")
# How moves are asked for. 1: one unbounded list of actions, a fixed max_tokens, re-asks that pile up
# (runs recorded before bounds; a manifest without `request_format` is one of those). 2: bounded
# schemas with proposals apart, max_tokens derived from the schema, re-asks of a fixed size.
REQUEST_FORMAT = 2


@dataclass(frozen=True)
class LLMSettings:
    model: str | None = None
    base_url: str | None = None  # None: OPENAI_BASE_URL, else the OpenAI API
    models_for: dict[str, str] = field(default_factory=dict)
    temperature: float | None = None
    max_tokens: int | None = None
    timeout: float = 60.0
    max_retries: int = 4
    max_reasks: int = 2
    concurrency: int = 8
    budget_usd: float | None = None
    cache_dir: Path | None = DEFAULT_CACHE
    prices: Path | None = None  # None: prices.yaml here, else Parley's own
    memory_window: int = 2
    backoff: float = 1.0
    request_format: int = REQUEST_FORMAT

    def base(self) -> str | None:
        """The server: `base_url`, else OPENAI_BASE_URL, else None (the OpenAI API). A URL a run
        recorded without its key (`***`) takes it back from OPENAI_BASE_URL when that is the same server."""
        from_environment = os.environ.get("OPENAI_BASE_URL") or None
        if self.base_url and from_environment and REDACTED in self.base_url:
            if public_url(from_environment) == self.base_url:
                return from_environment
        return self.base_url or from_environment
