"""`parley compare`: paired seeded ensembles of persona variants, their tables, report and reuse."""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import parley
from parley.engine import RULES
from parley.ensembles.compare import Comparison, paired_frame
from parley.ensembles.runner import Arm, as_arm, file_arm, parse_arm, prepare_arm
from parley.ensembles.stats import bootstrap_mean, mcnemar_exact, rng_for, sign_test, wilson
from parley.llm.backend import LLMBackend, LLMSettings
from parley.runs.cast import offline_cast
from parley.runs.folder import read_events
from parley.runs.manifest import Manifest
from parley.runs.play import EventSink, execute, play
from parley.runs.replay import replay
from parley.world.problems import InvalidInput
from tests.conftest import MINI
from tests.conftest import parley as command
from tests.fake_openai import FakeOpenAI

SEEDS = [1, 2, 3, 4, 5, 6]
ARMS = ["baseline", "north=hardliner"]
ROUNDS = 12  # the world's limit: some hardliner runs reach it, the rest and every baseline run deal

GOOD_VARIANT = """\
actor: north
name: isolationist
description: North turns inward and asks for little.
traits:
  patience: {value: 0.9}
no_deal: {value: 0.5}
"""

BAD_VARIANT = """\
actor: north
name: isolationist
description: North turns inward.
traits:
  patience: {value: 1.9}
  bravery: {value: 0.1}
preferences:
  price: {values: {cheap: 0.3}}
"""


@dataclass
class Ensemble:
    result: Comparison
    out: Path
    events: list[tuple[int, int, bool]]  # (arm, seed, reused) as on_run reported them


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory: pytest.TempPathFactory) -> Ensemble:
    out = tmp_path_factory.mktemp("compare") / "out"
    seen: list[tuple[int, int, bool]] = []
    result = parley.compare(
        MINI,
        arms=ARMS,
        seeds=len(SEEDS),
        max_rounds=ROUNDS,
        workers=2,
        out=out,
        on_run=lambda arm, row, reused: seen.append((arm, row["seed"], reused)),
    )
    return Ensemble(result, out, seen)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


# -- pairing -------------------------------------------------------------------------------------
def test_every_arm_plays_the_same_seeds_and_a_pair_differs_only_in_the_variant(ensemble: Ensemble) -> None:
    rows = read_csv(ensemble.out / "runs.csv")
    assert [r["arm"] for r in rows] == ["baseline"] * 6 + ["north=hardliner"] * 6
    by_arm = {arm: [int(r["seed"]) for r in rows if r["arm"] == arm] for arm in ARMS}
    assert by_arm == {"baseline": SEEDS, "north=hardliner": SEEDS}
    assert sorted(ensemble.events) == sorted((a, s, False) for a in range(2) for s in SEEDS)
    runs = {(r["arm"], int(r["seed"])): ensemble.out / "runs" / r["run_id"] for r in rows}
    assert len({p.name for p in runs.values()}) == 12
    for seed in SEEDS:
        a, b = manifest(runs[("baseline", seed)]), manifest(runs[("north=hardliner", seed)])
        assert a["seed"] == b["seed"] == seed and a["max_rounds"] == b["max_rounds"] == ROUNDS
        assert a["world"] == b["world"] and a["templates"] == b["templates"]
        assert {k: v["sha256"] for k, v in a["personas"].items()} == {k: v["sha256"] for k, v in b["personas"].items()}
        assert (a["variants"], b["variants"]) == ({}, {"north": "hardliner"})
        assert {k: v["variant"] for k, v in b["personas"].items()} == {
            "north": "hardliner",
            "south": "base",
            "east": "base",
        }
        assert (a["compare"]["arm"], b["compare"]["arm"]) == ("baseline", "north=hardliner")


def test_a_compared_run_is_like_any_other_run_and_replays(ensemble: Ensemble, tmp_path: Path) -> None:
    rows = read_csv(ensemble.out / "runs.csv")
    first = ensemble.out / "runs" / rows[0]["run_id"]
    alone = play(MINI, seed=int(rows[0]["seed"]), max_rounds=ROUNDS, runs_dir=tmp_path)
    assert (first / "events.jsonl").read_bytes() == (alone.folder / "events.jsonl").read_bytes()
    assert (first / "transcript.md").is_file()
    for row in (rows[1], rows[-1]):
        report = replay(ensemble.out / "runs" / row["run_id"])
        assert report.identical, report.message


