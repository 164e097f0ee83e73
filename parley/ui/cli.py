"""The `parley` command line: run a world, validate a world."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.box import SIMPLE_HEAD
from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text
from typer._click.exceptions import ClickException  # typer's own click: usage errors

from parley.engine.events import EventType
from parley.llm.errors import LLMError
from parley.llm.settings import DEFAULT_CACHE, LLMSettings
from parley.reports.text import describe, describe_outcome, describe_package
from parley.runs.saved import (
    BrowseError,
    check_filters,
    filter_events,
    list_runs,
    persona_names,
    read_run,
    resolve_run,
)
from parley.runs.transcript import package_changes
from parley.ui.console import RoundPrinter, print_summary
from parley.world.escaping import printable
from parley.world.problems import InvalidInput
from parley.world.scenario import DEFAULT_WORLD

if TYPE_CHECKING:
    from parley.llm.backend import LLMBackend
    from parley.players.seat import MoveSource

# The engine (Mesa, numpy) and the openai client load only in the commands that play: `parley runs`
# and `parley show` start fast.

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Parley: role-play negotiations between personas.",
)
out = Console()
err = Console(stderr=True)


class Backend(StrEnum):
    offline = "offline"
    openai = "openai"


WorldArg = Annotated[Path, typer.Argument(help="the world file", show_default=True)]


def fail(lines: list[str], code: int = 2) -> None:
    """Print one line per problem on stderr and exit; the lines are plain text (never markup or emoji codes)."""
    for line in lines:
        err.print(
            Text.assemble(("error:", "red"), " ", printable(" ".join(line.splitlines()))),
            highlight=False,
            soft_wrap=True,
        )
    raise typer.Exit(code)


def parse_pairs(values: list[str], option: str, example: str, value_name: str) -> dict[str, str]:
    """ACTOR=VALUE options: each actor at most once."""
    pairs: dict[str, str] = {}
    for value in values:
        actor, sep, name = (x.strip() for x in value.partition("="))
        if not sep or not actor or not name:
            fail([f"{option} {value}: expected ACTOR={value_name}, e.g. {option} {example}"])
        if actor in pairs:
            fail([f"{option} {value}: a value for '{actor}' is already given ({pairs[actor]})"])
        pairs[actor] = name
    return pairs


@app.command()
def run(
    world: WorldArg = DEFAULT_WORLD,
    seed: Annotated[int, typer.Option(min=0, help="seed of every random choice in the run")] = 1,
    variant: Annotated[list[str], typer.Option("--variant", help="persona variant, ACTOR=NAME (repeatable)")] = [],  # noqa: B006
    max_rounds: Annotated[int | None, typer.Option(min=1, help="override the world's max rounds")] = None,
    runs_dir: Annotated[Path, typer.Option(help="where run folders are saved")] = Path("runs"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="print only the summary")] = False,
    backend: Annotated[
        Backend, typer.Option(help="offline: the default strategy; openai: LLM personas")
    ] = Backend.offline,
    model: Annotated[str | None, typer.Option(help="LLM model for every actor (openai backend)")] = None,
    model_for: Annotated[
        list[str], typer.Option("--model-for", help="a model for one actor, ACTOR=MODEL (repeatable)")
    ] = [],  # noqa: B006
    base_url: Annotated[
        str | None,
        typer.Option(
            help="an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1 (default: OPENAI_BASE_URL or OpenAI)"
        ),
    ] = None,
    temperature: Annotated[
        float | None, typer.Option(min=0.0, max=2.0, help="sampling temperature (default: the world's, 0.7)")
    ] = None,
    max_tokens: Annotated[int | None, typer.Option(min=16, help="answer length limit per call")] = None,
    budget_usd: Annotated[
        float | None, typer.Option(min=0.0, help="end the run (budget_exhausted) before it would spend more")
    ] = None,
    max_reasks: Annotated[int, typer.Option(min=0, help="times an invalid answer is sent back with its error")] = 2,
    max_retries: Annotated[int, typer.Option(min=0, help="retries of a call on rate limits, timeouts, 5xx")] = 4,
    timeout: Annotated[float, typer.Option(min=0.1, help="seconds before a call times out")] = 60.0,
    concurrency: Annotated[int, typer.Option(min=1, help="LLM calls in flight at once")] = 8,
    cache: Annotated[bool, typer.Option(help="reuse answers to identical requests")] = True,
    cache_dir: Annotated[Path, typer.Option(help="where answers are cached")] = DEFAULT_CACHE,
    prices: Annotated[
        Path | None, typer.Option(help="price table (dollars per million tokens; default: prices.yaml)")
    ] = None,
    inject: Annotated[Path | None, typer.Option(help="a facilitator's inject file (worlds/injects/*.yaml)")] = None,
    human: Annotated[
        list[str], typer.Option("--human", help="play this actor yourself, at the terminal (repeatable)")
    ] = [],  # noqa: B006
) -> None:
    """Play a world and save the run: offline by default, or with LLM personas; --human seats you at the table."""
    from parley.runs.play import play
    from parley.ui.terminal_seat import TerminalSource

    printer = RoundPrinter(out, quiet=quiet)
    variants = parse_pairs(variant, "--variant", "us=hardliner", "NAME")
    llm = None
    if backend is Backend.openai:
        llm = llm_backend(
            model=model,
            base_url=base_url,
            models_for=parse_pairs(model_for, "--model-for", "russia=gpt-4o", "MODEL"),
            temperature=temperature,
            max_tokens=max_tokens,
            timeout=timeout,
            max_retries=max_retries,
            max_reasks=max_reasks,
            concurrency=concurrency,
            budget_usd=budget_usd,
            cache_dir=cache_dir if cache else None,
            prices=prices,
        )
    try:
        result = play(
            world,
            seed=seed,
            variants=variants,
            max_rounds=max_rounds,
            runs_dir=runs_dir,
            on_event=printer.on_event,
            llm=llm,
            injects=inject,
            human=dict.fromkeys(human, TerminalSource()) if human else None,
        )
    except InvalidInput as exc:
        fail([str(p) for p in exc.problems])
        return
    except LLMError as exc:
        fail([str(exc)], code=1)
        return
    finally:
        if llm is not None:
            llm.close()
    print_summary(out, result)


@app.command()
def validate(world: WorldArg = DEFAULT_WORLD) -> None:
    """Check a world, its persona cards (every variant) and its templates; list every problem."""
    from parley.runs.play import prepare

    try:
        scenario, _, space = prepare(world)
    except InvalidInput as exc:
        fail([str(p) for p in exc.problems])
        return
    w = scenario.world
    claims = f", {len(w.claims)} claim{'s' if len(w.claims) != 1 else ''}" if w.claims else ""
    out.print(
        f"[green]ok[/green] {escape(str(world))}: {len(w.actors)} actors, {len(w.issues)} issues "
        f"({space.size:,} packages), {len(w.edges)} edges, rule {w.protocol.rule}{escape(claims)}",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def replay(
    run_spec: Annotated[str, typer.Argument(metavar="RUN", help="a run id, a prefix of one, or a run folder")],
    runs_dir: Annotated[Path, typer.Option(help="where run folders are saved")] = Path("runs"),
) -> None:
    """Re-execute a saved run from its manifest and log, with no network call, and check every event."""
    from parley.runs.replay import replay as replay_run

    folder = resolve(run_spec, runs_dir)
    try:
        report = replay_run(folder)
    except InvalidInput as exc:
        fail([str(p) for p in exc.problems])
        return
    if not report.identical:
        fail([f"{folder.name}: {report.message}"], code=1)
    out.print(
        f"[green]ok[/green] {folder.name}: {report.message}; digest {report.digest[:16]}",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def resume(
    run_spec: Annotated[str, typer.Argument(metavar="RUN", help="a run id, a prefix of one, or a run folder")],
    runs_dir: Annotated[Path, typer.Option(help="where run folders are saved")] = Path("runs"),
    base_url: Annotated[
        str | None, typer.Option(help="the server for an LLM run's remaining calls (default: the run's)")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="print only the summary")] = False,
) -> None:
    """Finish a run that was killed: completed rounds are checked, not asked again; then it goes on live."""
    from parley.players.seat import NoRecordedMove
    from parley.runs.play import Diverged, RunResult
    from parley.runs.replay import resume as resume_run

    folder = resolve(run_spec, runs_dir)
    try:
        saved, model = resume_run(folder, base_url=base_url, live_moves=person_at_terminal())
    except InvalidInput as exc:
        fail([str(p) for p in exc.problems])
        return
    except NoRecordedMove as exc:
        fail([f"{folder.name}: cannot resume: {exc}, and stdin is not a terminal to ask; resume it in one"], code=1)
        return
    except Diverged as exc:
        fail(
            [f"{folder.name}: cannot resume: the log diverges from a re-execution at event {exc.recorded.get('seq')}"],
            code=1,
        )
        return
    except LLMError as exc:
        fail([str(exc)], code=1)
        return
    if saved.truncated is not None:
        err.print(
            Text(f"note: the last line of {folder.name}/events.jsonl was half-written and was dropped"), highlight=False
        )
    if saved.finished:
        err.print(Text(f"note: {folder.name} was finished but had no transcript.md; it is written again"))
    elif not quiet:
        complete = len([e for e in saved.events if e["type"] == EventType.ROUND_ENDED])
        out.print(Text(printable(f"resumed {folder.name} after {complete} complete round(s)")), highlight=False)
    print_summary(out, RunResult(folder.name, folder, model.outcome, model))


@app.command()
def fork(
    run_spec: Annotated[str, typer.Argument(metavar="RUN", help="a run id, a prefix of one, or a run folder")],
    at_round: Annotated[int, typer.Option("--at-round", min=1, help="the first round played differently")],
    variant: Annotated[
        list[str], typer.Option("--variant", help="persona variant from that round, ACTOR=NAME (repeatable)")
    ] = [],  # noqa: B006
    inject: Annotated[Path | None, typer.Option(help="an inject file; its events from that round on apply")] = None,
    backend: Annotated[
        Backend | None, typer.Option(help="play on with another backend (default: the parent's)")
    ] = None,
    model: Annotated[str | None, typer.Option(help="LLM model, with --backend openai")] = None,
    base_url: Annotated[str | None, typer.Option(help="an OpenAI-compatible server, with --backend openai")] = None,
    runs_dir: Annotated[
        Path, typer.Option(help="where run folders are saved (the parent is looked up there too)")
    ] = Path("runs"),
) -> None:
    """A new run: the parent's rounds before --at-round replayed from its log, then live with the change."""
    from parley.players.seat import NoRecordedMove
    from parley.runs.play import Diverged, RunResult
    from parley.runs.replay import fork as fork_run

    folder = resolve(run_spec, runs_dir)
    llm = None
    if backend is Backend.openai:
        llm = llm_backend(model=model, base_url=base_url)
    try:
        new, played = fork_run(
            folder,
            at_round,
            runs_dir,
            parse_pairs(variant, "--variant", "us=hardliner", "NAME"),
            inject,
            llm,
            live_moves=person_at_terminal(),
        )
    except InvalidInput as exc:
        fail([str(p) for p in exc.problems])
        return
    except NoRecordedMove as exc:
        fail([f"{folder.name}: cannot fork: {exc}, and stdin is not a terminal to ask; fork it in one"], code=1)
        return
    except Diverged as exc:
        fail(
            [
                f"{folder.name}: cannot fork: the parent's log diverges from a re-execution at event {exc.recorded.get('seq')}"
            ],
            code=1,
        )
        return
    except LLMError as exc:
        fail([str(exc)], code=1)
        return
    finally:
        if llm is not None:
            llm.close()
    out.print(f"forked {folder.name} at round {at_round}", highlight=False)
    print_summary(out, RunResult(new.name, new, played.outcome, played))


