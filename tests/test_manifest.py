"""The typed manifest: runs recorded before it still load and replay, its file keeps its shape, where a
saved run's files are now has one answer, and a damaged manifest is one line naming the field."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from parley.runs.compact import read_lines
from parley.runs.manifest import Manifest
from parley.runs.play import play
from parley.runs.replay import load_saved
from parley.runs.saved import persona_names, read_run
from parley.world.problems import InvalidInput
from tests.conftest import MINI, ROOT, parley

FIXTURES = ROOT / "tests" / "fixtures" / "runs"
OFFLINE = FIXTURES / "20261202-021630-mini-s3"  # recorded before the regroup, offline
LLM = FIXTURES / "20261202-021643-mini-s1"  # recorded before the regroup against tests/fake_openai.py
RECORDED = [OFFLINE, LLM]


def raw(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


# -- runs recorded before ------------------------------------------------------------------------
@pytest.mark.parametrize("folder", RECORDED, ids=lambda p: p.name)
def test_a_run_recorded_before_loads_and_keeps_its_shape(folder: Path) -> None:
    saved = load_saved(folder)
    m = saved.manifest
    assert m.world.id == "mini" and m.seed in (1, 3) and m.run_id == folder.name
    assert set(m.personas) == {"north", "south", "east"} and saved.finished
    assert m.as_json() == raw(folder)  # every key and value, as the old code wrote them
    assert list(m.as_json()) == list(raw(folder))  # in the same order
    assert m.stem() == folder.name


def test_the_llm_fixture_reads_as_typed_parts() -> None:
    m = Manifest.read(LLM)
    assert m.backend == "openai" and m.llm is not None
    assert m.llm.models == {"north": "fake", "south": "fake", "east": "fake"} and m.llm.temperature == 0.7
    assert read_run(LLM).models == m.llm.models


@pytest.mark.parametrize("folder", RECORDED, ids=lambda p: p.name)
def test_a_run_recorded_by_older_rules_replays_and_names_them_as_the_cause(folder: Path) -> None:
    """Recorded before play's rules changed (engine.RULES 1 -> 2): replay runs it and says why it differs."""
    done = parley("replay", str(folder))
    assert done.returncode == 1, done.stderr
    assert "diverges at event" in done.stderr and "likely cause: " in done.stderr and "Traceback" not in done.stderr
    # the cause named first is a file changed since (the fixture world's cards were since edited), else the rules
    assert "changed since the run" in done.stderr or "versions differ: rules 1 -> 2" in done.stderr


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run recorded by these rules, offline (the old fixture's world and seed)."""
    runs = tmp_path_factory.mktemp("fresh")
    return play(MINI, seed=3, runs_dir=runs).folder


def test_a_run_recorded_in_a_folder_that_is_gone_finds_its_files_here(tmp_path: Path, fresh: Path) -> None:
    """A clone elsewhere: the manifest's absolute world path does not exist; its shown path, from
    Parley's project folder, does. Replayed from an unrelated working folder."""
    copy = tmp_path / "elsewhere" / "runs" / fresh.name
    shutil.copytree(fresh, copy)
    data = raw(copy)
    data["world"]["file"] = "/nowhere/parley/tests/fixtures/mini/world.yaml"
    (copy / "manifest.json").write_text(json.dumps(data, indent=2))
    m = Manifest.read(copy)
    assert m.world_file(copy) == MINI
    assert m.card_file("north", copy) == MINI.parent / "agents" / "north.yaml"
    assert persona_names(read_run(copy))["north"] != "north"  # the card's display name, found
    done = parley("replay", str(copy), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"identical: {len(load_saved(fresh).events)} events" in done.stdout


def test_of_several_copies_the_one_with_the_recorded_content_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The working folder holds a changed copy of the world; the recorded folder holds the one played."""
    played = tmp_path / "played"
    shutil.copytree(MINI.parent, played / "mini")
    run = play(played / "mini" / "world.yaml", seed=1, max_rounds=2, runs_dir=tmp_path / "runs")
    here = tmp_path / "here"
    shutil.copytree(MINI.parent, here / "mini")
    (here / "mini" / "world.yaml").write_text((MINI).read_text() + "\n# edited\n")
    data = raw(run.folder)
    data["world"]["path"] = "mini/world.yaml"  # as if it was started from `played`
    data["personas"] = {a: {**p, "path": f"mini/agents/{a}.yaml"} for a, p in data["personas"].items()}
    (run.folder / "manifest.json").write_text(json.dumps(data))
    monkeypatch.chdir(here)
    m = Manifest.read(run.folder)
    assert m.world_file(run.folder) == played / "mini" / "world.yaml"
    (played / "mini" / "world.yaml").unlink()
    assert m.world_file(run.folder) == here / "mini" / "world.yaml"  # changed, but the only one left


def test_what_changed_is_named_by_where_it_is_now(tmp_path: Path, mini_copy: Path) -> None:
    run = play(mini_copy, seed=1, max_rounds=2, runs_dir=tmp_path / "runs")
    card = mini_copy.parent / "agents" / "south.yaml"
    card.write_text(card.read_text() + "\n# edited\n")
    (mini_copy.parent / "prompts" / "offline" / "extra.j2").write_text("x")
    (mini_copy.parent / "prompts" / "offline" / "walkout.j2").unlink()
    saved = load_saved(run.folder)
    from parley.world.scenario import load_scenario

    scenario = load_scenario(saved.manifest.world_file(run.folder))
    changed = saved.manifest.changed_files(scenario)
    assert any(c.endswith("agents/south.yaml") for c in changed)
    assert any(c.endswith("offline/extra.j2 (new)") for c in changed)
    assert any(c.endswith("offline/walkout.j2 (gone)") for c in changed)
    assert len(changed) == 3
    assert [Path(p).name for p in saved.manifest.changed_since(scenario)] == ["south.yaml"]


def test_an_older_manifest_without_the_absolute_path_loads_and_keeps_unknown_fields(tmp_path: Path) -> None:
    folder = tmp_path / OFFLINE.name
    shutil.copytree(OFFLINE, folder)
    data = raw(folder)
    del data["world"]["file"]
    data["notes"] = {"by": "a workshop"}
    (folder / "manifest.json").write_text(json.dumps(data))
    m = Manifest.read(folder)
    assert m.world.file is None and m.world_file(folder) == MINI
    m.write(folder)
    assert raw(folder) == data


def test_a_key_is_the_same_for_a_manifest_read_back() -> None:
    m = Manifest.read(OFFLINE)
    again = Manifest.parse(json.loads(json.dumps(m.as_json())), "x")
    assert again.key() == m.key()
    other = m.model_copy(update={"seed": 4})
    assert other.key() != m.key()


# -- damaged manifests ---------------------------------------------------------------------------
def damage(folder: Path, change: dict | None = None, drop: tuple[str, ...] = ()) -> None:
    data = raw(folder)
    for key in drop:
        parent = data
        *path, last = key.split(".")
        for part in path:
            parent = parent[part]
        del parent[last]
    data.update(change or {})
    (folder / "manifest.json").write_text(json.dumps(data))


DAMAGES = [
    ("seed", {}, ("seed",)),
    ("seed", {"seed": "three"}, ()),
    ("seed", {"seed": -1}, ()),
    ("max_rounds", {}, ("max_rounds",)),
    ("max_rounds", {"max_rounds": "20"}, ()),
    ("max_rounds", {"max_rounds": 1_000_000_000}, ()),
    ("world", {}, ("world",)),
    ("world", {"world": "worlds/ukraine-2024.yaml"}, ()),
    ("world.sha256", {}, ("world.sha256",)),
    ("backend", {"backend": "quantum"}, ()),
    ("injects.events[0].round", {"injects": {"path": None, "events": [{"round": 0, "text": "x"}]}}, ()),
    ("llm.max_reasks", {"llm": {"max_reasks": "many"}}, ()),
]


@pytest.mark.parametrize(("field", "change", "drop"), DAMAGES, ids=[f"{d[0]}-{i}" for i, d in enumerate(DAMAGES)])
def test_each_damaged_field_is_one_line_naming_it(tmp_path: Path, field: str, change: dict, drop: tuple) -> None:
    folder = tmp_path / OFFLINE.name
    shutil.copytree(OFFLINE, folder)
    damage(folder, change, drop)
    with pytest.raises(InvalidInput) as caught:
        load_saved(folder)
    (problem,) = caught.value.problems
    assert problem.file.endswith(f"{OFFLINE.name}/manifest.json") and problem.field == field
    assert "\n" not in str(problem)
    listed = read_run(folder)  # `parley runs` and `show` still read the folder, and say why it is not a run
    assert listed.manifest is None and listed.problem is not None and field in listed.problem


@pytest.mark.parametrize("command", ["replay", "resume", "fork", "report"])
@pytest.mark.parametrize(
    ("field", "change", "drop"), [DAMAGES[0], DAMAGES[6], DAMAGES[9]], ids=["seed", "world", "quantum"]
)
def test_a_damaged_manifest_is_exit_2_from_every_command(
    tmp_path: Path, command: str, field: str, change: dict, drop: tuple
) -> None:
    folder = tmp_path / "runs" / OFFLINE.name
    shutil.copytree(OFFLINE, folder)
    damage(folder, change, drop)
    (folder / "transcript.md").unlink()  # so that `resume` has something it would do
    args = (
        ["fork", str(folder), "--at-round", "2", "--runs-dir", str(tmp_path / "runs")]
        if command == "fork"
        else [command, str(folder)]
    )
    done = parley(*args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "manifest.json" in line and field in line
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [OFFLINE.name]  # nothing was made


@pytest.mark.parametrize("how", ["deleted", "emptied"])
def test_replay_of_a_run_whose_events_are_gone_is_not_identical(tmp_path: Path, how: str) -> None:
    folder = tmp_path / OFFLINE.name
    shutil.copytree(OFFLINE, folder)
    if how == "deleted":
        (folder / "events.jsonl").unlink()
    else:
        (folder / "events.jsonl").write_text("")
    done = parley("replay", str(folder))
    assert done.returncode == 2 and "identical" not in done.stdout + done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "events.jsonl" in line and "no events" in line


def test_replay_of_an_unfinished_log_says_so(tmp_path: Path, fresh: Path) -> None:
    folder = tmp_path / fresh.name
    shutil.copytree(fresh, folder)
    lines = (folder / "events.jsonl").read_text().splitlines(keepends=True)
    (folder / "events.jsonl").write_text("".join(lines[:-1]))  # the outcome line gone
    done = parley("replay", str(folder))
    assert done.returncode == 0, done.stderr
    kept = len(list(read_lines(lines[:-1])))  # the events of the lines left, plain or compact
    assert f"identical: {kept} events" in done.stdout and "unfinished" in done.stdout
