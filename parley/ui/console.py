"""What the commands show in the terminal (Rich): `parley run`'s line per round and summary, the
`runs` table, a saved run as `show` prints it, and `compare`'s progress and summary."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.box import SIMPLE_HEAD
from rich.console import Console
from rich.padding import Padding
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from parley.engine.events import EventType
from parley.reports.text import describe, describe_outcome, describe_package
from parley.runs.compact import LINE
from parley.runs.saved import RunSummary, SavedRun, filter_events, persona_names
from parley.runs.transcript import package_changes
from parley.world.escaping import printable, rich_markup

if TYPE_CHECKING:
    from parley.ensembles.claims import Scorecard
    from parley.ensembles.compare import Comparison
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
        elif kind == EventType.FRAMEWORK:
            self.notes.append(f"[bold]framework: {event['proposal']} put to {', '.join(event['to'])}[/bold]")
        elif kind == EventType.SET_ASIDE and event["what"] == "proposal":
            self.notes.append(f"{event['actor']}'s offer set aside")
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
    closest = o.closest or {}
    package = o.deal or closest.get("package")
    if package:
        title = "The deal" if o.deal else f"Closest offer: {closest['proposal']} by {names[closest['proposer']]}"
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


# -- parley runs ----------------------------------------------------------------------------------
def print_runs(out: Console, err: Console, summaries: list[RunSummary], runs_dir: Path) -> None:
    """The saved runs as a table, newest first; a folder that is not a run is a warning, and skipped."""
    for s in summaries:
        if s.problem is not None:
            err.print(
                Text.assemble(("warning:", "yellow"), printable(f" {s.folder.name}: {s.problem}; skipped")),
                highlight=False,
            )
    found = [s for s in summaries if s.problem is None]
    if not found:
        out.print(Text(f"No runs in {runs_dir} yet; `parley run` saves them there."), highlight=False, soft_wrap=True)
        return
    colours = {"converged": "green", "stalled": "yellow", "breakdown": "red", "interrupted": "magenta", "error": "red"}
    rows: list[tuple[Text | str, ...]] = []
    for s in found:
        run_cell = Text(printable(s.run_id, one_line=True))
        if s.parent:
            fork = f" (fork of {s.parent.run_id}, round {s.parent.round})"
            run_cell.append(printable(fork, one_line=True), "dim")
        model = ""
        if s.models:
            common = max(set(s.models.values()), key=list(s.models.values()).count)
            model = ": " + "; ".join([common, *(f"{a}={m}" for a, m in s.models.items() if m != common)])
        status = Text(printable(s.status.replace("_", " "), one_line=True), colours.get(s.status, ""))
        if s.skipped_lines:
            status.append(f" ({s.skipped_lines} bad line{'s' if s.skipped_lines > 1 else ''})", "dim")
        rows.append(
            (
                run_cell,
                Text(printable((s.created_at or "?").replace("T", " ").removesuffix("Z")[:16], one_line=True)),
                Text(printable(s.world or "?", one_line=True)),  # what a run folder says is data, never markup
                Text(printable(", ".join(f"{a}={v}" for a, v in s.variants.items()) or "-", one_line=True)),
                Text(printable((s.backend or "?") + model, one_line=True)),
                status,
                str(s.rounds),
                "-" if s.tokens is None else f"{s.tokens:,}",
                "-" if s.cost_usd is None else f"${s.cost_usd:.4f}",
            )
        )

    def table_of(compact: bool) -> Table:
        """Compact: the date and outcome fixed narrow, so in a narrow terminal the run id gives way first."""
        table = Table(
            title=f"{len(found)} run(s) in {runs_dir}, newest first",
            title_justify="left",
            box=SIMPLE_HEAD,
            padding=(0, 1, 0, 0),
            show_edge=False,
        )
        table.add_column("Run", overflow="fold")
        table.add_column("Date (UTC)", width=10 if compact else None)
        for col in ("World", "Variants", "Backend"):
            table.add_column(col, overflow="fold")
        table.add_column("Outcome", width=11 if compact else None)
        for col in ("Rounds", "Tokens", "Cost"):
            table.add_column(col, justify="right", no_wrap=True)
        for row in rows:
            table.add_row(*row)
        return table

    table = table_of(compact=False)
    wide = out.measure(table, options=out.options.update_width(10_000)).maximum
    if wide <= out.width:
        out.print(table)
    elif out.is_terminal:
        out.print(table_of(compact=True))
    else:  # piped or captured: not wrapped at 80 columns, one line per run, for grep and copying ids
        Console(width=wide, no_color=out.no_color, highlight=False).print(table)


# -- parley show ----------------------------------------------------------------------------------
def print_jsonl(err: Console, saved: SavedRun, round_: int | None, actor: str | None) -> None:
    """A saved run's events (filtered) as plain JSON lines on stdout, whatever line form its log holds;
    lines that could not be read are warnings on stderr, as `parley show` gives them."""
    for note in ([saved.problem] if saved.problem else []) + [str(s) for s in saved.skipped]:
        err.print(Text.assemble(("warning:", "yellow"), f" {note}"), highlight=False, soft_wrap=True)
    write = sys.stdout.write
    for event in filter_events(saved.events, round=round_, actor=actor):
        write(LINE.encode(event) + "\n")
    sys.stdout.flush()


def print_run(out: Console, err: Console, saved: SavedRun, round_: int | None, actor: str | None) -> None:
    """A saved run as a negotiation, optionally one round and/or one actor, then its outcome."""
    for note in ([saved.problem] if saved.problem else []) + [str(s) for s in saved.skipped]:
        err.print(Text.assemble(("warning:", "yellow"), f" {note}"), highlight=False, soft_wrap=True)
    names = persona_names(saved)
    manifest = saved.manifest
    about = [
        f"world {manifest.world.id if manifest else '?'}",
        f"seed {manifest.seed if manifest else '?'}",
        ", ".join(f"{a}={v}" for a, v in saved.variants.items()) or "no variants",
        (saved.backend or "?") + (f" ({', '.join(sorted(set(saved.models.values())))})" if saved.models else ""),
        (manifest.created_at if manifest else "") or "?",
    ]
    out.print(
        Text.assemble(
            (printable(f"Run {saved.run_id}", one_line=True), "bold"),
            "  ",
            (printable(" | ".join(about), one_line=True), "dim"),
        ),
        highlight=False,
    )
    if saved.parent:
        fork = f"forked from {saved.parent.run_id} at round {saved.parent.round}"
        out.print(Text(printable(fork, one_line=True), "dim"))
    if round_ is not None or actor is not None:
        only = [f"round {round_}"] if round_ is not None else []
        only += [f"events involving {names.get(actor, actor)} ({actor})"] if actor is not None else []
        out.print(Text(printable(f"Showing only {' and '.join(only)}", one_line=True), "italic"), highlight=False)
    styles: dict[str, str] = {
        EventType.PROPOSAL: "bold",
        EventType.DEAL: "bold green",
        EventType.WALKOUT: "bold red",
        EventType.ERROR: "red",
        EventType.HALTED: "red",
        EventType.INVALID_ACTION: "red",
        EventType.LLM_FAILED: "yellow",
        EventType.LLM_GAVE_UP: "yellow",
        EventType.LLM_CALL: "cyan",
        EventType.TRUST: "dim",
        EventType.MEDIATED: "dim",
        EventType.PROPOSAL_DEAD: "dim",
        EventType.ROUND_ENDED: "dim italic",
    }
    changes = package_changes(saved.events)
    quiet = (EventType.ROUND_STARTED, EventType.OUTCOME)  # the rule above each round; the closing line below
    shown = [e for e in filter_events(saved.events, round=round_, actor=actor) if e.get("type") not in quiet]
    current: int | None = None
    printed = 0
    for event in shown:
        line = describe(event, names)
        if event["round"] != current:
            current = event["round"]
            out.rule(Text(f"Round {current}" if current else "Before round 1", "bold"), align="left")
        style = styles.get(event["type"], "")
        if event["type"] == EventType.RESPONSE:
            style = "green" if event.get("accept") else ""
        out.print(Padding(Text(line, style), (0, 0, 0, 2), expand=False), highlight=False)
        terms = describe_package(event, changes.get(event.get("seq", -1)))
        if terms:
            out.print(Padding(Text(terms, "dim"), (0, 0, 0, 6), expand=False), highlight=False)
        printed += 1
    if not printed:
        out.print(Text("(no events to show)", "dim"))
    out.print()
    colour = {"converged": "green", "stalled": "yellow", "breakdown": "red", "interrupted": "magenta"}
    out.print(Text(describe_outcome(saved, names), f"bold {colour.get(saved.status, '')}".strip()), highlight=False)


# -- parley compare -------------------------------------------------------------------------------
class ArmProgress:
    """A progress bar per arm (on stderr): runs done, and how many were reused from an earlier compare."""

    def __init__(self, err: Console, quiet: bool = False) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[note]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=err,
            disable=quiet,
        )
        self.tasks: list = []
        self.reused: list[int] = []

    def on_start(self, labels: list[str], seed_list: list[int], total: int) -> None:
        width = max(len(label) for label in labels)
        self.reused = [0] * len(labels)
        self.tasks.extend(self.progress.add_task(label.ljust(width), total=len(seed_list), note="") for label in labels)
        self.progress.start()

    def on_run(self, arm: int, row: dict, was_reused: bool) -> None:
        self.reused[arm] += was_reused
        note = f"{self.reused[arm]} reused" if self.reused[arm] else ""
        self.progress.update(self.tasks[arm], advance=1, note=note)

    def __enter__(self) -> ArmProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()


def print_comparison(out: Console, err: Console, result: Comparison) -> None:
    """Each arm's outcome shares, the comparisons against the first arm worth saying, and the files written."""

    def share(x: float) -> str:
        return "-" if x != x else f"{x:.0%}"  # NaN: an arm without a completed run

    table = Table(box=SIMPLE_HEAD, padding=(0, 1, 0, 0), show_edge=False)
    for col in ("Arm", "Runs", "Deal (95% interval)", "Refused", "Stalled", "Breakdown", "Max rounds", "Median rounds"):
        table.add_column(col, justify="left" if col == "Arm" else "right")
    for _, r in result.summary.iterrows():
        table.add_row(
            Text(str(r["arm"])),
            str(int(r["runs"])),
            f"{share(r['share_converged'])} ({share(r['share_converged_lo'])}-{share(r['share_converged_hi'])})",
            share(r["share_refused"]),
            share(r["share_stalled"]),
            share(r["share_breakdown"]),
            share(r["share_max_rounds"]),
            "-" if r["median_rounds"] != r["median_rounds"] else f"{r['median_rounds']:g}",
        )
    out_console = Console(width=max(out.width, 100), highlight=False) if not out.is_terminal else out
    out_console.print(table)
    # every deal comparison; a utility one when its interval leaves out no change (all of them: report.md)
    for _, r in result.paired.iterrows():
        if r["measure"] == "deal" or not (r["difference_lo"] <= 0 <= r["difference_hi"]):
            out_console.print(Text(r["sentence"]), soft_wrap=True)
    if result.stopped:
        err.print(Text.assemble(("warning:", "yellow"), f" stopped early: {result.stopped}"), highlight=False)
    if result.removed:
        err.print(
            Text(
                f"note: {len(result.removed)} unfinished run(s) of an interrupted compare were removed and played again"
            ),
            highlight=False,
        )
    out_console.print(
        Text(
            f"{result.played} run(s) played, {result.reused} reused; "
            f"{result.files['runs.csv']}, {result.files['summary.csv']}, {result.files['report.html']}"
        ),
        soft_wrap=True,
    )


# -- parley check ---------------------------------------------------------------------------------
def print_scorecard(out: Console, err: Console, card: Scorecard, files: dict[str, Path]) -> None:
    """The scorecard of a world's claims, then a line saying how many hold and where the files are."""
    from parley.reports.scorecard import table

    wide = Console(width=max(out.width, 120), highlight=False) if not out.is_terminal else out
    wide.print(table(card))
    if card.removed:
        err.print(Text(f"note: {len(card.removed)} unfinished run(s) were removed and played again"), highlight=False)
    broken = card.broken
    summary = f"{len(card.results) - len(broken)} of {len(card.results)} claims hold"
    if broken:
        summary += "; broken: " + ", ".join(r.claim.id for r in broken)
    played = f"{card.played} run(s) played, {card.reused} reused"
    wide.print(
        Text(printable(f"{summary}. {played}; {files['scorecard.csv']}, {files['scorecard.html']}")), soft_wrap=True
    )
