"""How `parley board` becomes the board's Solara server, and the worlds and news files it offers.

Kept apart from the board's game (`parley.ui.board`) so that the command, which only checks its options
and hands over to Solara, does not import the engine, Mesa and the LLM client only to be replaced.
"""

from __future__ import annotations

from pathlib import Path

from parley.world.problems import InvalidInput
from parley.world.scenario import Scenario, bundled, load_scenario


def world_files(folder: Path = Path("worlds")) -> list[Path]:
    """The worlds the board offers: the world files in `folder` that load (Parley's own when there is none here)."""
    return list(usable_worlds(folder))


def usable_worlds(folder: Path = Path("worlds")) -> dict[Path, Scenario]:
    """Each world file in `folder` that loads, with what it loaded (read once, for the board and its seats)."""
    usable = {}
    for path in sorted(bundled(folder).glob("*.yaml")):
        try:
            usable[path] = load_scenario(path)
        except InvalidInput:
            continue  # `parley validate` says why; the board offers what can be played
    return usable


def inject_files(folder: Path = Path("worlds/injects")) -> list[Path]:
    return sorted(bundled(folder).glob("*.yaml"))


def serve(
    port: int,
    runs_dir: Path,
    model: str | None = None,
    base_url: str | None = None,
    host: str = "127.0.0.1",
    seats: dict[str, str] | None = None,
    key: str = "",
) -> None:
    """Become the board's Solara server on `host` (this process is replaced, so stopping it,
    even with kill, stops the server). `seats` (actor -> token) and `key` go to the server in its
    environment, which other users cannot read (a command line they can).

    The page loads nothing from the internet: the browser code comes from solara-assets through
    Solara's local copy, whose fetch-on-miss is pointed at a closed local port; the version check,
    usage telemetry and first-run checks are off.
    """
    import os
    import sys

    env = {
        **os.environ,
        "PARLEY_BOARD_RUNS_DIR": str(runs_dir.resolve()),
        "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "false",
        "SOLARA_ASSETS_CDN": "http://127.0.0.1:9/",  # the discard port: a missing asset fails here, never online
    }
    from parley.ui.room import encode_seats

    env["PARLEY_BOARD_SEATS"] = encode_seats(seats or {})
    env["PARLEY_BOARD_KEY"] = key
    if model:
        env["PARLEY_BOARD_MODEL"] = model
    if base_url:
        env["PARLEY_BOARD_BASE_URL"] = base_url
    command = [sys.executable, "-m", "solara", "run", "parley.ui.board_app", "--host", host, "--port", str(port)]
    command += ["--production", "--no-open", "--no-check-version", "--log-level", "warning"]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, command, env)
