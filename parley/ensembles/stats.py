"""The statistics of a compare: Wilson intervals for shares, seeded bootstrap intervals for means,
and paired tests over seeds (exact McNemar for deal / no deal, exact sign test for utilities).

numpy only; every bootstrap takes its generator from the caller, so results are reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

Z95 = 1.959963984540054  # the normal quantile of 0.975
BOOTSTRAP = 4000  # resamples per interval
BOOTSTRAP_SEED = 20240
CHUNK = 1 << 18  # draws per block of resamples (a few MB at most)


def rng_for(*parts: int) -> np.random.Generator:
    """A generator seeded by the fixed BOOTSTRAP_SEED and `parts` (which arm, which measure), so an
    interval does not depend on the order things are computed in."""
    return np.random.default_rng([BOOTSTRAP_SEED, *parts])


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a share k/n (NaN, NaN when n is 0)."""
    if n == 0:
        return math.nan, math.nan
    p = k / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    # exactly 0 and 1 at the ends (the formula gives them up to rounding)
    return (0.0 if k == 0 else max(0.0, centre - half)), (1.0 if k == n else min(1.0, centre + half))


def bootstrap_mean(values: ArrayLike, rng: np.random.Generator, n_boot: int = BOOTSTRAP) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of a mean (NaN, NaN for no values)."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return math.nan, math.nan
    # resampled in blocks of about 260,000 draws, so memory stays bounded however many runs there
    # are (the draws, and so the interval, are the same as in one block)
    block = max(1, CHUNK // x.size)
    means = np.concatenate(
        [
            x[rng.integers(0, x.size, size=(min(block, n_boot - i), x.size))].mean(axis=1)
            for i in range(0, n_boot, block)
        ]
    )
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(lo), float(hi)


def exact_binomial_two_sided(k: int, n: int) -> float:
    """Two-sided exact p of k successes in n trials at p = 1/2: twice the smaller tail, at most 1."""
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(k, n - k) + 1)) / 2**n
    return min(1.0, 2 * tail)


def mcnemar_exact(b: int, c: int) -> float:
    """Exact McNemar test: of the b + c discordant pairs, is a split this uneven likely at 1/2?"""
    return exact_binomial_two_sided(min(b, c), b + c)


def sign_test(differences: Sequence[float], tolerance: float = 1e-12) -> tuple[int, int, float]:
    """Exact sign test of paired differences: (how many up, how many down, p); ties are left out."""
    d = np.asarray(differences, dtype=float)
    up, down = int((d > tolerance).sum()), int((d < -tolerance).sum())
    return up, down, exact_binomial_two_sided(min(up, down), up + down)


def paired_difference(
    first: ArrayLike, other: ArrayLike, rng: np.random.Generator, n_boot: int = BOOTSTRAP
) -> tuple[float, float, float]:
    """Mean of other - first over paired seeds, with a bootstrap-over-seeds 95% interval."""
    a, b = np.asarray(first, dtype=float), np.asarray(other, dtype=float)
    d = b - a
    if d.size == 0:
        return math.nan, math.nan, math.nan
    lo, hi = bootstrap_mean(d, rng, n_boot)
    return float(d.mean()), lo, hi


def format_p(p: float) -> str:
    """'p = 0.03', 'p = 0.0004', 'p < 0.0001', 'p = 1'."""
    if math.isnan(p):
        return "p = n/a"
    if p >= 0.9999:
        return "p = 1"
    if p >= 0.01:
        return f"p = {p:.2f}"
    if p >= 0.0001:
        return f"p = {p:.4f}"
    return "p < 0.0001"


def bootstrap_ratio(
    numerators: ArrayLike, denominators: ArrayLike, rng: np.random.Generator, n_boot: int = BOOTSTRAP
) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of sum(numerators) / sum(denominators), resampling the units
    (seeds) the pairs belong to: a share or a mean over runs or acts that cluster by seed. Resamples
    with nothing in the denominator are left out; (NaN, NaN) when every one is."""
    return paired_ratio_difference(numerators, denominators, None, None, rng, n_boot)


def paired_ratio_difference(
    num: ArrayLike,
    den: ArrayLike,
    num_first: ArrayLike | None,
    den_first: ArrayLike | None,
    rng: np.random.Generator,
    n_boot: int = BOOTSTRAP,
) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of sum(num)/sum(den) - sum(num_first)/sum(den_first) over
    paired units (seeds), resampled together; without `num_first`, of the first ratio alone."""
    a, b = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    paired = num_first is not None and den_first is not None
    c = np.asarray(num_first if paired else np.zeros_like(a), dtype=float)
    d = np.asarray(den_first if paired else np.ones_like(a), dtype=float)
    if a.size == 0:
        return math.nan, math.nan
    block = max(1, CHUNK // a.size)
    draws = []
    with np.errstate(invalid="ignore", divide="ignore"):
        for i in range(0, n_boot, block):
            idx = rng.integers(0, a.size, size=(min(block, n_boot - i), a.size))
            value = a[idx].sum(axis=1) / b[idx].sum(axis=1)
            if paired:
                value = value - c[idx].sum(axis=1) / d[idx].sum(axis=1)
            draws.append(value)
    found = np.concatenate(draws)
    found = found[np.isfinite(found)]
    if found.size == 0:
        return math.nan, math.nan
    lo, hi = np.percentile(found, [2.5, 97.5])
    return float(lo), float(hi)
