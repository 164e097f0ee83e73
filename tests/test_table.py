"""The table for a room: several teams' seats, the timer, the deal in words, the projector's HTML.

In process here (the game, the room's tokens and timer, what each page is built from); the pages
themselves are driven in headless Chromium in tests/test_board_room.py.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from parley.engine.actions import Message, Move, Pass, Propose
from parley.engine.events import EventType
from parley.players.seat import default_package
from parley.runs.replay import replay
from parley.ui.agreement import agreement, in_words
from parley.ui.board import BoardModel, leading_support, open_proposals, proposals_in_flight
from parley.ui.room import PERSONA, Room, decode_seats, encode_seats, new_token, query
from parley.ui.seat_page import card_html, inbox_lines
from parley.ui.table_view import graph_svg, news_html, proposals_html, speech_html
from parley.world.problems import InvalidInput
from tests.conftest import UKRAINE


def finish(model: BoardModel) -> None:
    while model.running:
        model.step()


def test_a_deal_is_shown_in_titles_with_who_signed_and_support_does_not_drop(tmp_path: Path) -> None:
    model = BoardModel(world=str(UKRAINE), seed=2, runs_dir=str(tmp_path))
    finish(model)
    assert model.outcome is not None and model.outcome.status == "converged"
    support = leading_support(model)
    assert support[-1] == 1.0  # the deal's round: every signatory said yes, not 0
    assert len(support) == model.round and model.deal.id in model.support_by_round[-1]
    assert open_proposals(model) == [] and proposals_in_flight(model) == []  # nothing passed is shown as open
    deal = agreement(model)
    assert deal.kind == "deal" and deal.proposal == model.deal.id
    assert deal.signed and set(deal.signed) <= {"United States", "Russia", "Ukraine", "Europe"}  # signatories only
    titles = [t.issue for t in deal.terms]
    assert titles[0] == "Ukraine's NATO path or neutrality" and len(titles) == len(model.world.issues)
    words = "\n".join(in_words(deal))
    assert f"proposal {model.deal.id} passed" in words and "Signed by" in words
    assert all(o not in words for o in model.deal.package.values() if "_" in o)  # meanings, never option ids
    assert "No proposal is open." in proposals_html(model)


def test_an_outcome_that_records_who_signed_and_whether_the_war_goes_on_is_shown_as_recorded(tmp_path: Path) -> None:
    model = BoardModel(world=str(UKRAINE), seed=2, runs_dir=str(tmp_path))
    finish(model)
    outcome = next(e for e in reversed(model.events) if e["type"] == EventType.OUTCOME)
    outcome.update(signed=["us", "russia"], refused=["ukraine"], war_continues=True)  # as rule ratify records it
    deal = agreement(model)
    assert deal.signed == ["United States", "Russia"] and deal.refused == ["Ukraine"]
    assert deal.war == "The war goes on." and "The war goes on." in in_words(deal)


def test_no_deal_shows_the_closest_offer(tmp_path: Path) -> None:
    model = BoardModel(world=str(UKRAINE), seed=5, runs_dir=str(tmp_path))
    finish(model)
    assert model.outcome is not None and model.outcome.status != "converged"
    a = agreement(model)
    assert a.kind == "closest" and a.headline.startswith("No deal (") and a.terms


def seated(tmp_path: Path, **kw) -> BoardModel:
    return BoardModel(world=str(UKRAINE), seed=2, runs_dir=str(tmp_path), seats="ukraine,russia", **kw)


def test_a_round_closes_when_every_team_has_moved_and_the_run_replays(tmp_path: Path) -> None:
    model = seated(tmp_path)
    assert model.seats == ["ukraine", "russia"]
    model.step()
    assert model.awaiting_move and model.waiting_for == ["ukraine", "russia"]
    view = model.seat_view("ukraine")
    assert view is not None and view.actor == "ukraine"
    package = default_package(view.options())
    model.play_move(Move(actions=[Propose(package=package, to=["us", "europe"], text="Our terms.")]), actor="ukraine")
    assert model.awaiting_move and model.waiting_for == ["russia"] and model.round == 1
    with pytest.raises(InvalidInput, match="moved already"):
        model.play_move(Move(), actor="ukraine")
    with pytest.raises(InvalidInput, match="not seated"):
        model.play_move(Move(), actor="us")
    model.play_move(Move(actions=[Message(kind="threat", to=["ukraine"], text="Think again.")]), actor="russia")
    assert not model.awaiting_move  # every team moved: the round was played
    kinds = {(e["type"], e.get("actor")) for e in model.events if e["round"] == 1}
    assert ("proposal", "ukraine") in kinds and ("message", "russia") in kinds
    assert any("Russia" in line and "Think again" in line for _, line in inbox_lines(model, "ukraine"))
    assert not any("Think again" in line for _, line in inbox_lines(model, "europe"))
    model.step()
    model.close_now()  # the facilitator closes the round: both pass
    passed = {e["actor"] for e in model.events if e["type"] == "pass" and e["round"] == 2}
    assert {"ukraine", "russia"} <= passed
    model.step()
    late = model.close_now(persona=True)  # their personas play this round for them
    assert late == ["ukraine", "russia"] and model.moved_by_persona == late
    assert any(e["type"] == "human_move" and e["actor"] == "russia" and e["round"] == 3 for e in model.events)
    while model.running:  # the rest of the game: the teams pass
        model.step()
        model.close_now()
    model.close()
    assert replay(model.folder).identical


def test_the_room_knows_a_seat_only_by_its_token_and_its_timer_closes_a_round(tmp_path: Path) -> None:
    tokens = {"ukraine": new_token(), "russia": new_token()}
    assert len(tokens["ukraine"]) >= 32 and tokens["ukraine"] != tokens["russia"]
    room = Room(seats=decode_seats(encode_seats(tokens)))
    assert room.seat_of(tokens["ukraine"]) == "ukraine" and room.seat_of(tokens["russia"]) == "russia"
    assert room.seat_of("") is None and room.seat_of(tokens["ukraine"][:-1]) is None
    assert room.seat_of(query(f"token={tokens['russia']}&x=1", "token")) == "russia"
    assert room.lets_in("")  # on loopback the facilitator's page needs no key
    keyed = Room(key="k" * 32)
    assert not keyed.lets_in("") and not keyed.lets_in("wrong") and keyed.lets_in("k" * 32)
    game = seated(tmp_path)
    room.game = game  # the ticker is not started: the test ticks by hand
    room.set_timer(1, PERSONA)
    game.step()
    room.tick()
    assert room.seconds_left() is not None and game.awaiting_move
    room.deadline = time.monotonic() - 0.01  # the time has run out
    room.tick()
    assert not game.awaiting_move and game.moved_by_persona == ["ukraine", "russia"]
    game.close()


def test_what_a_seat_and_the_projector_are_shown_is_in_words_and_escaped(tmp_path: Path) -> None:
    model = seated(tmp_path)
    model.step()
    view = model.seat_view("ukraine")
    package = default_package(view.options())
    model.play_move(Move(actions=[Propose(package=package, to=["us"], text="<script>x</script>")]), actor="ukraine")
    model.play_move(Move(actions=[Pass()]), actor="russia")
    card = card_html(model, "ukraine")
    assert "Ukraine&#39;s NATO path or neutrality" in card and "your red line" in card
    assert "russian_veto_guarantee" not in card  # titles, not ids
    table = proposals_html(model)
    assert "Support" in table and "of 4 signatories" in table
    said = speech_html(model)
    assert "<script>" not in said and "&lt;script&gt;" in said
    svg = graph_svg(model)
    assert svg.startswith("<svg") and "Ukraine" in svg and 'stroke-width="8"' in svg  # Ukraine spoke to the US
    assert "No news yet." in news_html(model)
    model.close()


def test_news_says_what_it_does_to_offline_actors_and_its_effects_change_play(tmp_path: Path) -> None:
    from parley.ui.board import typed_inject, what_news_does

    model = BoardModel(world=str(UKRAINE), seed=2, runs_dir=str(tmp_path))
    model.step()
    names = model.names()
    bare = typed_inject(model, "A summit is announced.", [], [], [])
    assert what_news_does(bare, names, offline=True) == [
        "No effects: offline actors will not act on the text alone (add a trust or channel change)"
    ]
    news = typed_inject(model, "Drones hit the pipeline.", [], [{"from": "russia", "to": "us", "delta": -0.8}], [])
    assert what_news_does(news, names, offline=True) == ["Russia's trust in United States -0.80"]
    before = model.graph.trust("russia", "us")
    model.inject_now(news)
    model.step()
    assert model.graph.trust("russia", "us") < before  # applied: the offline actors play on the changed graph
    assert "Drones hit the pipeline." in news_html(model) and "Russia" in news_html(model)


def test_the_debrief_tells_the_outcome_and_the_turning_points(tmp_path: Path) -> None:
    from parley.ui.projector import debrief_html
    from parley.ui.turning_points import turning_points

    model = BoardModel(world=str(UKRAINE), seed=2, runs_dir=str(tmp_path))
    finish(model)
    points = turning_points(model)
    assert points and points == sorted(points, key=lambda p: p[0])
    assert any("passes" in text or "deal" in text.lower() for _, text in points if _ == model.round)
    page = debrief_html(model)
    assert "The outcome, in words" in page and f"proposal {model.deal.id} passed" in page
    assert "Turning points" in page and "Round 1" in page


def test_the_board_names_options_in_the_worlds_words(tmp_path: Path) -> None:
    """Option ids become titles cased as the world writes its words (issue 12: "Return to ukraine")."""
    model = BoardModel(world=str(UKRAINE), runs_dir=str(tmp_path))
    card = card_html(model, "ukraine")
    for title in ("Return to Ukraine", "US Europe guarantee", "Ceded to Russia", "DMZ Ukrainian side"):
        assert title in card
    for wrong in ("Return to ukraine", "Us europe guarantee", "Ceded to russia"):
        assert wrong not in card
