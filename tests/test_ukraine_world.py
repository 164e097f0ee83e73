"""The shipped Ukraine world plays as its article says: its claims are cited and cover what the article
claims, its firm claims hold over a few seeds (the full check is `parley check worlds/ukraine-2024.yaml
--seeds 50`), and its run cap is a pure cap.

Kept small for CI: four runs of the real world.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

import parley
from parley.ensembles.claims import Scorecard
from parley.world.scenario import load_scenario
from tests.conftest import ROOT
from tests.test_play import offline_run

WORLD = ROOT / "worlds" / "ukraine-2024.yaml"


def test_the_world_ships_cited_claims_of_every_kind_the_article_supports() -> None:
    claims = load_scenario(WORLD).world.claims
    assert len(claims) >= 15
    assert all(c.cite for c in claims if c.basis != "design")
    arms = {c.arm.label for c in claims}
    variants = {f"{a}={v}" for c in claims for a, v in c.arm.variants.items()}
    assert {"us=hardliner", "us=dealmaker", "russia=maximalist", "ukraine=defiant"} <= variants
    injects = {Path(c.arm.inject).name for c in claims if c.arm.inject}
    assert {"us-aid-suspended.yaml", "china-mediates.yaml", "kursk-lost.yaml"} <= injects
    assert "actors reversed" in arms
    firm = [c for c in claims if c.stance == "firm" and c.arm.label == "baseline" and c.against is None]
    assert len(firm) >= 8


@pytest.fixture(scope="module")
def firm_claims_checked(tmp_path_factory: pytest.TempPathFactory) -> Scorecard:
    """The firm claims on the baseline, checked over three seeds on a copy of the world."""
    root = tmp_path_factory.mktemp("ukraine")
    for folder in ("worlds", "agents", "prompts"):
        shutil.copytree(ROOT / folder, root / folder)
    world = root / "worlds" / "ukraine-2024.yaml"
    data = yaml.safe_load(world.read_text(encoding="utf-8"))
    data["claims"] = [
        c
        for c in data["claims"]
        if c.get("stance") == "firm" and c.get("arm", "baseline") == "baseline" and "against" not in c
    ]
    world.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return parley.check(world, seeds=3, workers=1, out=root / "check", report=False)


def test_the_firm_claims_hold_in_every_run(firm_claims_checked: Scorecard) -> None:
    card = firm_claims_checked
    assert len(card.results) >= 8
    assert not card.broken, [(r.claim.id, r.value) for r in card.broken]


def test_the_round_cap_changes_nothing_before_it_in_the_ukraine_world() -> None:
    """Seed 19 runs to the cap of 20: with a cap of 40 the first 20 rounds are the same, event for event."""
    short, long = offline_run(WORLD, 19, max_rounds=20), offline_run(WORLD, 19, max_rounds=40)
    assert short.outcome is not None and short.outcome.status == "max_rounds" and short.outcome.round == 20
    before = [e for e in short.events if e["type"] != "outcome"]
    assert before == [e for e in long.events if e["round"] <= 20 and e["type"] != "outcome"]
    assert long.outcome is not None and (long.outcome.round > 20 or long.outcome.status != "max_rounds")
