"""What `parley run` shows in the terminal: a line per round, then a summary (Rich)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

from parley.engine.events import EventType
from parley.world.escaping import printable, rich_markup

if TYPE_CHECKING:
    from parley.runs.play import RunResult


class RoundPrinter:
    """Collects a round's events and prints one line when the round ends."""

    def __init__(self, console: Console, quiet: bool = False) -> None:
        self.console = console
        self.quiet = quiet
        self.notes: list[str] = []

    def on_event(self, event: dict) -> None:
        kind = event["type"]
        if kind == EventType.PROPOSAL:
            self.notes.append(
                f"{event['actor']} {'counters with' if event['counter_to'] else 'proposes'} {event['proposal']}"
            )
        elif kind == EventType.RESPONSE and event["accept"]:
            self.notes.append(f"{event['actor']} accepts {event['proposal']}")
        elif kind == EventType.WALKOUT:
            self.notes.append(f"[bold red]{event['actor']} walks out[/bold red]")
        elif kind == EventType.CHANNEL:
            self.notes.append(f"{event['actor']} {'opens' if event['open'] else 'closes'} channel to {event['to']}")
        elif kind in (EventType.LLM_FAILED, EventType.LLM_GAVE_UP):
            self.notes.append(f"[yellow]{event['actor']}: {kind.replace('_', ' ')}[/yellow]")
        elif kind == EventType.LLM_CALL and event["error"]:
            self.notes.append(f"[yellow]{event['actor']} re-asked[/yellow]")
        elif kind == EventType.DEAL:
            self.notes.append(f"[bold green]deal: {event['proposal']} passes[/bold green]")
        elif kind == EventType.ROUND_ENDED:
            if not self.quiet:
                self.console.print(
                    f"[bold]Round {event['round']:>2}[/bold]  open {event['open_proposals']}  "
                    f"support {100 * event['leading_support']:.0f}%  trust {event['mean_trust']:+.2f}  "
                    + "; ".join(self.notes),
                    highlight=False,
                )
            self.notes = []


def print_summary(console: Console, result: RunResult) -> None:
    o = result.outcome
    world = result.model.world
    names = {a: rich_markup(p.name) for a, p in result.model.setting.personas.items()}  # a card's name is never markup
    colour = {"converged": "green", "stalled": "yellow", "breakdown": "red"}.get(o.status, "white")
    console.print()
    console.print(
        f"[bold {colour}]Outcome: {o.status.replace('_', ' ')}[/bold {colour}] after {o.round} round(s)",
        highlight=False,
    )
    package = o.deal or (o.closest or {}).get("package")
    if package:
        title = "The deal" if o.deal else f"Closest offer: {o.closest['proposal']} by {names[o.closest['proposer']]}"
        table = Table(title=title, title_justify="left")
        table.add_column("Issue")
        table.add_column("Option")
        for issue in world.issues:
            meaning = next(opt.meaning for opt in issue.options if opt.id == package[issue.id])
            table.add_row(Text(printable(issue.title)), Text(printable(meaning)))
        console.print(table)
    utilities = Table(title="Utilities (0 worst .. 1 best)", title_justify="left")
    for col in ("Actor", "Outcome", "No deal", "Nash package", "Best offer seen"):
        utilities.add_column(col, justify="left" if col == "Actor" else "right")
    nash = (o.nash or {}).get("utilities") or {}
    best = {a.actor: a.best_offer_utility for a in result.model.agents}
    for actor in world.actor_ids():
        utilities.add_row(
            names[actor],
            f"{o.utilities[actor]:.3f}",
            f"{o.no_deal[actor]:.3f}",
            f"{nash[actor]:.3f}" if actor in nash else "-",
            "-" if best[actor] is None else f"{best[actor]:.3f}",
        )
    console.print(utilities)
    if o.deal is not None:
        verdict = {True: "yes", False: "no", None: "unknown (the search was too large)"}[o.pareto_optimal]
        console.print(f"Pareto-optimal among the signatories: {verdict}")
    if result.model.costs is not None:
        cost = result.model.costs()
        table = Table(title=f"LLM calls: ${cost['usd']:.4f} in all", title_justify="left")
        for col in ("Actor", "Calls", "Cached", "Prompt tokens", "Completion tokens", "Dollars"):
            table.add_column(col, justify="left" if col == "Actor" else "right")
        for actor, a in cost["actors"].items():
            table.add_row(
                names.get(actor, actor),
                str(a["calls"]),
                str(a["cached"]),
                f"{a['prompt_tokens']:,}",
                f"{a['completion_tokens']:,}",
                f"{a['usd']:.4f}",
            )
        console.print(table)
    if o.walked_out:
        console.print(f"Walked out: {', '.join(names[a] for a in o.walked_out)}")
    console.print(Text.assemble("Saved to ", (str(result.folder), "bold")), highlight=False)
