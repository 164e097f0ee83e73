"""Compare persona variants over seeded ensembles: `parley compare` and `parley.compare(...)`.

Each arm (a setting of persona variants, or `baseline`) plays the same seeds, so runs pair up seed
by seed: a pair shares world, seed and everything else but the variant. The runs are saved (and
replayable) under `OUT/runs/`; `OUT/runs.csv` has a row per run, `OUT/summary.csv` a row per arm;
`OUT/report.md` and `OUT/report.html` show the plots and say, in plain words, how each arm differs
from the first one.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from parley.ensembles.runner import (
    STATUSES,
    Arm,
    Ensemble,
    OnRun,
    Prepared,
    as_arm,
    check_distinct,
    default_workers,
    only_writer,
    prepare_arm,
    run_ensemble,
    warm_workers,
)
from parley.ensembles.scoring import base_space, rescored
from parley.ensembles.stats import (
    bootstrap_mean,
    format_p,
    mcnemar_exact,
    paired_difference,
    rng_for,
    sign_test,
    wilson,
)
from parley.world.problems import InvalidInput, Problem, display_path
from parley.world.scenario import DEFAULT_WORLD

if TYPE_CHECKING:
    from parley.llm.backend import LLMBackend, LLMSettings

SHARES = ("converged", "refused", "stalled", "breakdown", "max_rounds")  # the shares every summary has
# refused: a framework a party at war refused (rule ratify), no peace; 0 under the other rules


@dataclass
class Comparison:
    """What a compare found: DataFrames for notebooks, and where the files are."""

    runs: pd.DataFrame  # one row per run: arm, seed, run_id, status, rounds, deal, utility_<actor>, option_<issue>
    # (utility_<actor> by the actor's base card in every arm; own_utility_<actor>, for an actor some arm
    # plays in a variant, by the card the run played it with)
    summary: pd.DataFrame  # one row per arm
    paired: pd.DataFrame  # one row per (arm after the first, measure): the paired comparison with the first arm
    out: Path
    files: dict[str, Path]
    arms: list[str]
    seeds: list[int]
    actors: list[str]
    issues: dict[str, list[str]]  # issue -> its options, in the world's order
    world: dict[str, str]  # id, title, path
    backend: str
    max_rounds: dict[str, int]
    played: int = 0
    reused: int = 0
    removed: list[str] = field(default_factory=list)
    stopped: str | None = None
    changed: dict[str, dict[str, str]] = field(default_factory=dict)  # arm -> {actor: the variant it plays}

    @property
    def sentences(self) -> list[str]:
        return list(self.paired["sentence"]) if len(self.paired) else []


def seed_list(seeds: int | Iterable[int], first_seed: int = 1) -> list[int]:
    if isinstance(seeds, bool):
        raise InvalidInput([Problem("--seeds", str(seeds), "give a number of seeds")])
    if isinstance(seeds, int):
        if seeds < 1:
            raise InvalidInput([Problem("--seeds", str(seeds), "must be at least 1")])
        if first_seed < 0:
            raise InvalidInput([Problem("--first-seed", str(first_seed), "must be 0 or more")])
        return list(range(first_seed, first_seed + seeds))
    out = [int(s) for s in seeds]
    if not out:
        raise InvalidInput([Problem("--seeds", "", "no seeds given")])
    if len(set(out)) != len(out):
        raise InvalidInput([Problem("--seeds", "", "a seed is given twice")])
    if min(out) < 0:
        raise InvalidInput([Problem("--seeds", str(min(out)), "a seed must be 0 or more")])
    return out


def check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise InvalidInput([Problem("--out", display_path(out), "is a file, not a folder")])
    runs = out / "runs"
    if runs.exists() and not runs.is_dir():
        raise InvalidInput([Problem("--out", display_path(runs), "is a file, not a folder")])


def load_arms(arms: Sequence[Any]) -> list[Arm]:
    """Every arm, with every problem of every arm (a bad variant file, a malformed spec) at once."""
    loaded: list[Arm] = []
    problems: list[Problem] = []
    for value in arms:
        try:
            loaded.append(as_arm(value))
        except InvalidInput as exc:
            problems += exc.problems
    if problems:
        raise InvalidInput(problems)
    if not loaded:
        raise InvalidInput(
            [
                Problem(
                    "--variant", "", "no arms to play: give --variant NAME (baseline for none) or --variant-file FILE"
                )
            ]
        )
    check_distinct(loaded)
    return loaded


def prepare_arms(world: Path | str, arms: list[Arm], max_rounds: int | None, llm: LLMBackend | None) -> list[Prepared]:
    """Load and check every arm; the problems of all of them, each once."""
    prepared: list[Prepared] = []
    problems: list[Problem] = []
    for arm in arms:
        try:
            prepared.append(prepare_arm(world, arm, max_rounds, llm))
        except InvalidInput as exc:
            problems += [p for p in exc.problems if p not in problems]
    if problems:
        raise InvalidInput(problems)
    return prepared


def compare(
    world: Path | str = DEFAULT_WORLD,
    arms: Sequence[Any] = ("baseline",),
    seeds: int | Iterable[int] = 50,
    *,
    first_seed: int = 1,
    workers: int | None = None,
    out: Path | str = "compare",
    max_rounds: int | None = None,
    llm: LLMBackend | LLMSettings | None = None,
    reuse: bool = True,
    on_run: OnRun | None = None,
    on_start: Callable[[list[str], list[int], int], None] | None = None,
    cluster: str | None = None,
) -> Comparison:
    """Play every arm over the same seeds, save the runs under `out/runs`, write the CSVs and the report.

    `arms`: each is 'baseline', 'ACTOR=NAME[,ACTOR=NAME...]', a dict {actor: variant}, or a variant
    file (a Path, or a string ending in .yaml). `seeds`: how many (from `first_seed`), or the seeds themselves. Offline runs play in
    `workers` processes (default: every CPU); with `llm` (a backend, or settings to make one) they
    play in `workers` threads sharing it. Runs the folder already holds are reused unless `reuse` is
    False. `on_start(arm labels, seeds, runs to play)` and `on_run(arm index, row, reused)` report
    progress. `cluster`: play on Dask instead, at a scheduler's address or on `local:N` worker processes
    (`parley.ensembles.cluster`; the runs and the files out are the same). Raises InvalidInput (every
    problem, one line each) before playing anything.
    """
    seeds = seed_list(seeds, first_seed)
    out = Path(out)
    check_out(out)
    if workers is not None and workers < 1:
        raise InvalidInput([Problem("--workers", str(workers), "must be at least 1")])
    if max_rounds is not None and max_rounds < 1:
        raise InvalidInput([Problem("--max-rounds", str(max_rounds), "must be at least 1")])
    loaded = load_arms(arms)
    own = False  # settings: this compare makes the backend, and closes it
    backend = None
    if llm is not None:
        from parley.llm.backend import LLMBackend, LLMSettings  # openai: only for LLM ensembles

        own = isinstance(llm, LLMSettings)
        backend = LLMBackend(llm) if isinstance(llm, LLMSettings) else llm
    if cluster is not None:
        from parley.ensembles.cluster import distributed_module

        distributed_module()  # the extra is missing: say so before loading anything
    elif backend is None and (workers or default_workers()) > 1:
        warm_workers()
    try:
        prepared = prepare_arms(world, loaded, max_rounds, backend)
        with only_writer(out):
            if on_start is not None:
                on_start([a.label for a in loaded], seeds, len(loaded) * len(seeds))
            ensemble = run_ensemble(
                world,
                prepared,
                seeds,
                out,
                workers=workers if workers is not None else (None if backend is None else backend.settings.concurrency),
                llm=backend,
                reuse=reuse,
                on_run=on_run,
                max_rounds=max_rounds,
                cluster=cluster,
            )
            return finish(world, prepared, seeds, out, ensemble, "offline" if backend is None else "openai")
    finally:
        if own and backend is not None:
            backend.close()


def finish(
    world: Path | str,
    prepared: list[Prepared],
    seeds: list[int],
    out: Path,
    ensemble: Ensemble,
    backend: str,
) -> Comparison:
    w = prepared[0].scenario.world
    actors = w.actor_ids()
    issues = {i.id: i.option_ids() for i in w.issues}
    labels = [p.arm.label for p in prepared]
    space = base_space(world)
    rows = [rescored(space, row) for row in ensemble.rows]
    changed = {p.arm.label: changed_actors(p.arm) for p in prepared}
    views = [a for a in actors if any(a in c for c in changed.values())]
    runs = runs_frame(rows, labels, actors, list(issues), views)
    summary = summary_frame(runs, labels, actors, list(issues), views)
    paired = paired_frame(runs, labels, actors, changed)
    files = {"runs.csv": out / "runs.csv", "summary.csv": out / "summary.csv"}
    csv_runs = runs.assign(deal=runs["deal"].map({True: "yes", False: "no"}))
    csv_runs.to_csv(files["runs.csv"], index=False, float_format="%.6g")
    summary.to_csv(files["summary.csv"], index=False, float_format="%.6g")
    comparison = Comparison(
        runs=runs,
        summary=summary,
        paired=paired,
        out=out,
        files=files,
        arms=labels,
        seeds=seeds,
        actors=actors,
        issues=issues,
        world={"id": w.id, "title": w.title, "path": display_path(Path(world))},
        backend=backend,
        max_rounds={p.arm.label: p.rounds for p in prepared},
        played=ensemble.played,
        reused=ensemble.reused,
        removed=ensemble.removed,
        stopped=ensemble.stopped,
        changed={label: c for label, c in changed.items() if c},
    )
    return comparison


def changed_actors(arm: Arm) -> dict[str, str]:
    """The actors an arm plays in a variant, and the variant of each."""
    return {**arm.variants, **{a: f.name for a, f in arm.files.items()}}


# -- tables --------------------------------------------------------------------------------------
def runs_frame(
    rows: list[dict[str, Any]], labels: list[str], actors: list[str], issues: list[str], views: Sequence[str] = ()
) -> pd.DataFrame:
    """One row per run; `views`: the actors whose own_utility_<actor> (by the card played) is kept too."""
    records = []
    for row in rows:
        deal = row.get("deal") or None
        record: dict[str, Any] = {
            "arm": labels[row["arm"]],
            "seed": row["seed"],
            "run_id": row["run_id"],
            "status": row["status"],
            "rounds": row["rounds"],
            "deal": deal is not None,
        }
        for actor in actors:
            value = row["utilities"].get(actor)
            record[f"utility_{actor}"] = float(value) if value is not None else math.nan
        for actor in views:
            value = (row.get("own_utilities") or row["utilities"]).get(actor)
            record[f"own_utility_{actor}"] = float(value) if value is not None else math.nan
        for issue in issues:
            record[f"option_{issue}"] = deal.get(issue) if deal else None
        records.append(record)
    columns = ["arm", "seed", "run_id", "status", "rounds", "deal"]
    columns += [f"utility_{a}" for a in actors] + [f"own_utility_{a}" for a in views] + [f"option_{i}" for i in issues]
    return pd.DataFrame.from_records(records, columns=columns)


def completed(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs that reached an outcome of their own (not stopped by an LLM budget)."""
    return runs[runs["status"] != "budget_exhausted"]


