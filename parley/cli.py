"""The `parley` command line: run a world, validate a world."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from parley.console import RoundPrinter, print_summary
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

WorldArg = Annotated[Path, typer.Argument(help="the world file", show_default=True)]


def parse_variants(values: list[str]) -> dict[str, str]:
    variants: dict[str, str] = {}
    for value in values:
        actor, sep, name = value.partition("=")
        if not sep or not actor or not name:
            fail([f"--variant {value}: expected ACTOR=NAME, e.g. --variant us=hardliner"])
        if actor.strip() in variants:
            fail([f"--variant {value}: a variant for '{actor.strip()}' is already given ({variants[actor.strip()]})"])
        variants[actor.strip()] = name.strip()
    return variants


def fail(lines: list[str], code: int = 2) -> None:
    """Print one line per problem on stderr and exit; the lines are plain text (never markup or emoji codes)."""
    for line in lines:
        err.print(Text.assemble(("error:", "red"), " ", " ".join(line.splitlines())), highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@app.command()
def run(
    world: WorldArg = DEFAULT_WORLD,
    seed: Annotated[int, typer.Option(help="seed of every random choice in the run")] = 1,
    variant: Annotated[list[str], typer.Option("--variant", help="persona variant, ACTOR=NAME (repeatable)")] = [],  # noqa: B006
    max_rounds: Annotated[int | None, typer.Option(min=1, help="override the world's max rounds")] = None,
    runs_dir: Annotated[Path, typer.Option(help="where run folders are saved")] = Path("runs"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="print only the summary")] = False,
) -> None:
    """Play a world with the offline default strategy and save the run."""
    printer = RoundPrinter(out, quiet=quiet)
    try:
        result = play(
            world,
            seed=seed,
            variants=parse_variants(variant),
            max_rounds=max_rounds,
            runs_dir=runs_dir,
            on_event=printer.on_event,
        )
    except InvalidInput as exc:
        fail([str(p) for p in exc.problems])
        return
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
