"""The scorecard of `parley check`: a table for the terminal, `scorecard.csv` and a self-contained
`scorecard.html` (no scripts, nothing fetched; every text escaped)."""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

import jinja2
from rich.box import SIMPLE_HEAD
from rich.table import Table
from rich.text import Text

from parley.ensembles.claims import ClaimResult, Scorecard, show

COLUMNS = [
    "id",
    "says",
    "basis",
    "stance",
    "cite",
    "arm",
    "against",
    "measure",
    "bound",
    "value",
    "lo",
    "hi",
    "shown",
    "n",
    "test",
    "verdict",
    "note",
]
HELD_RULE = (
    "A claim holds when its measured value meets its bound; it is broken when the value does not, or "
    "when its population holds fewer members than its min_n. The runs are seeded, so the verdict is the "
    "same every time; the 95% interval (Wilson for a share, a seeded bootstrap over seeds for a mean and "
    "for a difference between arms) shows how far the value could move with other seeds."
)


def cite_text(result: ClaimResult) -> str:
    return "¶" + ", ".join(str(n) for n in result.claim.cite) if result.claim.cite else "-"


def shown(result: ClaimResult) -> str:
    value = show(result.kind, result.value)
    if result.lo != result.lo:  # NaN: no interval
        return value
    return f"{value} ({show(result.kind, result.lo)} to {show(result.kind, result.hi)})"


def arm_text(result: ClaimResult) -> str:
    return result.arm if result.against is None else f"{result.arm} vs {result.against}"


def rows(card: Scorecard) -> list[dict[str, Any]]:
    """One row per claim, for the CSV: numbers as numbers (shares as fractions), and as shown."""
    out = []
    for r in card.results:
        out.append(
            {
                "id": r.claim.id,
                "says": r.claim.says,
                "basis": r.claim.basis,
                "stance": r.claim.stance or "",
                "cite": " ".join(str(n) for n in r.claim.cite),
                "arm": r.arm,
                "against": r.against or "",
                "measure": r.measure,
                "bound": r.bound,
                "value": r.value,
                "lo": r.lo,
                "hi": r.hi,
                "shown": shown(r),
                "n": r.n,
                "test": r.test,
                "verdict": r.verdict,
                "note": r.note,
            }
        )
    return out


def write_csv(card: Scorecard, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows(card):
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})


def table(card: Scorecard) -> Table:
    """The scorecard for the terminal (what each claim measures in words is in the CSV and HTML)."""
    held = len(card.results) - len(card.broken)
    t = Table(
        title=f"{card.world['title']}: {held} of {len(card.results)} claims hold "
        f"({len(card.seeds)} seeds per arm, {len(card.arms)} arm(s))",
        title_justify="left",
        box=SIMPLE_HEAD,
        padding=(0, 1, 0, 0),
        show_edge=False,
        expand=True,
    )
    t.add_column("Claim", overflow="fold", ratio=5)
    t.add_column("¶", overflow="fold", ratio=1, max_width=12)
    t.add_column("Arm", overflow="fold", ratio=2)
    t.add_column("Measured (95% interval)", overflow="fold", ratio=3)
    t.add_column("Bound", overflow="fold", ratio=2)
    t.add_column("n", justify="right", no_wrap=True)
    t.add_column("Verdict", no_wrap=True)
    for r in card.results:
        claim = Text(r.claim.id, style="bold")
        claim.append(f"\n{r.claim.says}", style="")
        if r.note:
            claim.append(f"\n{r.note}", style="dim")
        t.add_row(
            claim,
            Text(cite_text(r)),
            Text(arm_text(r)),
            Text(shown(r)),
            Text(r.bound),
            str(r.n),
            Text(r.verdict, style="bold green" if r.held else "bold red"),
        )
    return t


