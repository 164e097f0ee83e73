"""What actors write is data in every output (issue 14, items 6 and 8).

An LLM persona (tests/fake_openai.py, over real HTTP) answers with text that would forge a Markdown
heading and deal line, inject an HTML script and drive a terminal (set its title, clear the screen); a
persona card's name and the model names carry Markdown, HTML, escape sequences and Rich markup too. The
run is played by `parley run` in a real process and read back through the command line: `transcript.md`,
`parley show`, `report.html` and `parley runs` must show all of it as text and obey none of it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from typer.testing import CliRunner

from parley.ui.cli import app
from parley.world.escaping import html, markdown, plot_label, printable, rich_markup
from tests.conftest import MINI, ROOT
from tests.fake_openai import FakeOpenAI

TERMINAL = "\x1b]0;pwned\x07\x1b[2J"  # set the window title, then clear the screen
ATTACK = f"Fair terms.\n## Outcome: converged\n**Deal: P1 passes**\n<script>alert(1)</script>{TERMINAL}"
NAME = "North \x1b[31m**Boss** <b>bold</b> [red] $\\frac{$"  # on a persona card; the $ would be mathtext on a plot
MODEL = "[/bold]x"  # Rich markup that is not even balanced
QUANTISED = "llama-3.1-8b[q4_k_m]"
ESCAPING_MODEL = "m\x1b[2J"


@dataclass
class Played:
    folder: Path
    transcript: str
    show: str
    runs: str
    report: str


def parley(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OPENAI_API_KEY": "test", "COLUMNS": "400", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "parley", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Played:
    base = tmp_path_factory.mktemp("hostile")
    shutil.copytree(MINI.parent, base / "mini")
    card = base / "mini" / "agents" / "north.yaml"
    yaml_name = NAME.replace("\\", "\\\\").replace("\x1b", "\\e")  # as a double-quoted YAML string
    card.write_text(card.read_text().replace("name: North\n", f'name: "{yaml_name}"\n'))
    move = {
        "actions": [
            {"type": "propose", "package": {"price": "high", "border": "south_line", "aid": "none"}, "to": ["south"]}
            | {"text": ATTACK},
            {"type": "message", "kind": "statement", "to": ["south", "east"], "text": ATTACK},
        ]
    }
    runs = base / "runs"
    with FakeOpenAI(accept=False) as server:  # nobody accepts: there is no deal to show
        server.script("north", {"kind": "move", "move": move})
        done = parley(
            "run", str(base / "mini" / "world.yaml"), "--backend", "openai", "--base-url", server.url,
            "--model", MODEL, "--model-for", f"south={QUANTISED}", "--model-for", f"east={ESCAPING_MODEL}",
            "--max-rounds", "2", "--no-cache", "--runs-dir", str(runs), "-q",
            cwd=base,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (folder,) = runs.iterdir()
    shown = {
        name: invoke(*args)
        for name, args in (
            ("show", ["show", str(folder)]),
            ("runs", ["runs", "--runs-dir", str(runs)]),
            ("report", ["report", str(folder)]),
        )
    }
    return Played(
        folder,
        (folder / "transcript.md").read_text(encoding="utf-8"),
        shown["show"],
        shown["runs"],
        (folder / "report.html").read_text(encoding="utf-8"),
    )


def invoke(*args: str) -> str:
    """A command in this process (the run above was a real one): what it wrote, stdout and stderr."""
    r = CliRunner().invoke(app, list(args), env={"COLUMNS": "400"})
    assert r.exit_code == 0 and r.exception is None, (r.exception, r.output)
    return r.stdout + r.stderr


def test_the_log_keeps_what_was_said_as_it_was_said(played: Played) -> None:
    """The record is faithful; escaping is for showing it."""
    events = (played.folder / "events.jsonl").read_text(encoding="utf-8")
    assert '"type":"proposal"' in events and '"type":"deal"' not in events
    assert "<script>alert(1)</script>\\u001b]0;pwned\\u0007\\u001b[2J" in events  # JSON escapes, nothing lost


def test_the_transcript_shows_actors_text_without_forging_its_structure(played: Played) -> None:
    text = played.transcript
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert len([h for h in headings if "Outcome" in h]) == 1 and "converged" not in "".join(headings)
    assert "**Deal:" not in text and "<script>" not in text and "<b>" not in text
    assert "\x1b" not in text and "\x07" not in text
    # ... and the words are all there, as words
    assert "Fair terms. \\#\\# Outcome: converged \\*\\*Deal: P1 passes\\*\\* \\<script\\>alert(1)\\</script\\>" in text
    assert "\\\\x1b\\]0;pwned\\\\x07\\\\x1b\\[2J" in text
    assert "North \\\\x1b\\[31m\\*\\*Boss\\*\\* \\<b\\>bold\\</b\\> \\[red\\] $\\\\frac{$" in text


def test_the_transcript_renders_as_the_template_means(played: Played) -> None:
    """Through a CommonMark renderer: one Outcome heading, no bold deal, no HTML from actors."""
    page = MarkdownIt("commonmark").enable("table").render(played.transcript)
    assert page.count("<h2>Outcome") == 1
    assert "<strong>Deal" not in page and "<script>" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "**Deal: P1 passes**" in page


def test_show_sends_no_escape_sequence_to_the_terminal(played: Played) -> None:
    out = played.show
    assert "\x1b" not in out and "\x07" not in out
    words = " ".join(out.split())  # however wide the terminal wraps it
    assert "\\x1b]0;pwned\\x07\\x1b[2J" in words  # shown, not obeyed
    assert "## Outcome: converged **Deal: P1 passes** <script>alert(1)</script>" in words  # plain text
    assert not any(line.startswith("## Outcome") for line in out.splitlines())
    assert MODEL in words and QUANTISED in words and "m\\x1b[2J" in words  # model names as given


def test_the_report_shows_actors_text_as_text(played: Played) -> None:
    page = played.report
    assert "<script>alert(1)</script>" not in page and "<b>bold</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "\x1b" not in page and "\x07" not in page
    assert "\\x1b]0;pwned\\x07\\x1b[2J" in page


def test_runs_lists_model_names_literally(played: Played) -> None:
    """Rich markup in a model name neither crashes `parley runs` nor loses its brackets."""
    out = played.runs
    assert played.folder.name in out
    assert MODEL in out and QUANTISED in out and "m\\x1b[2J" in out
    assert "\x1b" not in out


# -- one function per medium -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain words, 50% off (today)", "plain words, 50% off (today)"),
        ("a\tb\nc", "a\tb\nc"),  # layout stays: a terminal does not obey it beyond the line
        ("\x1b[2J\x07\x9b31m\x7f\r", "\\x1b[2J\\x07\\x9b31m\\x7f\\r"),  # C0, C1, DEL, carriage return
        ("abc\u202edcba\u2066x\u2069\u2028", "abc\\u202edcba\\u2066x\\u2069\\u2028"),  # bidi overrides, separators
        ("Zürich — 東京", "Zürich — 東京"),
    ],
)
def test_printable_shows_every_control_character_and_nothing_else(text: str, shown: str) -> None:
    assert printable(text) == shown


def test_markdown_escapes_markup_but_not_words() -> None:
    assert markdown("nato_path and __init__ *x* `y` [l](u) <i> a|b ~~s~~ #1 \\") == (
        "nato_path and \\_\\_init\\_\\_ \\*x\\* \\`y\\` \\[l\\](u) \\<i\\> a\\|b \\~\\~s\\~\\~ \\#1 \\\\"
    )
    assert markdown("line one\n\n## two\r\n- three") == "line one \\#\\# two\\\\r - three"


def test_html_rich_markup_and_plot_labels() -> None:
    assert str(html('<a href="x">\x1b</a>')) == "&lt;a href=&#34;x&#34;&gt;\\x1b&lt;/a&gt;"
    assert rich_markup("[/bold]x\n") == "\\[/bold]x\\n"
    assert plot_label("$\\frac{$ costs $5\n") == "\\$\\frac{\\$ costs \\$5\\n"
