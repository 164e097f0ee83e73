"""The `parley` command line: run a world, validate a world."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from parley.console import RoundPrinter, print_summary
from parley.llm.backend import DEFAULT_CACHE, DEFAULT_PRICES, LLMBackend, LLMSettings
from parley.llm.client import LLMError
from parley.play import play, prepare
from parley.problems import InvalidInput
from parley.scenario import DEFAULT_WORLD

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
        err.print(Text.assemble(("error:", "red"), " ", " ".join(line.splitlines())), highlight=False, soft_wrap=True)
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
    seed: Annotated[int, typer.Option(help="seed of every random choice in the run")] = 1,
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
    prices: Annotated[Path, typer.Option(help="price table (dollars per million tokens)")] = DEFAULT_PRICES,
) -> None:
    """Play a world and save the run: offline by default, or with LLM personas."""
    printer = RoundPrinter(out, quiet=quiet)
    variants = parse_pairs(variant, "--variant", "us=hardliner", "NAME")
    llm = None
    if backend is Backend.openai:
        settings = LLMSettings(
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
            llm = LLMBackend(settings)
        except InvalidInput as exc:
            fail([str(p) for p in exc.problems])
    try:
        result = play(
            world,
            seed=seed,
            variants=variants,
            max_rounds=max_rounds,
            runs_dir=runs_dir,
            on_event=printer.on_event,
            llm=llm,
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
    try:
        scenario, _, space = prepare(world)
    except InvalidInput as exc:
        fail([str(p) for p in exc.problems])
        return
    w = scenario.world
    out.print(
        f"[green]ok[/green] {escape(str(world))}: {len(w.actors)} actors, {len(w.issues)} issues "
        f"({space.size:,} packages), {len(w.edges)} edges, rule {w.protocol.rule}",
        highlight=False,
        soft_wrap=True,
    )


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