HTML = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Scorecard: {{ card.world.title }}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: 0.35em 0.6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.held { color: #1b5e20; font-weight: bold; }
td.broken { color: #b71c1c; font-weight: bold; }
tr.broken { background: #fff4f4; }
.says { display: block; }
.note, .measure, .small { color: #555; font-size: 0.9em; }
code { background: #f4f4f4; padding: 0 0.2em; }
.summary { font-size: 1.1em; }
</style>
</head>
<body>
<h1>Scorecard: {{ card.world.title }}</h1>
<p class="summary"><strong>{{ held }} of {{ card.results | length }} claims hold</strong>{% if broken %}; broken:
{% for r in broken %}<code>{{ r.claim.id }}</code>{{ ", " if not loop.last }}{% endfor %}{% endif %}.</p>
<p>World <code>{{ card.world.path }}</code> ({{ card.world.id }}); seeds {{ seeds }} ({{ card.seeds | length }} per arm, the
same in every arm); {{ card.arms | length }} arm(s): {% for a in card.arms %}<code>{{ a }}</code>{{ ", " if not loop.last }}{% endfor %}.
{{ card.played }} run(s) played, {{ card.reused }} reused. Written {{ created }}.</p>
<p class="small">{{ rule }}</p>
<table>
<tr><th>Claim</th><th>Cited</th><th>Arm</th><th>Measured</th><th>95% interval</th><th>Bound</th><th>n</th><th>Verdict</th></tr>
{% for r in card.results %}<tr class="{{ r.verdict }}" id="claim-{{ r.claim.id }}">
<td><code>{{ r.claim.id }}</code><span class="says">{{ r.claim.says }}</span>{% if r.claim.stance or r.claim.basis != "article" %}<span class="small">{{ r.claim.basis }}{% if r.claim.stance %}, {{ r.claim.stance }}{% endif %}</span>{% endif %}
{% if r.note %}<span class="note says">{{ r.note }}</span>{% endif %}</td>
<td>{{ cite(r) }}</td>
<td>{{ arm(r) }}</td>
<td>{{ show(r.kind, r.value) }}<span class="measure says">{{ r.measure }}</span>{% if r.test %}<span class="small says">{{ r.test }}</span>{% endif %}</td>
<td>{% if r.lo == r.lo %}{{ show(r.kind, r.lo) }} to {{ show(r.kind, r.hi) }}{% else %}n/a{% endif %}</td>
<td>{{ r.bound }}</td>
<td>{{ r.n }}</td>
<td class="{{ r.verdict }}">{{ r.verdict }}</td>
</tr>
{% endfor %}</table>
<h2>Files</h2>
<p><code>scorecard.csv</code> (one row per claim); the runs are in <code>{{ runs_dir }}</code>:
<code>parley show RUN --runs-dir {{ runs_dir }}</code>, <code>parley replay RUN --runs-dir {{ runs_dir }}</code>.</p>
</body>
</html>
"""


def write_scorecard(card: Scorecard) -> dict[str, Path]:
    """Write scorecard.csv and scorecard.html into the check's output folder."""
    files = {"scorecard.csv": card.out / "scorecard.csv", "scorecard.html": card.out / "scorecard.html"}
    write_csv(card, files["scorecard.csv"])
    seeds = (
        f"{card.seeds[0]}-{card.seeds[-1]}"
        if card.seeds == list(range(card.seeds[0], card.seeds[-1] + 1))
        else ", ".join(map(str, card.seeds))
    )
    html = (
        jinja2.Environment(autoescape=True, keep_trailing_newline=True)
        .from_string(HTML)
        .render(
            card=card,
            held=len(card.results) - len(card.broken),
            broken=card.broken,
            seeds=seeds,
            created=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            rule=HELD_RULE,
            runs_dir=(card.out / "runs").as_posix(),
            show=show,
            cite=cite_text,
            arm=arm_text,
        )
    )
    files["scorecard.html"].write_text(html, encoding="utf-8")
    card.files.update(files)
    return files