# -- the tables ----------------------------------------------------------------------------------
def hand_wilson(k: int, n: int) -> tuple[float, float]:
    """The Wilson score interval, written out from its formula."""
    z = 1.959963984540054
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = (z / (1 + z**2 / n)) * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return centre - half, centre + half


def test_the_summary_matches_a_hand_computation_from_runs_csv(ensemble: Ensemble) -> None:
    rows = read_csv(ensemble.out / "runs.csv")
    summary = {r["arm"]: r for r in read_csv(ensemble.out / "summary.csv")}
    assert list(summary) == ARMS
    statuses = {r["status"] for r in rows}
    assert "converged" in statuses and len(statuses) > 1, "the fixture should give more than one kind of outcome"
    for arm in ARMS:
        mine = [r for r in rows if r["arm"] == arm]
        n = len(mine)
        s = summary[arm]
        assert int(s["runs"]) == n == 6
        for status in ("converged", "stalled", "breakdown", "max_rounds"):
            k = sum(r["status"] == status for r in mine)
            lo, hi = hand_wilson(k, n)
            assert float(s[f"share_{status}"]) == pytest.approx(k / n, abs=1e-6)
            assert float(s[f"share_{status}_lo"]) == pytest.approx(max(0.0, lo), abs=1e-5)
            assert float(s[f"share_{status}_hi"]) == pytest.approx(min(1.0, hi), abs=1e-5)
        assert float(s["median_rounds"]) == statistics.median(int(r["rounds"]) for r in mine)
        for actor in ("north", "south", "east"):
            values = [float(r[f"utility_{actor}"]) for r in mine]
            mean = statistics.fmean(values)
            assert float(s[f"mean_utility_{actor}"]) == pytest.approx(mean, abs=1e-5)
            assert float(s[f"mean_utility_{actor}_lo"]) <= mean + 1e-9 <= float(s[f"mean_utility_{actor}_hi"]) + 2e-9
            assert min(values) - 1e-9 <= float(s[f"mean_utility_{actor}_lo"])
            assert float(s[f"mean_utility_{actor}_hi"]) <= max(values) + 1e-9
        deals = [r for r in mine if r["deal"] == "yes"]
        assert all(r["status"] == "converged" for r in deals) and len(deals) == sum(
            r["status"] == "converged" for r in mine
        )
        packages = [tuple(r[f"option_{i}"] for i in ("price", "border", "aid")) for r in deals]
        top = max(set(packages), key=packages.count)
        assert int(s["top_deal_count"]) == packages.count(top)
        assert s["top_deal"] == "; ".join(f"{i}={o}" for i, o in zip(("price", "border", "aid"), top, strict=True))
        assert all(r[f"option_{i}"] == "" for r in mine if r["deal"] == "no" for i in ("price", "border", "aid"))


NORTH = {"price": {"low": 0.0, "mid": 0.5, "high": 1.0}, "border": {"north_line": 0.0, "middle_line": 0.6, "south_line": 1.0},
         "aid": {"none": 1.0, "some": 0.6, "lots": 0.0, "loans": 0.8}}  # fmt: skip
NORTH_WEIGHTS = {"price": 3, "border": 2, "aid": 1}


