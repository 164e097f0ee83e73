"""Claims a world makes, checked over a seeded ensemble: `parley check`, the vocabulary, the verdicts,
the scorecard files, and the claims `parley validate` rejects.

One small ensemble of the mini world (four seeds, four arms) is played once for the module; every
measured value is recounted here by hand from the saved runs' events.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

import parley
from parley.engine.actions import MessageKind
from parley.ensembles.claims import Act, RunFacts, Scorecard, measure_one
from parley.ensembles.stats import paired_ratio_difference, rng_for, wilson
from parley.runs.folder import read_events
from parley.runs.replay import replay
from parley.ui.cli import app
from parley.world.claims import MESSAGE_KINDS, Claim
from parley.world.scenario import load_scenario
from tests.conftest import MINI, ROOT

SEEDS = 4
AID_CUT = """\
title: Aid cut
events:
  - round: 1
    text: Lots of aid is off the table.
    effects:
      withdraw: [{issue: aid, option: lots}]
"""
ARTICLE = "Mini article.\n\nNorth and South haggle; East watches.\n\nNobody pays for the aid.\n"

CLAIMS: list[dict[str, Any]] = [
    {"id": "mostly-deals", "says": "Most runs end in a deal.", "cite": [2],
     "share": {"outcome": "deal"}, "at_least": 0.5},
    {"id": "south-never-accepts-lots", "says": "South never accepts <b>lots</b> of aid & more.", "cite": [3],
     "share": {"options": {"aid": "lots"}}, "among": {"in": "accepts", "by": "south"}, "at_most": 0},
    {"id": "lots-in-deals", "says": "Lots of aid is in at most half the deals.", "cite": [3],
     "share": {"options": {"aid": ["lots"]}}, "among": "deals", "at_most": 0.5},
    {"id": "north-gains", "says": "North gains over no deal when there is a deal.", "cite": [2],
     "mean": {"gain": "north"}, "among": "deals", "above": 0},
    {"id": "signatories-gain", "says": "Each signatory signs only what beats no deal.", "cite": [2],
     "share": {"gain": {"actor": "signatories", "above": 0}}, "among": {"in": "deals", "signed_by": "signatories"},
     "at_least": 1},
    {"id": "hardliner-gains-less", "says": "A hardline North gains less, by its base card.", "cite": [2],
     "arm": "north=hardliner", "against": "baseline", "mean": {"utility": "north"}, "at_most": 0},
    {"id": "order-deals", "says": "Listing the actors reversed moves the deal rate by 25 points at most.",
     "basis": "design", "arm": {"order": "reversed"}, "against": "baseline", "share": {"outcome": "deal"},
     "within": 0.25},
    {"id": "order-threats", "says": "No actor's share of threats follows its place in the list.", "basis": "design",
     "arm": {"order": "reversed"}, "against": "baseline", "share": {"by": "each"}, "among": "threats",
     "within": 0.5},
    {"id": "aid-cut-moves", "says": "Taking lots of aid off the table changes what happens.", "cite": [3],
     "arm": {"inject": "injects/aid-cut.yaml", "at_round": 2}, "against": "baseline", "changed": "any",
     "at_least": 0.25},
]  # fmt: skip


@dataclass
class Checked:
    card: Scorecard
    world: Path
    out: Path
    runs: dict[tuple[str, int], Path]  # (arm label, seed) -> run folder


def write_world(folder: Path, claims: list[dict[str, Any]]) -> Path:
    world = folder / "world.yaml"
    data = yaml.safe_load(world.read_text(encoding="utf-8"))
    data["source_text"] = "article.txt"
    world.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return write_world_file(world, claims)


def write_world_file(world: Path, claims: list[dict[str, Any]]) -> Path:
    """The world file with these claims in place of its own."""
    data = yaml.safe_load(world.read_text(encoding="utf-8"))
    data["claims"] = claims
    world.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return world


def mini_with_claims(folder: Path, claims: list[dict[str, Any]]) -> Path:
    shutil.copytree(MINI.parent, folder)
    (folder / "article.txt").write_text(ARTICLE, encoding="utf-8")
    (folder / "injects").mkdir()
    (folder / "injects" / "aid-cut.yaml").write_text(AID_CUT, encoding="utf-8")
    return write_world(folder, claims)


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> Checked:
    home = tmp_path_factory.mktemp("claims")
    world = mini_with_claims(home / "mini", CLAIMS)
    out = home / "out"
    card = parley.check(world, seeds=SEEDS, out=out, workers=1)  # compare's tests play in worker processes
    runs = {}
    for line in (out / "index.jsonl").read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        runs[(entry["arm"], entry["seed"])] = out / "runs" / entry["run_id"]
    return Checked(card, world, out, runs)


def events(folder: Path) -> list[dict[str, Any]]:
    return read_events(folder / "events.jsonl")


def outcome(folder: Path) -> dict[str, Any]:
    return events(folder)[-1]


def result(c: Checked, claim: str) -> Any:
    return next(r for r in c.card.results if r.claim.id == claim)


def seeds() -> range:
    return range(1, SEEDS + 1)


# -- the ensemble the claims need ----------------------------------------------------------------
def test_check_plays_each_arm_the_claims_name_over_the_same_seeds(checked: Checked) -> None:
    arms = ["baseline", "north=hardliner", "actors reversed", "inject injects/aid-cut.yaml at round 2"]
    assert sorted(checked.card.arms) == sorted(arms) and checked.card.arms[0] == "baseline"
    assert sorted(checked.runs) == sorted((a, s) for a in arms for s in seeds())
    assert checked.card.played == len(arms) * SEEDS and checked.card.reused == 0


def test_the_reversed_arm_plays_a_generated_copy_of_the_world_with_its_actors_reversed(checked: Checked) -> None:
    manifest = json.loads((checked.runs[("actors reversed", 1)] / "manifest.json").read_text(encoding="utf-8"))
    copy = Path(manifest["world"]["file"])
    assert copy.parent == (checked.out / "worlds").resolve() and copy.name == "mini-reversed.yaml"
    scenario = load_scenario(copy)
    assert scenario.world.actor_ids() == ["east", "south", "north"]
    assert scenario.world.claims == []  # the claims are the original's
    original = load_scenario(checked.world)
    assert {a: p.resolve() for a, p in scenario.persona_paths.items()} == {
        a: p.resolve() for a, p in original.persona_paths.items()
    }
    assert scenario.world.edges == original.world.edges and scenario.world.protocol == original.world.protocol
    assert replay(checked.runs[("actors reversed", 2)]).identical


def test_the_inject_arm_plays_the_inject_file_moved_to_its_round_and_replays(checked: Checked) -> None:
    folder = checked.runs[("inject injects/aid-cut.yaml at round 2", 1)]
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert [e["round"] for e in manifest["injects"]["events"]] == [2]  # the file says round 1
    injected = [e for e in events(folder) if e["type"] == "inject"]
    assert [e["round"] for e in injected] == [2] and injected[0]["text"] == "Lots of aid is off the table."
    assert replay(folder).identical


# -- each claim recounted by hand ----------------------------------------------------------------
def test_a_share_of_runs(checked: Checked) -> None:
    deals = sum(outcome(checked.runs[("baseline", s)])["status"] == "converged" for s in seeds())
    r = result(checked, "mostly-deals")
    assert (r.value, r.n) == (deals / SEEDS, SEEDS)
    assert (r.lo, r.hi) == pytest.approx(wilson(deals, SEEDS))
    assert r.held == (deals / SEEDS >= 0.5)


def test_an_actor_never_accepts_an_option(checked: Checked) -> None:
    accepted, lots = 0, 0
    for s in seeds():
        packages = {}
        for e in events(checked.runs[("baseline", s)]):
            if e["type"] == "proposal":
                packages[e["proposal"]] = e["package"]
            elif e["type"] == "response" and e["actor"] == "south" and e["accept"]:
                accepted += 1
                lots += packages[e["proposal"]]["aid"] == "lots"
    r = result(checked, "south-never-accepts-lots")
    assert accepted and (r.value, r.n) == (lots / accepted, accepted)
    assert r.held == (lots == 0)


def test_an_options_share_among_deals(checked: Checked) -> None:
    deals = [outcome(checked.runs[("baseline", s)])["deal"] for s in seeds()]
    deals = [d for d in deals if d]
    r = result(checked, "lots-in-deals")
    assert r.n == len(deals) and r.value == pytest.approx(sum(d["aid"] == "lots" for d in deals) / len(deals))


NORTH = {"price": {"low": 0.0, "mid": 0.5, "high": 1.0}, "border": {"north_line": 0.0, "middle_line": 0.6, "south_line": 1.0},
         "aid": {"none": 1.0, "some": 0.6, "lots": 0.0, "loans": 0.8}}  # fmt: skip
WEIGHTS = {"price": 3, "border": 2, "aid": 1}


def north_base_utility(deal: dict[str, str] | None) -> float:
    """North's utility by its base card, written out from the card (no deal: 0.3)."""
    if not deal:
        return 0.3
    return sum(WEIGHTS[i] * NORTH[i][deal[i]] for i in NORTH) / sum(WEIGHTS.values())