def deal_text(deal: dict[str, str] | tuple) -> str:
    items = deal.items() if isinstance(deal, dict) else deal
    return "; ".join(f"{k}={v}" for k, v in items)


def summary_frame(
    runs: pd.DataFrame, labels: list[str], actors: list[str], issues: list[str], views: Sequence[str] = ()
) -> pd.DataFrame:
    """One row per arm: shares of each outcome with Wilson 95% intervals, median rounds, mean utility
    per actor (by its base card) with seeded bootstrap 95% intervals, the mean utility of each actor
    in `views` by the card each arm played it with, and the most frequent deal."""
    stopped_any = bool((runs["status"] == "budget_exhausted").any())
    records = []
    for a, label in enumerate(labels):
        arm = runs[runs["arm"] == label]
        done = completed(arm)
        n = len(done)
        record: dict[str, Any] = {"arm": label, "runs": n}
        if stopped_any:
            record["stopped_by_budget"] = len(arm) - n
        for status in SHARES:
            k = int((done["status"] == status).sum())
            lo, hi = wilson(k, n)
            record[f"share_{status}"] = k / n if n else math.nan
            record[f"share_{status}_lo"] = lo
            record[f"share_{status}_hi"] = hi
        record["median_rounds"] = float(done["rounds"].median()) if n else math.nan
        for j, actor in enumerate(actors):
            values = done[f"utility_{actor}"].dropna().to_numpy()
            lo, hi = bootstrap_mean(values, rng_for(a, j))
            record[f"mean_utility_{actor}"] = float(values.mean()) if len(values) else math.nan
            record[f"mean_utility_{actor}_lo"] = lo
            record[f"mean_utility_{actor}_hi"] = hi
        for actor in views:
            own = done[f"own_utility_{actor}"].dropna()
            record[f"mean_own_utility_{actor}"] = float(own.mean()) if len(own) else math.nan
        deals = Counter(tuple((i, r[f"option_{i}"]) for i in issues) for _, r in done[done["deal"]].iterrows())
        if deals:
            top, count = deals.most_common(1)[0]  # ties: the deal first reached, in seed order
            record["top_deal"], record["top_deal_count"] = deal_text(top), count
        else:
            record["top_deal"], record["top_deal_count"] = "", 0
        records.append(record)
    return pd.DataFrame.from_records(records)