def person_at_terminal() -> MoveSource | None:
    """Who plays a saved run's people's seats once their recorded moves run out: the person at this
    terminal, if there is one (no one, when stdin is a pipe or a file)."""
    from parley.ui.terminal_seat import TerminalSource

    return TerminalSource() if sys.stdin.isatty() else None


@app.command()
def board(
    port: Annotated[int, typer.Option(min=1, max=65535, help="the port on 127.0.0.1 to serve the board on")] = 8765,
    runs_dir: Annotated[Path, typer.Option(help="where board runs are saved, and saved runs are loaded from")] = Path(
        "runs"
    ),
    model: Annotated[str | None, typer.Option(help="offer LLM personas played by this model (openai backend)")] = None,
    base_url: Annotated[
        str | None, typer.Option(help="an OpenAI-compatible server for that model (default: OPENAI_BASE_URL or OpenAI)")
    ] = None,
) -> None:
    """The workshop board in a browser: play a world round by round, add news, replay and fork saved runs."""
    import socket

    from parley.ui.board import serve

    with socket.socket() as probe:  # a port taken is the user's to change: say so in one line
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            fail([f"--port: {port}: cannot serve the board there ({exc.strerror or exc}); try another port"])
    out.print(f"The board is at http://127.0.0.1:{port} (Ctrl-C stops it)", highlight=False)
    serve(port, runs_dir, model, base_url)