def test_every_arm_is_scored_by_the_base_cards_and_the_variant_card_is_a_labelled_second_view(
    ensemble: Ensemble,
) -> None:
    """North's hardliner card values no deal at 0.6, its base card at 0.3: a hardliner run is scored 0.3."""
    rows = read_csv(ensemble.out / "runs.csv")
    hard = [r for r in rows if r["arm"] == "north=hardliner"]
    assert {r["deal"] for r in hard} == {"yes", "no"}, "the fixture should give hardliner runs with and without a deal"
    for r in hard:
        outcome = read_events(ensemble.out / "runs" / r["run_id"] / "events.jsonl")[-1]
        assert float(r["own_utility_north"]) == pytest.approx(outcome["utilities"]["north"])  # the card played
        if r["deal"] == "no":
            assert (float(r["utility_north"]), float(r["own_utility_north"])) == pytest.approx((0.3, 0.6))
        else:
            by_hand = sum(NORTH_WEIGHTS[i] * NORTH[i][r[f"option_{i}"]] for i in NORTH) / sum(NORTH_WEIGHTS.values())
            assert float(r["utility_north"]) == pytest.approx(by_hand, abs=1e-6)
    assert all(r["utility_north"] == r["own_utility_north"] for r in rows if r["arm"] == "baseline")
    summary = ensemble.result.summary.set_index("arm")
    mean = statistics.fmean(float(r["utility_north"]) for r in hard)
    assert summary.loc["north=hardliner", "mean_utility_north"] == pytest.approx(mean, abs=1e-6)
    own = statistics.fmean(float(r["own_utility_north"]) for r in hard)
    assert summary.loc["north=hardliner", "mean_own_utility_north"] == pytest.approx(own, abs=1e-6)
    north = ensemble.result.paired.set_index("measure").loc["utility_north"]
    assert north["value"] == pytest.approx(mean, abs=1e-6) and north["own_value"] == pytest.approx(own, abs=1e-6)
    assert "by its base card" in north["sentence"]
    assert north["sentence"].endswith(f"By its own hardliner card, north's mean utility in this arm is {own:.3f}.")
    south = ensemble.result.paired.set_index("measure").loc["utility_south"]
    assert "own hardliner card" not in south["sentence"] and math.isnan(south["own_value"])
    html = (ensemble.out / "report.html").read_text(encoding="utf-8")
    assert "A second view: the variant cards' own scores" in html
    assert f"<td>north=hardliner</td><td>north</td><td>hardliner</td><td>{mean:.3f}</td><td>{own:.3f}</td>" in html


def test_the_api_returns_dataframes(ensemble: Ensemble) -> None:
    c = ensemble.result
    assert (
        isinstance(c.runs, pd.DataFrame) and isinstance(c.summary, pd.DataFrame) and isinstance(c.paired, pd.DataFrame)
    )
    assert len(c.runs) == 12 and list(c.summary["arm"]) == ARMS
    assert set(c.paired["measure"]) == {"deal", "utility_north", "utility_south", "utility_east"}
    assert c.files["report.html"] == ensemble.out / "report.html" and c.played == 12 and c.reused == 0
    assert c.runs["deal"].dtype == bool


def test_paired_tests_on_a_hand_made_table() -> None:
    # ten seeds: the first arm makes a deal on seeds 1-6; the other on 5, 6 and 10
    first = [True] * 6 + [False] * 4
    other = [False] * 4 + [True, True, False, False, False, True]
    u_first = [0.5] * 10
    u_other = [0.6, 0.7, 0.6, 0.6, 0.6, 0.55, 0.5, 0.5, 0.4, 0.6]  # 7 up, 1 down, 2 ties
    rows = []
    for arm, deals, utilities in (("a", first, u_first), ("b", other, u_other)):
        for seed, (deal, u) in enumerate(zip(deals, utilities, strict=True), 1):
            rows.append(
                {"arm": arm, "seed": seed, "run_id": f"{arm}{seed}", "status": "converged" if deal else "max_rounds",
                 "rounds": 3, "deal": deal, "utility_x": u}
            )  # fmt: skip
    paired = paired_frame(pd.DataFrame(rows), ["a", "b"], ["x"]).set_index("measure")
    deal = paired.loc["deal"]
    # discordant pairs: 4 with a deal only in a (seeds 1-4), 1 only in b (seed 10): exact McNemar p = 2 P(X <= 1), X ~ Bin(5, 1/2)
    assert (deal["up"], deal["down"]) == (1, 4)
    assert deal["p"] == pytest.approx(2 * (1 + 5) / 32)
    assert (deal["first"], deal["value"], deal["difference"]) == pytest.approx((0.6, 0.3, -0.3))
    assert (
        deal["difference_lo"] < -0.3 < deal["difference_hi"]
        and -1 <= deal["difference_lo"]
        and deal["difference_hi"] <= 1
    )
    assert deal["pairs"] == 10
    assert deal["sentence"].startswith(
        "b lowers the chance of a deal from 60% to 30%, against a (difference -30 points, 95% interval "
    )
    lo, hi = deal["difference_lo"], deal["difference_hi"]
    expected = (
        "b lowers the chance of a deal from 60% to 30%, against a (difference -30 points, "
        f"95% interval {100 * lo:.0f} to {100 * hi:.0f}; exact McNemar p = 0.38, 10 paired seeds)."
    )
    assert deal["sentence"] == expected + (" The interval includes no change." if hi >= 0 else "")
    utility = paired.loc["utility_x"]
    assert (utility["up"], utility["down"]) == (7, 1)
    assert utility["p"] == pytest.approx(2 * (1 + 8) / 256)
    assert utility["difference"] == pytest.approx(np.mean(u_other) - 0.5)
    assert "raises x's mean utility from 0.500 to 0.565" in utility["sentence"]
    assert "exact sign test p = 0.07, 10 paired seeds" in utility["sentence"]
    again = paired_frame(pd.DataFrame(rows), ["a", "b"], ["x"]).set_index("measure")
    assert again.loc["deal", "difference_lo"] == deal["difference_lo"]  # seeded: the same every time