def test_a_mean_gain_over_no_deal(checked: Checked) -> None:
    deals = [o["deal"] for s in seeds() if (o := outcome(checked.runs[("baseline", s)]))["deal"]]
    r = result(checked, "north-gains")
    gains = [north_base_utility(d) - 0.3 for d in deals]
    assert r.value == pytest.approx(sum(gains) / len(gains), abs=1e-6) and r.n == len(deals)
    assert r.lo <= r.value <= r.hi and r.held == (r.value > 0)


def test_a_claim_about_each_signatory(checked: Checked) -> None:
    r = result(checked, "signatories-gain")
    assert r.actor in ("north", "south") and "each signatory" in r.measure
    deals = [o for s in seeds() if (o := outcome(checked.runs[("baseline", s)]))["deal"]]
    for actor in ("north", "south"):
        assert all(o["utilities"][actor] > o["no_deal"][actor] for o in deals), "a signatory signed below no deal"
    assert r.held and r.value == 1.0


def test_a_variant_is_compared_with_the_baseline_seed_by_seed_by_base_cards(checked: Checked) -> None:
    """The hardliner card values no deal at 0.6; measured by the base card a run without a deal scores 0.3."""
    hard = [north_base_utility(outcome(checked.runs[("north=hardliner", s)])["deal"]) for s in seeds()]
    base = [north_base_utility(outcome(checked.runs[("baseline", s)])["deal"]) for s in seeds()]
    r = result(checked, "hardliner-gains-less")
    assert r.value == pytest.approx(sum(hard) / SEEDS - sum(base) / SEEDS, abs=1e-6)
    assert r.held == (r.value <= 0) and r.against == "baseline" and r.arm == "north=hardliner"
    assert r.test.startswith("exact sign test") and r.lo <= r.value + 1e-9 and r.value - 1e-9 <= r.hi


