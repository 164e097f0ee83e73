"""The `parley` command line: thin commands over the library.

Options are declared once (the `Annotated` aliases below) and shared by the commands that take
them; the 13 LLM options travel together as one `LLMOptions`. Every error a user can act on goes
through one mapping to one line each on stderr and an exit code (`exit_codes`); what the commands
show is drawn by `parley.ui.console`.
"""

from __future__ import annotations

import functools
import inspect
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, get_type_hints

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from parley.engine.events import EventType
from parley.llm.errors import LLMError
from parley.llm.secrets import scrub
from parley.llm.settings import DEFAULT_CACHE, LLMSettings
from parley.runs.saved import BrowseError, check_filters, list_runs, read_run, resolve_run
from parley.ui.console import (
    ArmProgress,
    RoundPrinter,
    print_comparison,
    print_jsonl,
    print_run,
    print_runs,
    print_scorecard,
    print_summary,
)
from parley.world.escaping import printable
from parley.world.problems import InvalidInput, display_path
from parley.world.scenario import DEFAULT_WORLD
from parley.world.world import MAX_ROUNDS

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


def fail(lines: list[str], code: int = 2) -> None:
    """Print one line per problem on stderr and exit; the lines are plain text (never markup or emoji
    codes), and never hold a secret."""
    for line in lines:
        text = printable(scrub(" ".join(line.splitlines())))
        err.print(Text.assemble(("error:", "red"), " ", text), highlight=False, soft_wrap=True)
    raise typer.Exit(code)


# -- errors to exit codes --------------------------------------------------------------------------
def _raised(module: str, name: str) -> type[BaseException]:
    """An exception class of a module the command may have loaded; if it is not loaded, nothing in it
    can have been raised (so `parley runs` need not import the engine to catch the engine's errors)."""
    loaded = sys.modules.get(module)
    return getattr(loaded, name) if loaded is not None else _NeverRaised


class _NeverRaised(Exception):
    pass


@contextmanager
def exit_codes(run: str = "", doing: str = "", log: str = "the log") -> Iterator[None]:
    """Every error a user can act on is one line on stderr: exit 2 for bad input (every problem, a line
    each), exit 1 for a run that cannot go on. `run`, `doing` and `log` name what a resume or fork
    could not do, and whose log diverged."""
    try:
        yield
    except (InvalidInput, BrowseError) as exc:
        fail([str(p) for p in exc.problems] if isinstance(exc, InvalidInput) else [str(exc)])
    except _raised("parley.players.seat", "NoRecordedMove") as exc:
        fail([f"{run}: cannot {doing}: {exc}, and stdin is not a terminal to ask; {doing} it in one"], code=1)
    except _raised("parley.runs.play", "Diverged") as exc:
        seq = exc.recorded.get("seq")  # type: ignore[attr-defined]
        fail([f"{run}: cannot {doing}: {log} diverges from a re-execution at event {seq}"], code=1)
    except (LLMError, _raised("parley.ensembles.runner", "RunFailed")) as exc:
        fail([str(exc)], code=1)


# -- options, declared once ------------------------------------------------------------------------
def within(least: float | None = None, most: float | None = None, why: str = "") -> Callable[..., Any]:
    """A check of a numeric option: a finite number within bounds, else one line and exit 2."""

    def check(ctx: typer.Context, param: typer.CallbackParam, value: float | None) -> float | None:
        if value is None:
            return value
        name = param.opts[0] if param.opts else param.name
        if not math.isfinite(value):
            fail([f"{name} {value}: must be a number"])
        if least is not None and value < least:
            fail([f"{name} {value}: must be at least {plain(least)}"])
        if most is not None and value > most:
            fail([f"{name} {value}: must be at most {plain(most)}{why}"])
        return value

    return check


def number(help: str, least: float, most: float | None = None, why: str = "", names: tuple[str, ...] = ()) -> Any:
    """A numeric option checked by `within`, its bounds shown in the help as click shows a range."""
    shown = f"{plain(least)} to {plain(most)}" if most is not None else f"{plain(least)} or more"
    return typer.Option(*names, help=f"{help} ({shown})", callback=within(least, most, why))


