"""Parley: multi-agent role-play simulations of negotiations."""

from __future__ import annotations

from typing import Any


def compare(*args: Any, **kwargs: Any) -> Any:
    """Compare persona variants over seeded ensembles; see `parley.compare.compare` (imported on first
    use, so `import parley` stays cheap)."""
    from parley.compare import compare as run_compare

    return run_compare(*args, **kwargs)
