"""The report of a compare: `report.md` (with its plots as PNG files under `plots/`) and a
self-contained `report.html` (the same plots embedded as base64 PNG).

Plots are drawn with matplotlib's Agg renderer on Figure objects (no pyplot, no window, no global
state), so a report can be written from a worker thread, a notebook or a headless server.
"""

from __future__ import annotations

import base64
import io
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import jinja2
import matplotlib
import numpy as np
from matplotlib.figure import Figure

from parley.ensembles.compare import SHARES
from parley.ensembles.stats import format_p

if TYPE_CHECKING:
    import pandas as pd

    from parley.ensembles.compare import Comparison

STATUS_COLOURS = {
    "converged": "#2e7d32",
    "refused": "#ef6c00",
    "stalled": "#f9a825",
    "breakdown": "#c62828",
    "max_rounds": "#90a4ae",
    "budget_exhausted": "#6a1b9a",
}
ARM_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"]
DPI = 100
MPL = tuple(int(x) for x in matplotlib.__version__.split(".")[:2])


@dataclass
class Plot:
    slug: str
    title: str
    caption: str
    png: bytes

    @property
    def base64(self) -> str:
        return base64.b64encode(self.png).decode("ascii")


def arm_colour(i: int) -> str:
    return ARM_COLOURS[i % len(ARM_COLOURS)]


def png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    return buffer.getvalue()


# -- the plots -----------------------------------------------------------------------------------
def outcome_plot(c: Comparison) -> Plot:
    statuses = [s for s in (*SHARES, "budget_exhausted") if (c.runs["status"] == s).any()] or list(SHARES)
    n = len(c.arms)
    fig = Figure(figsize=(8, 0.6 * n + 1.4))
    ax = fig.subplots()
    y = np.arange(n)[::-1]
    left = np.zeros(n)
    for status in statuses:
        shares = np.array([(c.runs[c.runs["arm"] == a]["status"] == status).mean() for a in c.arms], dtype=float)
        shares = np.nan_to_num(shares)
        ax.barh(y, shares, left=left, color=STATUS_COLOURS[status], label=status.replace("_", " "), height=0.6)
        for yi, lft, share in zip(y, left, shares, strict=True):
            if share >= 0.07:
                ax.text(lft + share / 2, yi, f"{share:.0%}", ha="center", va="center", color="white", fontsize=9)
        left += shares
    summary = c.summary.set_index("arm")
    for yi, arm in zip(y, c.arms, strict=True):
        # one cell each: pandas-stubs type a cell as any scalar at all
        lo = cast(float, summary.loc[arm, "share_converged_lo"])
        hi = cast(float, summary.loc[arm, "share_converged_hi"])
        if not math.isnan(lo):
            ax.plot([lo, hi], [yi + 0.36, yi + 0.36], color="black", lw=1.2)
            ax.plot([lo, lo], [yi + 0.32, yi + 0.40], color="black", lw=1.2)
            ax.plot([hi, hi], [yi + 0.32, yi + 0.40], color="black", lw=1.2)
    ax.set_yticks(y, c.arms)
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.set_xlabel("share of runs (black: 95% Wilson interval of the share converged)")
    ax.legend(ncol=len(statuses), loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False, fontsize=9)
    return Plot(
        "outcomes",
        "Outcome shares by arm",
        "How the runs of each arm ended: a deal (converged), stalled, breakdown (a required party walked out), "
        "or the round limit.",
        png(fig),
    )


def rounds_plot(c: Comparison) -> Plot:
    n = len(c.arms)
    fig = Figure(figsize=(8, 0.7 * n + 1.2))
    ax = fig.subplots()
    rng = np.random.default_rng(0)  # jitter only; fixed so the report is the same every time
    y = np.arange(n)[::-1]
    data = [c.runs[c.runs["arm"] == a]["rounds"].to_numpy(float) for a in c.arms]
    horizontal = {"orientation": "horizontal"} if MPL >= (3, 10) else {"vert": False}
    ax.boxplot(data, positions=y, widths=0.5, showfliers=False, **horizontal)
    seen: set[str] = set()
    for yi, arm in zip(y, c.arms, strict=True):
        runs = c.runs[c.runs["arm"] == arm]
        for status, group in runs.groupby("status", sort=False):
            jitter = rng.uniform(-0.18, 0.18, len(group))
            ax.scatter(
                group["rounds"] + rng.uniform(-0.15, 0.15, len(group)),
                yi + jitter,
                s=12,
                alpha=0.7,
                color=STATUS_COLOURS.get(str(status), "black"),
                label=None if status in seen else str(status).replace("_", " "),
                zorder=3,
            )
            seen.add(str(status))
    ax.set_yticks(y, c.arms)
    ax.set_xlabel("rounds to the outcome")
    ax.legend(ncol=len(seen), loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False, fontsize=9)
    return Plot(
        "rounds",
        "Rounds to outcome",
        "Rounds each run took to end, one dot per run coloured by outcome; the box spans the middle half.",
        png(fig),
    )


