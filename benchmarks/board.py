"""How long the workshop board takes to start, and to play and draw a round, offline.

Usage: python benchmarks/board.py [--rounds N] [--no-server]
Prints, measured in this process and its children (machines here are noisy: compare the ratios):
- start: `parley board` launched to its first page served, against importing the page's module alone
  (what the server adds) and against a bare `python -c pass`;
- per round: a board round (the engine's round plus saving the transcript) against the engine's
  round alone; then drawing it: the projector's HTML and SVG, and the facilitator page's Matplotlib
  figures (graph and three plots), each as a ratio to the board round.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORLD = ROOT / "worlds" / "ukraine-2024.yaml"


def seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def board_start(runs: Path) -> float:
    """Seconds from launching `parley board` to its first page answering."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "parley", "board", "--port", str(port), "--runs-dir", str(runs)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/projector", timeout=5) as answer:
                    if answer.status == 200:
                        return time.perf_counter() - start
            except OSError:
                time.sleep(0.1)
            if server.poll() is not None:
                raise SystemExit("the board did not start")
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--no-server", action="store_true", help="skip timing the server's start")
    args = parser.parse_args()

    from parley.engine.model import NegotiationModel
    from parley.runs.cast import offline_policies
    from parley.runs.play import prepare
    from parley.ui.board import BoardModel
    from parley.ui.board_app import draw_over_rounds, draw_support, draw_table
    from parley.ui.table_view import graph_svg, news_html, proposals_html, speech_html

    if not args.no_server:
        bare = seconds([sys.executable, "-c", "pass"])
        module = seconds([sys.executable, "-c", "import parley.ui.board_app"])
        with tempfile.TemporaryDirectory() as runs:
            start = board_start(Path(runs))
        print(f"start: board {start:.1f} s; importing the page module {module:.1f} s; bare python {bare:.2f} s")
        print(f"ratio board start / page module import: {start / module:.1f}")

    scenario, templates, space = prepare(WORLD)
    engine = NegotiationModel(scenario, offline_policies(scenario, space, templates, 1), seed=1, space=space)
    with tempfile.TemporaryDirectory() as runs:
        board = BoardModel(world=str(WORLD), seed=1, runs_dir=runs)
        engine_s, board_s, projector_s, figures_s = [], [], [], []
        for _ in range(args.rounds):
            if not board.running:
                break
            t = time.perf_counter()
            engine.step()
            engine_s.append(time.perf_counter() - t)
            t = time.perf_counter()
            board.step()
            board_s.append(time.perf_counter() - t)
            t = time.perf_counter()
            graph_svg(board) + proposals_html(board) + speech_html(board) + news_html(board)
            projector_s.append(time.perf_counter() - t)
            t = time.perf_counter()
            draw_table(board)
            draw_over_rounds(board, "best_on_table", "", "")
            draw_over_rounds(board, "trusted_by_others", "", "")
            draw_support(board)
            figures_s.append(time.perf_counter() - t)
        board.close()
    med = statistics.median
    print(f"rounds: {len(board_s)}")
    print(f"per round: engine {med(engine_s) * 1000:.0f} ms, board {med(board_s) * 1000:.0f} ms (medians)")
    print(f"ratio board round / engine round: {med(board_s) / med(engine_s):.2f}")
    print(
        f"drawing per round: projector HTML+SVG {med(projector_s) * 1000:.1f} ms, "
        f"facilitator figures {med(figures_s) * 1000:.0f} ms"
    )
    print(f"ratio projector drawing / board round: {med(projector_s) / med(board_s):.3f}")
    print(f"ratio facilitator figures / board round: {med(figures_s) / med(board_s):.2f}")


if __name__ == "__main__":
    main()
