"""How an LLM run is configured; importable without the openai client."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PRICES = Path("prices.yaml")
DEFAULT_CACHE = Path(".parley-cache/llm")


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

    def base(self) -> str | None:
        return self.base_url or os.environ.get("OPENAI_BASE_URL") or None