def llm_backend(**settings: object) -> LLMBackend:
    """The LLM backend the options describe; a bad option (prices, cache folder) is one line, exit 2."""
    from parley.llm.backend import LLMBackend

    try:
        return LLMBackend(LLMSettings(**settings))  # type: ignore[arg-type]
    except InvalidInput as exc:
        fail([str(p) for p in exc.problems])
        raise


def resolve(spec: str, runs_dir: Path) -> Path:
    try:
        return resolve_run(spec, runs_dir)
    except BrowseError as exc:
        fail([str(exc)])
        raise


@app.command()
def runs(
    runs_dir: Annotated[Path, typer.Option(help="where run folders are saved")] = Path("runs"),
) -> None:
    """List the saved runs, newest first: world, variants, backend, outcome, rounds, tokens and cost."""
    try:
        summaries = list_runs(runs_dir)
    except BrowseError as exc:
        fail([str(exc)])
        return
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


@app.command()
def show(
    run_ref: Annotated[
        str, typer.Argument(metavar="RUN", help="a run id, an unambiguous prefix of one, or a run folder")
    ],
    round_: Annotated[int | None, typer.Option("--round", help="only this round")] = None,
    actor: Annotated[str | None, typer.Option(help="only events where this actor acts or is addressed")] = None,
    runs_dir: Annotated[Path, typer.Option(help="where run folders are saved")] = Path("runs"),
) -> None:
    """Print a saved run as a negotiation, optionally one round and/or one actor, then its outcome."""
    try:
        saved = read_run(resolve_run(run_ref, runs_dir))
        if saved.manifest is None and not saved.events:
            raise BrowseError(f"{run_ref}: {saved.problem}")
        check_filters(saved, round_, actor)
    except BrowseError as exc:
        fail([str(exc)])
        return
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