def plain(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else f"{bound:g}"


RUNS_WORDS = " (a world may not play more)"
WorldArg = Annotated[Path, typer.Argument(help="the world file", show_default=True)]
RunArg = Annotated[str, typer.Argument(metavar="RUN", help="a run id, a prefix of one, or a run folder")]
RunsDir = Annotated[Path, typer.Option(help="where run folders are saved")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="print only the summary")]
Seed = Annotated[int, number("seed of every random choice in the run", 0)]
MaxRounds = Annotated[int | None, number("override the world's max rounds", 1, MAX_ROUNDS, RUNS_WORDS)]
BackendOption = Annotated[Backend, typer.Option(help="offline: the default strategy; openai: LLM personas")]
Inject = Annotated[Path | None, typer.Option(help="a facilitator's inject file (worlds/injects/*.yaml)")]
# the LLM options
Model = Annotated[str | None, typer.Option(help="LLM model for every actor (openai backend)")]
ModelFor = Annotated[list[str], typer.Option("--model-for", help="a model for one actor, ACTOR=MODEL (repeatable)")]
BASE_URL_HELP = "an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1 (default: OPENAI_BASE_URL or OpenAI)"
BaseUrl = Annotated[str | None, typer.Option(help=BASE_URL_HELP)]
Temperature = Annotated[float | None, number("sampling temperature (default: the world's, 0.7)", 0.0, 2.0)]
MaxTokens = Annotated[int | None, number("answer length limit per call", 16, 1_000_000)]
BudgetUsd = Annotated[
    float | None,
    number("end the run (budget_exhausted) before it would spend more; a compare's is one for all its runs", 0, 1e6),
]
MaxReasks = Annotated[int, number("times an invalid answer is sent back with its error", 0, 20)]
MaxRetries = Annotated[int, number("retries of a call on rate limits, timeouts, 5xx", 0, 100)]
Timeout = Annotated[float, number("seconds a call may take, its whole answer included", 0.1, 3600.0)]
Concurrency = Annotated[int, number("LLM calls in flight at once (a compare: over all its runs)", 1, 1024)]
Cache = Annotated[bool, typer.Option(help="reuse answers to identical requests")]
CacheDir = Annotated[Path, typer.Option(help="where answers are cached")]
Prices = Annotated[Path | None, typer.Option(help="price table (dollars per million tokens; default: prices.yaml)")]


@dataclass
class LLMOptions:
    """The LLM options of a command, as given (the defaults are the command line's)."""

    model: Model = None
    model_for: ModelFor = field(default_factory=list)
    base_url: BaseUrl = None
    temperature: Temperature = None
    max_tokens: MaxTokens = None
    budget_usd: BudgetUsd = None
    max_reasks: MaxReasks = 2
    max_retries: MaxRetries = 4
    timeout: Timeout = 60.0
    concurrency: Concurrency = 8
    cache: Cache = True
    cache_dir: CacheDir = DEFAULT_CACHE
    prices: Prices = None

    def refuse_unused(self) -> None:
        """An LLM chosen for an offline game would be ignored without a word: say so instead."""
        given = {
            "--model": self.model,
            "--model-for": self.model_for,
            "--base-url": self.base_url,
            "--temperature": self.temperature,
            "--max-tokens": self.max_tokens,
            "--budget-usd": self.budget_usd,
        }
        named = [name for name, value in given.items() if value not in (None, [])]
        if named:
            fail([f"{named[0]}: chooses the LLM of `--backend openai`, and this plays offline; add --backend openai"])

    @contextmanager
    def backend(self, backend: Backend | None) -> Iterator[LLMBackend | None]:
        """The LLM backend these options describe, with `--backend openai` (else None), closed after
        use; a bad option (prices, cache folder, --model-for) is one line, exit 2."""
        if backend is Backend.offline:
            self.refuse_unused()
        if backend is not Backend.openai:
            yield None
            return
        from parley.llm.backend import LLMBackend

        with exit_codes():
            live = LLMBackend(
                LLMSettings(
                    model=self.model,
                    base_url=self.base_url,
                    models_for=parse_pairs(self.model_for, "--model-for", "russia=gpt-4o", "MODEL"),
                    temperature=self.temperature,
                    max_tokens=self.max_tokens,
                    timeout=self.timeout,
                    max_retries=self.max_retries,
                    max_reasks=self.max_reasks,
                    concurrency=self.concurrency,
                    budget_usd=self.budget_usd,
                    cache_dir=self.cache_dir if self.cache else None,
                    prices=self.prices,
                )
            )
        try:
            yield live
        finally:
            live.close()