def test_the_statistics_against_their_definitions() -> None:
    assert mcnemar_exact(10, 0) == pytest.approx(2 / 1024)
    assert mcnemar_exact(3, 3) == 1.0 and mcnemar_exact(0, 0) == 1.0
    assert sign_test([0.1, -0.2, 0.0, 0.3]) == (2, 1, 1.0)
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == 1.0
    assert wilson(3, 10) == pytest.approx(hand_wilson(3, 10))
    assert bootstrap_mean([0.4] * 7, rng_for(0)) == pytest.approx((0.4, 0.4))
    big = np.random.default_rng(1).normal(0.5, 0.1, 2000)
    lo, hi = bootstrap_mean(big, rng_for(1))
    half = 1.96 * big.std(ddof=1) / math.sqrt(big.size)
    assert lo == pytest.approx(big.mean() - half, abs=0.0015) and hi == pytest.approx(big.mean() + half, abs=0.0015)
    scipy_stats = pytest.importorskip("scipy.stats")
    for b, c in ((4, 1), (9, 2), (12, 12), (0, 7)):
        assert mcnemar_exact(b, c) == pytest.approx(scipy_stats.binomtest(min(b, c), b + c, 0.5).pvalue)


# -- the report ----------------------------------------------------------------------------------
def test_the_report_files_hold_their_parts(ensemble: Ensemble) -> None:
    md = (ensemble.out / "report.md").read_text(encoding="utf-8")
    html = (ensemble.out / "report.html").read_text(encoding="utf-8")
    sentence = ensemble.result.paired.set_index("measure").loc["deal", "sentence"]
    assert sentence.startswith("north=hardliner ") and "the chance of a deal" in sentence
    assert ", against baseline" in sentence and "exact McNemar p " in sentence and "6 paired seeds" in sentence
    titles = ["Outcome shares by arm", "Rounds to outcome", "Agreed options by issue", "Utility per actor"]
    titles.append("Differences against baseline")
    for title in titles:
        assert md.count(f"## {title}\n") == 1
        assert html.count(f"<h2>{title}</h2>") == 1
    assert sentence in md and sentence.replace("'", "&#39;") in html
    assert html.count('src="data:image/png;base64,') == len(titles)
    assert 'src="http' not in html and "<script" not in html  # self-contained
    for slug in ("outcomes", "rounds", "options", "utility", "differences"):
        png = ensemble.out / "plots" / f"{slug}.png"
        assert f"](plots/{slug}.png)" in md
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "north=hardliner" in md and "baseline" in md


# -- reuse ---------------------------------------------------------------------------------------
def test_the_same_compare_again_reuses_every_run(ensemble: Ensemble) -> None:
    runs = ensemble.out / "runs"
    before = {p.name: (p / "events.jsonl").stat().st_mtime_ns for p in runs.iterdir()}
    csvs = {name: (ensemble.out / name).read_bytes() for name in ("runs.csv", "summary.csv")}
    seen: list[bool] = []
    again = parley.compare(
        MINI, arms=ARMS, seeds=6, max_rounds=ROUNDS, workers=2, out=ensemble.out, report=False,
        on_run=lambda arm, row, reused: seen.append(reused),
    )  # fmt: skip
    assert again.played == 0 and again.reused == 12 and seen == [True] * 12
    assert {p.name: (p / "events.jsonl").stat().st_mtime_ns for p in runs.iterdir()} == before
    for name, data in csvs.items():
        assert (ensemble.out / name).read_bytes() == data


