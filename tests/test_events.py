"""The event vocabulary and its one describer: every event type has words, and `parley show`, the board and
the run report print them (a facilitator's news included, which `show` once printed as raw JSON)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from parley.engine.events import (
    DERIVED,
    ChannelEvent,
    EventType,
    InjectEvent,
    LLMCallEvent,
    OutcomeEvent,
    ProposalEvent,
    ResponseEvent,
    TrustEvent,
)
from parley.llm.backend import LLMBackend, LLMSettings
from parley.reports.text import DESCRIBERS, describe
from parley.runs.folder import LINE, read_events
from parley.runs.play import play
from parley.runs.transcript import package_changes
from parley.ui.cli import app
from tests.conftest import MINI, ROOT, UKRAINE
from tests.fake_openai import FakeOpenAI

NAMES = {"us": "United States", "russia": "Russia", "ukraine": "Ukraine"}
PACKAGE = {"ceasefire": "now", "nato": "never"}

# One event of every type, shaped as the engine, the policies and the runs write them.
SAMPLES: dict[EventType, dict] = {
    EventType.ROUND_STARTED: {},
    EventType.ROUND_ENDED: {"open_proposals": 2, "leading_support": 0.4, "mean_trust": -0.1},
    EventType.INJECT: {"to": ["us", "russia", "ukraine"], "text": "Aid is suspended.", "effects": {"trust": []}},
    EventType.VARIANT_SWITCHED: {"actor": "us", "variant": "hardliner"},
    EventType.PASS: {"actor": "us", "reason": "waiting"},
    EventType.INVALID_ACTION: {"actor": "us", "action": {"type": "respond", "proposal": "P9"}, "error": "no P9"},
    EventType.WALKOUT: {"actor": "russia", "reason": "enough"},
    EventType.CHANNEL: {"actor": "us", "to": "russia", "open": True, "reason": "talks"},
    EventType.RESPONSE: {"actor": "russia", "proposal": "P1", "accept": False, "reason": "no", "countered": True},
    EventType.PROPOSAL_DEAD: {"proposal": "P1", "reason": "rejected by russia"},
    EventType.DEAL: {"proposal": "P2", "package": PACKAGE, "accepted_by": ["us", "russia"]},
    EventType.FRAMEWORK: {
        "proposal": "P2",
        "package": PACKAGE,
        "signed_by": ["us", "russia"],
        "to": ["ukraine"],
        "until": 5,
    },
    EventType.FRAMEWORK_REFUSED: {
        "proposal": "P2",
        "signed_by": ["us", "russia"],
        "refused_by": ["ukraine"],
        "war_continues": True,
    },
    EventType.REVALUED: {"no_deal": {"ukraine": 0.3}, "weights": {"us": ["military_aid"]}},
    EventType.MESSAGE: {"actor": "us", "kind": "threat", "to": ["russia"], "text": "Or else."},
    EventType.PROPOSAL: {
        "actor": "us",
        "proposal": "P1",
        "package": PACKAGE,
        "to": ["russia"],
        "counter_to": None,
        "text": "A fair deal.",
    },
    EventType.PROPOSAL_REAFFIRMED: {"actor": "us", "proposal": "P1", "text": "Still on the table."},
    EventType.SET_ASIDE: {
        "actor": "us",
        "what": "proposal",
        "package": {"nato": "neutral"},
        "to": ["us", "russia"],
        "counter_to": "P2",
        "text": "A balanced basis.",
        "closed": "framework",
        "reason": "the framework P3 is before the ratifiers until round 4: no new offers until they answer",
    },
    EventType.MEDIATED: {"actor": "us", "to": "russia", "what": "proposal", "path": ["us", "ukraine", "russia"]},
    EventType.UNDELIVERABLE: {"actor": "us", "to": "russia", "what": "message", "kind": "threat"},
    EventType.TRUST: {"actor": "russia", "toward": "us", "before": 0.1, "after": -0.2, "cause": "threat"},
    EventType.HALTED: {"reason": "the budget is spent"},
    EventType.OUTCOME: {
        "status": "stalled",
        "deal": None,
        "proposal": None,
        "utilities": {"us": 0.4, "russia": 0.5},
        "no_deal": {"us": 0.3, "russia": 0.45},
        "closest": {"proposal": "P1", "proposer": "us", "package": PACKAGE},
        "pareto_optimal": None,
        "nash": None,
        "walked_out": [],
    },
    EventType.LLM_CALL: {
        "actor": "us",
        "model": "gpt-4o-mini",
        "request_hash": "abc",
        "params": {"temperature": 0.7},
        "reask": 1,
        "raw": '{"actions": []}',
        "move": None,
        "error": "not JSON",
        "tokens": {"prompt": 1200, "completion": 80},
        "transport": {"cached": False, "usd": 0.0012},
    },
    EventType.LLM_FAILED: {"actor": "us", "attempt": 0, "request_hash": "abc", "error": "timed out"},
    EventType.LLM_GAVE_UP: {"actor": "us", "reasks": 2},
    EventType.HUMAN_MOVE: {"actor": "ukraine", "move": {"actions": [{"type": "propose"}, {"type": "message"}]}},
    EventType.HUMAN_LEFT: {"actor": "ukraine", "reason": "the person quit"},
    EventType.ERROR: {"message": "the server refused the API key"},
}


def test_the_samples_cover_every_event_type() -> None:
    """A new event type needs a sample here, and so a describer checked below."""
    assert set(SAMPLES) == set(EventType)


@pytest.mark.parametrize("kind", list(EventType), ids=str)
def test_every_event_type_is_described_in_words(kind: EventType) -> None:
    assert kind in DESCRIBERS
    event = {"seq": 7, "round": 3, "type": kind, **SAMPLES[kind]}
    line = describe(event, NAMES)
    assert line == describe(json.loads(LINE.encode(event)), NAMES)  # read back from a log: the same words
    assert len(line.split()) >= 2 and "{" not in line and "\n" not in line
    assert not line.startswith(f"{kind}:")  # not the fallback for types this version does not know
    for field in ("text", "reason", "error"):  # what was said, or why, is in the line
        value = SAMPLES[kind].get(field)
        if isinstance(value, str):
            assert value.rstrip(".") in line, (field, line)
    if "actor" in SAMPLES[kind]:
        assert NAMES[SAMPLES[kind]["actor"]] in line  # actors by name


def test_an_event_type_this_version_does_not_know_is_shown_by_its_fields_in_words() -> None:
    line = describe({"seq": 1, "round": 2, "type": "vote", "actor": "us", "ballot": {"P1": "yes"}}, NAMES)
    assert line == "vote: actor us; ballot P1 yes"


def test_a_member_is_the_string_it_names() -> None:
    """So logs written before the enum existed read, compare and replay alike, byte for byte."""
    assert LINE.encode({"type": EventType.INJECT}) == '{"type":"inject"}'
    assert "inject" in DERIVED and EventType("llm_call") is EventType.LLM_CALL
    assert EventType.LLM_CALL not in DERIVED and EventType.ROUND_ENDED not in DERIVED


def test_package_changes_are_moves_against_the_proposers_own_last_offer() -> None:
    def proposal(seq: int, actor: str, **package: str) -> dict:
        return {"seq": seq, "round": 1, "type": "proposal", "actor": actor, "package": package}

    events = [
        proposal(1, "us", a="x", b="y"),
        proposal(2, "russia", a="z", b="z"),
        proposal(3, "us", a="x", b="z"),
        {"seq": 4, "round": 1, "type": "proposal", "actor": "us"},  # a damaged line: no package
        proposal(5, "us", a="x", b="z"),
    ]
    assert package_changes(events) == {3: {"b": ("y", "z")}, 5: {}}


# -- through the command line ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def inject_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`parley run --inject worlds/injects/us-aid-suspended.yaml` (its news comes in round 3)."""
    runs = tmp_path_factory.mktemp("inject") / "runs"
    inject = ROOT / "worlds" / "injects" / "us-aid-suspended.yaml"
    args = ["run", str(UKRAINE), "--inject", str(inject), "--max-rounds", "3", "--runs-dir", str(runs), "-q"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    (folder,) = runs.iterdir()
    return folder


NEWS = "News from the facilitator to everyone: The White House announces that all US military aid to Ukraine"


def test_show_tells_the_facilitators_news_in_words(inject_run: Path) -> None:
    r = CliRunner().invoke(app, ["show", str(inject_run), "--round", "3"], env={"COLUMNS": "400"})
    assert r.exit_code == 0, r.output
    shown = " ".join(r.stdout.split())  # however wide the terminal
    assert NEWS in shown
    assert "inject:" not in shown and "{" not in shown


def test_the_run_report_tells_the_news_in_the_same_words(inject_run: Path) -> None:
    from parley.reports.run import write_run_report

    html = write_run_report(inject_run).read_text(encoding="utf-8")
    assert NEWS in html


PAYLOADS = {
    EventType.PROPOSAL: ProposalEvent,
    EventType.RESPONSE: ResponseEvent,
    EventType.TRUST: TrustEvent,
    EventType.CHANNEL: ChannelEvent,
    EventType.INJECT: InjectEvent,
    EventType.LLM_CALL: LLMCallEvent,
    EventType.OUTCOME: OutcomeEvent,
}


def test_the_payload_types_say_what_real_logs_hold(inject_run: Path, tmp_path: Path) -> None:
    """Every field of each TypedDict is in every logged event of its type, and no other field is."""
    with FakeOpenAI() as server:
        backend = LLMBackend(LLMSettings(model="fake", base_url=server.url, cache_dir=None))
        try:
            llm = play(MINI, seed=1, max_rounds=1, runs_dir=tmp_path, llm=backend)
        finally:
            backend.close()
    events = read_events(inject_run / "events.jsonl") + read_events(llm.folder / "events.jsonl")
    for kind, payload in PAYLOADS.items():
        logged = [e for e in events if e["type"] == kind]
        assert logged, kind
        for e in logged:
            assert payload.__required_keys__ <= set(e) <= payload.__required_keys__ | payload.__optional_keys__, e
