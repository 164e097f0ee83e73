"""The debrief (issue 12 item 4): a run beside the personas' offline ensemble of its setting.

A constructed room and ensemble (real run folders, written by hand) check the figures exactly; a
room with a person's seat, played for real through a scripted seat, is debriefed by `parley debrief`
against an ensemble it plays, then against that ensemble's folder; bad input is one line.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from parley.engine.actions import Message, Move, Pass, Propose
from parley.reports.debrief import debrief, percentile_of
from parley.runs.folder import read_events
from parley.runs.play import play
from parley.runs.saved import read_run
from parley.world.scenario import load_scenario
from tests.conftest import MINI, ROOT, parley

FIXTURE = ROOT / "tests" / "fixtures" / "runs" / "20261202-021643-mini-s1"
NO_DEAL = {"north": 0.3, "south": 0.3, "east": 0.4}


# -- a constructed case --------------------------------------------------------------------------------
def write_run(folder: Path, events: list[dict], human: list[str] | None = None) -> Path:
    """A run folder of the mini world: the fixture's manifest, these events."""
    folder.mkdir(parents=True)
    manifest = json.loads((FIXTURE / "manifest.json").read_text(encoding="utf-8"))
    manifest["run_id"] = folder.name
    if human:
        manifest["human"] = human
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    lines = [json.dumps({"seq": n, **e}) for n, e in enumerate(events, 1)]
    (folder / "events.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def proposal(round_: int, actor: str, pid: str, price: str, border: str, aid: str) -> dict:
    package = {"price": price, "border": border, "aid": aid}
    return {"round": round_, "type": "proposal", "actor": actor, "proposal": pid, "package": package, "to": ["north"]}


def outcome(round_: int, status: str, utilities: dict, deal: dict | None = None) -> dict:
    return {
        "round": round_,
        "type": "outcome",
        "status": status,
        "deal": deal,
        "utilities": utilities,
        "no_deal": NO_DEAL,
        "walked_out": [],
    }


def deal(price: str, border: str, aid: str) -> dict:
    return {"price": price, "border": border, "aid": aid}


@pytest.fixture
def constructed(tmp_path: Path) -> tuple:
    room = write_run(
        tmp_path / "room",
        [
            proposal(1, "south", "P1", "low", "north_line", "loans"),
            {"round": 1, "type": "message", "actor": "south", "kind": "threat", "to": ["north"], "text": "or else"},
            proposal(2, "south", "P2", "mid", "middle_line", "loans"),
            {"round": 2, "type": "response", "actor": "north", "proposal": "P2", "accept": True},
            outcome(2, "converged", {"north": 0.6, "south": 0.5, "east": 0.4}, deal("mid", "middle_line", "loans")),
        ],
        human=["south"],
    )
    runs = [
        write_run(
            tmp_path / "e1",
            [
                proposal(1, "south", "P1", "high", "middle_line", "some"),
                outcome(4, "converged", {"north": 0.5, "south": 0.7, "east": 0.4}, deal("mid", "middle_line", "some")),
            ],
        ),
        write_run(
            tmp_path / "e2",
            [
                proposal(1, "south", "P1", "mid", "middle_line", "some"),
                outcome(6, "converged", {"north": 0.7, "south": 0.5, "east": 0.6}, deal("low", "middle_line", "loans")),
            ],
        ),
        write_run(
            tmp_path / "e3",
            [proposal(1, "south", "P1", "high", "north_line", "some"), outcome(5, "stalled", NO_DEAL)],
        ),
        write_run(
            tmp_path / "e4",
            [{"round": 3, "type": "walkout", "actor": "south", "reason": "enough"}, outcome(3, "breakdown", NO_DEAL)],
        ),
    ]
    return read_run(room), [read_run(r) for r in runs]


def test_percentile_counts_ties_as_half() -> None:
    assert percentile_of(0.6, [0.5, 0.7, 0.3, 0.3]) == 75.0
    assert percentile_of(0.5, [0.7, 0.5, 0.3, 0.3]) == 62.5
    assert percentile_of(1.0, [1.0, 1.0]) == 50.0
    assert math.isnan(percentile_of(1.0, []))


def test_the_constructed_room_sits_where_the_figures_say(constructed: tuple) -> None:
    room, ensemble = constructed
    d = debrief(room, ensemble, load_scenario(MINI))
    e = d.ending
    assert (e.status, e.words, e.rounds, e.same, e.runs) == ("converged", "a deal", 2, 2, 4)
    assert e.shares == {"a deal": 0.5, "a stall": 0.25, "a breakdown": 0.25}
    assert e.rounds_percentile == 0.0 and e.median_rounds == 4.5
    standing = {s.actor: s for s in d.standings}
    assert standing["north"].percentile == 75.0 and standing["north"].name == "North"
    assert standing["south"].percentile == 62.5 and standing["south"].played_by_people
    assert standing["south"].margin == pytest.approx(0.2)
    assert not standing["north"].played_by_people
    choices = {c.issue: c for c in d.choices}
    assert d.package_kind == "deal"
    assert (choices["price"].same, choices["price"].packages, choices["price"].option_title) == (1, 2, "MID")
    assert (choices["border"].same, choices["border"].option_title) == (2, "Middle line")
    assert (choices["aid"].same, choices["aid"].option_title) == (1, "Loans")

    (seat,) = d.seats
    acts = {a.measure: a for a in seat.acts}
    assert acts["proposals"].room == 1.0  # two proposals in two rounds
    assert acts["proposals"].mean == pytest.approx((1 / 4 + 1 / 6 + 1 / 5 + 0) / 4)
    assert acts["proposals"].percentile == 100.0 and acts["proposals"].unusual
    assert acts["threats"].room == 0.5 and acts["threats"].unusual
    assert acts["walkout"].room == 0.0 and acts["walkout"].percentile == 37.5 and not acts["walkout"].unusual
    assert acts["concession"].room == pytest.approx(0.0 + load_concession())
    rare = {(o.issue_title, o.option_title): o.share for o in seat.rare_offers}
    assert rare == {("Aid", "Loans"): 0.0, ("Price", "Low"): 0.0}
    missed = {(o.issue_title, o.option_title): o.share for o in seat.missed_offers}
    assert missed == {("Aid", "Some"): 0.75, ("Price", "High"): 0.5}
    words = " ".join(d.summary())
    assert "South offered what the personas in this seat never did: Low (Price); Loans (Aid)." in words
    assert "The personas in this seat usually offered what South never did: Some (Aid, in 75% of their runs)" in words
    assert "South: threats a round 0.50, higher than in all of the personas' runs in this seat" in words
    assert "2 of 4 persona runs (50%) ended the same way" in words
    for ident in ("north_line", "middle_line", "loans "):
        assert ident not in words


def load_concession() -> float:
    """South's own utility of its first offer in the room minus that of its second, by its card."""
    from parley.engine.issue_space import IssueSpace

    scenario = load_scenario(MINI)
    space = IssueSpace.build(scenario.world, scenario.personas)
    i = space.index("south")
    first = space.utility(space.encode(deal("low", "north_line", "loans")), i)
    second = space.utility(space.encode(deal("mid", "middle_line", "loans")), i)
    return first - second


def test_an_ensemble_of_another_world_is_refused(constructed: tuple) -> None:
    from parley.world.problems import InvalidInput

    room, ensemble = constructed
    ensemble[0].manifest.world.id = "elsewhere"
    with pytest.raises(InvalidInput, match="another world"):
        debrief(room, ensemble, load_scenario(MINI))


# -- a room with a person in it, for real ---------------------------------------------------------------
class South:
    """The person in South's seat: an offer the personas never make, threats, then waiting."""

    def choose(self, observation, view) -> Move:
        if observation.round == 1:
            return Move(
                actions=[
                    Propose(package=deal("low", "north_line", "loans"), to=["north"], text="Loans, not aid."),
                    Message(kind="threat", to=["north"], text="Take it or else."),
                    Message(kind="threat", to=["east"], text="You too."),
                ]
            )
        return Move(actions=[Pass(reason="waiting")])


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("room")
    return play(MINI, seed=5, max_rounds=6, runs_dir=where / "runs", human={"south": South()}).folder


def section(page: str) -> str:
    start = page.index('<section id="debrief"')
    return page[start : page.index("</section>", start)]


def test_parley_debrief_plays_the_ensemble_and_writes_the_section(room: Path, tmp_path: Path) -> None:
    done = parley("debrief", str(room), "--seeds", "6", "--out", str(tmp_path / "ens"), "-q")
    assert done.returncode == 0, done.stderr
    assert "The room ended in " in done.stdout and "persona runs" in done.stdout
    assert "South offered what the personas in this seat never did:" in done.stdout
    assert "Loans (Aid)" in done.stdout
    assert "6 played, 0 reused" in done.stdout
    played = sorted((tmp_path / "ens" / "runs").iterdir())
    assert len(played) == 6
    assert {json.loads((f / "manifest.json").read_text(encoding="utf-8"))["max_rounds"] for f in played} == {6}
    page = (room / "report.html").read_text(encoding="utf-8")
    assert '<a href="#debrief">Debrief</a>' in page
    part = section(page)
    assert "South (people)" in part and "of 6 persona runs" in part
    assert "South offered what the personas in this seat never did:" in part and "Loans (Aid)" in part
    assert "threats a round" in part
    for ident in ("north_line", "middle_line", "south_line", "us=", "south="):
        assert ident not in part  # the world's words, never ids

    replayed = parley("debrief", str(room), "--seeds", "6", "--out", str(tmp_path / "ens"), "-q")
    assert replayed.returncode == 0 and "0 played, 6 reused" in replayed.stdout  # found again by key

    again = parley("debrief", str(room), "--ensemble", str(tmp_path / "ens"))
    assert again.returncode == 0, again.stderr
    assert "0 played, 6 reused" in again.stdout
    first = [x for x in done.stdout.splitlines() if x.startswith("The room ended")]
    assert first == [x for x in again.stdout.splitlines() if x.startswith("The room ended")]

    plain = parley("report", str(room))  # the report alone, as before: no debrief section
    assert plain.returncode == 0 and 'id="debrief"' not in (room / "report.html").read_text(encoding="utf-8")


def one_line_error(done, code: int = 2) -> str:
    assert done.returncode == code, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    return line


def test_bad_input_is_one_line(room: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert "not a run folder" in one_line_error(parley("debrief", str(tmp_path / "empty")))

    other = tmp_path / "other" / "runs" / "x"
    shutil.copytree(FIXTURE, other)
    manifest = json.loads((other / "manifest.json").read_text(encoding="utf-8"))
    manifest["world"]["id"] = "elsewhere"
    (other / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    line = one_line_error(parley("debrief", str(room), "--ensemble", str(tmp_path / "other")))
    assert "holds no run of world mini (its runs are of: elsewhere)" in line

    line = one_line_error(parley("debrief", str(room), "--ensemble", str(tmp_path / "empty")))
    assert "not a compare's folder" in line

    unfinished = tmp_path / "unfinished"
    shutil.copytree(room, unfinished)
    lines = (unfinished / "events.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    (unfinished / "events.jsonl").write_text("".join(lines[:-1]), encoding="utf-8")
    assert "the run has no outcome yet" in one_line_error(parley("debrief", str(unfinished), "--seeds", "2"))
    assert not (tmp_path / "ensembles").exists()


def test_the_board_compares_a_finished_game_in_a_thread_of_its_own(tmp_path: Path, monkeypatch) -> None:
    """The /debrief page's button starts the comparison off the page's thread; the page then shows it."""
    import ipyvuetify
    import solara

    from parley.ui import board_debrief
    from parley.ui.board import BoardModel
    from parley.ui.board_debrief import PersonaCompare, comparison_html, comparison_of, start_comparison

    monkeypatch.setattr(board_debrief, "SEEDS", 3)
    game = BoardModel(world=str(MINI), seed=2, runs_dir=str(tmp_path / "runs"))
    with pytest.raises(ValueError, match="has not ended"):
        start_comparison(game)
    while game.running:
        game.step()
    version = game.version
    _, page = solara.render(PersonaCompare(game), handle_error=False)
    button = page.find(ipyvuetify.Btn)
    assert button.widget.children == ["Compare with the personas (3 runs)"]
    button.widget.fire_event("click", {})
    job = comparison_of(game)
    assert job is not None and start_comparison(game) is job  # a second press finds the first
    job.wait(300)
    assert job.state == "done", job.error
    assert game.version > version  # the pages watching the room redraw
    shown = comparison_html(job, 3)
    assert "Debrief: the room beside the personas" in shown and "of 3 persona runs" in shown
    assert "No seat was played by people" in shown
    assert job.report is not None and 'id="debrief"' in job.report.read_text(encoding="utf-8")
    assert len(list((tmp_path / "ensembles" / "mini" / "runs").iterdir())) == 3
    _, page = solara.render(PersonaCompare(game), handle_error=False)
    assert not page.find(ipyvuetify.Btn)  # done: the comparison, no button
    assert "Debrief: the room beside the personas" in page.find(solara.widgets.HTML).widget.unsafe_innerHTML
    replayed = BoardModel(replay_of=str(game.folder), runs_dir=str(tmp_path / "runs"))  # a saved run, stepped through
    while replayed.running:
        replayed.step()
    assert replayed.folder is None and replayed.outcome is not None
    again = start_comparison(replayed)
    assert again is job  # the same run: the comparison already made


AID_CUT = """\
title: Aid cut
events:
  - round: 1
    text: Lots of aid is off the table.
    effects:
      withdraw: [{issue: aid, option: lots}]
"""


def test_the_ensemble_plays_the_rooms_variants_and_injects(room: Path, tmp_path: Path) -> None:
    injects = tmp_path / "aid-cut.yaml"
    injects.write_text(AID_CUT, encoding="utf-8")
    varied = play(
        MINI, seed=4, variants={"north": "hardliner"}, max_rounds=5, runs_dir=tmp_path / "runs",
        injects=injects, human={"south": South()},
    ).folder  # fmt: skip
    done = parley("debrief", str(varied), "--seeds", "2", "--out", str(tmp_path / "ens"), "-q")
    assert done.returncode == 0, done.stderr
    theirs = sorted((tmp_path / "ens" / "runs").iterdir())
    assert len(theirs) == 2
    mine = json.loads((varied / "manifest.json").read_text(encoding="utf-8"))
    for folder in theirs:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["variants"] == {"north": "hardliner"} and manifest["max_rounds"] == 5
        assert manifest["injects"]["events"] == mine["injects"]["events"] and not manifest.get("human")
        events = read_events(folder / "events.jsonl")
        assert any(e["type"] == "inject" and e["round"] == 1 for e in events)
    assert "North as hardliner, 1 inject(s)" in section((varied / "report.html").read_text(encoding="utf-8"))

    line = one_line_error(parley("debrief", str(room), "--ensemble", str(tmp_path / "ens")))
    assert "holds no run of the room's setting (baseline); it plays: north=hardliner, 1 inject(s)" in line
