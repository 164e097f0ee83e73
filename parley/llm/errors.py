"""What can go wrong with LLM calls, importable without the openai client (the CLI catches these)."""

from __future__ import annotations

from parley.engine.policy import RunHalted


class LLMError(Exception):
    """A call that cannot succeed: bad key, unknown model, server unreachable after every retry."""


class BudgetExhausted(RunHalted):
    status = "budget_exhausted"


class TransientFailure(LLMError):
    """Retries ran out on errors that might pass; the actor can sit this round out."""

    def __init__(self, message: str, request_hash: str = "") -> None:
        super().__init__(message)
        self.request_hash = request_hash