def test_an_interrupted_compare_resumes(ensemble: Ensemble, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(ensemble.out, out)
    index = (out / "index.jsonl").read_text().splitlines()
    lost, cut = json.loads(index[-1]), json.loads(index[-2])
    (out / "index.jsonl").write_text("\n".join(index[:-2]) + '\n{"key": "half a li')  # killed while writing
    events = (out / "runs" / cut["run_id"] / "events.jsonl").read_text().splitlines(keepends=True)
    (out / "runs" / cut["run_id"] / "events.jsonl").write_text("".join(events[:-3]))  # a run cut short
    again = parley.compare(MINI, arms=ARMS, seeds=6, max_rounds=ROUNDS, workers=1, out=out, report=False)
    assert (again.played, again.reused, again.removed) == (1, 11, [cut["run_id"]])
    assert (out / "runs" / lost["run_id"]).is_dir()  # finished before the kill: adopted, not played again
    assert len(list((out / "runs").iterdir())) == 12
    assert again.runs.drop(columns="run_id").equals(ensemble.result.runs.drop(columns="run_id"))
    assert again.summary.equals(ensemble.result.summary)


def run_key(data: dict) -> str:
    return Manifest.parse(data, "manifest.json").key()


def test_what_identifies_a_run() -> None:
    prepared = prepare_arm(MINI, parse_arm("north=hardliner"), max_rounds=3)
    base = {**prepared.manifest.as_json(), "seed": 1}
    key = run_key(base)
    assert run_key({**base, "run_id": "other", "created_at": "then", "versions": {"rules": RULES}}) == key
    for change in (
        {"seed": 2},
        {"max_rounds": 4},
        {"variants": {}},
        {"backend": "openai", "llm": {"models": {}}},
        {"versions": {}},  # played by older rules: not reused
    ):
        assert run_key({**base, **change}) != key
    edited = json.loads(json.dumps(base))
    edited["personas"]["south"]["sha256"] = "0" * 64
    assert run_key(edited) != key
    edited = json.loads(json.dumps(base))
    name = next(iter(edited["templates"]))
    edited["templates"][name] = "0" * 64
    assert run_key(edited) != key


def test_arms() -> None:
    assert parse_arm("baseline").variants == {} and parse_arm("baseline").label == "baseline"
    arm = parse_arm(" us=hardliner , russia=pragmatic ")
    assert arm.variants == {"us": "hardliner", "russia": "pragmatic"} and arm.label == "us=hardliner,russia=pragmatic"
    assert arm.tag == "-russia=pragmatic-us=hardliner"
    for bad in ("us", "us=", "us=a,us=b", "=x"):
        with pytest.raises(InvalidInput) as exc:
            parse_arm(bad)
        assert len(exc.value.problems) == 1 and str(exc.value.problems[0]).startswith("--variant: ")
    with pytest.raises(InvalidInput, match="the same arm"):
        parley.compare(MINI, arms=["north=hardliner", {"north": "hardliner"}], seeds=1, out="unused")
    with pytest.raises(InvalidInput, match="must be at least 1"):
        parley.compare(MINI, arms=["baseline"], seeds=0, out="unused")
    assert isinstance(Arm("x"), Arm)


# -- variant files and the command line ----------------------------------------------------------
def error_lines(result: Result) -> list[str]:
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert result.returncode == 2, f"exit {result.returncode}\n{output}"
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and all(line.startswith("error: ") for line in lines), lines
    return lines


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def invoke(*args: str, cwd: Path) -> Result:
    """The command through its entry point, in process (an exception that escapes prints a traceback)."""
    r = command(*args, cwd=cwd, env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"})
    return Result(r.returncode, r.stdout, r.stderr)


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Result]]]:
    """Every command-line case, from a folder of their own, through the command's entry point."""
    home = tmp_path_factory.mktemp("cli")
    (home / "good.yaml").write_text(GOOD_VARIANT)
    (home / "bad.yaml").write_text(BAD_VARIANT)
    (home / "broken.yaml").write_text("actor: north\nname: x\ntraits: [\n")
    (home / "stranger.yaml").write_text("actor: atlantis\nname: sunk\ndescription: gone\n")
    (home / "clash.yaml").write_text("actor: north\nname: hardliner\ndescription: again\n")
    (home / "a-file").write_text("not a folder\n")
    world = str(MINI)
    common = ["--seeds", "2", "--max-rounds", "3", "--workers", "1"]
    cases = {
        "good": ["compare", world, "--variant", "baseline", "--variant-file", "good.yaml", *common, "--out", "good"],
        "bad": ["compare", world, "--variant", "baseline", "--variant-file", "bad.yaml", *common, "--out", "x"],
        "broken": ["compare", world, "--variant-file", "broken.yaml", *common, "--out", "x"],
        "stranger": ["compare", world, "--variant-file", "stranger.yaml", *common, "--out", "x"],
        "clash": ["compare", world, "--variant-file", "clash.yaml", *common, "--out", "x"],
        "actor": ["compare", world, "--variant", "atlantis=sunk", *common, "--out", "x"],
        "variant": ["compare", world, "--variant", "north=nope", *common, "--out", "x"],
        "seeds": ["compare", world, "--variant", "baseline", "--seeds", "0", "--out", "x"],
        "out": ["compare", world, "--variant", "baseline", *common, "--out", "a-file"],
        "none": ["compare", world, *common, "--out", "x"],
    }
    yield home, {k: invoke(*args, cwd=home) for k, args in cases.items()}