def paired_frame(
    runs: pd.DataFrame, labels: list[str], actors: list[str], changed: dict[str, dict[str, str]] | None = None
) -> pd.DataFrame:
    """Each arm after the first against the first, over the seeds both completed: the deal rate
    (bootstrap-over-seeds interval of the difference, exact McNemar test) and each actor's mean
    utility by its base card (bootstrap interval, exact sign test). For an actor the arm plays in a
    variant (`changed`: arm -> {actor: variant}), `own_value` is its mean utility by that variant's
    card, a second view the sentence names as such."""
    columns = [
        "arm",
        "against",
        "measure",
        "pairs",
        "first",
        "value",
        "difference",
        "difference_lo",
        "difference_hi",
        "test",
        "up",
        "down",
        "p",
        "own_value",
        "sentence",
    ]
    records: list[dict[str, Any]] = []
    if len(labels) < 2:
        return pd.DataFrame(columns=columns)
    done = completed(runs)
    first = done[done["arm"] == labels[0]].set_index("seed")
    for a, label in enumerate(labels[1:], start=1):
        other = done[done["arm"] == label].set_index("seed")
        seeds = sorted(set(first.index) & set(other.index))
        x, y = first.loc[seeds], other.loc[seeds]
        n = len(seeds)
        dx, dy = x["deal"].astype(float).to_numpy(), y["deal"].astype(float).to_numpy()
        diff, lo, hi = paired_difference(dx, dy, rng_for(a, 1000))
        up, down = int(((dx == 0) & (dy == 1)).sum()), int(((dx == 1) & (dy == 0)).sum())
        p = mcnemar_exact(up, down)
        records.append(
            {
                "arm": label,
                "against": labels[0],
                "measure": "deal",
                "pairs": n,
                "first": dx.mean() if n else math.nan,
                "value": dy.mean() if n else math.nan,
                "difference": diff,
                "difference_lo": lo,
                "difference_hi": hi,
                "test": "exact McNemar",
                "up": up,
                "down": down,
                "p": p,
                "own_value": math.nan,
                "sentence": deal_sentence(label, labels[0], dx, dy, diff, lo, hi, p, n),
            }
        )
        for j, actor in enumerate(actors):
            ux, uy = x[f"utility_{actor}"].to_numpy(float), y[f"utility_{actor}"].to_numpy(float)
            diff, lo, hi = paired_difference(ux, uy, rng_for(a, 1001 + j))
            up, down, p = sign_test(uy - ux)
            variant = (changed or {}).get(label, {}).get(actor)
            own = math.nan
            if variant is not None and f"own_utility_{actor}" in y:
                own = float(y[f"own_utility_{actor}"].to_numpy(float).mean()) if n else math.nan
            sentence = utility_sentence(label, labels[0], actor, ux, uy, diff, lo, hi, p, n)
            if variant is not None and n:
                sentence += f" By its own {variant} card, {actor}'s mean utility in this arm is {own:.3f}."
            records.append(
                {
                    "arm": label,
                    "against": labels[0],
                    "measure": f"utility_{actor}",
                    "pairs": n,
                    "first": ux.mean() if n else math.nan,
                    "value": uy.mean() if n else math.nan,
                    "difference": diff,
                    "difference_lo": lo,
                    "difference_hi": hi,
                    "test": "exact sign test",
                    "up": up,
                    "down": down,
                    "p": p,
                    "own_value": own,
                    "sentence": sentence,
                }
            )
    return pd.DataFrame.from_records(records, columns=columns)


