"""The space of packages (one option per issue) and every actor's utility over it, as numpy arrays.

A package is an int vector: `package[i]` is the index of the chosen option of issue `i`. Utilities
are additive, so the space (often 10^8 packages and more) is never enumerated: searches work issue
by issue, either separably (weighted sums) or over a Pareto frontier of partial packages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from parley.world.persona import Persona
from parley.world.world import World

NEG = -1e9  # utility of an option that does not exist or is ruled out
ENCODED_KEPT = 1024  # encoded packages an issue space remembers


@dataclass(frozen=True)
class IssueSpace:
    issues: list[str]
    options: list[list[str]]
    actors: list[str]
    weights: np.ndarray  # (actors, issues): normalised to sum 1 per actor
    scores: np.ndarray  # (actors, issues, max_options): 0 worst .. 1 best; 0 where padded
    values: np.ndarray  # (actors, issues, max_options): weight * score; NEG where padded
    allowed: np.ndarray  # (actors, issues, max_options): False where the actor's red line excludes it
    no_deal: np.ndarray  # (actors,)
    core_hits: np.ndarray = None  # type: ignore[assignment]  # (actors, issues, max_options): meets a core aim
    core_need: np.ndarray = None  # type: ignore[assignment]  # (actors,): core aims a package must meet (0: none)
    refused: np.ndarray = None  # type: ignore[assignment]  # (actors,): a framework refused, the war going on
    cache: dict = field(default_factory=dict, compare=False, repr=False)  # benchmarks computed once per space

    def __post_init__(self) -> None:
        """A space made by hand (tests) has no cores, and values a refused framework as no deal."""
        if self.core_hits is None:
            object.__setattr__(self, "core_hits", np.zeros(self.values.shape, dtype=bool))
        if self.core_need is None:
            object.__setattr__(self, "core_need", np.zeros(len(self.actors), dtype=np.int64))
        if self.refused is None:
            object.__setattr__(self, "refused", np.array(self.no_deal, dtype=float))

    @classmethod
    def build(cls, world: World, personas: dict[str, Persona]) -> IssueSpace:
        issues = [i.id for i in world.issues]
        options = [i.option_ids() for i in world.issues]
        actors = world.actor_ids()
        k = max(len(o) for o in options)
        values = np.full((len(actors), len(issues), k), NEG)
        weights = np.zeros((len(actors), len(issues)))
        scores = np.zeros((len(actors), len(issues), k))
        allowed = np.zeros((len(actors), len(issues), k), dtype=bool)
        core_hits = np.zeros((len(actors), len(issues), k), dtype=bool)
        core_need = np.zeros(len(actors), dtype=np.int64)
        for a, actor in enumerate(actors):
            p = personas[actor]
            total = sum(pref.weight for pref in p.preferences.values())
            for i, (issue, opts) in enumerate(zip(issues, options, strict=True)):
                pref = p.preferences.get(issue)
                allowed[a, i, : len(opts)] = True
                weights[a, i] = 0.0 if pref is None else pref.weight / total
                for j, opt in enumerate(opts):
                    scores[a, i, j] = 0.0 if pref is None else pref.values.get(opt, 0.0)
                    values[a, i, j] = weights[a, i] * scores[a, i, j]
            for line in p.red_lines:
                i = issues.index(line.issue)
                for opt in line.excludes:
                    allowed[a, i, options[i].index(opt)] = False
            if p.core is not None:
                core_need[a] = p.core.at_least
                for aim in p.core.of:
                    i = issues.index(aim.issue)
                    for opt in aim.options:
                        core_hits[a, i, options[i].index(opt)] = True
        no_deal = np.array([personas[a].no_deal.value for a in actors])
        refused = np.array([personas[a].refused_value() for a in actors])
        return cls(issues, options, actors, weights, scores, values, allowed, no_deal, core_hits, core_need, refused)

    # -- conversions ------------------------------------------------------------------------
    def encode(self, package: Mapping[str, str]) -> np.ndarray:
        """The package as option indices (read-only: the same few packages are encoded again and
        again, by every actor that sees them, so the answers are kept, a bounded number of them)."""
        known = self.cache.setdefault("encoded", {})
        key = tuple(package.items())
        found = known.get(key)
        if found is None:
            positions = self.cache.get("positions")
            if positions is None:
                positions = self.cache["positions"] = [{o: j for j, o in enumerate(opts)} for opts in self.options]
            found = np.array([positions[i][package[issue]] for i, issue in enumerate(self.issues)])
            found.flags.writeable = False
            if len(known) >= ENCODED_KEPT:
                known.clear()
            known[key] = found
        return found

    def decode(self, package: np.ndarray) -> dict[str, str]:
        return {issue: self.options[i][int(package[i])] for i, issue in enumerate(self.issues)}

    def index(self, actor: str) -> int:
        return self.actors.index(actor)

    @property
    def size(self) -> int:
        return int(np.prod([len(o) for o in self.options], dtype=np.float64))

    # -- evaluation -------------------------------------------------------------------------
    def utilities(self, packages: np.ndarray, values: np.ndarray | None = None) -> np.ndarray:
        """Utilities of packages (m, issues) or one package (issues,): shape (m, actors) or (actors,)."""
        v = self.values if values is None else values
        issues = self._arange()
        if packages.ndim == 1:  # the common case, kept cheap: one package at a time
            return v[:, issues, packages].sum(axis=1)
        return v[:, issues[None, :], packages].sum(axis=-1).T

    def utility(self, package: np.ndarray, actor: int, values: np.ndarray | None = None) -> float:
        """One actor's utility of one package: `utilities(package, values)[actor]`, without the others'."""
        v = self.values if values is None else values
        return float(v[actor][self._arange(), package].sum())

    def sums(self, packages: np.ndarray, tables: np.ndarray) -> np.ndarray:
        """Packages (m, issues) valued by one value table (issues, options): (m,); or by a stack of
        them (n, issues, options): (m, n). For callers that value many batches by the same tables."""
        return tables[..., self._arange()[None, :], packages].sum(axis=-1).T

    def _arange(self) -> np.ndarray:
        issues = self.cache.get("arange")
        if issues is None:
            issues = self.cache["arange"] = np.arange(len(self.issues))
        return issues

    def crosses(self, packages: np.ndarray, actors: list[int] | None = None) -> np.ndarray:
        """Whether each package crosses a red line of any of `actors` (all actors when None)."""
        a = list(range(len(self.actors))) if actors is None else actors
        p = np.atleast_2d(packages)
        ok = self.allowed[a][:, np.arange(len(self.issues))[None, :], p].all(axis=-1).all(axis=0)
        return ~ok if packages.ndim != 1 else ~ok[0]

    def core_counts(self, packages: np.ndarray, actors: list[int] | None = None) -> np.ndarray:
        """How many of each actor's core aims each package meets: (m, actors), or (actors,) for one."""
        a = list(range(len(self.actors))) if actors is None else actors
        p = np.atleast_2d(packages)
        counts = self.core_hits[a][:, self._arange()[None, :], p].sum(axis=-1).T
        return counts if packages.ndim != 1 else counts[0]

    def meets_cores(self, packages: np.ndarray, actors: list[int] | None = None) -> np.ndarray:
        """Whether each package meets the core of every one of `actors` (all actors when None)."""
        a = list(range(len(self.actors))) if actors is None else actors
        ok = (self.core_counts(packages, a) >= self.core_need[a]).all(axis=-1)
        return ok

    def admissible(self, packages: np.ndarray, actors: list[int] | None = None) -> np.ndarray:
        """Whether `actors` could sign each package at all: no red line crossed, every core met."""
        return ~self.crosses(packages, actors) & self.meets_cores(packages, actors)

    def has_cores(self, actors: list[int]) -> list[int]:
        return [a for a in actors if self.core_need[a] > 0]

    def ideal(self, actor: int) -> np.ndarray:
        masked = np.where(self.allowed[actor], self.values[actor], NEG)
        return masked.argmax(axis=1)

    def feasible_mask(self, actors: list[int]) -> np.ndarray:
        """(issues, max_options): options no red line of `actors` rules out."""
        real = self.values[0] > NEG / 2
        return real & self.allowed[actors].all(axis=0)

    # -- search -----------------------------------------------------------------------------
    def weighted_best(self, weights: np.ndarray, mask: np.ndarray, values: np.ndarray | None = None) -> np.ndarray:
        """For each row of weights (L, actors), the package maximising the weighted sum of utilities.

        Separable, so it is one argmax per issue: (L, issues).
        """
        v = self.values if values is None else values
        score = np.einsum("la,aik->lik", weights, np.where(v > NEG / 2, v, 0.0))
        score = np.where(mask[None], score, NEG)
        return score.argmax(axis=2)

    def neighbours(self, package: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Every package that differs from `package` in exactly one issue, within `mask`."""
        issues, options = np.nonzero(mask)
        keep = options != package[issues]
        issues, options = issues[keep], options[keep]
        out = np.repeat(package[None, :], len(issues), axis=0)
        out[np.arange(len(issues)), issues] = options
        return out

    def frontier(
        self,
        actors: list[int],
        floor: np.ndarray,
        mask: np.ndarray,
        cap: int = 200_000,
        promising: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Packages on the Pareto frontier (for `actors`) among those giving each actor >= floor and
        meeting their cores.

        Built issue by issue: a partial package dominated by another partial package can never
        complete into a frontier package, since both complete the same way. The number of core aims
        met so far counts as one more thing to dominate on, so a partial package that meets fewer
        aims is never pruned for one that meets more only by luck of utility. Returns (packages,
        utilities), or None when the frontier of partial packages grows beyond `cap`. `promising`,
        given the best utilities each partial package could still reach, says which to keep.
        """
        v = np.where(self.values[actors] > NEG / 2, self.values[actors], 0.0)
        v = np.where(mask[None], v, NEG)
        cored = [actors.index(a) for a in self.has_cores(actors)]
        hits = self.core_hits[actors][cored] & mask[None]  # (cored, issues, options)
        need = self.core_need[actors][cored]
        hits_rest = np.zeros((len(self.issues) + 1, len(cored)), dtype=np.int64)
        best_rest = np.zeros((len(self.issues) + 1, len(actors)))
        for i in range(len(self.issues) - 1, -1, -1):
            best_rest[i] = best_rest[i + 1] + v[:, i, :].max(axis=1)
            hits_rest[i] = hits_rest[i + 1] + hits[:, i, :].any(axis=1)
        utils = np.zeros((1, len(actors)))
        counts = np.zeros((1, len(cored)), dtype=np.int64)
        packs = np.zeros((1, 0), dtype=np.int64)
        eps = 1e-12
        for i in range(len(self.issues)):
            opts = np.flatnonzero(mask[i])
            u = (utils[:, None, :] + v[:, i, opts].T[None, :, :]).reshape(-1, len(actors))
            c = (counts[:, None, :] + hits[:, i, opts].T[None, :, :]).reshape(len(u), len(cored))
            p = np.concatenate([np.repeat(packs, len(opts), axis=0), np.tile(opts, len(packs))[:, None]], axis=1)
            reachable = (u + best_rest[i + 1] >= floor - eps).all(axis=1)
            reachable &= (c + hits_rest[i + 1] >= need).all(axis=1)
            if promising is not None:
                reachable &= promising(u + best_rest[i + 1])
            u, c, p = u[reachable], c[reachable], p[reachable]
            if len(u) == 0:
                return np.zeros((0, len(self.issues)), dtype=np.int64), np.zeros((0, len(actors)))
            keep = pareto_mask(np.concatenate([u, np.minimum(c, need)], axis=1)) if cored else pareto_mask(u)
            utils, counts, packs = u[keep], c[keep], p[keep]
            if len(utils) > cap:
                return None
        return packs, utils


def pareto_mask(u: np.ndarray, block: int = 512) -> np.ndarray:
    """Rows of u not dominated by another row (ties: the first copy is kept)."""
    u = np.round(u, 12)
    u, first, inverse = np.unique(u, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(-u.sum(axis=1), kind="stable")
    s = u[order]
    keep = np.ones(len(s), dtype=bool)
    for start in range(0, len(s), block):
        blk = s[start : start + block]
        kept = s[:start][keep[:start]]
        if len(kept):
            dom = (kept[:, None, :] >= blk[None, :, :]).all(axis=2).any(axis=0)
            keep[start : start + block] &= ~dom
        within = (blk[:, None, :] >= blk[None, :, :]).all(axis=2)
        np.fill_diagonal(within, False)
        within &= np.triu(np.ones_like(within), 1)  # an earlier point (higher or equal sum) dominates a later one
        keep[start : start + block] &= ~(within & keep[start : start + block][:, None]).any(axis=0)
    unique_keep = np.zeros(len(u), dtype=bool)
    unique_keep[order[keep]] = True
    out = np.zeros(len(inverse), dtype=bool)
    out[first[unique_keep]] = True
    return out


def nash_package(space: IssueSpace, parties: list[int], floor: np.ndarray) -> tuple[np.ndarray, bool] | None:
    """The package maximising the product of the parties' gains over `floor`, within their red lines.

    Exact (over the Pareto frontier) when the frontier is small enough, else a local search; the
    flag says which. None when no package gives every party more than its floor.
    """
    mask = space.feasible_mask(parties)
    start = _nash_local_search(space, parties, floor, mask)
    promising = None
    if start is not None:  # a known package bounds the search: prune what cannot beat it
        target = float(np.log(space.utilities(start)[parties] - floor).sum()) - 1e-9

        def promising(reachable: np.ndarray) -> np.ndarray:
            gains = np.clip(reachable - floor, 1e-12, None)
            return np.log(gains).sum(axis=1) >= target

    found = space.frontier(parties, floor, mask, cap=4_000, promising=promising)
    if found is not None:
        packs, utils = found
        gains = utils - floor
        ok = (gains > 1e-9).all(axis=1)
        if not ok.any():
            return None
        score = np.where(ok, np.log(np.clip(gains, 1e-12, None)).sum(axis=1), -np.inf)
        return packs[int(score.argmax())], True
    return (start, False) if start is not None else None


def _nash_local_search(space: IssueSpace, parties: list[int], floor: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    def score(p: np.ndarray) -> np.ndarray:
        g = space.utilities(p)[:, parties] - floor
        ok = (g > 1e-9).all(axis=1) & space.meets_cores(p, parties)
        return np.where(ok, np.log(np.clip(g, 1e-12, None)).sum(axis=1), -np.inf)

    rng = np.random.default_rng(0)
    weights = rng.dirichlet(np.ones(len(parties)), size=64)
    full = np.zeros((64, len(space.actors)))
    full[:, parties] = weights
    starts = space.weighted_best(full, mask)
    best, best_score = None, -np.inf
    for p in starts:
        current, s = p, score(p[None])[0]
        while True:
            nb = space.neighbours(current, mask)
            sc = score(nb)
            if len(sc) == 0 or sc.max() <= s + 1e-12:
                break
            current, s = nb[sc.argmax()], sc.max()
        if s > best_score:
            best, best_score = current, s
    return best if np.isfinite(best_score) else None


def is_pareto_optimal(space: IssueSpace, package: np.ndarray, actors: list[int], mask: np.ndarray) -> bool | None:
    """True when no package within `mask` is at least as good for all `actors` and better for one.

    None when the search grows too large to finish (a very large world): unknown, not guessed.
    """
    if _dominated_nearby(space, package, actors, mask):
        return False
    target = space.utilities(package)[actors]
    found = space.frontier(actors, target, mask, cap=50_000)
    if found is None:
        return None
    _, utils = found
    better = (utils >= target - 1e-9).all(axis=1) & (utils > target + 1e-9).any(axis=1)
    return not bool(better.any())


def _dominated_nearby(space: IssueSpace, package: np.ndarray, actors: list[int], mask: np.ndarray) -> bool:
    """Whether a package that changes one, two or three issues of `package` dominates it: the usual
    witness against a deal, found in a millisecond where the exact search takes tens. Utilities are
    additive, so a change's effect is the sum of its issues' effects."""
    v = np.where(space.values[actors] > NEG / 2, space.values[actors], 0.0)
    kept = v[:, np.arange(len(package)), package]
    issues, options = np.nonzero(mask)
    other = options != package[issues]
    issues, options = issues[other], options[other]
    gains = (v[:, issues, options] - kept[:, issues]).T  # (changes, actors)

    cored = space.has_cores(actors)
    if cored:  # a change must keep every core met: the number of aims met moves with it, additively
        hits = space.core_hits[cored]
        have = hits[:, np.arange(len(package)), package]
        lost = (hits[:, issues, options].astype(np.int64) - have[:, issues]).T  # (changes, cored)
        spare = space.core_counts(package, cored) - space.core_need[cored]
    else:
        lost = np.zeros((len(issues), 0), dtype=np.int64)
        spare = np.zeros(0, dtype=np.int64)

    def dominates(total: np.ndarray, moved: np.ndarray, apart: np.ndarray) -> bool:
        kept = (moved + spare >= 0).all(axis=-1)
        return bool(((total >= -1e-9).all(axis=-1) & (total > 1e-9).any(axis=-1) & apart & kept).any())

    if dominates(gains, lost, np.ones(len(gains), dtype=bool)):
        return True
    pairs = gains[:, None, :] + gains[None, :, :]
    moved = lost[:, None, :] + lost[None, :, :]
    apart = issues[:, None] != issues[None, :]
    if dominates(pairs, moved, apart):
        return True
    return any(
        dominates(
            pairs + g[None, None, :], moved + m[None, None, :], apart & (issues[:, None] != i) & (issues[None, :] != i)
        )
        for i, g, m in zip(issues, gains, lost, strict=True)
    )