def test_the_command_line_end_to_end_with_a_variant_file(cli_runs: tuple[Path, dict]) -> None:
    home, results = cli_runs
    good = results["good"]
    assert good.returncode == 0, good.stderr
    assert "Traceback" not in good.stdout + good.stderr
    assert "baseline" in good.stdout and "north=isolationist" in good.stdout and "Deal (95% interval)" in good.stdout
    assert "4 run(s) played, 0 reused" in good.stdout
    out = home / "good"
    for name in ("runs.csv", "summary.csv", "report.md", "report.html"):
        assert (out / name).is_file()
    rows = read_csv(out / "runs.csv")
    assert [(r["arm"], r["seed"]) for r in rows] == [
        ("baseline", "1"), ("baseline", "2"), ("north=isolationist", "1"), ("north=isolationist", "2")
    ]  # fmt: skip
    folder = out / "runs" / rows[2]["run_id"]
    m = manifest(folder)
    assert m["variants"] == {"north": "isolationist"}
    assert m["variant_files"]["north"]["name"] == "isolationist"
    assert (folder / m["variant_files"]["north"]["file"]).read_text() == GOOD_VARIANT
    assert not (out / "runs" / rows[0]["run_id"] / "variants").exists()
    # the copy kept in the run folder is enough to play it again, event for event
    files = Manifest.read(folder).variant_files_of(folder)
    prepared = prepare_arm(MINI, Arm("north=isolationist", {}, files), max_rounds=3)
    recorded = read_events(folder / "events.jsonl")
    sink = EventSink(None, expected=recorded)
    execute(
        prepared.scenario, prepared.templates, prepared.space, offline_cast(prepared.templates, 1), 1, 3, None, sink
    )
    assert sink.index == len(recorded)
    assert prepared.scenario.personas["north"].traits.patience.value == 0.9
    from parley.runs.replay import replay

    assert replay(folder).identical  # `parley replay` finds the variant file the run kept


def test_a_bad_variant_file_is_one_line_per_problem_naming_file_and_field(cli_runs: tuple[Path, dict]) -> None:
    _, results = cli_runs
    lines = error_lines(results["bad"])
    assert lines == [
        "error: bad.yaml: traits.patience.value: Input should be less than or equal to 1 (got 1.9)",
        "error: bad.yaml: traits.bravery: unknown field (check the spelling)",
        "error: bad.yaml: preferences.price.values.cheap: issue 'price' has no option 'cheap' (options: low, mid, high)",
    ]
    (line,) = error_lines(results["broken"])
    assert line.startswith("error: broken.yaml: not valid YAML: line 4")
    assert error_lines(results["stranger"]) == [
        "error: stranger.yaml: actor: unknown actor 'atlantis' (actors: north, south, east)"
    ]
    (line,) = error_lines(results["clash"])
    assert line.startswith("error: clash.yaml: name: 'hardliner' is already a variant in ")


def test_bad_arms_and_options_are_one_line_errors(cli_runs: tuple[Path, dict]) -> None:
    home, results = cli_runs
    assert error_lines(results["actor"]) == [
        "error: --variant: atlantis: unknown actor 'atlantis' (actors: north, south, east)"
    ]
    (line,) = error_lines(results["variant"])
    assert "north.yaml: variants: no variant 'nope' for actor 'north' (variants: hardliner)" in line
    assert error_lines(results["seeds"]) == ["error: --seeds 0: must be at least 1"]
    assert error_lines(results["out"]) == ["error: --out: a-file: is a file, not a folder"]
    (line,) = error_lines(results["none"])
    assert "no arms to play" in line
    assert not (home / "x").exists()  # nothing is created before every arm checks out