def test_order_claims_compare_the_reversed_world_seed_by_seed(checked: Checked) -> None:
    rate = {
        arm: sum(outcome(checked.runs[(arm, s)])["status"] == "converged" for s in seeds()) / SEEDS
        for arm in ("baseline", "actors reversed")
    }
    r = result(checked, "order-deals")
    assert r.value == pytest.approx(rate["actors reversed"] - rate["baseline"])
    assert r.held == (abs(r.value) <= 0.25) and r.test.startswith("exact McNemar")
    share: dict[str, dict[str, float]] = {}
    for arm in ("baseline", "actors reversed"):
        threats = [
            e["actor"]
            for s in seeds()
            for e in events(checked.runs[(arm, s)])
            if e["type"] == "message" and e["kind"] == "threat"
        ]
        share[arm] = {a: threats.count(a) / len(threats) for a in ("north", "south", "east")}
    moved = {a: share["actors reversed"][a] - share["baseline"][a] for a in ("north", "south", "east")}
    worst = max(moved, key=lambda a: abs(moved[a]))
    r = result(checked, "order-threats")
    assert r.actor == worst and r.value == pytest.approx(moved[worst])
    assert r.held == all(abs(m) <= 0.5 for m in moved.values())


def test_an_inject_moves_outcomes(checked: Checked) -> None:
    arm = "inject injects/aid-cut.yaml at round 2"
    differ = 0
    for s in seeds():
        a, b = outcome(checked.runs[(arm, s)]), outcome(checked.runs[("baseline", s)])
        a_rounds = events(checked.runs[(arm, s)])[-2]["round"]
        b_rounds = events(checked.runs[("baseline", s)])[-2]["round"]
        differ += a["status"] != b["status"] or a["deal"] != b["deal"] or a_rounds != b_rounds
    r = result(checked, "aid-cut-moves")
    assert (r.value, r.n) == (differ / SEEDS, SEEDS) and (r.lo, r.hi) == pytest.approx(wilson(differ, SEEDS))


