"""Whole runs with the offline default: the run folder, determinism, red lines, and the CLI end to end."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import yaml

from parley.runs.folder import read_events
from parley.runs.play import play
from parley.world.scenario import load_scenario
from tests.conftest import MINI, ROOT, UKRAINE, parley


def events_of(folder: Path) -> list[dict]:
    return read_events(folder / "events.jsonl")


def test_run_folder_has_manifest_events_and_transcript(tmp_path: Path) -> None:
    result = play(UKRAINE, seed=1, runs_dir=tmp_path)
    folder = result.folder
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["seed"] == 1 and manifest["backend"] == "offline" and manifest["world"]["id"] == "ukraine-2024"
    assert set(manifest["personas"]) == {"us", "russia", "ukraine", "china", "europe"}
    assert all(len(p["sha256"]) == 64 for p in manifest["personas"].values())
    assert any(k.endswith("propose.j2") for k in manifest["templates"])
    assert {"python", "mesa", "numpy"} <= set(manifest["versions"])
    events = events_of(folder)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert all({"seq", "round", "type"} <= set(e) for e in events)
    last = events[-1]
    assert last["type"] == "outcome" and last["status"] == result.outcome.status
    assert set(last["utilities"]) == set(manifest["personas"])
    transcript = (folder / "transcript.md").read_text()
    assert transcript.startswith("# ") and "## Round 1" in transcript and "## Outcome" in transcript


def test_same_seed_same_events_different_seed_different_run(tmp_path: Path) -> None:
    a = play(UKRAINE, seed=5, runs_dir=tmp_path / "a").folder
    b = play(UKRAINE, seed=5, runs_dir=tmp_path / "b").folder
    c = play(UKRAINE, seed=6, runs_dir=tmp_path / "c").folder
    assert (a / "events.jsonl").read_bytes() == (b / "events.jsonl").read_bytes()
    assert (a / "events.jsonl").read_bytes() != (c / "events.jsonl").read_bytes()


def test_variants_change_the_run_and_are_recorded(tmp_path: Path) -> None:
    base = play(UKRAINE, seed=3, runs_dir=tmp_path)
    hard = play(UKRAINE, seed=3, variants={"us": "hardliner"}, runs_dir=tmp_path)
    manifest = json.loads((hard.folder / "manifest.json").read_text())
    assert manifest["variants"] == {"us": "hardliner"} and manifest["personas"]["us"]["variant"] == "hardliner"
    assert events_of(base.folder) != events_of(hard.folder)


def variant_settings() -> list[dict[str, str]]:
    """Base, every single variant, and a few combinations."""
    settings: list[dict[str, str]] = [{}]
    options: dict[str, list[str]] = {}
    for path in sorted((ROOT / "agents").glob("*.yaml")):
        card = yaml.safe_load(path.read_text())
        options[card["id"]] = list(card.get("variants", {}))
        settings += [{card["id"]: v} for v in card.get("variants", {})]
    us, ru = options.get("us", [])[:2], options.get("russia", [])[:2]
    settings += [{"us": a, "russia": b} for a, b in itertools.product(us, ru)]
    return settings


@pytest.mark.parametrize(
    "variants", variant_settings(), ids=lambda v: ",".join(f"{a}={n}" for a, n in v.items()) or "base"
)
def test_no_one_ever_accepts_across_its_red_lines(tmp_path: Path, variants: dict[str, str]) -> None:
    scenario = load_scenario(UKRAINE, variants)
    # one seed per setting, a different one for each (the claims check covers 50 seeds per arm)
    for seed in (1 + sum(map(ord, repr(sorted(variants.items())))) % 7,):
        result = play(UKRAINE, seed=seed, variants=variants, runs_dir=tmp_path)
        events = events_of(result.folder)
        packages = {e["proposal"]: e["package"] for e in events if e["type"] == "proposal"}
        for e in events:
            if e["type"] == "response" and e["accept"]:
                persona = scenario.personas[e["actor"]]
                crossed = [r.issue for r in persona.red_lines if packages[e["proposal"]][r.issue] in r.excludes]
                assert not crossed, f"{e['actor']} accepted {e['proposal']} across its red line on {crossed}"
        if result.outcome.deal:
            signed = result.outcome.signed or scenario.world.signatories()
            for actor in signed:
                for line in scenario.personas[actor].red_lines:
                    assert result.outcome.deal[line.issue] not in line.excludes
            framework = scenario.world.protocol.framework
            for actor in signed:
                # a ratifier weighs the deal against refusing it: the framework stands, the war goes on
                card = scenario.personas[actor]
                floor = card.no_deal.value if actor in framework else min(card.no_deal.value, card.refused_value())
                assert result.outcome.utilities[actor] >= floor


def test_offline_outcomes_vary_with_persona_and_seed(tmp_path: Path) -> None:
    """The default world is worth watching: over a few seeds and variants, more than one ending occurs."""
    statuses = set()
    for variants, seed in itertools.product([{}, {"us": "dealmaker"}, {"us": "hardliner"}], range(1, 5)):
        statuses.add(play(UKRAINE, seed=seed, variants=variants, runs_dir=tmp_path).outcome.status)
        if len(statuses) >= 2:
            break
    assert len(statuses) >= 2, statuses


# -- the CLI, as a user runs it -------------------------------------------------------------------


def test_cli_run_default_world(tmp_path: Path) -> None:
    done = parley("run", "--seed", "1", "--runs-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "Round  1" in done.stdout and "Outcome:" in done.stdout and "Saved to" in done.stdout
    (folder,) = tmp_path.iterdir()
    assert folder.name in done.stdout.replace("\n", "")
    assert {p.name for p in folder.iterdir()} == {"manifest.json", "events.jsonl", "transcript.md"}
    assert events_of(folder)[-1]["type"] == "outcome"


def test_cli_run_with_variants_and_round_limit(tmp_path: Path) -> None:
    done = parley(
        "run",
        str(MINI),
        "--seed",
        "4",
        "--variant",
        "north=hardliner",
        "--max-rounds",
        "2",
        "--runs-dir",
        str(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    (folder,) = tmp_path.iterdir()
    events = events_of(folder)
    assert max(e["round"] for e in events) <= 2
    assert json.loads((folder / "manifest.json").read_text())["variants"] == {"north": "hardliner"}


def test_cli_validate_default_world() -> None:
    done = parley("validate")
    assert done.returncode == 0, done.stderr
    assert "ok" in done.stdout


def test_cli_unknown_actor_in_variant_is_a_clean_error(tmp_path: Path) -> None:
    done = parley("run", "--variant", "atlantis=hawk", "--runs-dir", str(tmp_path))
    assert done.returncode == 2
    assert "unknown actor 'atlantis'" in done.stderr and "Traceback" not in done.stderr + done.stdout
    assert not tmp_path.exists() or not any(tmp_path.iterdir())
