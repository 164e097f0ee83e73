"""`parley report RUN`: real runs played into a temporary folder (the mini world offline, a fork of it,
an LLM run through the fake server with hostile text and a walkout, the default world with an
inject, a killed run), their report.html read back with the standard library's HTML parser, and
every value checked against what the run's own events and persona cards say."""

from __future__ import annotations

import base64
import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from parley.llm.backend import LLMBackend, LLMSettings
from parley.reports.run import graph_states, parse_rounds, write_run_report
from parley.runs.play import play
from parley.runs.replay import fork
from parley.runs.saved import persona_names, read_run
from parley.ui.cli import app
from parley.world.scenario import Scenario, load_scenario
from tests.conftest import MINI, UKRAINE
from tests.fake_openai import FakeOpenAI
from tests.test_browse import cut_off_copy

HOSTILE_MESSAGE = "<script>alert('x')</script> trust me"
HOSTILE_PROPOSAL = "</div><img src=x onerror=alert(2)>"
HOSTILE_INJECT = "<script>document.title='owned'</script> Kursk is lost."
CROSSING = {"price": "high", "border": "south_line", "aid": "none"}  # south's red line excludes south_line


# -- reading the page back --------------------------------------------------------------------------
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def text(self) -> str:
        parts = (" ".join((c if isinstance(c, str) else c.text()).split()) for c in self.children)
        return " ".join(p for p in parts if p)

    def walk(self) -> Iterator[Node]:
        yield self
        for c in self.children:
            if isinstance(c, Node):
                yield from c.walk()

    def find_all(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[Node]:
        return [
            n
            for n in self.walk()
            if (tag is None or n.tag == tag)
            and (cls is None or cls in n.classes)
            and all(n.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]

    def one(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> Node:
        found = self.find_all(tag, cls, **attrs)
        assert len(found) == 1, (tag, cls, attrs, len(found))
        return found[0]


class Page(HTMLParser):
    """A tolerant tree of the page (void elements and `<x/>` close themselves)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


@dataclass
class Report:
    folder: Path
    path: Path
    html: str
    page: Node
    events: list[dict]
    manifest: dict
    names: dict[str, str]

    @property
    def outcome(self) -> dict | None:
        return next((e for e in self.events if e["type"] == "outcome"), None)

    @property
    def ids(self) -> set[str]:
        return {n.attrs["id"] for n in self.page.walk() if "id" in n.attrs}


def report_of(folder: Path, rounds: list[int] | None = None) -> Report:
    path = write_run_report(folder, rounds)
    html = path.read_text(encoding="utf-8")
    run = read_run(folder)
    return Report(
        folder,
        path,
        html,
        Page(html).root,
        run.events,
        run.manifest.as_json() if run.manifest else {},
        persona_names(run),
    )


# -- the runs ---------------------------------------------------------------------------------------
@dataclass
class Runs:
    dir: Path
    mini: Path  # converged offline
    forked: Path  # mini forked at round 2 with north=hardliner
    llm: Path  # LLM personas: hostile text, north's offer across south's red line, south walks out
    ukraine: Path  # the default world, 5 rounds, an inject with hostile text at round 2
    killed: Path  # the mini run as kill -9 leaves it


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    base = tmp_path_factory.mktemp("run-report")
    runs_dir = base / "runs"
    mini = play(MINI, seed=1, runs_dir=runs_dir).folder
    forked, _ = fork(mini, 2, runs_dir, {"north": "hardliner"})
    prices = base / "prices.yaml"
    prices.write_text("models:\n  fake: {input: 1000.0, output: 2000.0}\n", encoding="utf-8")
    with FakeOpenAI() as server:
        server.script(
            "south",
            {
                "kind": "move",
                "move": {
                    "actions": [{"type": "message", "kind": "statement", "to": ["north"], "text": HOSTILE_MESSAGE}]
                },
            },
            {"kind": "move", "move": {"actions": [{"type": "walkout", "reason": "<b>enough</b>"}]}},
        )
        server.script(
            "north",
            {
                "kind": "move",
                "move": {
                    "actions": [
                        {"type": "propose", "package": CROSSING, "to": ["south", "east"], "text": HOSTILE_PROPOSAL}
                    ]
                },
            },
            {"kind": "move", "move": {"actions": [{"type": "pass", "reason": "waiting"}]}},
        )
        backend = LLMBackend(LLMSettings(model="fake", base_url=server.url, cache_dir=None, prices=prices))
        try:
            llm = play(MINI, seed=3, max_rounds=4, runs_dir=runs_dir, llm=backend).folder
        finally:
            backend.close()
    inject = base / "inject.yaml"
    inject.write_text(
        json.dumps(
            {
                "title": "Kursk lost",
                "events": [
                    {
                        "round": 2,
                        "to": "all",
                        "text": HOSTILE_INJECT,
                        "effects": {
                            "trust": [{"from": "ukraine", "to": "russia", "delta": -0.1}],
                            "channels": [{"from": "europe", "to": "russia", "open": True}],
                            "withdraw": [{"issue": "kherson_zaporizhzhia_kursk", "option": "partial_swap"}],
                        },
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    ukraine = play(UKRAINE, seed=1, max_rounds=5, runs_dir=runs_dir, injects=inject).folder
    killed = runs_dir / "zz-killed"
    cut_off_copy(mini, killed)
    return Runs(runs_dir, mini, forked, llm, ukraine, killed)


@pytest.fixture(scope="module")
def reports(runs: Runs) -> dict[str, Report]:
    return {
        "mini": report_of(runs.mini),
        "forked": report_of(runs.forked),
        "llm": report_of(runs.llm),
        "ukraine": report_of(runs.ukraine),
        "killed": report_of(runs.killed),
    }


def scenario_of(r: Report) -> Scenario:
    world = Path(r.manifest["world"]["file"])
    variants = dict(r.manifest.get("variants") or {})
    for e in r.events:
        if e["type"] == "variant_switched":
            variants[e["actor"]] = e["variant"]
    return load_scenario(world, variants)


ALL = ["mini", "forked", "llm", "ukraine", "killed"]


# -- the outcome ------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ALL)
def test_report_is_written_into_the_run_folder(reports: dict[str, Report], key: str) -> None:
    r = reports[key]
    assert r.path == r.folder / "report.html" and r.html.startswith("<!doctype html>")


@pytest.mark.parametrize("key", ["mini", "llm", "ukraine"])
def test_outcome_status_round_seed_and_backend(reports: dict[str, Report], key: str) -> None:
    r = reports[key]
    outcome = r.outcome
    facts = r.page.one("section", id="outcome").text()
    assert r.page.one(id="status").text() == outcome["status"].replace("_", " ")
    assert f"after {outcome['round']} round(s)" in facts
    assert f"Seed {r.manifest['seed']}" in facts and f"Backend {r.manifest['backend']}" in facts
    for name in r.names.values():  # display names from the persona cards
        assert name in r.page.one("table", cls="utility-table").text()


def test_a_walkout_and_the_llm_cost_are_reported(reports: dict[str, Report]) -> None:
    r = reports["llm"]
    assert r.outcome["status"] == "breakdown" and r.outcome["walked_out"] == ["south"]
    facts = r.page.one("section", id="outcome").text()
    assert f"Walked out {r.names['south']}" in facts
    calls = [e for e in r.events if e["type"] == "llm_call"]
    tokens = sum(e["tokens"]["prompt"] + e["tokens"]["completion"] for e in calls)
    usd = r.outcome["transport"]["cost"]["usd"]
    assert f"{tokens:,} tokens, ${usd:.4f}" in facts
    rows = r.page.one("table", cls="costs").find_all("tr")[1:]
    assert [row.find_all("td")[0].text() for row in rows] == [r.names[a] for a in sorted({e["actor"] for e in calls})]


def test_a_fork_names_its_parent_and_the_variant_switch(reports: dict[str, Report], runs: Runs) -> None:
    facts = reports["forked"].page.one("section", id="outcome").text()
    assert f"Fork of {runs.mini.name} at round 2" in facts
    assert "round 2: North played as hardliner" in facts


def test_an_unfinished_run_says_so_and_shows_what_there_is(reports: dict[str, Report]) -> None:
    r = reports["killed"]
    assert r.outcome is None
    assert r.page.one(id="status").text() == "interrupted"
    notes = " ".join(n.text() for n in r.page.find_all("p", cls="note"))
    assert "unfinished" in notes and "is cut off" in notes
    last = max(e["round"] for e in r.events)
    assert f"the log stops in round {last}" in r.page.one("section", id="outcome").text()
    proposals = [e for e in r.events if e["type"] == "proposal"]
    assert {f"proposal-{e['proposal']}" for e in proposals} <= r.ids


# -- the deal against ideals and red lines ----------------------------------------------------------
def expected_ideal(scenario: Scenario, actor: str, issue: str) -> set[str]:
    pref = scenario.personas[actor].preferences.get(issue)
    if pref is None or pref.weight == 0:
        return set()
    banned = {o for line in scenario.personas[actor].red_lines if line.issue == issue for o in line.excludes}
    options = [o.id for i in scenario.world.issues if i.id == issue for o in i.options if o.id not in banned]
    top = max(pref.values.get(o, 0.0) for o in options)
    return {o for o in options if pref.values.get(o, 0.0) == top}


@pytest.mark.parametrize("key", ["mini", "forked", "llm", "ukraine"])
def test_deal_table_against_ideals_and_red_lines(reports: dict[str, Report], key: str) -> None:
    r = reports[key]
    scenario = scenario_of(r)
    outcome = r.outcome
    shown = outcome["deal"] or outcome["closest"]["package"]
    utilities = outcome["utilities"] if outcome["deal"] else outcome["closest"]["utilities"]
    table = r.page.one("table", cls="deal-table")
    crossed = set()
    for issue in scenario.world.issues:
        row = table.one("tr", data_issue=issue.id)
        assert row.one("td", cls="agreed").find_all("span", cls="opt")[0].text() == shown[issue.id]
        nash = (outcome["nash"] or {}).get("package") or {}
        assert row.one("td", cls="nash").text() == nash.get(issue.id, "-")
        for actor, persona in scenario.personas.items():
            cell = row.one("td", data_actor=actor)
            ideals = {c.text() for c in cell.children if isinstance(c, Node) and "opt" in c.classes}
            assert ideals == expected_ideal(scenario, actor, issue.id), (issue.id, actor)
            banned = [o for line in persona.red_lines if line.issue == issue.id for o in line.excludes]
            red = cell.find_all("span", cls="red-line")
            assert [o.text() for s in red for o in s.find_all("span", cls="opt")] == banned
            crosses = shown[issue.id] in banned
            assert ("crosses" in cell.classes) == crosses
            if crosses:
                crossed.add((issue.id, actor))
    utility_rows = r.page.one("table", cls="utility-table")
    for actor in scenario.world.actor_ids():
        row = utility_rows.one("tr", data_actor=actor)
        assert row.one("td", cls="utility").text() == f"{utilities[actor]:.3f}"
        assert row.one("td", cls="no-deal").text() == f"{outcome['no_deal'][actor]:.3f}"
        assert row.one("td", cls="margin").text() == f"{utilities[actor] - outcome['no_deal'][actor]:+.3f}"
        nash = (outcome["nash"] or {}).get("utilities") or {}
        assert row.one("td", cls="nash-utility").text() == (f"{nash[actor]:.3f}" if actor in nash else "n/a")
    if key == "llm":  # north's offer, the closest, crosses south's red line on the border
        assert outcome["closest"]["package"] == CROSSING and crossed == {("border", "south")}
    if key in ("mini", "forked"):  # a deal never crosses a signatory's red line
        assert not {a for _, a in crossed} & set(scenario.world.signatories())


def test_an_option_withdrawn_by_an_inject_is_marked(reports: dict[str, Report]) -> None:
    row = reports["ukraine"].page.one("tr", data_issue="kherson_zaporizhzhia_kursk")
    assert "withdrawn: partial_swap" in row.find_all("th")[0].text()


# -- the relationship graph -------------------------------------------------------------------------
def expected_graph(r: Report, round_: int) -> tuple[dict, dict, set]:
    """Trust and channel of every edge after a round, and who is still present, from the events alone."""
    world = scenario_of(r).world
    trust = {(e.source, e.target): e.trust for e in world.edges}
    is_open = {(e.source, e.target): e.open for e in world.edges}
    present = set(world.actor_ids())
    for e in r.events:
        if e["round"] > round_:
            break
        if e["type"] == "trust":
            trust[(e["actor"], e["toward"])] = e["after"]
            is_open.setdefault((e["actor"], e["toward"]), False)
        elif e["type"] == "channel":
            is_open[(e["actor"], e["to"])] = e["open"]
            trust.setdefault((e["actor"], e["to"]), 0.0)
        elif e["type"] == "walkout":
            present.discard(e["actor"])
    return trust, is_open, present


@pytest.mark.parametrize("key", ["mini", "llm", "ukraine", "killed"])
def test_graph_at_the_start_the_middle_and_the_end_by_default(reports: dict[str, Report], key: str) -> None:
    r = reports[key]
    last = max(e["round"] for e in r.events)
    figures = r.page.find_all("figure", cls="graph")
    assert [f.attrs["id"] for f in figures] == [f"graph-round-{n}" for n in sorted({0, (last + 1) // 2, last})]
    for figure in figures:
        round_ = int(figure.attrs["id"].rsplit("-", 1)[1])
        trust, is_open, present = expected_graph(r, round_)
        edges = figure.find_all("g", cls="edge")
        assert {(g.attrs["data-from"], g.attrs["data-to"]) for g in edges} == set(trust)
        for g in edges:
            pair = (g.attrs["data-from"], g.attrs["data-to"])
            assert g.attrs["data-trust"] == f"{trust[pair]:+.2f}"
            assert ("closed" in g.classes) == (not is_open[pair])
            line = g.one("line")
            assert ("stroke-dasharray" in line.attrs) == (not is_open[pair])
        gone = {
            n.one("title").text().removesuffix(" (walked out)")
            for n in figure.find_all("g", cls="gone")
            if n.find_all("circle")
        }
        assert gone == {r.names[a] for a in set(r.names) - present}


def test_a_walked_out_actor_is_drawn_as_gone(reports: dict[str, Report]) -> None:
    end = reports["llm"].page.one("figure", id=f"graph-round-{reports['llm'].outcome['round']}")
    assert "walked out: South" in end.one("figcaption").text()


def test_graph_at_chosen_rounds(runs: Runs) -> None:
    r = report_of(runs.mini, rounds=[3, 1])
    assert [f.attrs["id"] for f in r.page.find_all("figure", cls="graph")] == ["graph-round-1", "graph-round-3"]
    assert parse_rounds(" 5, 1,5 ") == [1, 5]


@pytest.mark.parametrize("key", ["mini", "ukraine"])
def test_rebuilt_graph_matches_the_engines_mean_trust_every_round(reports: dict[str, Report], key: str) -> None:
    r = reports[key]
    states = graph_states(scenario_of(r).world, r.events, r.outcome["round"])
    for e in (e for e in r.events if e["type"] == "round_ended"):
        assert states[e["round"]].mean_trust() == pytest.approx(e["mean_trust"], abs=1e-6)


# -- plots ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["mini", "killed"])
def test_utility_and_trust_plots_are_embedded_pngs(reports: dict[str, Report], key: str) -> None:
    page = reports[key].page
    for slug in ("utility", "trust"):
        src = page.one("figure", id=f"plot-{slug}").one("img").attrs["src"]
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG\r\n\x1a\n")


# -- the transcript: anchors and links --------------------------------------------------------------
@pytest.mark.parametrize("key", ALL)
def test_every_proposal_has_an_anchor_and_answers_link_both_ways(reports: dict[str, Report], key: str) -> None:
    r = reports[key]
    ids = r.ids
    proposals = {e["proposal"] for e in r.events if e["type"] == "proposal"}
    assert proposals and {f"proposal-{p}" for p in proposals} <= ids
    for e in r.events:
        if e["type"] == "response":
            block = r.page.one(id=f"event-{e['seq']}")
            assert f"#proposal-{e['proposal']}" in {a.attrs["href"] for a in block.find_all("a")}
            back = r.page.one(id=f"proposal-{e['proposal']}")
            assert f"#event-{e['seq']}" in {a.attrs["href"] for a in back.find_all("a")}
        if e["type"] == "proposal" and e.get("counter_to"):
            countered = r.page.one(id=f"proposal-{e['counter_to']}")
            assert f"#proposal-{e['proposal']}" in {a.attrs["href"] for a in countered.find_all("a")}
    for a in r.page.find_all("a"):  # no link leads nowhere
        assert a.attrs["href"].startswith("#") and a.attrs["href"][1:] in ids, a.attrs["href"]


def test_injects_are_shown_in_the_transcript(reports: dict[str, Report]) -> None:
    r = reports["ukraine"]
    (inject,) = [e for e in r.events if e["type"] == "inject"]
    block = r.page.one(id=f"event-{inject['seq']}")
    assert "inject" in block.classes and HOSTILE_INJECT in block.text()
    assert any(n is block for n in r.page.one(id="round-2").walk())


# -- a page that stands alone, and shows hostile text as text ---------------------------------------
@pytest.mark.parametrize("key", ALL)
def test_nothing_is_loaded_from_elsewhere(reports: dict[str, Report], key: str) -> None:
    r = reports[key]
    for node in r.page.walk():
        for attr in ("src", "href", "xlink:href", "action", "data"):
            value = node.attrs.get(attr)
            assert value is None or value.startswith(("#", "data:image/png;base64,")), (node.tag, attr, value)
        assert node.tag not in ("script", "link", "iframe", "object", "embed", "base")
    assert not re.search(r"url\(|@import|https?://", r.html.split("<body>")[0])


def test_hostile_text_is_escaped(reports: dict[str, Report]) -> None:
    llm, ukraine = reports["llm"], reports["ukraine"]
    assert "<script" not in llm.html.lower() and "<script" not in ukraine.html.lower()
    assert "<img src=x" not in llm.html and "<b>enough</b>" not in llm.html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; trust me" in llm.html
    assert "&lt;/div&gt;&lt;img src=x onerror=alert(2)&gt;" in llm.html
    assert "&lt;script&gt;document.title=&#39;owned&#39;&lt;/script&gt;" in ukraine.html
    texts = [n.text() for n in llm.page.find_all(cls="message")]  # and read back, it is the text as written
    assert any(HOSTILE_MESSAGE in t for t in texts)


# -- the command line -------------------------------------------------------------------------------
def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_cli_writes_the_report_and_prints_its_path(runs: Runs) -> None:
    code, out, err = invoke("report", runs.mini.name, "--runs-dir", str(runs.dir), "--rounds", "0,2")
    assert (code, err) == (0, "")
    assert out.strip() == str(runs.mini / "report.html")
    assert 'id="graph-round-2"' in (runs.mini / "report.html").read_text(encoding="utf-8")


def broken_copies(runs: Runs) -> dict[str, Path]:
    no_manifest = runs.dir.parent / "no-manifest"
    no_manifest.mkdir(exist_ok=True)
    shutil.copy(runs.mini / "events.jsonl", no_manifest / "events.jsonl")
    corrupt = runs.dir.parent / "corrupt"
    shutil.copytree(runs.mini, corrupt, dirs_exist_ok=True)
    lines = (corrupt / "events.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    lines[2] = '{"seq": 3, "round": 1, "type": \n'
    (corrupt / "events.jsonl").write_text("".join(lines), encoding="utf-8")
    return {"no_manifest": no_manifest, "corrupt": corrupt}


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("unknown", "unknown run 'nosuchrun'"),
        ("no_manifest", "not a run folder (no manifest.json)"),
        ("corrupt", "events.jsonl: line 3: is not valid JSON"),
        ("round_text", "--rounds: 1,x: expected round numbers"),
        ("round_range", "--rounds: 99: out of range"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(runs: Runs, case: str, expected: str) -> None:
    broken = broken_copies(runs)
    args = {
        "unknown": ["nosuchrun", "--runs-dir", str(runs.dir)],
        "no_manifest": [str(broken["no_manifest"])],
        "corrupt": [str(broken["corrupt"])],
        "round_text": [str(runs.mini), "--rounds", "1,x"],
        "round_range": [str(runs.mini), "--rounds", "2,99"],
    }[case]
    (broken["corrupt"] / "report.html").unlink(missing_ok=True)
    code, out, err = invoke("report", *args)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ") and expected in err
    assert "Traceback" not in err
    assert not (broken["corrupt"] / "report.html").exists()


def test_a_worlds_own_template_restyles_the_report(mini_copy: Path, tmp_path: Path) -> None:
    template = mini_copy.parent / "prompts" / "run_report.html.jinja"
    template.write_text(
        "<p>{{ run.status }} in {{ world.title }}: {{ rounds[0].events[0].text }}</p>\n", encoding="utf-8"
    )
    folder = play(mini_copy, seed=1, runs_dir=tmp_path / "runs").folder
    path = write_run_report(folder)
    assert path.read_text(encoding="utf-8").startswith("<p>converged in Mini bargaining: ")
    template.write_text("{% for x in %}\n", encoding="utf-8")
    code, out, err = invoke("report", str(folder))
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "run_report.html.jinja: line 1" in err
