"""A run folder's life: unique names when many processes share a runs folder, reopening a killed run,
forks that name their parent, the transcript written before the outcome line, and compares that
share an output folder."""

from __future__ import annotations

import ast
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from parley.runs.folder import RunFolder, read_events
from parley.runs.manifest import Manifest
from parley.runs.play import play
from parley.runs.replay import load_saved, replay
from parley.world.scenario import load_scenario
from tests.conftest import MINI, ROOT, parley
from tests.fake_openai import FakeOpenAI
from tests.folders_at_once import BATCHES, create_at_once


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "parley", *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


# -- unique names ----------------------------------------------------------------------------------
def test_four_runs_of_one_seed_into_one_folder_at_once_are_four_runs(tmp_path: Path) -> None:
    """Four `parley run` processes of one seed (one stem) started together, each its own folder (the
    test below releases eight processes at one instant, ten times, for the naming itself)."""
    runs = tmp_path / "runs"
    procs = [
        start("run", str(MINI), "--seed", "1", "--max-rounds", "3", "--runs-dir", str(runs), "-q") for _ in range(4)
    ]
    results = [(p.wait(timeout=300), p.stderr.read() if p.stderr else "") for p in procs]
    for p in procs:
        p.stdout.close() if p.stdout else None
        p.stderr.close() if p.stderr else None
    assert [code for code, _ in results] == [0] * 4, [err for _, err in results]
    folders = sorted(runs.iterdir())
    assert len(folders) == 4
    for folder in folders:
        assert manifest(folder)["run_id"] == folder.name
        assert read_events(folder / "events.jsonl")[-1]["type"] == "outcome"
        assert (folder / "transcript.md").is_file()
    logs = {(f / "events.jsonl").read_text() for f in folders}
    assert len(logs) == 1  # the same seed: the same run, four times


def test_folders_made_at_the_same_instant_get_distinct_names(tmp_path: Path) -> None:
    """Eight processes released together, one stem, ten times: every one gets a folder of its own."""
    m = Manifest.for_run(load_scenario(MINI), 1, "offline", 3)
    context = multiprocessing.get_context("spawn")
    barrier, out = context.Barrier(8), context.Queue()
    procs = [context.Process(target=create_at_once, args=(str(tmp_path), m.as_json(), barrier, out)) for _ in range(8)]
    for p in procs:
        p.start()
    names = [out.get(timeout=120) for _ in range(8 * BATCHES)]
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * 8
    for batch in range(BATCHES):
        made = sorted(p.name for p in (tmp_path / str(batch)).iterdir())
        assert len(made) == 8 and m.stem() in made
        assert {manifest(tmp_path / str(batch) / n)["run_id"] for n in made} == set(made)
    assert len(names) == 8 * BATCHES


def test_a_runs_folder_that_cannot_hold_a_run_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    done = parley("run", str(MINI), "--runs-dir", str(tmp_path / "file" / "runs"), "-q")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "--runs-dir" in line and "cannot make a run folder" in line


# -- reopening, forking ------------------------------------------------------------------------------
def test_reopen_drops_a_round_cut_short(tmp_path: Path) -> None:
    result = play(MINI, seed=3, runs_dir=tmp_path)
    path = result.folder / "events.jsonl"
    events = read_events(path)
    ends = [i for i, e in enumerate(events) if e["type"] == "round_ended"]
    cut = events[: ends[1] + 4]  # round 2 whole, round 3 begun
    path.write_text("".join(json.dumps(e) + "\n" for e in cut) + '{"seq": 1, "rou')
    saved = load_saved(result.folder)
    run, kept = RunFolder.reopen(saved)
    run.close()
    assert kept == events[: ends[1] + 1]
    assert read_events(path) == kept
    (resumed,) = manifest(result.folder)["resumed"]
    assert resumed["kept_events"] == len(kept) and resumed["dropped_events"] == 3
    assert resumed["half_written_line"] is True


def test_a_run_killed_before_its_first_line_resumes_from_the_start(tmp_path: Path) -> None:
    result = play(MINI, seed=3, runs_dir=tmp_path)
    whole = read_events(result.folder / "events.jsonl")
    (result.folder / "events.jsonl").write_text("")
    (result.folder / "transcript.md").unlink()
    done = parley("resume", str(result.folder))
    assert done.returncode == 0, done.stderr
    assert read_events(result.folder / "events.jsonl") == whole
    assert (result.folder / "transcript.md").is_file()


