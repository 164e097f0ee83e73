"""Utilities, searches, the Nash package and the Pareto check, against brute force on small spaces."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from parley.engine.issue_space import IssueSpace, is_pareto_optimal, nash_package, pareto_mask
from parley.world.scenario import load_scenario
from tests.conftest import MINI


@pytest.fixture(scope="module")
def mini() -> IssueSpace:
    s = load_scenario(MINI)
    return IssueSpace.build(s.world, s.personas)


def all_packages(space: IssueSpace) -> np.ndarray:
    return np.array(list(itertools.product(*[range(len(o)) for o in space.options])))


def random_space(seed: int, actors: int = 4, issues: int = 7, options: int = 3) -> IssueSpace:
    rng = np.random.default_rng(seed)
    weights = rng.random((actors, issues))
    weights /= weights.sum(axis=1, keepdims=True)
    scores = rng.random((actors, issues, options))
    allowed = rng.random((actors, issues, options)) > 0.1
    return IssueSpace(
        issues=[f"i{k}" for k in range(issues)],
        options=[[f"o{j}" for j in range(options)] for _ in range(issues)],
        actors=[f"a{k}" for k in range(actors)],
        weights=weights,
        scores=scores,
        values=weights[:, :, None] * scores,
        allowed=allowed,
        no_deal=rng.random(actors) * 0.4,
    )


def test_utility_is_the_weighted_sum_the_cards_give(mini: IssueSpace) -> None:
    # north: price 3, border 2, aid 1 (weights /6); high=1.0, middle_line=0.6, loans=0.8
    package = mini.encode({"price": "high", "border": "middle_line", "aid": "loans"})
    u = dict(zip(mini.actors, mini.utilities(package), strict=True))
    assert u["north"] == pytest.approx((3 * 1.0 + 2 * 0.6 + 1 * 0.8) / 6)
    assert u["south"] == pytest.approx((1 * 0.0 + 3 * 0.5 + 2 * 0.3) / 6)
    # east has no preference over the border: weight 0
    assert u["east"] == pytest.approx((1 * 0.2 + 1 * 0.0) / 2)


def test_batch_utilities_match_one_by_one(mini: IssueSpace) -> None:
    packages = all_packages(mini)
    batch = mini.utilities(packages)
    for p, row in zip(packages, batch, strict=True):
        assert np.allclose(mini.utilities(p), row)


def test_encode_decode_round_trip(mini: IssueSpace) -> None:
    for p in all_packages(mini):
        assert np.array_equal(mini.encode(mini.decode(p)), p)


def test_red_lines(mini: IssueSpace) -> None:
    south = mini.index("south")
    crossing = mini.encode({"price": "mid", "border": "south_line", "aid": "some"})
    fine = mini.encode({"price": "mid", "border": "middle_line", "aid": "some"})
    assert mini.crosses(crossing, [south]) and not mini.crosses(fine, [south])
    assert not mini.crosses(crossing, [mini.index("north")])
    assert mini.crosses(all_packages(mini)).sum() == 12  # 3 prices x 4 aids on the south line


def test_pareto_mask_matches_brute_force() -> None:
    rng = np.random.default_rng(3)
    for n, d in ((50, 2), (400, 3), (1500, 5)):
        u = rng.integers(0, 12, size=(n, d)).astype(float)
        keep = pareto_mask(u)
        dominated = ((u[:, None] >= u[None]).all(2) & (u[:, None] > u[None]).any(2)).any(0)
        assert {tuple(r) for r in u[keep]} == {tuple(r) for r in u[~dominated]}
        assert len(u[keep]) == len({tuple(r) for r in u[keep]})  # each frontier point once


@pytest.mark.parametrize("seed", range(6))
def test_nash_package_is_the_brute_force_optimum(seed: int) -> None:
    space = random_space(seed)
    parties = [0, 1, 2]
    floor = space.no_deal[parties]
    packages = all_packages(space)
    ok = ~space.crosses(packages, parties)
    gains = space.utilities(packages)[:, parties] - floor
    ok &= (gains > 1e-9).all(axis=1)
    found = nash_package(space, parties, floor)
    if not ok.any():
        assert found is None
        return
    best = np.log(gains[ok]).sum(axis=1).max()
    package, exact = found
    assert exact
    assert np.log(space.utilities(package)[parties] - floor).sum() == pytest.approx(best)


@pytest.mark.parametrize("seed", range(8))
def test_pareto_check_matches_brute_force(seed: int) -> None:
    space = random_space(seed, actors=3, issues=6)
    actors = [0, 1, 2]
    mask = space.feasible_mask(actors)
    packages = all_packages(space)
    packages = packages[~space.crosses(packages, actors)]
    u = space.utilities(packages)
    frontier = np.flatnonzero(pareto_mask(u))
    sample = np.random.default_rng(seed).choice(len(packages), size=min(60, len(packages)), replace=False)
    for k in [*sample, *frontier[:10]]:
        dominated = ((u >= u[k] - 1e-12).all(axis=1) & (u > u[k] + 1e-12).any(axis=1)).any()
        assert is_pareto_optimal(space, packages[k], actors, mask) == (not dominated)


def test_weighted_best_is_separable_argmax(mini: IssueSpace) -> None:
    weights = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.5, 0.5, 1.0]])
    mask = mini.feasible_mask([0, 1, 2])
    best = mini.weighted_best(weights, mask)
    packages = all_packages(mini)
    packages = packages[~mini.crosses(packages)]
    for w, b in zip(weights, best, strict=True):
        scores = mini.utilities(packages) @ w
        assert mini.utilities(b) @ w == pytest.approx(scores.max())