# -- verdicts and the scorecard ------------------------------------------------------------------
def test_the_fixture_has_claims_that_hold_and_claims_that_break(checked: Checked) -> None:
    verdicts = {r.claim.id: r.verdict for r in checked.card.results}
    assert verdicts["mostly-deals"] == "held" and verdicts["south-never-accepts-lots"] == "broken", verdicts
    assert [r.claim.id for r in checked.card.results] == [c["id"] for c in CLAIMS]


def test_the_csv_and_html_scorecards(checked: Checked) -> None:
    with (checked.out / "scorecard.csv").open(newline="", encoding="utf-8") as f:
        rows = {r["id"]: r for r in csv.DictReader(f)}
    assert list(rows) == [c["id"] for c in CLAIMS]
    for r in checked.card.results:
        row = rows[r.claim.id]
        assert row["verdict"] == r.verdict and row["cite"] == " ".join(map(str, r.claim.cite))
        assert row["value"] == f"{r.value:.6g}" and row["n"] == str(r.n) and row["says"] == r.claim.says
    assert rows["south-never-accepts-lots"]["verdict"] == "broken" and rows["mostly-deals"]["verdict"] == "held"
    html = (checked.out / "scorecard.html").read_text(encoding="utf-8")
    assert "South never accepts &lt;b&gt;lots&lt;/b&gt; of aid &amp; more." in html and "<b>lots" not in html
    assert '<tr class="broken" id="claim-south-never-accepts-lots">' in html
    assert '<td class="broken">broken</td>' in html and '<td class="held">held</td>' in html
    assert "<script" not in html and 'src="http' not in html and "¶3" in html


def test_the_cli_exits_1_when_a_claim_is_broken_and_0_when_all_hold(checked: Checked, tmp_path: Path) -> None:
    """Editing the claims replays no run: both checks reuse the module's runs."""
    broken = CliRunner().invoke(
        app, ["check", str(checked.world), "--seeds", str(SEEDS), "--out", str(checked.out), "--workers", "1", "-q"]
    )
    assert broken.exit_code == 1, broken.output
    assert "south-never-accepts-lots" in broken.stdout and "broken" in broken.stdout
    assert f"0 run(s) played, {4 * SEEDS} reused" in " ".join(broken.stdout.split())
    holding = [r.claim.model_dump(by_alias=True, exclude_defaults=True) for r in checked.card.results if r.held]
    folder = tmp_path / "mini"
    shutil.copytree(checked.world.parent, folder)
    world = write_world(folder, holding)
    ok = CliRunner().invoke(
        app, ["check", str(world), "--seeds", str(SEEDS), "--out", str(checked.out), "--workers", "1", "-q"]
    )
    assert ok.exit_code == 0, ok.output
    assert f"{len(holding)} of {len(holding)} claims hold" in " ".join(ok.stdout.split())
    assert "0 run(s) played" in ok.stdout


def test_a_world_without_claims_is_exit_2(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["check", str(MINI), "--seeds", "1", "--out", str(tmp_path / "out")])
    assert r.exit_code == 2 and "makes no claims: nothing to check" in r.stderr
    assert not (tmp_path / "out" / "runs").exists()


def test_check_stops_on_a_bad_claim_before_playing_anything(tmp_path: Path) -> None:
    world = mini_with_claims(tmp_path / "mini", [{**CLAIMS[0], "share": {"outcome": "peace"}}])
    r = CliRunner().invoke(app, ["check", str(world), "--seeds", "2", "--out", str(tmp_path / "out")])
    assert r.exit_code == 2 and "claims[0].share.outcome[0]: Input should be" in r.stderr, r.output
    assert not (tmp_path / "out" / "runs").exists() and "Traceback" not in r.output