@app.command()
def report(
    run_spec: Annotated[str, typer.Argument(metavar="RUN", help="a run id, a prefix of one, or a run folder")],
    rounds: Annotated[
        str | None,
        typer.Option(
            help="rounds to draw the relationship graph at, e.g. 1,5,10 (0: the start; default: start, middle, end)"
        ),
    ] = None,
    runs_dir: Annotated[Path, typer.Option(help="where run folders are saved")] = Path("runs"),
) -> None:
    """Write RUN/report.html: one self-contained page with the outcome, the deal against ideals and red lines,
    the relationship graph, utility and trust over time, and the transcript."""
    from parley.reports.run import parse_rounds, write_run_report

    folder = resolve(run_spec, runs_dir)
    try:
        path = write_run_report(folder, parse_rounds(rounds) if rounds is not None else None)
    except InvalidInput as exc:
        fail([str(p) for p in exc.problems])
        return
    out.print(Text(str(path)), highlight=False, soft_wrap=True)


@app.command()
def compare(
    world: WorldArg = DEFAULT_WORLD,
    variant: Annotated[
        list[str],
        typer.Option(
            "--variant",
            help="an arm: ACTOR=NAME[,ACTOR=NAME...], or baseline (repeatable; the first arm is the reference)",
        ),
    ] = [],  # noqa: B006
    variant_file: Annotated[
        list[Path], typer.Option("--variant-file", help="an arm from a variant file (repeatable; after --variant arms)")
    ] = [],  # noqa: B006
    seeds: Annotated[int, typer.Option(help="seeds per arm, the same in every arm")] = 50,
    first_seed: Annotated[int, typer.Option(min=0, help="the first seed")] = 1,
    workers: Annotated[
        int | None, typer.Option(help="runs at once (default: offline, every CPU; LLM, --concurrency)")
    ] = None,
    out_dir: Annotated[
        Path, typer.Option("--out", help="the folder for runs/, runs.csv, summary.csv and the report")
    ] = ...,  # type: ignore[assignment]
    max_rounds: Annotated[int | None, typer.Option(help="override the world's max rounds")] = None,
    reuse: Annotated[bool, typer.Option(help="reuse the runs --out already holds for the same arm and seed")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bars")] = False,
    backend: Annotated[
        Backend, typer.Option(help="offline: the default strategy; openai: LLM personas")
    ] = Backend.offline,
    model: Annotated[str | None, typer.Option(help="LLM model for every actor (openai backend)")] = None,
    model_for: Annotated[
        list[str], typer.Option("--model-for", help="a model for one actor, ACTOR=MODEL (repeatable)")
    ] = [],  # noqa: B006
    base_url: Annotated[
        str | None, typer.Option(help="an OpenAI-compatible server (default: OPENAI_BASE_URL or OpenAI)")
    ] = None,
    temperature: Annotated[float | None, typer.Option(min=0.0, max=2.0, help="sampling temperature")] = None,
    max_tokens: Annotated[int | None, typer.Option(min=16, help="answer length limit per call")] = None,
    budget_usd: Annotated[
        float | None, typer.Option(min=0.0, help="one budget for the whole compare; no run starts once it is spent")
    ] = None,
    max_reasks: Annotated[int, typer.Option(min=0, help="times an invalid answer is sent back with its error")] = 2,
    max_retries: Annotated[int, typer.Option(min=0, help="retries of a call on rate limits, timeouts, 5xx")] = 4,
    timeout: Annotated[float, typer.Option(min=0.1, help="seconds before a call times out")] = 60.0,
    concurrency: Annotated[int, typer.Option(min=1, help="LLM calls in flight at once, over all runs")] = 8,
    cache: Annotated[bool, typer.Option(help="reuse answers to identical requests")] = True,
    cache_dir: Annotated[Path, typer.Option(help="where answers are cached")] = DEFAULT_CACHE,
    prices: Annotated[
        Path | None, typer.Option(help="price table (dollars per million tokens; default: prices.yaml)")
    ] = None,
) -> None:
    """Play persona variants (arms) over the same seeds and compare them: CSVs, plots and paired tests."""
    from parley import compare as compare_arms  # pandas, only for this command
    from parley.ensembles.runner import RunFailed

    for option, value, least in (("--seeds", seeds, 1), ("--workers", workers, 1), ("--max-rounds", max_rounds, 1)):
        if value is not None and value < least:
            fail([f"{option} {value}: must be at least {least}"])
    llm = None
    if backend is Backend.openai:
        llm = llm_backend(
            model=model,
            base_url=base_url,
            models_for=parse_pairs(model_for, "--model-for", "russia=gpt-4o", "MODEL"),
            temperature=temperature,
            max_tokens=max_tokens,
            timeout=timeout,
            max_retries=max_retries,
            max_reasks=max_reasks,
            concurrency=concurrency,
            budget_usd=budget_usd,
            cache_dir=cache_dir if cache else None,
            prices=prices,
        )
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=quiet,
    )
    tasks: list = []

    def on_start(labels: list[str], seed_list: list[int], total: int) -> None:
        width = max(len(label) for label in labels)
        tasks.extend(progress.add_task(label.ljust(width), total=len(seed_list), note="") for label in labels)
        progress.start()

    reused = [0] * (len(variant) + len(variant_file))

    def on_run(arm: int, row: dict, was_reused: bool) -> None:
        reused[arm] += was_reused
        progress.update(tasks[arm], advance=1, note=f"{reused[arm]} reused" if reused[arm] else "")

    try:
        result = compare_arms(
            world,
            arms=[*variant, *variant_file],
            seeds=seeds,
            first_seed=first_seed,
            workers=workers,
            out=out_dir,
            max_rounds=max_rounds,
            llm=llm,
            reuse=reuse,
            on_run=on_run,
            on_start=on_start,
        )
    except InvalidInput as exc:
        fail([str(p) for p in exc.problems])
        return
    except (LLMError, RunFailed) as exc:
        fail([str(exc)], code=1)
        return
    finally:
        progress.stop()
        if llm is not None:
            llm.close()

    def share(x: float) -> str:
        return "-" if x != x else f"{x:.0%}"  # NaN: an arm without a completed run

    table = Table(box=SIMPLE_HEAD, padding=(0, 1, 0, 0), show_edge=False)
    for col in ("Arm", "Runs", "Deal (95% interval)", "Stalled", "Breakdown", "Max rounds", "Median rounds"):
        table.add_column(col, justify="left" if col == "Arm" else "right")
    for _, r in result.summary.iterrows():
        table.add_row(
            Text(str(r["arm"])),
            str(int(r["runs"])),
            f"{share(r['share_converged'])} ({share(r['share_converged_lo'])}-{share(r['share_converged_hi'])})",
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


@app.command()
def check(
    world: WorldArg = DEFAULT_WORLD,
    seeds: Annotated[int, typer.Option(help="seeds per arm, the same in every arm")] = 50,
    first_seed: Annotated[int, typer.Option(min=0, help="the first seed")] = 1,
    workers: Annotated[int | None, typer.Option(help="runs at once (default: every CPU)")] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="the folder for runs/, scorecard.csv and scorecard.html (default: checks/WORLD)"),
    ] = None,
    reuse: Annotated[bool, typer.Option(help="reuse the runs --out already holds for the same arm and seed")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bars")] = False,
) -> None:
    """Check the claims a world makes: play the arms they need over the same seeds (offline), print the
    scorecard, write scorecard.csv and scorecard.html; exit 1 when a claim is broken."""
    from parley.ensembles.claims import NoClaims
    from parley.ensembles.claims import check as check_claims
    from parley.ensembles.runner import RunFailed
    from parley.reports.scorecard import table, write_scorecard

    for option, value in (("--seeds", seeds), ("--workers", workers)):
        if value is not None and value < 1:
            fail([f"{option} {value}: must be at least 1"])
    folder = out_dir if out_dir is not None else Path("checks") / world.stem
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=quiet,
    )
    tasks: list = []
    reused: dict[int, int] = {}

    def on_start(labels: list[str], seed_list: list[int], total: int) -> None:
        width = max(len(label) for label in labels)
        tasks.extend(progress.add_task(label.ljust(width), total=len(seed_list), note="") for label in labels)
        progress.start()

    def on_run(arm: int, row: dict, was_reused: bool) -> None:
        reused[arm] = reused.get(arm, 0) + was_reused
        progress.update(tasks[arm], advance=1, note=f"{reused[arm]} reused" if reused[arm] else "")

    try:
        card = check_claims(
            world,
            seeds,
            first_seed=first_seed,
            workers=workers,
            out=folder,
            reuse=reuse,
            on_run=on_run,
            on_start=on_start,
        )
    except InvalidInput as exc:
        fail([str(p) for p in exc.problems])
        return
    except NoClaims as exc:
        fail([str(exc)])
        return
    except RunFailed as exc:
        fail([str(exc)], code=1)
        return
    finally:
        progress.stop()
    files = write_scorecard(card)
    out_console = Console(width=max(out.width, 120), highlight=False) if not out.is_terminal else out
    out_console.print(table(card))
    if card.removed:
        err.print(Text(f"note: {len(card.removed)} unfinished run(s) were removed and played again"), highlight=False)
    broken = card.broken
    held = len(card.results) - len(broken)
    summary = f"{held} of {len(card.results)} claims hold"
    if broken:
        summary += "; broken: " + ", ".join(r.claim.id for r in broken)
    out_console.print(
        Text(
            f"{summary}. {card.played} run(s) played, {card.reused} reused; "
            f"{files['scorecard.csv']}, {files['scorecard.html']}"
        ),
        soft_wrap=True,
    )
    if broken:
        raise typer.Exit(1)


def main() -> None:
    """Run the command line; usage mistakes (a bad option value) are one line, like every other error."""
    try:
        code = app(standalone_mode=False)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except ClickException as exc:
        if type(exc).__name__ != "NoArgsIsHelpError":  # the help it stands for is already printed
            err.print(
                Text.assemble(("error:", "red"), " ", " ".join(exc.format_message().split())),
                highlight=False,
                soft_wrap=True,
            )
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