def test_a_fork_names_its_parent_and_round_and_replays(tmp_path: Path) -> None:
    parent = play(MINI, seed=3, runs_dir=tmp_path)
    done = parley(
        "fork", str(parent.folder), "--at-round", "2", "--variant", "north=hardliner", "--runs-dir", str(tmp_path)
    )
    assert done.returncode == 0, done.stderr
    (child,) = [p for p in tmp_path.iterdir() if p != parent.folder]
    m = manifest(child)
    assert m["parent"] == {"run_id": parent.folder.name, "round": 2}
    assert m["fork"]["variants"] == {"north": "hardliner"} and m["fork"]["backend_before"] == "offline"
    assert child.name.startswith(Manifest.read(child).stem()) and "-fork2-north=hardliner" in child.name
    assert list(m)[:10] == [
        "run_id",
        "created_at",
        "world",
        "personas",
        "templates",
        "seed",
        "variants",
        "backend",
        "max_rounds",
        "versions",
    ]
    assert replay(child).identical


def test_a_fork_of_a_fork_that_went_to_llm_personas_keeps_them(tmp_path: Path) -> None:
    """The parent played offline until round 2, then LLM personas: forked at round 3, the child plays
    the same way (its manifest says so, and it replays), with no server left."""
    grand = play(MINI, seed=1, max_rounds=4, runs_dir=tmp_path)
    with FakeOpenAI(accept=False) as server:
        done = parley(
            "fork", str(grand.folder), "--at-round", "2", "--backend", "openai", "--model", "fake",
            "--base-url", server.url, "--runs-dir", str(tmp_path),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        (parent,) = [p for p in tmp_path.iterdir() if p != grand.folder]
        done = parley("fork", str(parent), "--at-round", "3", "--runs-dir", str(tmp_path))
        assert done.returncode == 0, done.stderr
    (child,) = [p for p in tmp_path.iterdir() if p not in (grand.folder, parent)]
    m = manifest(child)
    assert m["backend"] == "openai" and m["fork"]["backend_from_round"] == 2 and m["llm"]["models"]
    assert m["parent"] == {"run_id": parent.name, "round": 3}
    report = replay(child)
    assert report.identical, report.message


def test_a_fork_of_a_run_with_a_variant_file_keeps_the_file(tmp_path: Path) -> None:
    variant = tmp_path / "north-isolationist.yaml"
    variant.write_text(
        "actor: north\nname: isolationist\ndescription: Stays home.\ntraits:\n  patience: {value: 0.9}\n"
    )
    done = parley("compare", str(MINI), "--variant-file", str(variant), "--seeds", "1", "--max-rounds", "4",
                  "--workers", "1", "--out", str(tmp_path / "out"), "-q")  # fmt: skip
    assert done.returncode == 0, done.stderr
    (parent,) = (tmp_path / "out" / "runs").iterdir()
    done = parley("fork", str(parent), "--at-round", "2", "--runs-dir", str(tmp_path / "forks"))
    assert done.returncode == 0, done.stderr
    (child,) = (tmp_path / "forks").iterdir()
    assert manifest(child)["variant_files"] == manifest(parent)["variant_files"]
    assert (child / "variants" / "north.yaml").read_text() == variant.read_text()
    assert replay(child).identical


# -- the transcript before the outcome ---------------------------------------------------------------
def test_the_outcome_line_waits_for_the_transcript(tmp_path: Path) -> None:
    m = Manifest.for_run(load_scenario(MINI), 1, "offline", 3)
    run = RunFolder.create(tmp_path, m)
    run.append({"seq": 1, "round": 1, "type": "round_ended"})
    run.append({"seq": 2, "round": 1, "type": "outcome", "status": "stalled"})
    assert [e["type"] for e in read_events(run.events_path)] == ["round_ended"]
    seen: list[list[str]] = []

    def transcript(events: list[dict]) -> str:
        seen.append([e["type"] for e in read_events(run.events_path)])
        return f"{len(events)} events\n"

    run.finish(transcript)
    assert seen == [["round_ended"]]  # when the transcript was written, the log had no outcome yet
    assert (run.folder / "transcript.md").read_text() == "2 events\n"
    assert [e["type"] for e in read_events(run.events_path)] == ["round_ended", "outcome"]


def test_a_run_killed_as_its_outcome_lands_has_its_transcript(tmp_path: Path) -> None:
    """kill -9 the moment the outcome line is on disk: the transcript is already there."""
    runs = tmp_path / "runs"
    proc = start("run", str(MINI), "--seed", "3", "--runs-dir", str(runs), "-q")
    deadline = time.monotonic() + 120
    log = None
    while time.monotonic() < deadline and proc.poll() is None:
        logs = list(runs.glob("*/events.jsonl"))
        if logs and b'"type":"outcome"' in logs[0].read_bytes():
            log = logs[0]
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.001)
    proc.communicate()
    assert log is not None, "the run ended before its outcome line was seen"
    assert (log.parent / "transcript.md").is_file()