def test_an_actor_played_as_base_is_the_baseline() -> None:
    assert (
        Claim.model_validate({**CLAIMS[0], "arm": "north=base"}).arm.key() == Claim.model_validate(CLAIMS[0]).arm.key()
    )
    assert Claim.model_validate({**CLAIMS[0], "arm": "north=base,south=x"}).arm.label == "south=x"


# -- the vocabulary on hand-made runs ------------------------------------------------------------
def run(seed: int, status: str = "converged", deal: dict | None = None, **extra: Any) -> RunFacts:
    facts = {
        "seed": seed,
        "status": status,
        "rounds": 5,
        "deal": deal if status == "converged" else None,
        "signed": frozenset(("a", "b") if status == "converged" else ()),
        "walked_out": (),
        "utilities": {"a": 0.6, "b": 0.5},
        "no_deal": {"a": 0.4, "b": 0.5},
        "acts": [],
    }
    return RunFacts(**{**facts, **extra})


def claim(**fields: Any) -> Claim:
    return Claim.model_validate({"id": "x", "says": "x", "cite": [1], **fields})


def test_who_walks_out_and_who_threatens() -> None:
    runs = [
        run(1, "breakdown", walked_out=("a",), acts=[Act("walkout", "a"), Act("message", "b", ("a",), None, "threat")]),
        run(2, "breakdown", walked_out=("b",), acts=[Act("walkout", "b")]),
        run(3, "breakdown", walked_out=("a",), acts=[Act("walkout", "a"), Act("message", "a", ("b",), None, "flattery")]),
    ]  # fmt: skip
    m = measure_one(claim(share={"by": "a"}, among="walkouts", at_most=0.5), 0, runs, None, None)
    assert (m.value, m.n) == (2 / 3, 3)
    m = measure_one(claim(share={"walked_out": "a"}, at_most=0.5), 0, runs, None, None)
    assert (m.value, m.n) == (2 / 3, 3)
    m = measure_one(claim(share={"to": "a"}, among="threats", at_least=1), 0, runs, None, None)
    assert (m.value, m.n) == (1.0, 1)  # the flattery is a message, not a threat
    m = measure_one(
        claim(share={"kind": "flattery"}, among={"in": "messages", "by": "a"}, at_least=1), 0, runs, None, None
    )
    assert (m.value, m.n) == (1.0, 1)


def test_counts_of_aims_and_nested_conditions() -> None:
    deals = [
        run(1, deal={"x": "p", "y": "q", "z": "r"}),
        run(2, deal={"x": "p", "y": "s", "z": "s"}),
        run(3, deal={"x": "t", "y": "s", "z": "r"}),
        run(4, "stalled"),
    ]
    aims = [{"options": {"x": "p"}}, {"options": {"y": "q"}}, {"options": {"z": "r"}}]
    m = measure_one(
        claim(share={"count": {"at_least": 2, "of": aims}}, among="deals", at_least=0.5), 0, deals, None, None
    )
    assert (m.value, m.n) == (1 / 3, 3)
    c = claim(share={"any": [{"not": {"options": {"x": "p"}}}, {"outcome": "stalled"}]}, at_most=1)
    assert measure_one(c, 0, deals, None, None).value == 0.5
    c = claim(share={"all": [{"options": {"y": ["q", "s"]}}, {"signed_by": "b"}]}, among={"in": "runs"}, at_most=1)
    assert measure_one(c, 0, deals, None, None).value == 0.75


def test_a_difference_among_deals_pairs_seeds_and_its_interval_resamples_them() -> None:
    first = [run(1, deal={"x": "p"}), run(2, deal={"x": "q"}), run(3, "stalled"), run(4, deal={"x": "p"})]
    other = [run(1, deal={"x": "q"}), run(2, "stalled"), run(3, deal={"x": "q"}), run(4, deal={"x": "q"})]
    c = claim(arm="a=v", against="baseline", share={"options": {"x": "p"}}, among="deals", below=0)
    m = measure_one(c, 0, other, first, None)
    assert m.value == pytest.approx(0 - 2 / 3) and m.n == 3 and m.test == ""  # not one deal per seed: no exact test
    num, den = [0, 0, 0, 0], [1, 0, 1, 1]
    num_first, den_first = [1, 0, 0, 1], [1, 1, 0, 1]
    assert (m.lo, m.hi) == paired_ratio_difference(num, den, num_first, den_first, rng_for(7000, 0))
    assert -1 <= m.lo <= m.value <= m.hi <= 1