def takes_llm_options(command: Callable[..., None]) -> Callable[..., None]:
    """The command's `llm: LLMOptions` parameter becomes the 13 LLM options on the command line, in
    its place; the command receives them gathered again as one `LLMOptions`."""
    signature = inspect.signature(command, eval_str=True)
    declared = get_type_hints(LLMOptions, include_extras=True)  # the Annotated aliases above
    names = [f.name for f in fields(LLMOptions)]
    defaults = LLMOptions()
    options = [
        inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, annotation=declared[name], default=getattr(defaults, name)
        )
        for name in names
    ]
    parameters: list[inspect.Parameter] = []
    for parameter in signature.parameters.values():
        parameters += options if parameter.name == "llm" else [parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY)]

    @functools.wraps(command)
    def with_options(**given: Any) -> None:
        command(**{k: v for k, v in given.items() if k not in names}, llm=LLMOptions(**{k: given[k] for k in names}))

    with_options.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    with_options.__annotations__ = {p.name: p.annotation for p in parameters}
    return with_options


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


def resolve(spec: str, runs_dir: Path) -> Path:
    with exit_codes():
        return resolve_run(spec, runs_dir)
    raise AssertionError("unreachable: exit_codes exits")


def person_at_terminal() -> MoveSource | None:
    """Who plays a saved run's people's seats once their recorded moves run out: the person at this
    terminal, if there is one (no one, when stdin is a pipe or a file)."""
    from parley.ui.terminal_seat import TerminalSource

    return TerminalSource() if sys.stdin.isatty() else None


def warn_late_injects(world: Path, variants: dict[str, str], inject: Path, max_rounds: int | None) -> None:
    """Before a run starts, say which of its inject's events it will never reach (a planned shock that
    silently never comes misleads a workshop)."""
    from parley.world.scenario import load_scenario
    from parley.world.soundness import late_injects

    with exit_codes():
        late = late_injects(load_scenario(world, variants), inject, max_rounds)
    for warning in late:
        text = printable(scrub(str(warning)))
        err.print(Text.assemble(("warning:", "yellow"), " ", text), highlight=False, soft_wrap=True)


# -- the commands ----------------------------------------------------------------------------------
@app.command()
@takes_llm_options
def run(
    world: WorldArg = DEFAULT_WORLD,
    seed: Seed = 1,
    variant: Annotated[list[str], typer.Option("--variant", help="persona variant, ACTOR=NAME (repeatable)")] = [],  # noqa: B006
    max_rounds: MaxRounds = None,
    runs_dir: RunsDir = Path("runs"),
    quiet: Quiet = False,
    backend: BackendOption = Backend.offline,
    llm: LLMOptions = LLMOptions(),  # noqa: B008  # the 13 LLM options, on the command line
    inject: Inject = None,
    human: Annotated[
        list[str], typer.Option("--human", help="play this actor yourself, at the terminal (repeatable)")
    ] = [],  # noqa: B006
) -> None:
    """Play a world and save the run: offline by default, or with LLM personas; --human seats you at the table."""
    from parley.runs.play import play
    from parley.ui.terminal_seat import TerminalSource

    printer = RoundPrinter(out, quiet=quiet)
    variants = parse_pairs(variant, "--variant", "us=hardliner", "NAME")
    if inject is not None:
        warn_late_injects(world, variants, inject, max_rounds)
    with llm.backend(backend) as live, exit_codes():
        result = play(
            world,
            seed=seed,
            variants=variants,
            max_rounds=max_rounds,
            runs_dir=runs_dir,
            on_event=printer.on_event,
            llm=live,
            injects=inject,
            human=dict.fromkeys(human, TerminalSource()) if human else None,
        )
    print_summary(out, result)


