"""Failures during a run: a clear one-line error, exit 2, and every event already written kept."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from parley.runs.folder import read_events
from parley.runs.play import play
from parley.world.problems import InvalidInput


def parley(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "parley", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_a_template_that_breaks_mid_run_keeps_the_events_written(mini_copy: Path, tmp_path: Path) -> None:
    template = mini_copy.parent / "prompts" / "offline" / "propose.j2"
    template.write_text("{% if round > 2 %}{{ no_such_name }}{% endif %}A proposal.\n")
    runs = tmp_path / "runs"
    done = parley("run", str(mini_copy), "--runs-dir", str(runs), cwd=mini_copy.parent)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr + done.stdout
    (line,) = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert "propose.j2" in line and "no_such_name" in line
    (folder,) = runs.iterdir()
    events = read_events(folder / "events.jsonl")
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert {e["round"] for e in events} >= {1, 2}
    assert events[-1]["type"] == "error" and "no_such_name" in events[-1]["message"]
    assert (folder / "transcript.md").read_text().startswith("# ")


def test_a_transcript_template_error_is_caught_before_the_run(mini_copy: Path, tmp_path: Path) -> None:
    transcript = mini_copy.parent / "prompts" / "transcript.md.j2"
    text = transcript.read_text().replace("{{ e.reason }}", "{{ e.reasons }}", 1)
    transcript.write_text(text)
    try:
        play(mini_copy, runs_dir=tmp_path / "runs")
    except InvalidInput as exc:
        assert "transcript.md.j2" in str(exc)
    else:
        raise AssertionError("the broken transcript template was not caught")
    assert not (tmp_path / "runs").exists()


def test_a_world_without_edges_lets_everyone_talk(mini_copy: Path, tmp_path: Path) -> None:
    data = yaml.safe_load(mini_copy.read_text())
    del data["edges"]
    mini_copy.write_text(yaml.safe_dump(data))
    result = play(mini_copy, seed=2, runs_dir=tmp_path)
    events = read_events(result.folder / "events.jsonl")
    assert not [e for e in events if e["type"] in ("undeliverable", "mediated")]
    assert any(e["type"] == "proposal" for e in events)


def test_repeated_variant_for_one_actor_is_refused(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parent.parent
    done = parley(
        "run", "--variant", "us=dealmaker", "--variant", "us=hardliner", "--runs-dir", str(tmp_path), cwd=root
    )
    assert done.returncode == 2 and "already given" in done.stderr


def test_a_world_without_templates_of_its_own_uses_parleys(mini_copy: Path, tmp_path: Path) -> None:
    """A new world needs no prompts folder: what it lacks, or all of it, comes from Parley's prompts/."""
    (mini_copy.parent / "prompts" / "offline" / "propose.j2").unlink()
    assert play(mini_copy, seed=1, runs_dir=tmp_path / "a").outcome is not None
    data = yaml.safe_load(mini_copy.read_text())
    del data["prompts"]
    mini_copy.write_text(yaml.safe_dump(data))
    import shutil

    shutil.rmtree(mini_copy.parent / "prompts")
    result = play(mini_copy, seed=1, runs_dir=tmp_path / "b")
    assert (result.folder / "transcript.md").read_text().startswith("# Mini bargaining")


def test_a_template_edited_between_runs_in_one_process_is_read_again(mini_copy: Path, tmp_path: Path) -> None:
    """Compiled templates and syntax checks are kept for the process (an ensemble, the board): only while
    the file says the same."""
    play(mini_copy, runs_dir=tmp_path / "runs")
    template = mini_copy.parent / "prompts" / "offline" / "propose.j2"
    template.write_text("{% if %}A proposal.\n")
    with pytest.raises(InvalidInput, match=r"propose\.j2: line 1"):
        play(mini_copy, runs_dir=tmp_path / "runs")
    template.write_text("Our edited proposal.\n")
    said = []
    play(mini_copy, runs_dir=tmp_path / "runs", on_event=lambda e: said.append(e.get("text")))
    assert "Our edited proposal." in said
