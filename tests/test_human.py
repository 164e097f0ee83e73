"""A person at the table: `parley run --human ACTOR` driven through a pseudo-terminal, a pipe and
in-process streams; their moves logged, accepted by the engine, replayed, resumed and forked."""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from dataclasses import replace
from io import StringIO
from pathlib import Path

import pytest

from parley.engine.actions import Channel, Move, Pass, Propose, Respond
from parley.engine.issue_space import IssueSpace
from parley.engine.model import NegotiationModel
from parley.players.seat import Abandoned, HumanSeat, NoRecordedMove, draft_problem, seat_options
from parley.runs.folder import read_events
from parley.runs.play import play
from parley.runs.replay import RecordedMoves, fork, load_saved, replay
from parley.ui.terminal_seat import TerminalSource
from parley.world.scenario import load_scenario
from parley.world.templates import Templates
from tests.conftest import MINI, ROOT
from tests.conftest import parley as in_process  # the command in this process: for what needs no terminal
from tests.scripted import ScriptedPolicy

PARLEY = str(ROOT / ".venv" / "bin" / "parley")
if not Path(PARLEY).exists():  # an environment without the project's .venv: the same entry point
    PARLEY = str(Path(sys.executable).parent / "parley")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


# -- a pseudo-terminal, as a person would use it ----------------------------------------------------
class Terminal:
    """`parley` in a pseudo-terminal: wait for what it prints, type answers, as a person would."""

    def __init__(self, *args: str, cwd: Path = ROOT) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))  # wide: no wrapping
        env = {**os.environ, "NO_COLOR": "1", "TERM": "xterm", "COLUMNS": "200"}
        self.process = subprocess.Popen(
            [PARLEY, *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=cwd,
            env=env,
            start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),  # its controlling terminal: Ctrl-C works
        )
        os.close(slave)
        self.seen = ""  # everything printed so far
        self.unread = 0  # where the next `expect` starts looking

    def read(self, timeout: float) -> bool:
        """Whatever arrives within `timeout`; False once the program has closed the terminal."""
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: the other end is closed
            return False
        if not chunk:
            return False
        self.seen += ANSI.sub("", chunk.decode("utf-8", "replace")).replace("\r\n", "\n")
        return True

    def expect(self, pattern: str, timeout: float = 60.0) -> re.Match:
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while True:
            found = regex.search(self.seen, self.unread)
            if found:
                self.unread = found.end()
                return found
            if time.monotonic() > deadline or not self.read(min(0.5, max(0.0, deadline - time.monotonic()))):
                if regex.search(self.seen, self.unread) is None:
                    tail = self.seen[self.unread :][-2000:]
                    raise AssertionError(f"never saw {pattern!r}; the terminal shows:\n{tail}")

    def type(self, line: str) -> None:
        os.write(self.master, (line + "\n").encode())

    def answer(self, pattern: str, line: str) -> None:
        self.expect(pattern)
        self.type(line)

    def finish(self, timeout: float = 120.0) -> int:
        deadline = time.monotonic() + timeout
        while self.read(0.5) and time.monotonic() < deadline:
            pass
        code = self.process.wait(timeout=max(1.0, deadline - time.monotonic()))
        os.close(self.master)
        return code

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        os.close(self.master)


ACTION = r"Action \(.*\): "


def parley(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PARLEY, *args],
        cwd=ROOT,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
    )


def only_run(runs: Path) -> Path:
    (folder,) = [p for p in runs.iterdir() if p.is_dir()]
    return folder


def of_type(events: list[dict], kind: str, actor: str | None = None) -> list[dict]:
    return [e for e in events if e["type"] == kind and (actor is None or e.get("actor") == actor)]