def test_verdicts_at_the_bounds() -> None:
    runs = [run(s) for s in range(1, 5)] + [run(5, "stalled")]
    for bound, held in (({"at_least": 0.8}, True), ({"above": 0.8}, False), ({"at_most": 0.8}, True),
                        ({"below": 0.8}, False), ({"between": [0.5, 0.8]}, True), ({"between": [0.9, 1]}, False)):  # fmt: skip
        c = claim(share={"outcome": "deal"}, **bound)
        card_value = measure_one(c, 0, runs, None, None).value
        from parley.ensembles.claims import meets

        assert card_value == 0.8 and meets(c, card_value) is held, bound


def test_frameworks_refusals_and_a_war_that_goes_on(tmp_path: Path) -> None:
    """An outcome that names who signed and who refused (a framework put to the others) is read as such."""
    folder = tmp_path / "run"
    folder.mkdir()
    framework = {"proposal": "P3", "round": 4, "package": {"x": "p"}, "signed_by": ["a", "b"], "refused_by": ["c"]}
    lines = [
        {"type": "proposal", "actor": "a", "proposal": "P3", "package": {"x": "p"}, "to": ["b", "c"]},
        {"type": "response", "actor": "c", "proposal": "P3", "accept": False},
        {"type": "outcome", "status": "refused", "deal": None, "signed": ["a", "b"], "refused": ["c"],
         "war_continues": True, "framework": framework, "walked_out": []},
    ]  # fmt: skip
    (folder / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines), encoding="utf-8")
    space = load_scenario(MINI)
    from parley.ensembles.scoring import base_space

    refused = RunFacts.read(folder, {"seed": 1, "status": "refused", "rounds": 6, "deal": None}, base_space(space))
    assert (refused.signed, refused.refused, refused.war_continues) == ({"a", "b"}, {"c"}, True)
    assert refused.package == {"x": "p"} and refused.deal is None
    assert [(a.kind, a.by, a.package) for a in refused.acts] == [
        ("proposal", "a", {"x": "p"}),
        ("reject", "c", {"x": "p"}),
    ]
    peace = run(2, deal={"x": "q"}, framework={"x": "q"}, war_continues=False)
    runs = [refused, peace, run(3, "stalled")]
    c = claim(share={"refused_by": "c"}, among="frameworks", between=[0.2, 0.95])
    assert measure_one(c, 0, runs, None, None).value == 0.5
    c = claim(share={"war_continues": True}, among={"in": "frameworks", "outcome": "refused"}, at_least=0.99)
    assert (measure_one(c, 0, runs, None, None).value, measure_one(c, 0, runs, None, None).n) == (1.0, 1)
    c = claim(
        share={"options": {"x": "p"}, "signed_by": "a"}, at_most=1
    )  # a run's package: its deal, else its framework
    assert measure_one(c, 0, runs, None, None).value == pytest.approx(1 / 3)


def test_the_message_kinds_are_the_engines() -> None:
    assert set(MESSAGE_KINDS) == set(MessageKind.__args__)


def test_an_empty_population_breaks_the_claim() -> None:
    from parley.ensembles.claims import meets

    c = claim(share={"options": {"x": "p"}}, among="deals", at_most=0.5)
    m = measure_one(c, 0, [run(1, "stalled")], None, None)
    assert m.n == 0 and math.isnan(m.value) and not meets(c, m.value)


