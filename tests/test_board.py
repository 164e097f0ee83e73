"""The workshop board: its game logic without a browser, and the page itself in headless Chromium.

The browser tests start one `parley board` on a free 127.0.0.1 port and drive one Debian chromium
with Playwright (no browser is downloaded), each test in a context of its own. They are skipped only
when /usr/bin/chromium is absent; CI installs it. The last screenshot is kept: under $PARLEY_TEST_ARTIFACTS if set, else the test's tmp
folder, and its path is printed.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from parley.runs.folder import read_events
from parley.runs.replay import replay
from parley.ui.board import (
    BoardModel,
    proposals_in_flight,
    status,
    transcript,
    typed_inject,
    variant_choices,
)
from parley.ui.board_server import world_files
from parley.world.problems import InvalidInput
from tests.conftest import MINI, ROOT, UKRAINE, board_server, needs_chromium


def play_rounds(model: BoardModel, rounds: int) -> None:
    for _ in range(rounds):
        model.step()


# -- the game, without a browser ----------------------------------------------------------------------
def test_a_board_game_is_saved_from_its_first_round_and_replays_exactly(tmp_path: Path) -> None:
    model = BoardModel(world=str(UKRAINE), seed=3, runs_dir=str(tmp_path), variant_us="hardliner")
    assert model.folder is None and not any(tmp_path.iterdir())  # a game never played leaves nothing behind
    play_rounds(model, 3)
    assert model.folder is not None and (model.folder / "transcript.md").read_text().count("Round") >= 3
    manifest = json.loads((model.folder / "manifest.json").read_text())
    assert manifest["variants"] == {"us": "hardliner"} and manifest["seed"] == 3 and manifest["backend"] == "offline"
    while model.running:
        model.step()
    assert model.outcome is not None and "Ended in round" in status(model)
    report = replay(model.folder)
    assert report.identical, report.message


def test_typed_news_is_checked_planned_for_the_next_round_and_replays(tmp_path: Path) -> None:
    model = BoardModel(world=str(UKRAINE), seed=5, runs_dir=str(tmp_path))  # a run that goes past round 4
    play_rounds(model, 2)
    news = typed_inject(
        model,
        "  Drones hit   the pipeline. ",
        ["russia", "europe"],
        [{"from": "russia", "to": "ukraine", "delta": -0.4}],
        [{"from": "russia", "to": "china", "open": False}],
    )
    planned = model.inject_now(news)
    assert planned.round == 3 and planned.text == "Drones hit the pipeline." and model.planned() == [planned]
    manifest = json.loads((model.folder / "manifest.json").read_text())
    assert manifest["injects"]["events"][0]["round"] == 3  # in the manifest before it happens
    model.step()
    round_3 = dict(transcript(model))[3]
    assert "News from the facilitator to Russia, Europe: Drones hit the pipeline." in round_3
    closed = [e for e in model.events if e["type"] == "channel" and e["reason"] == "inject"]
    assert [(e["actor"], e["to"], e["open"], e["round"]) for e in closed] == [("russia", "china", False, 3)]
    model.step()
    model.close()  # the board moved on: an unfinished run, which replays as far as it went
    events = read_events(model.folder / "events.jsonl")
    assert next(e for e in events if e["type"] == "inject")["round"] == 3
    assert replay(model.folder).identical  # checked as far as the log goes


@pytest.mark.parametrize(
    ("text", "audience", "trust", "channels", "says"),
    [
        ("   ", [], [], [], "write what happened first"),
        ("News", ["atlantis"], [], [], "unknown actor 'atlantis'"),
        ("News", [], [{"from": "us", "to": "russia", "delta": 3.0}], [], "less than or equal to 2"),
        ("News", [], [], [{"from": "us", "to": "us", "open": False}], "cannot change its own"),
    ],
)
def test_bad_news_is_refused_in_plain_words(tmp_path: Path, text, audience, trust, channels, says) -> None:
    model = BoardModel(world=str(UKRAINE), runs_dir=str(tmp_path))
    with pytest.raises(InvalidInput) as refused:
        model.inject_now(typed_inject(model, text, audience, trust, channels))
    assert says in str(refused.value)
    assert model.injects == []


def test_an_inject_file_starts_at_the_next_round_keeping_its_spacing(tmp_path: Path) -> None:
    model = BoardModel(world=str(UKRAINE), runs_dir=str(tmp_path))
    play_rounds(model, 5)
    planned = model.inject_file(ROOT / "worlds" / "injects" / "china-mediates.yaml")
    assert [i.round for i in planned] == [6]
    model.step()
    assert model.setting.variants.get("china") == "mediator"  # its variant switch happened
    assert json.loads((model.folder / "manifest.json").read_text())["variants"] == {}  # as set up, not as switched


def test_a_variant_the_world_lacks_is_noted_and_played_as_written(tmp_path: Path) -> None:
    model = BoardModel(world=str(MINI), runs_dir=str(tmp_path), variant_north="hardliner", variant_us="dealmaker")
    assert model.setting.variants == {"north": "hardliner"}
    assert not model.notices  # `us` is not an actor of this world: nothing to say
    model = BoardModel(world=str(MINI), runs_dir=str(tmp_path), variant_north="dealmaker")
    assert model.setting.variants == {} and "has no variant 'dealmaker'" in model.notices[0]


def test_the_board_offers_the_worlds_and_variants_it_finds() -> None:
    worlds = world_files(ROOT / "worlds")
    assert UKRAINE in worlds
    choices = variant_choices(worlds)
    assert choices["us"] == ("United States", ["base", "dealmaker", "hardliner"])


def test_a_saved_run_steps_checked_then_forks_into_a_new_run(tmp_path: Path) -> None:
    parent = BoardModel(world=str(UKRAINE), seed=5, runs_dir=str(tmp_path))
    play_rounds(parent, 2)
    parent.inject_file(ROOT / "worlds" / "injects" / "kursk-lost.yaml")  # round 3
    while parent.running:
        parent.step()
    assert parent.folder is not None
    saved = BoardModel(replay_of=str(parent.folder), runs_dir=str(tmp_path))
    assert saved.replaying and saved.recorded_rounds == parent.round
    play_rounds(saved, 3)
    assert saved.problem is None and "round 3 of" in status(saved) and "every event as saved" in status(saved)
    assert transcript(saved) == transcript(parent)[-3:]  # the same first three rounds
    with pytest.raises(InvalidInput):
        saved.inject_now(typed_inject(saved, "News", [], [], []))  # a replay cannot change: fork first
    folder = saved.fork()
    assert not saved.replaying and "playing on from round 4" in status(saved)
    news = saved.inject_now(
        typed_inject(saved, "Talks move to Geneva.", [], [{"from": "us", "to": "russia", "delta": 0.5}], [])
    )
    while saved.running:
        saved.step()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["parent"] == {"run_id": parent.folder.name, "round": 4}
    assert [i["round"] for i in manifest["injects"]["events"]] == [3, news.round]
    forked = read_events(folder / "events.jsonl")
    prefix = [e for e in read_events(parent.folder / "events.jsonl") if e["round"] < 4]
    assert forked[: len(prefix)] == prefix
    assert replay(folder).identical


def test_a_replay_that_no_longer_matches_its_log_stops_with_the_reason(tmp_path: Path) -> None:
    model = BoardModel(world=str(MINI), seed=1, runs_dir=str(tmp_path))
    play_rounds(model, 3)
    model.close()
    log = model.folder / "events.jsonl"
    events = read_events(log)
    first_proposal = next(e for e in events if e["type"] == "proposal" and e["round"] == 2)
    first_proposal["text"] = "Something else entirely."
    log.write_text("".join(json.dumps(e) + "\n" for e in events))
    saved = BoardModel(replay_of=str(model.folder), runs_dir=str(tmp_path))
    play_rounds(saved, 2)
    assert saved.problem is not None and saved.problem.startswith("Round 2 no longer plays as saved")
    assert f"event {first_proposal['seq']}" in saved.problem and not saved.running
    saved = BoardModel(replay_of=str(model.folder), runs_dir=str(tmp_path))
    play_rounds(saved, 1)
    saved.step()
    assert not saved.can_fork


def test_an_unfinished_saved_run_stops_where_its_log_does(tmp_path: Path) -> None:
    model = BoardModel(world=str(MINI), seed=1, runs_dir=str(tmp_path))
    play_rounds(model, 2)
    model.close()
    saved = BoardModel(replay_of=str(model.folder), runs_dir=str(tmp_path))
    play_rounds(saved, 3)
    assert saved.round == 2 and not saved.running and saved.can_fork
    assert "Fork it to play on" in saved.notices[-1]
    assert proposals_in_flight(saved) == proposals_in_flight(model)


def test_llm_players_on_the_board_replay_from_their_log_and_fork_live(tmp_path: Path) -> None:
    from parley.llm.backend import LLMBackend, LLMSettings
    from tests.fake_openai import FakeOpenAI

    with FakeOpenAI(accept=False) as server:  # nobody accepts: the game goes on
        backend = LLMBackend(LLMSettings(model="fake", base_url=server.url, cache_dir=None, prices=None))
        try:
            game = BoardModel(world=str(MINI), seed=2, players="openai", llm=backend, runs_dir=str(tmp_path))
            play_rounds(game, 3)
            game.close()
        finally:
            backend.close()
        assert json.loads((game.folder / "manifest.json").read_text())["llm"]["models"]["north"] == "fake"
        asked = len(server.requests)
        saved = BoardModel(replay_of=str(game.folder), runs_dir=str(tmp_path))
        play_rounds(saved, 2)
        assert saved.problem is None and len(server.requests) == asked  # answers come from the log
        folder = saved.fork()
        saved.step()
        assert len(server.requests) == asked  # round 3's answers were still in the log
        saved.step()
        assert saved.problem is None and len(server.requests) > asked  # round 4 was asked of the server
        while saved.running:
            saved.step()
        saved.close()
    assert replay(folder).identical


# -- the page, in a browser ---------------------------------------------------------------------------
def test_a_person_at_the_board_sees_the_round_before_moving_and_the_run_replays(tmp_path: Path) -> None:
    from parley.engine.actions import Move, Pass, Propose
    from parley.players.seat import default_package

    model = BoardModel(world=str(UKRAINE), seed=2, runs_dir=str(tmp_path), seat="ukraine")
    model.step()  # the round opens: the table as it stands, then it waits for the person
    assert model.awaiting_move and model.round == 1
    view = model.seat_view()
    assert view is not None and "Round 1 of 20" in view.round_text
    model.step()  # nothing chosen yet: the round still waits, and the board says so
    assert model.awaiting_move and "Ukraine has not chosen a move yet" in model.notices[-1]
    package = default_package(view.options())
    model.play_move(Move(actions=[Propose(package=package, to=["us", "europe"], text="Our terms.")]))
    assert not model.awaiting_move
    (proposal,) = [e for e in model.events if e["type"] == "proposal" and e["actor"] == "ukraine"]
    assert proposal["package"] == package and proposal["to"] == ["us", "europe"]
    with pytest.raises(InvalidInput, match="press Step first"):
        model.play_move(Move())
    while model.running:
        model.step()
        if model.awaiting_move:
            model.play_move(Move(actions=[Pass(reason="thinking")]))
    model.close()
    assert json.loads((model.folder / "manifest.json").read_text())["human"] == ["ukraine"]
    assert len([e for e in model.events if e["type"] == "human_move"]) == model.outcome.round
    assert replay(model.folder).identical


def test_a_seat_the_world_lacks_is_noted_and_nobody_sits(tmp_path: Path) -> None:
    model = BoardModel(world=str(MINI), seed=1, runs_dir=str(tmp_path), seat="ukraine")
    assert model.seat is None and "no actor 'ukraine'" in model.notices[0]
    model.step()
    assert not model.awaiting_move and model.round == 1


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path]]:
    """`parley board` on a free port: its address, runs folder and server log; stopped afterwards."""
    needs_chromium()
    with board_server(tmp_path_factory.mktemp("board")) as server:
        yield server.base + "/", server.runs, server.log


@pytest.fixture
def page(board, chromium):
    context = chromium.new_context(viewport={"width": 1600, "height": 1200})  # its own cookies and storage
    page = context.new_page()
    page.set_default_timeout(90_000)  # a readiness wait: a round's figures take long on a loaded machine
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.requested = requested
    yield page
    context.close()


def artifact(tmp_path: Path, name: str) -> Path:
    folder = Path(os.environ.get("PARLEY_TEST_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def step(page, to_round: int) -> None:
    page.get_by_role("button", name="Step", exact=True).click()
    page.get_by_text(f"Round {to_round} of at most").wait_for()


def button(page, name: str):
    return page.get_by_role("button", name=name, exact=True)


def assert_nothing_from_outside(page, url: str, log: Path) -> None:
    outside = {u.split("/")[2] for u in page.requested if not u.startswith(("data:", "blob:"))} - {url.split("/")[2]}
    assert not outside, f"the page asked other hosts: {outside}"
    assert "Could not load URL" not in log.read_text()  # and the server fetched no asset for it


def test_the_board_plays_rounds_and_takes_the_facilitators_news(board, page, tmp_path: Path) -> None:
    url, _, log = board
    page.goto(url)
    page.get_by_text("Nothing yet: press Step to play the first round.").wait_for()
    for n in (1, 2, 3):
        step(page, n)
    page.get_by_text("Round 3", exact=True).wait_for()
    graph = page.locator(".parley-graph img")
    page.wait_for_timeout(300)
    graph_before = graph.screenshot()

    button(page, "Plan the typed news").click()  # nothing typed: refused, in words
    page.get_by_text("Not planned: the news: text: write what happened first").wait_for()

    page.get_by_label("Or type what happened").fill("The United States suspends its talks with Moscow.")
    button(page, "Add trust change").click()  # United States -> Russia, -0.30 by default
    button(page, "Open channel").click()  # closed in the world as written
    page.get_by_text("United States opens its channel to Russia").wait_for()
    button(page, "Plan the typed news").click()
    page.get_by_text("Planned for round 4.").wait_for()
    step(page, 4)
    page.get_by_text(
        "News from the facilitator to everyone: The United States suspends its talks with Moscow."
    ).wait_for()
    page.wait_for_timeout(300)
    assert graph.screenshot() != graph_before  # the channel opened and the trust moved on the graph

    shot = artifact(tmp_path, "board-after-news.png")
    page.screenshot(path=str(shot))
    print(f"board screenshot: {shot}")
    assert_nothing_from_outside(page, url, log)


def test_the_board_steps_a_saved_run_and_forks_it(board, page) -> None:
    url, runs, log = board
    parent = BoardModel(world=str(UKRAINE), seed=4, runs_dir=str(runs))
    play_rounds(parent, 2)
    parent.inject_file(ROOT / "worlds" / "injects" / "us-aid-suspended.yaml")
    play_rounds(parent, 2)
    parent.close()
    page.goto(url)
    button(page, "Refresh").click()
    page.get_by_label("Saved run").click(force=True)
    page.get_by_role("option", name=parent.folder.name, exact=False).click()
    button(page, "Load and step through").click()
    page.get_by_text(f"Stepping through saved run {parent.folder.name}: round 0 of 4").wait_for()
    for n in (1, 2, 3):
        page.get_by_role("button", name="Step", exact=True).click()
        page.get_by_text(
            f"Stepping through saved run {parent.folder.name}: round {n} of 4, every event as saved"
        ).wait_for()
    page.get_by_text(
        "News from the facilitator to everyone: The White House announces"
    ).wait_for()  # from the log's manifest
    button(page, "Fork: play on live from round 4").click()
    page.get_by_text("Playing on live, saved as").wait_for()
    step(page, 4)
    page.get_by_text(f"playing on from round 4 of {parent.folder.name}").wait_for()
    (fork,) = [p for p in runs.iterdir() if json.loads((p / "manifest.json").read_text()).get("parent")]
    assert json.loads((fork / "manifest.json").read_text())["parent"] == {"run_id": parent.folder.name, "round": 4}
    button(page, "Reset").click()  # Mesa's Reset: a new live game from the parameters
    page.get_by_text("Round 0 of at most 20; saved from the first round on.").wait_for()
    assert_nothing_from_outside(page, url, log)


def test_a_person_plays_a_seat_on_the_board_and_their_moves_are_logged(board, page, tmp_path: Path) -> None:
    url, runs, log = board
    page.goto(url)
    page.get_by_label("A person plays (nobody: every actor is played by the players above)").click(force=True)
    page.get_by_role("option", name="ukraine", exact=True).click()
    button(page, "Reset").click()
    page.get_by_text("A person plays Ukraine. Press Step").wait_for()
    button(page, "Step").click()
    page.get_by_text("What Ukraine sees in round 1").wait_for()
    page.get_by_label("What you say").fill("Our terms, for everyone at the table.")
    button(page, "Add to my move").click()  # a proposal of Ukraine's best package, to everyone
    page.get_by_text("- propose to United States, Russia, China, Europe").wait_for()
    button(page, "Play the round with this move").click()
    page.get_by_text("A person plays Ukraine. Press Step").wait_for()  # the round is played
    page.get_by_text("Round 1", exact=True).wait_for()
    page.get_by_text('Ukraine proposes P3 to United States, Russia, China, Europe: "Our terms').wait_for()
    button(page, "Step").click()  # round 2 opens and waits for the person
    page.get_by_text("What Ukraine sees in round 2").wait_for()
    page.get_by_label("What do you want to do?").click(force=True)
    page.get_by_role("option", name="Send a message", exact=True).click()
    page.get_by_label("Kind of message").wait_for()  # the form is now a message's
    button(page, "Add to my move").click()
    page.get_by_text("Not added: a message needs text").wait_for()  # checked as it goes
    page.get_by_label("What you say").fill("We will not trade land for promises.")
    button(page, "Add to my move").click()
    page.get_by_text('- statement to United States, Russia, China, Europe: "We will not trade').wait_for()
    button(page, "Play the round with this move").click()
    page.get_by_text("A person plays Ukraine. Press Step").wait_for()  # the round is played
    page.get_by_text("Round 2", exact=True).wait_for()
    page.get_by_text('(statement): "We will not trade land for promises."', exact=False).wait_for()
    shot = artifact(tmp_path, "board-person-at-the-table.png")
    page.screenshot(path=str(shot))
    print(f"board screenshot: {shot}")
    (folder,) = [p for p in runs.iterdir() if json.loads((p / "manifest.json").read_text()).get("human")]
    moves = [e for e in read_events(folder / "events.jsonl") if e["type"] == "human_move"]
    assert [m["actor"] for m in moves] == ["ukraine", "ukraine"]
    assert moves[0]["move"]["actions"][0]["type"] == "propose"
    assert moves[1]["move"]["actions"][0]["text"] == "We will not trade land for promises."
    assert_nothing_from_outside(page, url, log)


def test_a_port_in_use_is_one_line_and_exit_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "parley", "board", "--port", str(port)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: --port: {port}: cannot serve the board there (Address already in use); try another port"
    ]


def test_the_board_collects_what_it_plots_and_plain_runs_do_not(tmp_path: Path) -> None:
    from parley.engine.model import NegotiationModel
    from parley.runs.cast import offline_policies
    from parley.runs.play import prepare

    model = BoardModel(world=str(UKRAINE), seed=1, runs_dir=str(tmp_path))
    play_rounds(model, 2)
    frame = model.datacollector.get_agent_vars_dataframe()
    assert {"best_offer_utility", "best_on_table", "trusted_by_others"} <= set(frame.columns)
    open_now = model.table.open()
    me = model.space.index("us")
    best = max(model.space.utilities(model.space.encode(p.package))[me] for p in open_now)
    assert frame.xs(2, level=0)["best_on_table"].iloc[me] == round(float(best), 6)
    scenario, templates, space = prepare(UKRAINE)
    plain = NegotiationModel(scenario, offline_policies(scenario, space, templates, 1), seed=1, space=space)
    plain.step()
    assert list(plain.datacollector.get_agent_vars_dataframe().columns) == ["best_offer_utility"]