def test_resume_writes_a_finished_runs_missing_transcript(tmp_path: Path) -> None:
    """What a kill -9 just after the outcome line left before the outcome waited for the transcript."""
    result = play(MINI, seed=3, runs_dir=tmp_path)
    transcript = (result.folder / "transcript.md").read_text()
    log = (result.folder / "events.jsonl").read_bytes()
    (result.folder / "transcript.md").unlink()
    done = parley("resume", str(result.folder))
    assert done.returncode == 0, done.stderr
    assert "transcript.md" in done.stderr
    assert (result.folder / "transcript.md").read_text() == transcript
    assert (result.folder / "events.jsonl").read_bytes() == log  # checked, not written again
    again = parley("resume", str(result.folder))
    assert again.returncode == 2 and "finished" in again.stderr


# -- compares that share an output folder --------------------------------------------------------------
def test_two_compares_into_one_folder_at_once_lose_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["compare", str(MINI), "--variant", "baseline", "--variant", "north=hardliner", "--seeds", "20",
            "--max-rounds", "6", "--workers", "1", "--out", str(out), "-q"]  # fmt: skip
    both = [start(*args), start(*args)]  # started together, they play at the same time
    results = []
    for p in both:
        stdout, stderr = p.communicate(timeout=300)
        results.append((p.returncode, stdout, stderr))
    for code, _, stderr in results:
        assert "Traceback" not in stderr, stderr
        assert code in (0, 2), stderr
    assert sorted(code for code, _, _ in results)[0] == 0
    for code, _, stderr in results:
        if code == 2:  # refused, in one line naming the folder
            (line,) = stderr.strip().splitlines()
            assert "--out" in line and "another compare" in line
    runs = sorted((out / "runs").iterdir())
    assert len(runs) == 40  # 2 arms x 20 seeds, each once
    for folder in runs:
        assert read_events(folder / "events.jsonl")[-1]["type"] == "outcome"
    index = [json.loads(line) for line in (out / "index.jsonl").read_text().splitlines()]
    assert {e["run_id"] for e in index} == {f.name for f in runs}
    again = parley(*args)  # the lock is let go: the next compare reuses every run
    assert again.returncode == 0 and "0 run(s) played, 40 reused" in again.stdout


# -- the model is made whole by its constructor ----------------------------------------------------------
def assigned(tree: ast.AST) -> list[tuple[int, ast.Attribute]]:
    """Every attribute assigned to in `tree`, with its line."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            targets = [node.target]
        else:
            continue
        for target in targets:
            for t in target.elts if isinstance(target, ast.Tuple) else [target]:
                if isinstance(t, ast.Attribute):
                    out.append((node.lineno, t))
    return out


def test_no_caller_sets_what_the_model_is_made_of_after_it_is_made() -> None:
    """`costs`, `scheduled`, `runner` and `budget` go in through the constructor (or `recast_all`):
    not set on a model from outside, nor by a model subclass after `__init__`."""
    made_of = {"costs", "scheduled", "runner", "budget"}
    found = []
    for path in sorted((ROOT / "parley").rglob("*.py")):
        if path.relative_to(ROOT) == Path("parley/engine/model.py"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        models = [
            c for c in ast.walk(tree)
            if isinstance(c, ast.ClassDef) and any(ast.unparse(b).endswith("NegotiationModel") for b in c.bases)
        ]  # fmt: skip
        inside = {id(a) for c in models for _, a in assigned(c)}
        for line, a in assigned(tree):
            on_self = isinstance(a.value, ast.Name) and a.value.id == "self"
            if a.attr in made_of and (not on_self or id(a) in inside):
                found.append(f"{path.relative_to(ROOT)}:{line} .{a.attr}")
    assert found == []


def test_the_run_id_stem_is_made_in_one_place() -> None:
    text = "".join(p.read_text() for p in (ROOT / "parley").rglob("*.py") if p.name != "manifest.py")
    assert "%Y%m%d-%H%M%S" not in text