def options_plot(c: Comparison) -> Plot:
    deals = c.runs[c.runs["deal"]]
    issues = list(c.issues)
    cols = 1 if len(issues) == 1 else 2 if len(issues) <= 4 else 3
    rows = math.ceil(len(issues) / cols)
    height = sum(
        0.28 * max(len(c.issues[i]) for i in issues[r * cols : (r + 1) * cols]) * len(c.arms) for r in range(rows)
    )
    fig = Figure(figsize=(4.2 * cols, max(2.5, height + 0.9 * rows)), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    width = 0.8 / len(c.arms)
    for ax, issue in zip(axes, issues, strict=False):
        options = c.issues[issue]
        y = np.arange(len(options))[::-1]
        for a, arm in enumerate(c.arms):
            chosen = deals[deals["arm"] == arm][f"option_{issue}"]
            shares = [(chosen == o).mean() if len(chosen) else 0.0 for o in options]
            ax.barh(y + 0.4 - width * (a + 0.5), shares, height=width, color=arm_colour(a), label=arm)
        ax.set_yticks(y, options, fontsize=8)
        ax.set_xlim(0, 1)
        ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
        ax.tick_params(axis="x", labelsize=8)
        ax.set_title(issue, fontsize=10)
    for ax in axes[len(issues) :]:
        ax.set_visible(False)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside upper center", ncol=min(len(c.arms), 4), frameon=False, fontsize=9)
    if deals.empty:
        fig.suptitle("no run reached a deal", fontsize=11)
    return Plot(
        "options",
        "Agreed options by issue",
        "For each issue, the share of each arm's deals that settled on each option (runs without a deal left out).",
        png(fig),
    )


def utility_plot(c: Comparison) -> Plot:
    summary = c.summary.set_index("arm")
    fig = Figure(figsize=(max(6, 1.3 * len(c.actors) + 2), 3.8))
    ax = fig.subplots()
    x = np.arange(len(c.actors))
    step = 0.7 / max(1, len(c.arms))
    for a, arm in enumerate(c.arms):
        means = np.array([summary.loc[arm, f"mean_utility_{actor}"] for actor in c.actors], dtype=float)
        lo = np.array([summary.loc[arm, f"mean_utility_{actor}_lo"] for actor in c.actors], dtype=float)
        hi = np.array([summary.loc[arm, f"mean_utility_{actor}_hi"] for actor in c.actors], dtype=float)
        xs = x - 0.35 + step * (a + 0.5)
        runs = c.runs[c.runs["arm"] == arm]
        for k, actor in enumerate(c.actors):
            values = runs[f"utility_{actor}"].to_numpy(float)
            ax.scatter(np.full(len(values), xs[k]), values, s=8, alpha=0.15, color=arm_colour(a), zorder=2)
        ax.errorbar(
            xs,
            means,
            yerr=[np.nan_to_num(means - lo), np.nan_to_num(hi - means)],
            fmt="o",
            color=arm_colour(a),
            capsize=3,
            label=arm,
            zorder=3,
        )
    ax.set_xticks(x, c.actors)
    ax.set_ylabel("utility (0..1)")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(ncol=min(len(c.arms), 4), loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False, fontsize=9)
    return Plot(
        "utility",
        "Utility per actor",
        "Each actor's mean utility per arm, by its base card in every arm, with its 95% bootstrap interval "
        "(faint dots: single runs; a run without a deal counts the base card's no-deal value).",
        png(fig),
    )


def differences_plot(c: Comparison) -> Plot | None:
    if len(c.arms) < 2 or c.paired.empty:
        return None
    others = c.arms[1:]
    fig = Figure(figsize=(9, 0.5 * len(others) * (1 + len(c.actors)) + 1.5), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[1, 1.4])
    deal = c.paired[c.paired["measure"] == "deal"].set_index("arm")
    y = np.arange(len(others))[::-1]
    for yi, arm in zip(y, others, strict=True):
        r = deal.loc[arm]
        a = c.arms.index(arm)
        left.errorbar(
            [100 * r["difference"]],
            [yi],
            xerr=[[100 * (r["difference"] - r["difference_lo"])], [100 * (r["difference_hi"] - r["difference"])]],
            fmt="o",
            color=arm_colour(a),
            capsize=3,
        )
    left.axvline(0, color="grey", lw=0.8)
    left.set_ylim(-0.7, len(others) - 0.3)
    reach = np.nanmax(np.abs(100 * deal.loc[others, ["difference_lo", "difference_hi"]].to_numpy(float)), initial=0)
    left.set_xlim(-max(10.0, 1.1 * reach), max(10.0, 1.1 * reach))
    left.set_yticks(y, others)
    left.set_xlabel("change in the chance of a deal (points)")
    left.set_title("deal rate", fontsize=10)
    rows = [(arm, actor) for arm in others for actor in c.actors]
    y2 = np.arange(len(rows))[::-1]
    table = c.paired.set_index(["arm", "measure"])
    for yi, (arm, actor) in zip(y2, rows, strict=True):
        r = cast("pd.Series", table.loc[(arm, f"utility_{actor}")])  # a full key of the MultiIndex: one row
        right.errorbar(
            [r["difference"]],
            [yi],
            xerr=[[r["difference"] - r["difference_lo"]], [r["difference_hi"] - r["difference"]]],
            fmt="o",
            color=arm_colour(c.arms.index(arm)),
            capsize=3,
        )
    right.axvline(0, color="grey", lw=0.8)
    right.set_ylim(-0.7, len(rows) - 0.3)
    right.set_yticks(y2, [f"{actor} ({arm})" for arm, actor in rows], fontsize=8)
    right.set_xlabel("change in mean utility")
    right.set_title("utility per actor", fontsize=10)
    return Plot(
        "differences",
        f"Differences against {c.arms[0]}",
        f"Each arm minus {c.arms[0]} over the same seeds, with 95% intervals from a bootstrap over seeds.",
        png(fig),
    )


def plots(c: Comparison) -> list[Plot]:
    found = [outcome_plot(c), rounds_plot(c), options_plot(c), utility_plot(c), differences_plot(c)]
    return [p for p in found if p is not None]


# -- the documents -------------------------------------------------------------------------------
def pct(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.0f}%"


def num(x: object, digits: int = 3) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def context(c: Comparison, figures: list[Plot]) -> dict[str, Any]:
    summary = c.summary
    shares = list(SHARES)
    outcome_rows = []
    for _, r in summary.iterrows():
        outcome_rows.append(
            [r["arm"], str(int(r["runs"]))]
            + [f"{pct(r[f'share_{s}'])} ({pct(r[f'share_{s}_lo'])}-{pct(r[f'share_{s}_hi'])})" for s in shares]
            + [num(r["median_rounds"], 1)]
        )
    utility_rows = []
    for _, r in summary.iterrows():
        utility_rows.append(
            [r["arm"]]
            + [
                f"{num(r[f'mean_utility_{a}'])} ({num(r[f'mean_utility_{a}_lo'])}-{num(r[f'mean_utility_{a}_hi'])})"
                for a in c.actors
            ]
        )
    own_rows = [
        [arm, actor, variant, num(r[f"mean_utility_{actor}"]), num(r[f"mean_own_utility_{actor}"])]
        for arm, changed in c.changed.items()
        for r in [summary.set_index("arm").loc[arm]]
        for actor, variant in changed.items()
        if f"mean_own_utility_{actor}" in summary
    ]
    deals = [
        {"arm": r["arm"], "count": int(r["top_deal_count"]), "runs": int(r["runs"]), "deal": r["top_deal"]}
        for _, r in summary.iterrows()
    ]
    paired = []
    if not c.paired.empty:
        for arm in c.arms[1:]:
            rows = c.paired[c.paired["arm"] == arm]
            paired.append(
                {
                    "arm": arm,
                    "sentences": list(rows["sentence"]),
                    "table": [
                        [
                            "deal rate" if r["measure"] == "deal" else r["measure"].removeprefix("utility_"),
                            pct(r["first"]) if r["measure"] == "deal" else num(r["first"]),
                            pct(r["value"]) if r["measure"] == "deal" else num(r["value"]),
                            (
                                f"{100 * r['difference']:+.0f} pts"
                                if r["measure"] == "deal"
                                else f"{r['difference']:+.3f}"
                            )
                            if not math.isnan(r["difference"])
                            else "n/a",
                            (
                                f"{100 * r['difference_lo']:.0f} to {100 * r['difference_hi']:.0f}"
                                if r["measure"] == "deal"
                                else f"{r['difference_lo']:.3f} to {r['difference_hi']:.3f}"
                            )
                            if not math.isnan(r["difference_lo"])
                            else "n/a",
                            f"{r['test']}: {r['up']} up, {r['down']} down, {format_p(r['p'])}",
                        ]
                        for _, r in rows.iterrows()
                    ],
                }
            )
    return {
        "c": c,
        "created": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "seeds": f"{c.seeds[0]}-{c.seeds[-1]}"
        if c.seeds == list(range(c.seeds[0], c.seeds[-1] + 1))
        else ", ".join(map(str, c.seeds)),
        "max_rounds": ", ".join(sorted({str(v) for v in c.max_rounds.values()})),
        "outcome_head": ["Arm", "Runs", *[s.replace("_", " ") for s in shares], "Median rounds"],
        "outcome_rows": outcome_rows,
        "utility_head": ["Arm", *c.actors],
        "utility_rows": utility_rows,
        "own_head": ["Arm", "Actor", "Played as", "By its base card", "By the card played"],
        "own_rows": own_rows,
        "deals": deals,
        "paired": paired,
        "paired_head": ["Measure", c.arms[0], "this arm", "difference", "95% interval", "test"],
        "plots": figures,
        "runs_dir": (c.out / "runs").as_posix(),
    }


MARKDOWN = """\
# Compare: {{ c.world.title }}

World `{{ c.world.path }}` ({{ c.world.id }}); {{ c.arms | length }} arm(s): {% for a in c.arms %}`{{ a }}`{{ ", " if not loop.last }}{% endfor %}; \
seeds {{ seeds }} ({{ c.seeds | length }} per arm, the same in every arm); backend {{ c.backend }}; at most {{ max_rounds }} rounds. \
{{ c.played }} run(s) played, {{ c.reused }} reused. Written {{ created }}.
{% if c.stopped %}
**Stopped early: {{ c.stopped }}.** Runs stopped by the budget are left out of every share and mean.
{% endif %}
## Outcomes

| {{ outcome_head | join(" | ") }} |
|{% for h in outcome_head %}---|{% endfor %}
{% for row in outcome_rows %}| {{ row | join(" | ") }} |
{% endfor %}
Shares with their 95% Wilson interval.
{% if paired %}
## Against {{ c.arms[0] }}

Each arm against the first over the same seeds: the interval of a difference comes from a bootstrap over seeds; \
the deal rate is tested with an exact McNemar test on the seeds where one arm made a deal and the other did not, \
a mean utility with an exact sign test on the seeds where it differs.
{% for p in paired %}
### {{ p.arm }}

{% for s in p.sentences %}- {{ s }}
{% endfor %}
| {{ paired_head | join(" | ") }} |
|{% for h in paired_head %}---|{% endfor %}
{% for row in p.table %}| {{ row | join(" | ") }} |
{% endfor %}{% endfor %}{% endif %}
## Mean utility per actor

| {{ utility_head | join(" | ") }} |
|{% for h in utility_head %}---|{% endfor %}
{% for row in utility_rows %}| {{ row | join(" | ") }} |
{% endfor %}
Means with a 95% bootstrap interval. Every arm is scored by the actors' base cards (a run without a deal \
counts the base card's no-deal value), so a variant is judged by what the actor wanted to begin with.
{% if own_rows %}
### A second view: the variant cards' own scores

Not the comparison: what the card an arm played an actor with says of the same runs.

| {{ own_head | join(" | ") }} |
|{% for h in own_head %}---|{% endfor %}
{% for row in own_rows %}| {{ row | join(" | ") }} |
{% endfor %}{% endif %}

## Most frequent deal

{% for d in deals %}- **{{ d.arm }}**: {% if d.count %}{{ d.count }} of {{ d.runs }} runs: {{ d.deal }}{% else %}no deal{% endif %}
{% endfor %}
{% for p in plots %}
## {{ p.title }}

![{{ p.title }}](plots/{{ p.slug }}.png)

{{ p.caption }}
{% endfor %}
## Files

`runs.csv` (one row per run), `summary.csv` (one row per arm); the runs are in `{{ runs_dir }}`: \
`parley show RUN --runs-dir {{ runs_dir }}`, `parley replay RUN --runs-dir {{ runs_dir }}`.
"""

HTML = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Compare: {{ c.world.title }}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 1000px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3em 0.7em; text-align: left; }
th { background: #f4f4f4; }
figure { margin: 1em 0; }
figure img { max-width: 100%; }
figcaption, .note { color: #555; font-size: 0.9em; }
.sentence { margin: 0.3em 0; }
.stopped { color: #a00; font-weight: bold; }
code { background: #f4f4f4; padding: 0 0.2em; }
</style>
</head>
<body>
<h1>Compare: {{ c.world.title }}</h1>
<p>World <code>{{ c.world.path }}</code> ({{ c.world.id }}); {{ c.arms | length }} arm(s):
{% for a in c.arms %}<code>{{ a }}</code>{{ ", " if not loop.last }}{% endfor %}; seeds {{ seeds }}
({{ c.seeds | length }} per arm, the same in every arm); backend {{ c.backend }}; at most {{ max_rounds }} rounds.
{{ c.played }} run(s) played, {{ c.reused }} reused. Written {{ created }}.</p>
{% if c.stopped %}<p class="stopped">Stopped early: {{ c.stopped }}. Runs stopped by the budget are left out of every share and mean.</p>{% endif %}

<h2>Outcomes</h2>
<table>
<tr>{% for h in outcome_head %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in outcome_rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</table>
<p class="note">Shares with their 95% Wilson interval.</p>
{% if paired %}
<h2>Against {{ c.arms[0] }}</h2>
<p class="note">Each arm against the first over the same seeds: the interval of a difference comes from a bootstrap
over seeds; the deal rate is tested with an exact McNemar test on the seeds where one arm made a deal and the other
did not, a mean utility with an exact sign test on the seeds where it differs.</p>
{% for p in paired %}
<h3>{{ p.arm }}</h3>
{% for s in p.sentences %}<p class="sentence">{{ s }}</p>
{% endfor %}
<table>
<tr>{% for h in paired_head %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in p.table %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</table>
{% endfor %}{% endif %}
<h2>Mean utility per actor</h2>
<table>
<tr>{% for h in utility_head %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in utility_rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</table>
<p class="note">Means with a 95% bootstrap interval. Every arm is scored by the actors' base cards (a run without
a deal counts the base card's no-deal value), so a variant is judged by what the actor wanted to begin with.</p>
{% if own_rows %}
<h3>A second view: the variant cards' own scores</h3>
<p class="note">Not the comparison: what the card an arm played an actor with says of the same runs.</p>
<table>
<tr>{% for h in own_head %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in own_rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</table>
{% endif %}

<h2>Most frequent deal</h2>
<ul>
{% for d in deals %}<li><strong>{{ d.arm }}</strong>: {% if d.count %}{{ d.count }} of {{ d.runs }} runs: {{ d.deal }}{% else %}no deal{% endif %}</li>
{% endfor %}</ul>
{% for p in plots %}
<section id="{{ p.slug }}">
<h2>{{ p.title }}</h2>
<figure><img alt="{{ p.title }}" src="data:image/png;base64,{{ p.base64 }}">
<figcaption>{{ p.caption }}</figcaption></figure>
</section>
{% endfor %}
<h2>Files</h2>
<p><code>runs.csv</code> (one row per run), <code>summary.csv</code> (one row per arm); the runs are in
<code>{{ runs_dir }}</code>: <code>parley show RUN --runs-dir {{ runs_dir }}</code>,
<code>parley replay RUN --runs-dir {{ runs_dir }}</code>.</p>
</body>
</html>
"""


def write_compare_report(c: Comparison) -> dict[str, Path]:
    """Draw the plots and write report.md (plots under plots/) and report.html (plots embedded)."""
    figures = plots(c)
    folder = c.out / "plots"
    folder.mkdir(parents=True, exist_ok=True)
    for p in figures:
        (folder / f"{p.slug}.png").write_bytes(p.png)
    data = context(c, figures)
    md = jinja2.Environment(autoescape=False, keep_trailing_newline=True).from_string(MARKDOWN).render(data)
    html = jinja2.Environment(autoescape=True, keep_trailing_newline=True).from_string(HTML).render(data)
    files = {"report.md": c.out / "report.md", "report.html": c.out / "report.html"}
    files["report.md"].write_text(md, encoding="utf-8")
    files["report.html"].write_text(html, encoding="utf-8")
    return files
