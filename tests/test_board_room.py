"""A workshop in browsers: `parley board --seat ukraine --seat russia --host 127.0.0.2` with the
facilitator, the projector and two teams each in their own headless Chromium context.

127.0.0.2 is loopback on Linux but not the address the board treats as private, so the board acts
as it would on a room's network: it prints keyed links, and every page wants its key or token.
Screenshots at 1080p and 720p are kept (under $PARLEY_TEST_ARTIFACTS if set, else the test's tmp
folder) and their paths printed.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator

import pytest

from parley.runs.folder import read_events
from tests.conftest import board_server, needs_chromium
from tests.test_board import artifact

HOST = "127.0.0.2"
DEVELOPER_CONTROLS = ["Render Interval", "Use Threads", "Play Interval", "PAGE 0", "Time:"]


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    needs_chromium()
    seats = ["--seat", "ukraine", "--seat", "russia"]
    with board_server(tmp_path_factory.mktemp("room"), *seats, host=HOST, ready="/projector") as server:
        yield {
            "facilitator": re.search(r"The board is at (\S+)", server.printed).group(1),
            "projector": re.search(r"Projector: (\S+)", server.printed).group(1),
            **{actor: link for actor, link in re.findall(r"Seat (\w+): (\S+)", server.printed)},
            "base": server.base,
            "runs": server.runs,
        }


@pytest.fixture
def browser(chromium):
    """The module's Chromium; the pages a test opened are closed after it (a page left open keeps its
    session alive on the board)."""
    yield chromium
    for context in chromium.contexts:
        context.close()


def open_page(browser, url: str, width: int = 1600, height: int = 1000):
    context = browser.new_context(viewport={"width": width, "height": height})  # its own cookies and storage
    page = context.new_page()
    page.set_default_timeout(180_000)  # a readiness wait on a loaded machine, not a bound under test
    page.goto(url)
    return page


def test_the_links_carry_unguessable_tokens_and_the_served_page_holds_no_game(room) -> None:
    for actor in ("ukraine", "russia"):
        token = room[actor].split("token=")[1]
        assert len(token) >= 32 and re.fullmatch(r"[A-Za-z0-9_-]+", token)
    assert room["ukraine"] != room["russia"] and "key=" in room["facilitator"] and "key=" in room["projector"]
    for url in (room["ukraine"], room["base"] + "/seat?token=guess"):
        with urllib.request.urlopen(url, timeout=30) as answer:  # real HTTP: the page is a shell, the game
            body = answer.read().decode()  # reaches a browser only over its socket, after the token is checked
        assert answer.status == 200 and "no deal is worth" not in body and "Ukraine" not in body


def test_two_teams_play_a_round_from_their_own_screens_and_the_projector_follows(room, browser, tmp_path) -> None:
    stranger = open_page(browser, "about:blank")  # one browser of its own, trying one link after another
    for url, says in (
        (room["base"] + "/seat?token=guess", "This is not a valid seat link"),
        (room["base"] + "/seat", "This is not a valid seat link"),
        (room["base"] + "/", "This page needs the facilitator's link"),
        (room["base"] + "/projector", "This page needs the facilitator's link"),
        (room["base"] + "/projector?key=wrong", "This page needs the facilitator's link"),
    ):
        stranger.goto(url)
        stranger.get_by_text(says).wait_for()
        assert "You play" not in stranger.content()
    stranger.context.close()  # checked: its sessions on the board need not stay open for the rest
    facilitator = open_page(browser, room["facilitator"])
    facilitator.get_by_text("Nothing yet: press Step to play the first round.").wait_for()
    facilitator.get_by_role("button", name="Step", exact=True).click()
    facilitator.get_by_text("Round 1 of at most").wait_for()

    ukraine = open_page(browser, room["ukraine"], 1280, 720)
    ukraine.get_by_text("You play Ukraine").wait_for()
    ukraine.get_by_text("Round 1 is open: make your move.").wait_for()
    ukraine.get_by_text("Your card: what you want (private to your team)").click()
    ukraine.get_by_text("Ukraine: no deal is worth").wait_for()
    russia = open_page(browser, room["russia"], 1280, 720)
    russia.get_by_text("You play Russia").wait_for()
    assert "Ukraine: no deal is worth" not in russia.content() and "You play Ukraine" not in russia.content()
    assert "Russia: no deal is worth" not in ukraine.content() and "You play Russia" not in ukraine.content()

    ukraine.get_by_label("What do you want to do?").click(force=True)
    ukraine.get_by_role("option", name="Send a message", exact=True).click()
    ukraine.get_by_label("What you say").fill("We will not trade land for promises.")
    ukraine.get_by_role("button", name="Add to my move").click()
    ukraine.get_by_text('- statement to United States, Russia, China, Europe: "We will not trade').wait_for()
    ukraine.get_by_role("button", name="Send my move").click()
    ukraine.get_by_text("Your move for round 1 is in. Waiting for: Russia.").wait_for()
    facilitator.get_by_text("Ukraine: moved").wait_for()  # the facilitator sees who has moved

    russia.get_by_label("What you say").fill("Our terms.")
    russia.get_by_role("button", name="Add to my move").click()  # a proposal of Russia's best package, to all
    russia.get_by_text("- propose to United States, Ukraine, China, Europe").wait_for()
    russia.get_by_role("button", name="Send my move").click()
    russia.get_by_text("Waiting for the facilitator to open the next round.").wait_for()  # the round was played

    projector = open_page(browser, room["projector"], 1920, 1080)
    projector.get_by_text("Round 1: what was said").wait_for()
    projector.get_by_text('(statement): "We will not trade land for promises."', exact=False).wait_for()
    projector.get_by_text("Proposals on the table").wait_for()
    projector.locator(".parley-proposals-table").get_by_text("Support").wait_for()
    text = projector.inner_text("body")
    for control in DEVELOPER_CONTROLS:
        assert control not in text, f"the projector shows a developer control: {control}"
    shots = []
    for width, height in ((1920, 1080), (1280, 720)):
        projector.set_viewport_size({"width": width, "height": height})
        projector.wait_for_timeout(300)
        overflow = projector.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"the projector is clipped sideways at {width}x{height}"
        shot = artifact(tmp_path, f"projector-{height}p.png")
        projector.screenshot(path=str(shot))
        shots.append(shot)
    for page, name in ((ukraine, "seat-ukraine-720p.png"), (facilitator, "facilitator.png")):
        shot = artifact(tmp_path, name)
        page.screenshot(path=str(shot), full_page=True)
        shots.append(shot)
    print("screenshots:", *shots)

    (folder,) = [p for p in room["runs"].iterdir() if p.is_dir()]
    moves = [e for e in read_events(folder / "events.jsonl") if e["type"] == "human_move"]
    assert sorted(m["actor"] for m in moves) == ["russia", "ukraine"]
    assert next(m for m in moves if m["actor"] == "ukraine")["move"]["actions"][0]["type"] == "message"
    assert next(m for m in moves if m["actor"] == "russia")["move"]["actions"][0]["type"] == "propose"
    assert json.loads((folder / "manifest.json").read_text())["human"] == ["ukraine", "russia"]


def test_a_team_counters_and_the_timer_closes_the_round_with_the_late_teams_persona(room, browser, tmp_path) -> None:
    from playwright.sync_api import expect

    facilitator = open_page(browser, room["facilitator"])
    facilitator.get_by_text("Teams").first.wait_for()
    facilitator.get_by_role("button", name="Step", exact=True).click()
    facilitator.get_by_text("Round 2 of at most").wait_for()

    ukraine = open_page(browser, room["ukraine"], 1280, 720)
    ukraine.get_by_text("Round 2 is open: make your move").wait_for()
    ukraine.get_by_label("What do you want to do?").click(force=True)
    ukraine.get_by_role("option", name="Counter a proposal", exact=True).click()
    ukraine.get_by_label("Which proposal").click(force=True)
    ukraine.get_by_role("option", name=re.compile(r"from Russia \(worth")).click()
    ukraine.get_by_text("This package is worth").wait_for()  # the editor has redrawn from Russia's package
    ukraine.get_by_label("Your reason").fill("Not while you hold Kherson.")
    expect(ukraine.get_by_label("Your reason")).to_have_value("Not while you hold Kherson.")
    ukraine.get_by_role("button", name="Add to my move").click()
    ukraine.get_by_text(re.compile(r"- counter P\d+ to Russia")).wait_for()
    ukraine.get_by_role("button", name="Send my move").click()
    ukraine.get_by_text("Your move for round 2 is in. Waiting for: Russia.").wait_for()

    # Russia does not move: the facilitator gives it a few seconds, then its persona plays its round
    facilitator.get_by_text("Ukraine: moved").wait_for()
    set_the_timer(facilitator, tmp_path)
    facilitator.get_by_text("Round 2 closed before Russia moved: their personas played for them.").wait_for()
    (folder,) = [p for p in room["runs"].iterdir() if p.is_dir()]
    events = read_events(folder / "events.jsonl")
    (counter,) = [e for e in events if e["type"] == "human_move" and e["actor"] == "ukraine" and e["round"] == 2]
    assert counter["move"]["actions"][0]["type"] == "counter"
    assert counter["move"]["actions"][0]["reason"] == "Not while you hold Kherson."
    assert any(e["type"] == "human_move" and e["actor"] == "russia" and e["round"] == 2 for e in events)
    assert any(e["type"] == "proposal" and e["actor"] == "ukraine" and e["round"] == 2 for e in events)


def set_the_timer(facilitator, tmp_path) -> None:
    """3 s, then the persona plays a late team. On a loaded machine a setting typed while the sidebar
    redraws has been seen not to reach the board (issue 12, open): the facilitator sees the sidebar's
    "Timer: ..." line and sets it again, as a person would; a screenshot is kept if it never takes."""
    says = "Timer: 3 s per round; a team that has not moved is played by its persona."
    for _ in range(4):
        facilitator.get_by_label("Seconds per round (0: no timer)").fill("3")
        facilitator.get_by_label("When the time runs out, a team that has not moved").click(force=True)
        facilitator.get_by_role("option", name="persona", exact=True).click()
        facilitator.get_by_role("button", name="Set the timer").click()
        try:
            facilitator.get_by_text(says).wait_for(timeout=20_000)
            return
        except Exception:  # playwright's TimeoutError: not set yet
            continue
    shot = artifact(tmp_path, "facilitator-timer-not-set.png")
    facilitator.screenshot(path=str(shot), full_page=True)
    raise AssertionError(f"the timer never took; see {shot}")
