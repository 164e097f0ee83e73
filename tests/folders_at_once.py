"""What each process of tests/test_run_folder.py's same-instant test does: wait at the barrier, make
a run folder, say its name; ten times. In a module of its own so that a spawned process imports only
the run folder and its manifest, not the test module and everything it imports."""

from __future__ import annotations

from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

from parley.runs.folder import RunFolder
from parley.runs.manifest import Manifest

BATCHES = 10


def create_at_once(runs: str, data: dict, barrier: Barrier, out: Queue) -> None:
    m = Manifest.model_validate(data)
    for batch in range(BATCHES):
        barrier.wait()
        run = RunFolder.create(Path(runs) / str(batch), m)
        run.close()
        out.put(run.folder.name)