def test_a_person_plays_ukraine_at_a_terminal_and_the_run_replays(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    term = Terminal("run", "--human", "ukraine", "--max-rounds", "3", "--seed", "2", "--runs-dir", str(runs))
    term.expect(r"You play Ukraine: your card \(private to you\)")
    term.expect(r"Arms pledges only 0\.\d\d \(YOUR RED LINE\)")  # the team page's card, in titles
    term.expect(r"Round 1: what Ukraine sees")
    term.answer(ACTION, "propse")  # a typo is asked again, with why
    term.expect(r"'propse' is not an action")
    term.answer(ACTION, "propose to us, europe: from best, crimea=arms")  # no such option of Crimea
    term.expect(r"Not added: Status of Crimea has no option 'arms' you may offer: 1 Return to Ukraine")
    term.answer(ACTION, "propose to us, europe: from best, crimea=deferred, 9=2")  # by title words, by number
    term.expect(r"Status of Crimea: Status deferred \*")
    term.expect(r"Sanctions relief for Russia: Phased conditional \*")
    term.expect(r"It is worth 0\.\d\d to you")
    term.answer(r"What do you say as you propose it\? .*: ", "done")  # a command word is not what one says
    term.expect(r"'done' is a command, not something to say")
    term.type("Peace, with guarantees Russia cannot veto.")
    term.expect(
        r"Added: propose to United States, Europe: your best package, changing Status of Crimea: Status deferred; "
        r"Sanctions relief for Russia: Phased conditional"
    )
    term.answer(ACTION, "done")
    term.expect(r"Round 2: what Ukraine sees")
    offer = term.expect(r"(P\d+) from Russia \(round 1\)")
    # one line: from Russia's offer, changing two issues and nothing else
    term.answer(ACTION, f"propose to russia, us: from {offer.group(1)}, donbas=frozen, us military aid=2")
    term.expect(r"Control of the rest of Donetsk and Luhansk: Frozen line \*")
    term.expect(r"US military aid to Ukraine: Continued \*")
    term.answer(r"What do you say as you propose it\? .*: ", "")
    term.expect(rf"Added: propose to Russia, United States: {offer.group(1)} from Russia, changing ")
    term.answer(ACTION, "message")
    term.answer(r"Kind .*: ", "concession")
    term.answer(r"Recipients .*: ", "us, europe")
    term.answer(r"What do you say\? ", "")  # a message needs words
    term.expect(r"a message needs some words")
    term.type("We can talk about the timetable.")
    term.expect(r'Added: concession to United States, Europe: "We can talk about the timetable."')
    term.answer(ACTION, "done")
    term.expect(r"Round 3: what Ukraine sees")
    term.answer(ACTION, "pass")
    term.answer(r"Why pass\? ", "waiting for Washington")
    term.expect(r"Outcome: ")
    assert term.finish() == 0, term.seen[-3000:]
    assert "Traceback" not in term.seen
    shown = term.seen[: term.seen.index("Outcome: ")]
    for llm_only in ('{"', "JSON", "Answer with", "russian_veto_guarantee", "frozen_line", "us_military_aid", "`"):
        assert llm_only not in shown, f"the seat shows {llm_only!r}"

    folder = only_run(runs)
    events = read_events(folder / "events.jsonl")
    moves = of_type(events, "human_move", "ukraine")
    assert [e["round"] for e in moves] == [1, 2, 3]
    (proposed,) = moves[0]["move"]["actions"]
    assert proposed["type"] == "propose" and proposed["to"] == ["us", "europe"]
    assert (
        proposed["package"]["crimea"] == "status_deferred" and proposed["package"]["sanctions"] == "phased_conditional"
    )
    # the engine took every move: the proposals, the message and the pass are on the record
    assert not of_type(events, "invalid_action", "ukraine")
    first = of_type(events, "proposal", "ukraine")[0]
    assert first["package"] == proposed["package"] and first["text"].startswith("Peace")
    second = moves[1]["move"]["actions"][0]
    (russian,) = [e for e in of_type(events, "proposal", "russia") if e["proposal"] == offer.group(1)]
    changed = {k for k in russian["package"] if second["package"][k] != russian["package"][k]}
    assert changed <= {"donbas", "us_military_aid"}  # only the issues named (both, unless one already was)
    assert second["package"]["donbas"] == "frozen_line" and second["package"]["us_military_aid"] == "continued"
    assert second["type"] == "propose" and second["to"] == ["russia", "us"]
    # in seed 2 the US and Russia agree a framework in round 2: the person's offer, and the concession
    # that announced it, are set aside on the record (not lost without a word)
    assert [e["round"] for e in events if e["type"] == "framework"] == [2]
    offered, message = sorted(of_type(events, "set_aside", "ukraine"), key=lambda e: e["what"], reverse=True)
    assert offered["what"] == "proposal" and offered["package"] == second["package"] and offered["round"] == 2
    assert message["kind"] == "concession" and message["to"] == ["us", "europe"] and message["round"] == 2
    assert offered["closed"] == message["closed"] == "framework" and not of_type(events, "message", "ukraine")
    assert of_type(events, "pass", "ukraine")[0]["reason"] == "waiting for Washington"
    assert json.loads((folder / "manifest.json").read_text())["human"] == ["ukraine"]

    done = in_process("replay", str(folder))
    assert done.returncode == 0, done.stderr
    assert "identical" in done.stdout


def test_back_at_the_first_prompt_asks_again_without_a_traceback(tmp_path: Path) -> None:
    """Issue 14 item 7: `back` at the seat's very first question (the menu) used to end the run."""
    runs = tmp_path / "runs"
    term = Terminal("run", str(MINI), "--human", "south", "--max-rounds", "2", "--runs-dir", str(runs))
    term.expect(r"Round 1: what South sees")
    term.answer(ACTION, "back")
    term.expect(r"You are at the menu: type an action, done to end your move, or help\.")
    term.answer(ACTION, "BACK")  # any case, as often as they like
    term.expect(r"You are at the menu")
    term.answer(ACTION, "pass")
    term.answer(r"Why pass\? ", "")
    term.expect(r"Round 2: what South sees")
    term.answer(ACTION, "back")
    term.expect(r"You are at the menu")
    term.answer(ACTION, "quit")
    assert term.finish() == 0, term.seen[-3000:]
    assert "Traceback" not in term.seen
    events = read_events(only_run(runs) / "events.jsonl")
    assert [e["round"] for e in of_type(events, "human_move", "south")] == [1]
    assert events[-1]["type"] == "outcome" and events[-1]["status"] == "abandoned"


def test_resume_after_a_kill_replays_the_persons_moves_then_asks_again(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    args = ("run", str(MINI), "--human", "south", "--max-rounds", "4", "--runs-dir", str(runs))
    term = Terminal(*args)
    term.answer(ACTION, "propose")
    term.answer(r"Change .*: ", "")  # south's best package, unchanged
    term.answer(r"Recipients .*: ", "north")
    term.answer(r"What do you say as you propose it\? .*: ", "Take it.")
    term.answer(ACTION, "done")
    term.expect(r"Round 2: what South sees")
    term.expect(ACTION)
    term.kill()  # kill -9 while the person thinks about round 2
    folder = only_run(runs)
    assert load_saved(folder).status == "interrupted"

    # with no one at a terminal, the recorded moves run out: one line, exit 1, and the run still resumable
    unattended = parley("resume", str(folder))
    assert unattended.returncode == 1 and "Traceback" not in unattended.stderr
    (line,) = unattended.stderr.strip().splitlines()
    assert "cannot resume" in line and "no move of south for round 2" in line and "not a terminal" in line

    term = Terminal("resume", str(folder))
    term.expect(r"Round 2: what South sees")  # round 1 was not asked again
    for _ in range(3):  # rounds 2 to 4
        term.answer(ACTION, "done")
    assert term.finish() == 0, term.seen[-3000:]
    assert "Round 1: what South sees" not in term.seen

    events = read_events(folder / "events.jsonl")
    moves = of_type(events, "human_move", "south")
    assert [e["round"] for e in moves] == [1, 2, 3, 4]
    assert moves[0]["move"]["actions"][0]["text"] == "Take it."
    assert events[-1]["type"] == "outcome" and events[-1]["status"] == "max_rounds"
    assert not of_type(events, "error")  # the unattended attempt's error went with its cut-short round
    assert replay(folder).identical


def test_a_person_plays_through_a_pipe_and_the_run_replays(tmp_path: Path) -> None:
    answers = [
        "4",  # message
        "threat",
        "all",
        "Lower the price or else.",
        "5",  # channel
        "east",
        "we need to talk",
        "done",
        *["done"] * 3,
    ]
    done = parley(
        "run", str(MINI), "--human", "south", "--max-rounds", "4", "--runs-dir", str(tmp_path), stdin="\n".join(answers)
    )
    assert done.returncode == 0, done.stderr
    assert "Outcome: max rounds" in done.stdout
    folder = only_run(tmp_path)
    events = read_events(folder / "events.jsonl")
    first = of_type(events, "human_move", "south")[0]["move"]["actions"]
    assert [a["type"] for a in first] == ["message", "channel"]
    assert of_type(events, "channel", "south")[0] == {
        **of_type(events, "channel", "south")[0],
        "to": "east",
        "open": True,
    }
    assert of_type(events, "message", "south")[0]["to"] == ["north", "east"]
    assert not of_type(events, "invalid_action", "south")
    assert replay(folder).identical


def test_the_end_of_input_ends_the_run_cleanly_and_keeps_its_events(tmp_path: Path) -> None:
    done = parley("run", str(MINI), "--human", "south", "--runs-dir", str(tmp_path), stdin="pass\nfirst round\n")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert "Outcome: abandoned after 2 round(s)" in done.stdout
    folder = only_run(tmp_path)
    events = read_events(folder / "events.jsonl")
    assert [e["type"] for e in events[-3:]] == ["human_left", "halted", "outcome"]
    assert "end of input" in events[-2]["reason"]
    assert events[-1]["status"] == "abandoned"
    assert of_type(events, "pass", "south")[0]["reason"] == "first round"  # round 1 is kept
    assert (folder / "transcript.md").exists()
    report = replay(folder)  # an abandoned run replays too, to its end
    assert report.identical, report.message
    assert report.events == len(events)


def test_an_unknown_actor_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = in_process("run", str(MINI), "--human", "west", "--runs-dir", str(tmp_path))
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "--human: west: no such actor in this world (actors: north, south, east)" in line
    assert not tmp_path.exists() or not any(tmp_path.iterdir())  # nothing written


# -- in-process: the legality of what is offered, and the seat as a policy -----------------------------
def seat_model(script: list[str], north: dict | None = None) -> tuple[NegotiationModel, StringIO]:
    """The mini world with south played through StringIO streams, north scripted, east passing."""
    scenario = load_scenario(MINI)
    space = IssueSpace.build(scenario.world, scenario.personas)
    templates = Templates(scenario.prompts_dir)
    shown = StringIO()
    source = TerminalSource(StringIO("".join(f"{line}\n" for line in script)), shown)
    policies = {
        "north": ScriptedPolicy(north or {}),
        "south": HumanSeat("south", scenario, space, templates, source),
        "east": ScriptedPolicy(),
    }
    return NegotiationModel(scenario, policies, seed=1, space=space, max_rounds=3), shown


CROSSING = {"price": "mid", "border": "south_line", "aid": "some"}  # across south's red line on border


def test_only_legal_options_are_offered_and_bad_answers_are_asked_again() -> None:
    script = [
        "respond",  # nothing to answer in round 1
        "propose",
        "price=north line",  # not an option of price
        "border=south line",  # south's red line
        "border=3",  # border has only two options left
        "price=mid, border=middle",
        "",  # no more changes: aid stays south's best
        "west",  # not an actor
        "2",
        "Meet us halfway.",
        "counter",  # one proposal per round, and nothing to answer
        "done",
        "pass",
        "",
    ]
    model, shown = seat_model(script)
    model.step()
    text = shown.getvalue()
    assert "you cannot respond now: no proposal is open for you to answer" in text
    assert "Price has no option 'north line' you may offer" in text
    assert "South line (Border) is not offered: your red line" in text
    assert "Border has no option '3' you may offer: 1 " in text
    assert "'west' cannot be reached" in text
    assert "you cannot counter now" in text
    assert re.search(r"\d South line", text) is None  # never numbered, so never chosen by number
    (proposal,) = of_type(model.events, "proposal", "south")
    assert proposal["package"] == {"price": "mid", "border": "middle_line", "aid": "lots"}
    assert proposal["to"] == ["east"] and proposal["text"] == "Meet us halfway."
    model.step()
    assert of_type(model.events, "pass", "south")
    assert not of_type(model.events, "invalid_action")


def test_a_command_word_is_never_taken_as_what_a_person_says() -> None:
    """Issue 12: `done` typed where a message's text is asked for is refused with why, not sent."""
    script = ["message", "", "", "done", "Done", "back", "pass", "done", "", "quit"]
    model, shown = seat_model(script)
    model.run()
    text = shown.getvalue()
    assert "'done' is a command, not something to say" in text and "'Done' is a command" in text
    assert "'done' is a command" in text.split("Why pass?")[1]  # a reason is words too
    assert not of_type(model.events, "message", "south")
    assert of_type(model.events, "pass", "south")[0]["reason"] == ""


def test_a_typed_proposal_names_issues_options_offers_and_actors_in_words() -> None:
    from parley.ui.typed_move import Start, changes_named, read_proposal_line, recipients_named, start_named
    from parley.world.labels import Labels

    model, _ = seat_model([])
    obs = model.observation_for("south")
    options = seat_options(obs, model.space, names={"north": "North", "east": "East"})
    labels = Labels(obs.world)
    typed = read_proposal_line("to north and east: from P2, border=middle, 1=2")
    assert (typed.to, typed.start, typed.changes) == ("north and east", "P2", "border=middle, 1=2")
    assert recipients_named(typed.to, options.recipients) == ["north", "east"]
    assert recipients_named("all", options.recipients) == ["north", "east"]
    price = next(i for i in options.issues if i.id == "price")
    best_first = [o.id for o in sorted(price.options, key=lambda o: -o.value)]
    assert changes_named(typed.changes, options, labels) == {"border": "middle_line", "price": best_first[1]}
    assert changes_named("aid=loans instead", options, labels) == {"aid": "loans"}  # words of its meaning
    with pytest.raises(ValueError, match="could be any of several"):
        changes_named("border=line", options, labels)
    with pytest.raises(ValueError, match="no issue is called 'tariffs'"):
        changes_named("tariffs=low", options, labels)
    with pytest.raises(ValueError, match="neither `from OFFER` nor a change"):
        read_proposal_line("to north: from P2, lower the price")
    starts = [Start("your best package"), Start("P2 from North", {"price": "low"}, "P2")]
    assert start_named("", starts) is starts[0] and start_named("p2", starts) is starts[1]
    assert start_named("north", starts) is starts[1] and start_named("1", starts) is starts[1]
    with pytest.raises(ValueError, match="no offer 'P7'"):
        start_named("P7", starts)


def test_a_proposal_across_a_red_line_can_only_be_rejected() -> None:
    north = {1: [Propose(package=CROSSING, to=["south", "east"], text="Take the southern line.")]}
    script = ["done", "respond", "", "never", "counter", "done"]
    model, shown = seat_model(script, north)
    model.step()
    model.step()
    text = shown.getvalue()
    assert "You can only reject P1: the package crosses your red line on 'border' (south_line)." in text
    assert "you have already answered proposal 'P1' in this move" not in text
    assert "you cannot counter now: no proposal is open for you to answer" in text  # answered above
    (response,) = of_type(model.events, "response", "south")
    assert response["accept"] is False and response["reason"] == "never"


def test_answers_and_counters_fit_on_one_line() -> None:
    fair = {"price": "mid", "border": "middle_line", "aid": "some"}
    north = {1: [Propose(package=CROSSING, to=["south", "east"], text="Take the southern line.")]}
    script = ["done", "accept P1", "counter P1: border=middle, aid=lots", "no southern line", "", "done", "done"]
    model, shown = seat_model(script, north)
    model.run()
    text = shown.getvalue()
    assert "Not added: you can only reject P1: the package crosses your red line" in text
    assert "Border: South line is not yours to offer (your red line); your best instead" in text
    (counter,) = of_type(model.events, "proposal", "south")
    assert counter["counter_to"] == "P1" and counter["package"] == {**CROSSING, "border": "middle_line", "aid": "lots"}
    assert counter["to"] == ["north", "east"]  # back to the proposer and its recipients
    assert "Added: counter P1 to North, East: P1 from North, changing Border: Middle line; Aid: Lots" in text

    north = {1: [Propose(package=fair, to=["south"], text="A fair split.")]}
    model, _ = seat_model(["done", "accept p1: fair enough", "done", "done"], north)
    model.run()
    (response,) = of_type(model.events, "response", "south")
    assert response["accept"] is True and response["reason"] == "fair enough"


def test_what_a_seat_may_do_follows_the_table_and_its_draft() -> None:
    model, _ = seat_model([])
    model.withdrawn = {"aid": ["lots"]}
    obs = model.observation_for("south")
    options = seat_options(obs, model.space, names={"north": "North", "east": "East"})
    aid = next(i for i in options.issues if i.id == "aid")
    assert aid.excluded == {"lots": "withdrawn from the table"} and aid.ideal == "some"
    border = next(i for i in options.issues if i.id == "border")
    assert border.excluded == {"south_line": "your red line"} and [o.id for o in border.options] == [
        "north_line",
        "middle_line",
    ]
    assert [(r.id, r.name, r.direct) for r in options.recipients] == [("north", "North", True), ("east", "East", False)]
    assert [(c.to, c.open) for c in options.channels] == [("north", True), ("east", False)]
    assert options.proposals_left == 1 and options.why_not_propose is None
    package = {"price": "low", "border": "north_line", "aid": "some"}
    draft = [Propose(package=package, to=["north"]), Channel(to="east", open=True)]
    after = seat_options(obs, model.space, draft)
    assert after.proposals_left == 0 and after.why_not_propose
    assert [c.to for c in after.channels] == ["north"]
    assert draft_problem(obs, draft, Channel(to="east", open=False)) is not None
    assert draft_problem(obs, [], Propose(package={**package, "aid": "lots"}, to=["north"])) == (
        "option 'lots' of issue 'aid' has been withdrawn from the table"
    )
    assert draft_problem(obs, [], Respond(proposal="P9", accept=True)) == "no proposal 'P9'"


def test_back_returns_to_the_menu_and_quit_ends_the_run() -> None:
    model, shown = seat_model(["propose", "back", "message", "statement", "back", "quit"])
    model.run()
    assert shown.getvalue().count("Action (") == 3
    assert model.outcome is not None and model.outcome.status == "abandoned"
    assert [e["type"] for e in model.events[-3:]] == ["human_left", "halted", "outcome"]
    assert "(quit)" in model.events[-2]["reason"]


class Watching:
    """A source that keeps what the seat was shown, then lets the person at the streams answer."""

    def __init__(self, person: TerminalSource) -> None:
        self.person = person
        self.seen: list[tuple] = []

    def choose(self, observation, view):
        move = self.person.choose(observation, view)
        self.seen.append((observation, view, move))
        return move


def test_the_seat_sees_exactly_what_an_llm_persona_would() -> None:
    from parley.llm.client import ChatClient
    from parley.llm.persona import LLMPersona, PersonaSettings

    north = {1: [Propose(package=CROSSING, to=["south"], text="Take it.")]}
    model, shown = seat_model(["message", "", "", "hello", "done", "done", "done"], north)
    seat = model.by_actor["south"].policy
    watching = Watching(seat.source)
    seat.source = watching
    model.run()
    persona = LLMPersona(
        "south",
        model.setting,
        model.space,
        seat.templates,
        ChatClient(None, None),
        PersonaSettings(model="none"),
    )
    assert len(watching.seen) == 3
    for obs, view, move in watching.seen:
        system, user = persona.messages(obs)
        assert view.card == system["content"] and view.round_text == user["content"]
        persona.remembered(obs, move)
    text = shown.getvalue()
    # the person is shown the team page's view in words, not the LLM's prompt
    assert text.count("your card (private to you)") == 1 and view.card not in text
    assert "{" not in text and "JSON" not in text and view.round_text.splitlines()[-1] not in text
    assert "it crosses your red line on Border: you may only reject it" in text  # north's P1, in round 2


def test_recorded_moves_are_served_by_round_and_end_the_run_where_the_person_did() -> None:
    events = [
        {"round": 1, "type": "human_move", "actor": "south", "move": {"actions": [{"type": "pass", "reason": "r"}]}},
        {"round": 2, "type": "human_left", "actor": "south", "reason": "gone"},
        {"round": 1, "type": "human_move", "actor": "north", "move": {"actions": []}},
    ]
    model, _ = seat_model([])
    obs = model.observation_for("south")
    view = model.by_actor["south"].policy.view(obs)
    recorded = RecordedMoves(events, "south")
    assert recorded.choose(replace(obs, round=1), view) == Move.model_validate(events[0]["move"])
    with pytest.raises(Abandoned, match="gone"):
        recorded.choose(replace(obs, round=2), view)
    with pytest.raises(NoRecordedMove, match="no move of south for round 3"):
        recorded.choose(replace(obs, round=3), view)
    live = RecordedMoves(events, "south", live=TerminalSource(StringIO("pass\nlive\n"), StringIO()), before_round=2)
    assert live.choose(replace(obs, round=2), view) == Move(actions=[Pass(reason="live")])  # a fork at round 2


def test_a_fork_of_a_persons_run_replays_their_moves_then_asks_from_that_round(tmp_path: Path) -> None:
    source = TerminalSource(StringIO("propose\n\nnorth\nfirst\ndone\n" + "done\n" * 3), StringIO())
    parent = play(MINI, seed=3, max_rounds=4, runs_dir=tmp_path, human={"south": source})
    assert parent.outcome.status in ("max_rounds", "converged", "stalled")
    unattended = parley("fork", str(parent.folder), "--at-round", "2", "--runs-dir", str(tmp_path / "forks"))
    assert unattended.returncode == 1 and not (tmp_path / "forks").exists()  # refused before a folder is made
    (line,) = unattended.stderr.strip().splitlines()
    assert "cannot fork: the log holds no move of south from round 2" in line
    later = StringIO("message\nflattery\nnorth\nYou are wise.\ndone\n" + "done\n" * 3)
    shown = StringIO()
    out, _ = fork(parent.folder, 2, tmp_path, live_moves=TerminalSource(later, shown))
    events = read_events(out / "events.jsonl")
    moves = of_type(events, "human_move", "south")
    assert moves[0] == of_type(read_events(parent.folder / "events.jsonl"), "human_move", "south")[0]
    assert moves[1]["round"] == 2 and moves[1]["move"]["actions"][0]["text"] == "You are wise."
    assert "Round 1: what South sees" not in shown.getvalue()
    assert json.loads((out / "manifest.json").read_text())["human"] == ["south"]
    assert replay(out).identical


def test_a_person_sits_with_llm_personas_and_the_run_replays(tmp_path: Path) -> None:
    from parley.llm.backend import LLMBackend, LLMSettings
    from tests.fake_openai import FakeOpenAI

    with FakeOpenAI() as server:
        backend = LLMBackend(LLMSettings(model="fake", base_url=server.url, cache_dir=None, prices=None))
        source = TerminalSource(StringIO("message\n\nall\nhello\ndone\n" + "done\n" * 2), StringIO())
        try:
            result = play(MINI, seed=2, max_rounds=3, runs_dir=tmp_path, llm=backend, human={"north": source})
        finally:
            backend.close()
        asked = {actor: len(server.calls_for(actor)) for actor in ("north", "south", "east")}
    events = read_events(result.folder / "events.jsonl")
    assert asked["north"] == 0 and asked["south"] > 0 and asked["east"] > 0
    assert not of_type(events, "llm_call", "north") and len(of_type(events, "human_move", "north")) == 3
    manifest = json.loads((result.folder / "manifest.json").read_text())
    assert manifest["backend"] == "openai" and manifest["human"] == ["north"]
    assert replay(result.folder).identical
