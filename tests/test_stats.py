"""The statistics of a compare, checked against values worked out by hand or by brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest

from parley.ensembles.stats import (
    bootstrap_mean,
    exact_binomial_two_sided,
    format_p,
    mcnemar_exact,
    paired_difference,
    rng_for,
    sign_test,
    wilson,
)


def test_wilson_matches_the_textbook_interval() -> None:
    lo, hi = wilson(8, 10)  # Wilson (1927); also R's prop.test(8, 10, correct=FALSE)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)


def test_wilson_is_exactly_0_and_1_at_the_ends_and_nan_without_runs() -> None:
    assert wilson(0, 20)[0] == 0.0 and wilson(20, 20)[1] == 1.0
    assert all(math.isnan(x) for x in wilson(0, 0))


def test_exact_binomial_is_twice_the_smaller_tail() -> None:
    assert exact_binomial_two_sided(0, 5) == pytest.approx(2 / 32)
    assert exact_binomial_two_sided(2, 4) == 1.0  # capped at 1
    assert exact_binomial_two_sided(0, 0) == 1.0
    brute = 2 * sum(math.comb(12, i) for i in range(3)) / 2**12
    assert exact_binomial_two_sided(10, 12) == pytest.approx(brute)


def test_mcnemar_looks_only_at_discordant_pairs() -> None:
    assert mcnemar_exact(0, 6) == pytest.approx(2 / 64)
    assert mcnemar_exact(3, 3) == 1.0


def test_sign_test_leaves_ties_out() -> None:
    up, down, p = sign_test([0.1, 0.2, 0.0, -0.3, 0.05, 1e-15])
    assert (up, down) == (3, 1) and p == pytest.approx(exact_binomial_two_sided(1, 4))


def test_bootstrap_is_reproducible_for_a_seed_and_covers_the_mean() -> None:
    values = np.linspace(0.0, 1.0, 41)
    first = bootstrap_mean(values, rng_for(1, 2))
    assert first == bootstrap_mean(values, rng_for(1, 2))
    assert first != bootstrap_mean(values, rng_for(1, 3))
    assert first[0] < values.mean() < first[1]
    assert all(math.isnan(x) for x in bootstrap_mean([], rng_for(1)))


def test_bootstrap_in_blocks_draws_what_one_block_would() -> None:
    """Resampling is cut into blocks to bound memory; the interval must not depend on the cut."""
    values = np.arange(300, dtype=float)
    whole = bootstrap_mean(values, rng_for(7), n_boot=50)
    import parley.ensembles.stats as stats

    chunk, stats.CHUNK = stats.CHUNK, 300 * 7  # blocks of 7 resamples
    try:
        assert bootstrap_mean(values, rng_for(7), n_boot=50) == whole
    finally:
        stats.CHUNK = chunk


def test_a_paired_difference_is_other_minus_first() -> None:
    mean, lo, hi = paired_difference([0.5, 0.5, 0.5], [0.6, 0.7, 0.8], rng_for(3))
    assert mean == pytest.approx(0.2) and lo <= mean <= hi
    assert all(math.isnan(x) for x in paired_difference([], [], rng_for(3)))


@pytest.mark.parametrize(
    ("p", "text"),
    [(1.0, "p = 1"), (0.034, "p = 0.03"), (0.00042, "p = 0.0004"), (1e-7, "p < 0.0001"), (math.nan, "p = n/a")],
)
def test_p_values_read_as_an_analyst_writes_them(p: float, text: str) -> None:
    assert format_p(p) == text