@app.command()
def validate(
    world: WorldArg = DEFAULT_WORLD,
    inject: Annotated[list[Path], typer.Option(help="an inject file to check against the world too (repeatable)")] = [],  # noqa: B006 (typer reads the default, never mutates it)
    strict: Annotated[bool, typer.Option("--strict", help="fail (exit 2) on warnings too")] = False,
) -> None:
    """Check a world, its persona cards (every variant) and its templates; list every problem, then
    warnings for what loads but cannot work as meant (signatories cut off, injects never reached...)."""
    from parley.runs.play import prepare
    from parley.world.soundness import world_warnings

    with exit_codes():
        scenario, _, space = prepare(world)
        warnings = world_warnings(scenario, list(inject))
    for warning in warnings:
        text = printable(scrub(str(warning)))
        err.print(Text.assemble(("warning:", "yellow"), " ", text), highlight=False, soft_wrap=True)
    if warnings and strict:
        fail([f"{len(warnings)} warning{'s' if len(warnings) != 1 else ''}, and --strict"])
    w = scenario.world
    claims = f", {len(w.claims)} claim{'s' if len(w.claims) != 1 else ''}" if w.claims else ""
    noted = f", {len(warnings)} warning{'s' if len(warnings) != 1 else ''}" if warnings else ""
    out.print(
        f"[green]ok[/green] {escape(str(world))}: {len(w.actors)} actors, {len(w.issues)} issues "
        f"({space.size:,} packages), {len(w.edges)} edges, rule {w.protocol.rule}{escape(claims)}{noted}",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def replay(run_spec: RunArg, runs_dir: RunsDir = Path("runs")) -> None:
    """Re-execute a saved run from its manifest and log, with no network call, and check every event."""
    from parley.runs.replay import replay as replay_run

    folder = resolve(run_spec, runs_dir)
    with exit_codes():
        report = replay_run(folder)
    if not report.identical:
        fail([f"{folder.name}: {report.message}"], code=1)
    out.print(
        f"[green]ok[/green] {folder.name}: {report.message}; digest {report.digest[:16]}",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def resume(
    run_spec: RunArg,
    runs_dir: RunsDir = Path("runs"),
    base_url: Annotated[
        str | None, typer.Option(help="the server for an LLM run's remaining calls (default: the run's)")
    ] = None,
    quiet: Quiet = False,
) -> None:
    """Finish a run that was killed: completed rounds are checked, not asked again; then it goes on live."""
    from parley.runs.play import RunResult
    from parley.runs.replay import resume as resume_run

    folder = resolve(run_spec, runs_dir)
    with exit_codes(folder.name, "resume"):
        saved, model = resume_run(folder, base_url=base_url, live_moves=person_at_terminal())
    if saved.truncated is not None:
        err.print(
            Text(f"note: the last line of {folder.name}/events.jsonl was half-written and was dropped"), highlight=False
        )
    if saved.finished:
        err.print(Text(f"note: {folder.name} was finished but had no transcript.md; it is written again"))
    elif not quiet:
        complete = len([e for e in saved.events if e["type"] == EventType.ROUND_ENDED])
        out.print(Text(printable(f"resumed {folder.name} after {complete} complete round(s)")), highlight=False)
    assert model.outcome is not None  # resume plays to the end
    print_summary(out, RunResult(folder.name, folder, model.outcome, model))


@app.command()
def fork(
    run_spec: RunArg,
    at_round: Annotated[int, number("the first round played differently", 1, names=("--at-round",))],
    variant: Annotated[
        list[str], typer.Option("--variant", help="persona variant from that round, ACTOR=NAME (repeatable)")
    ] = [],  # noqa: B006
    inject: Annotated[Path | None, typer.Option(help="an inject file; its events from that round on apply")] = None,
    backend: Annotated[
        Backend | None, typer.Option(help="play on with another backend (default: the parent's)")
    ] = None,
    model: Model = None,
    base_url: BaseUrl = None,
    runs_dir: Annotated[
        Path, typer.Option(help="where run folders are saved (the parent is looked up there too)")
    ] = Path("runs"),
) -> None:
    """A new run: the parent's rounds before --at-round replayed from its log, then live with the change."""
    from parley.runs.play import RunResult
    from parley.runs.replay import fork as fork_run

    folder = resolve(run_spec, runs_dir)
    variants = parse_pairs(variant, "--variant", "us=hardliner", "NAME")
    llm = LLMOptions(model=model, base_url=base_url)
    with llm.backend(backend) as live, exit_codes(folder.name, "fork", "the parent's log"):
        new, played = fork_run(folder, at_round, runs_dir, variants, inject, live, live_moves=person_at_terminal())
    out.print(f"forked {folder.name} at round {at_round}", highlight=False)
    assert played.outcome is not None  # a fork plays to the end
    print_summary(out, RunResult(new.name, new, played.outcome, played))


@app.command()
def board(
    port: Annotated[int, number("the port to serve the board on", 1, 65535)] = 8765,
    runs_dir: Annotated[Path, typer.Option(help="where board runs are saved, and saved runs are loaded from")] = Path(
        "runs"
    ),
    model: Annotated[str | None, typer.Option(help="offer LLM personas played by this model (openai backend)")] = None,
    base_url: BaseUrl = None,
    seat: Annotated[
        list[str] | None,
        typer.Option(help="an actor a team plays from its own page (repeat for several); each gets a private link"),
    ] = None,
    host: Annotated[
        str,
        typer.Option(help="the address to serve on; anything but 127.0.0.1 lets other machines in (links need keys)"),
    ] = "127.0.0.1",
) -> None:
    """The workshop board in a browser: play a world round by round, add news, replay and fork saved runs."""
    import socket

    from parley.ui.board_server import serve
    from parley.ui.room import new_token

    seats = list(dict.fromkeys(a.strip() for a in seat or [] if a.strip()))
    known = {a for path in world_choices() for a in path} if seats else set()
    unknown = [a for a in seats if a not in known]
    if unknown:
        fail([f"--seat: no world offers an actor '{a}' (actors: {', '.join(sorted(known))})" for a in unknown])
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:  # a port taken is the user's to change: say so in one line
        try:
            probe.bind((host, port))
        except OSError as exc:
            fail([f"--port: {port}: cannot serve the board there ({exc.strerror or exc}); try another port"])
    loopback = host in ("127.0.0.1", "localhost", "::1")
    key = "" if loopback else new_token()
    tokens = {a: new_token() for a in seats}
    shown = socket.gethostname() if host in ("0.0.0.0", "::") else host
    base = f"http://{'[' + shown + ']' if ':' in shown else shown}:{port}"
    facilitator = f"{base}/?key={key}" if key else f"{base}/"
    out.print(f"The board is at {facilitator} (Ctrl-C stops it)", highlight=False)
    out.print(f"Projector: {base}/projector" + (f"?key={key}" if key else ""), highlight=False)
    out.print(f"Debrief: {base}/debrief" + (f"?key={key}" if key else ""), highlight=False)
    for actor, token in tokens.items():
        out.print(f"Seat {actor}: {base}/seat?token={token}", highlight=False)
    serve(port, runs_dir, model, base_url, host=host, seats=tokens, key=key)


def world_choices() -> list[list[str]]:
    """The actors of each world the board offers."""
    from parley.ui.board_server import usable_worlds

    return [scenario.world.actor_ids() for scenario in usable_worlds().values()]


@app.command()
def runs(runs_dir: RunsDir = Path("runs")) -> None:
    """List the saved runs, newest first: world, variants, backend, outcome, rounds, tokens and cost."""
    with exit_codes():
        summaries = list_runs(runs_dir)
    print_runs(out, err, summaries, runs_dir)


@app.command()
def show(
    run_ref: Annotated[
        str, typer.Argument(metavar="RUN", help="a run id, an unambiguous prefix of one, or a run folder")
    ],
    round_: Annotated[int | None, typer.Option("--round", help="only this round")] = None,
    actor: Annotated[str | None, typer.Option(help="only events where this actor acts or is addressed")] = None,
    jsonl: Annotated[
        bool, typer.Option("--jsonl", help="the events as plain JSON, one per line (for grep and jq), not as words")
    ] = False,
    runs_dir: RunsDir = Path("runs"),
) -> None:
    """Print a saved run as a negotiation, optionally one round and/or one actor, then its outcome."""
    with exit_codes():
        saved = read_run(resolve_run(run_ref, runs_dir))
        if saved.manifest is None and not saved.events:
            raise BrowseError(f"{run_ref}: {saved.problem}")
        check_filters(saved, round_, actor)
    if jsonl:
        print_jsonl(err, saved, round_, actor)
    else:
        print_run(out, err, saved, round_, actor)


@app.command()
def report(
    run_spec: RunArg,
    rounds: Annotated[
        str | None,
        typer.Option(
            help="rounds to draw the relationship graph at, e.g. 1,5,10 (0: the start; default: start, middle, end)"
        ),
    ] = None,
    runs_dir: RunsDir = Path("runs"),
) -> None:
    """Write RUN/report.html: one self-contained page with the outcome, the deal against ideals and red lines,
    the relationship graph, utility and trust over time, and the transcript."""
    from parley.reports.run import parse_rounds, write_run_report

    folder = resolve(run_spec, runs_dir)
    with exit_codes():
        path = write_run_report(folder, parse_rounds(rounds) if rounds is not None else None)
    out.print(Text(str(path)), highlight=False, soft_wrap=True)


@app.command()
def debrief(
    run_spec: RunArg,
    ensemble: Annotated[
        Path | None,
        typer.Option(
            help="a `parley compare --out` folder holding runs of the run's setting (instead of playing them)"
        ),
    ] = None,
    seeds: Annotated[int, number("persona runs to play, seeds 1..N (without --ensemble)", 1, 100_000)] = 50,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="where to play and keep the persona runs (default: ensembles/WORLD; reused)"),
    ] = None,
    workers: Annotated[int | None, number("runs at once (default: every CPU)", 1, 1024)] = None,
    runs_dir: RunsDir = Path("runs"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
) -> None:
    """Set a played run beside the personas playing the same world, variants and injects: where its
    outcome sits among theirs, what the people at the table did differently. Written into RUN/report.html."""
    from parley.reports.run_debrief import debrief_run  # pandas, the engine: only for this command

    if ensemble is not None and out_dir is not None:
        fail(["--out: give --ensemble (runs already played) or --out (where to play them), not both"])
    folder = resolve(run_spec, runs_dir)
    progress = ArmProgress(err, quiet or ensemble is not None)
    with exit_codes(), progress:
        done = debrief_run(
            folder, ensemble, seeds, out_dir, workers, on_run=progress.on_run, on_start=progress.on_start
        )
    for line in done.result.summary():
        out.print(Text(line), highlight=False, soft_wrap=True)
    source = display_path(done.ensemble.folder)
    counts = f"{done.ensemble.played} played, {done.ensemble.reused} reused"
    out.print(Text(f"{done.report} (ensemble: {source}, {counts})"), highlight=False, soft_wrap=True)


@app.command()
@takes_llm_options
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
    seeds: Annotated[int, number("seeds per arm, the same in every arm", 1, 1_000_000)] = 50,
    first_seed: Annotated[int, number("the first seed", 0)] = 1,
    workers: Annotated[
        int | None,
        number("runs at once (default: offline, every CPU; LLM, --concurrency)", 1, 1024),
    ] = None,
    out_dir: Annotated[
        Path, typer.Option("--out", help="the folder for runs/, runs.csv, summary.csv and the report")
    ] = ...,  # type: ignore[assignment]
    max_rounds: MaxRounds = None,
    reuse: Annotated[bool, typer.Option(help="reuse the runs --out already holds for the same arm and seed")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bars")] = False,
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster",
            help="play on Dask: a scheduler's ADDRESS (tcp://host:8786; --out on a folder the workers share) "
            "or local:N worker processes here (pip install 'parley[cluster]')",
        ),
    ] = None,
    backend: BackendOption = Backend.offline,
    llm: LLMOptions = LLMOptions(),  # noqa: B008  # the 13 LLM options, on the command line
) -> None:
    """Play persona variants (arms) over the same seeds and compare them: CSVs, plots and paired tests."""
    from parley import compare as compare_arms  # pandas, only for this command

    progress = ArmProgress(err, quiet)
    with llm.backend(backend) as live, exit_codes(), progress:
        result = compare_arms(
            world,
            arms=[*variant, *variant_file],
            seeds=seeds,
            first_seed=first_seed,
            workers=workers,
            out=out_dir,
            max_rounds=max_rounds,
            llm=live,
            reuse=reuse,
            on_run=progress.on_run,
            on_start=progress.on_start,
            cluster=cluster,
        )
    print_comparison(out, err, result)


