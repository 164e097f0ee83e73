"""Parley: multi-agent role-play simulations of negotiations.

The public API, imported on first use so that `import parley` stays cheap:

- `play(world, seed=1, variants=None, ...)`: play one run and save it (`parley.runs.play`);
- `replay(run)`, `resume(run)`, `fork(run, at_round, ...)`: saved runs again (`parley.runs.replay`);
- `compare(world, arms, seeds, out=..., report=True)`: arms over seeded ensembles (`parley.ensembles.compare`);
- `check(world, seeds, out=..., report=True)`: a world's claims over seeded ensembles (`parley.ensembles.claims`);
- `write_run_report(run)`: RUN/report.html (`parley.reports.run`);
- `MoveSource`: where a person's moves come from (`parley.players.seat`); `LLMSettings` (`parley.llm.settings`).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from parley.ensembles.claims import Scorecard
    from parley.ensembles.compare import Comparison

_LAZY = {
    "play": "parley.runs.play",
    "replay": "parley.runs.replay",
    "resume": "parley.runs.replay",
    "fork": "parley.runs.replay",
    "write_run_report": "parley.reports.run",
    "MoveSource": "parley.players.seat",
    "LLMSettings": "parley.llm.settings",
}

__all__ = ["LLMSettings", "MoveSource", "check", "compare", "fork", "play", "replay", "resume", "write_run_report"]


def compare(*args: Any, report: bool = True, **kwargs: Any) -> Comparison:
    """Play persona variants (arms) over the same seeds and compare them (see
    `parley.ensembles.compare.compare` for the arguments); with `report`, also write report.md and
    report.html into the output folder (matplotlib is imported only then)."""
    from parley.ensembles.compare import compare as play_arms

    comparison = play_arms(*args, **kwargs)
    if report:
        from parley.reports.compare import write_compare_report

        comparison.files.update(write_compare_report(comparison))
    return comparison


def check(*args: Any, report: bool = True, **kwargs: Any) -> Scorecard:
    """Check the claims a world makes over seeded ensembles (see `parley.ensembles.claims.check` for
    the arguments); with `report`, also write scorecard.csv and scorecard.html into the output folder."""
    from parley.ensembles.claims import check as check_claims

    card = check_claims(*args, **kwargs)
    if report:
        from parley.reports.scorecard import write_scorecard

        write_scorecard(card)
    return card


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'parley' has no attribute {name!r}")