# -- bad claims: `parley validate` ---------------------------------------------------------------
BAD = [
    ({"share": {"options": {"aid": "heaps"}}}, "claims[0].share.options.aid: issue 'aid' has no option 'heaps'"),
    ({"share": {"options": {"cash": "lots"}}}, "claims[0].share.options.cash: unknown issue 'cash'"),
    ({"share": {"signed_by": "west"}}, "claims[0].share.signed_by: unknown actor 'west'"),
    ({"arm": "north=softie", "against": "baseline"}, "claims[0].arm.variants.north: no variant 'softie' for actor 'north'"),
    ({"arm": {"inject": "injects/none.yaml"}}, "claims[0].arm.inject: file not found: injects/none.yaml"),
    ({"arm": {"order": ["north", "south"]}, "against": "baseline"}, "claims[0].arm.order: list every actor once"),
    ({"at_most": 1.5}, "claims[0].at_most: 1.5 is outside 0..1 (a share)"),
    ({"at_most": None, "between": [0.8, 0.2]}, "claims[0].between: the lower end 0.8 is above the upper end 0.2"),
    ({"at_most": None}, "claims[0]: give exactly one bound: at_most, at_least, below, above, between, within"),
    ({"mean": "rounds"}, "claims[0]: give exactly one statistic: share, mean, changed (got share, mean)"),
    ({"share": {"outcome": "peace"}}, "claims[0].share.outcome[0]: Input should be 'converged'"),
    ({"share": {"by": "north"}}, "claims[0].share.by: by is said of acts"),
    ({"among": "treaties"}, "claims[0].among.in: Input should be 'runs', 'deals'"),
    ({"kind": "nice"}, "claims[0].kind: unknown field (check the spelling)"),
    ({"cite": []}, "claims[0].cite: cite the paragraphs the claim is drawn from"),
    ({"cite": [3, 9]}, "claims[0].cite: paragraph 9 does not exist (the source has 3)"),
    ({"changed": "outcome", "share": None}, "claims[0]: changed compares two arms: give `against`"),
    ({"against": "baseline"}, "claims[0].against: the same arm as `arm` (baseline): nothing to compare"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "expected"), BAD, ids=[b[1].split(":")[1].strip() + str(i) for i, b in enumerate(BAD)]
)
def test_validate_rejects_a_bad_claim_in_one_line_naming_the_file_and_field(
    tmp_path: Path, change: dict[str, Any], expected: str
) -> None:
    good = {"id": "c", "says": "A claim.", "cite": [2], "share": {"options": {"aid": "none"}}, "at_most": 0.5}
    bad = {k: v for k, v in {**good, **change}.items() if v is not None}
    world = mini_with_claims(tmp_path / "mini", [bad])
    r = CliRunner().invoke(app, ["validate", str(world)])
    assert r.exit_code == 2, r.output
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert any(line.startswith("error: ") and f"world.yaml: {expected}" in line for line in lines), lines
    assert "Traceback" not in r.output


def test_validate_counts_the_claims_and_checks_their_inject_files(tmp_path: Path) -> None:
    world = mini_with_claims(tmp_path / "mini", CLAIMS)
    r = CliRunner().invoke(app, ["validate", str(world)])
    assert r.exit_code == 0 and f"{len(CLAIMS)} claims" in r.stdout, r.output
    (tmp_path / "mini" / "injects" / "aid-cut.yaml").write_text(AID_CUT.replace("option: lots", "option: heaps"))
    r = CliRunner().invoke(app, ["validate", str(world)])
    assert (
        r.exit_code == 2
        and "aid-cut.yaml: events[0].effects.withdraw[0].option: issue 'aid' has no option 'heaps'" in r.stderr
    )
    duplicate = [CLAIMS[0], CLAIMS[0]]
    write_world(tmp_path / "mini", duplicate)
    r = CliRunner().invoke(app, ["validate", str(world)])
    assert "claims[1].id: claim 'mostly-deals' appears twice (first claims[0])" in r.stderr


def test_the_readmes_claims_validate_against_the_ukraine_world(tmp_path: Path) -> None:
    """The README's examples are claims a facilitator can copy: they name the world's real options."""
    import re

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Claims: checking a world") : readme.index("## How a round works")]
    blocks = re.findall(r"```yaml\n(.*?)```", section, re.S)
    claims = yaml.safe_load(blocks[0])["claims"] + yaml.safe_load("claims:\n" + blocks[1])["claims"]
    for folder in ("worlds", "agents", "prompts"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    world = write_world_file(tmp_path / "worlds" / "ukraine-2024.yaml", claims)
    assert len(load_scenario(world).world.claims) == len(claims) >= 10