@app.command()
def check(
    world: WorldArg = DEFAULT_WORLD,
    seeds: Annotated[int, number("seeds per arm, the same in every arm", 1, 1_000_000)] = 50,
    first_seed: Annotated[int, number("the first seed", 0)] = 1,
    workers: Annotated[int | None, number("runs at once (default: every CPU)", 1, 1024)] = None,
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
    from parley.reports.scorecard import write_scorecard

    progress = ArmProgress(err, quiet)
    with exit_codes(), progress:
        try:
            card = check_claims(
                world,
                seeds,
                first_seed=first_seed,
                workers=workers,
                out=out_dir if out_dir is not None else Path("checks") / world.stem,
                reuse=reuse,
                on_run=progress.on_run,
                on_start=progress.on_start,
            )
        except NoClaims as exc:
            fail([str(exc)])
    print_scorecard(out, err, card, write_scorecard(card))
    if card.broken:
        raise typer.Exit(1)


def main() -> None:
    """Run the command line; usage mistakes (a bad option value) are one line, like every other error."""
    try:
        code = app(standalone_mode=False)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except typer.TyperException as exc:  # click's errors (usage, bad values), as Typer carries them
        if type(exc).__name__ != "NoArgsIsHelpError":  # the help it stands for is already printed
            err.print(
                Text.assemble(("error:", "red"), " ", scrub(" ".join(exc.format_message().split()))),
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