def _seeds(n: int) -> str:
    return f"{n} paired seed{'s' if n != 1 else ''}"


def _chance(lo: float, hi: float, diff: float) -> str:
    return " The interval includes no change." if diff != 0 and lo <= 0 <= hi else ""


def deal_sentence(arm: str, first: str, dx: Any, dy: Any, diff: float, lo: float, hi: float, p: float, n: int) -> str:
    """E.g. 'us=hardliner lowers the chance of a deal from 62% to 18% (difference -44 points, 95%
    interval -58 to -30; exact McNemar p = 0.0001, 50 paired seeds), against us=dealmaker.'"""
    if n == 0:
        return f"{arm} and {first} share no completed seed: no paired comparison."
    a, b = 100 * float(dx.mean()), 100 * float(dy.mean())
    if diff == 0:
        return (
            f"{arm} leaves the chance of a deal at {a:.0f}%, as with {first} "
            f"(exact McNemar {format_p(p)}, {_seeds(n)})."
        )
    verb = "raises" if diff > 0 else "lowers"
    return (
        f"{arm} {verb} the chance of a deal from {a:.0f}% to {b:.0f}%, against {first} "
        f"(difference {100 * diff:+.0f} points, 95% interval {100 * lo:.0f} to {100 * hi:.0f}; "
        f"exact McNemar {format_p(p)}, {_seeds(n)})." + _chance(lo, hi, diff)
    )


def utility_sentence(
    arm: str, first: str, actor: str, ux: Any, uy: Any, diff: float, lo: float, hi: float, p: float, n: int
) -> str:
    if n == 0:
        return f"{arm} and {first} share no completed seed: no paired comparison."
    a, b = float(ux.mean()), float(uy.mean())
    if abs(diff) < 5e-7:
        return f"{arm} leaves {actor}'s mean utility at {a:.3f} by its base card, as with {first} ({_seeds(n)})."
    verb = "raises" if diff > 0 else "lowers"
    return (
        f"{arm} {verb} {actor}'s mean utility from {a:.3f} to {b:.3f} by its base card, against {first} "
        f"(difference {diff:+.3f}, 95% interval {lo:.3f} to {hi:.3f}; exact sign test {format_p(p)}, {_seeds(n)})."
        + _chance(lo, hi, diff)
    )


__all__ = ["STATUSES", "Comparison", "compare", "default_workers"]