def test_a_variant_file_arm_from_python(tmp_path: Path) -> None:
    path = tmp_path / "v.yaml"
    path.write_text(GOOD_VARIANT)
    arm = file_arm(path)
    assert arm.label == "north=isolationist" and arm.files["north"].overlay["no_deal"] == {"value": 0.5}
    assert as_arm(str(path)).setting == as_arm(path).setting == arm.setting
    path.write_text(BAD_VARIANT)
    with pytest.raises(InvalidInput) as exc:
        parley.compare(MINI, arms=["baseline", path], seeds=1, out=tmp_path / "o")
    assert [p.field for p in exc.value.problems] == [
        "traits.patience.value",
        "traits.bravery",
        "preferences.price.values.cheap",
    ]


# -- LLM personas --------------------------------------------------------------------------------
def test_an_llm_ensemble_shares_one_backend(tmp_path: Path) -> None:
    with FakeOpenAI(accept=False) as server:
        backend = LLMBackend(
            LLMSettings(model="fake", base_url=server.url, cache_dir=tmp_path / "cache", prices=None, concurrency=3)
        )
        try:
            result = parley.compare(
                MINI, arms=ARMS, seeds=2, max_rounds=2, workers=4, out=tmp_path / "out", llm=backend, report=False
            )
            calls = sum(a["calls"] for a in backend.ledger.summary()["actors"].values())
            again = parley.compare(
                MINI, arms=ARMS, seeds=2, max_rounds=2, workers=4, out=tmp_path / "out", llm=backend, report=False
            )
        finally:
            backend.close()
        requests = len(server.requests)
    assert (result.played, again.played, again.reused) == (4, 0, 4)
    assert result.backend == "openai" and list(result.runs["seed"]) == [1, 2, 1, 2]
    logged = 0
    for run_id in result.runs["run_id"]:
        folder = tmp_path / "out" / "runs" / run_id
        m = manifest(folder)
        assert m["backend"] == "openai" and m["llm"]["models"] == {"north": "fake", "south": "fake", "east": "fake"}
        logged += sum(e["type"] == "llm_call" for e in read_events(folder / "events.jsonl"))
    assert logged == calls == requests > 0  # every call of every run went through the one backend's client and ledger


def test_an_llm_budget_is_one_budget_for_the_whole_compare(tmp_path: Path) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text("models:\n  fake: {input: 10.0, output: 10.0}\n")
    with FakeOpenAI(accept=False) as server:
        settings = LLMSettings(
            model="fake", base_url=server.url, cache_dir=None, prices=prices, budget_usd=0.05, max_reasks=0
        )
        result = parley.compare(
            MINI, arms=ARMS, seeds=2, max_rounds=6, workers=1, out=tmp_path / "out", llm=settings, report=False
        )
    assert result.played == 1 and list(result.runs["status"]) == ["budget_exhausted"]
    assert result.stopped == "the LLM budget is spent: 3 run(s) were not played"
    assert result.summary.loc[0, "runs"] == 0 and result.summary.loc[0, "stopped_by_budget"] == 1


def test_a_refused_framework_has_a_share_of_its_own_in_the_summary() -> None:
    """Under rule ratify a run may end `refused` (a framework a party at war refused): the summary counts
    it, so the shares of an arm add up to one."""
    import pandas as pd

    from parley.ensembles.compare import SHARES, summary_frame

    statuses = ["converged", "refused", "refused", "breakdown"]
    runs = pd.DataFrame(
        {
            "arm": ["baseline"] * 4,
            "status": statuses,
            "rounds": [3, 5, 7, 20],
            "deal": [True, False, False, False],
            "utility_north": [0.6, 0.3, 0.3, 0.4],
            "option_aid": ["some", None, None, None],
        }
    )
    row = summary_frame(runs, ["baseline"], ["north"], ["aid"]).iloc[0]
    assert row["share_refused"] == pytest.approx(0.5)
    assert sum(row[f"share_{s}"] for s in SHARES) == pytest.approx(1.0)
