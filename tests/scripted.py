"""A policy that plays moves written in advance: the engine's tests drive it round by round."""

from __future__ import annotations

from collections.abc import Callable

from parley.engine.actions import Move
from parley.engine.policy import Observation

Script = dict[int, list] | Callable[[Observation], list]


class ScriptedPolicy:
    def __init__(self, script: Script | None = None) -> None:
        self.script = script or {}
        self.seen: list[Observation] = []

    def decide(self, observation: Observation) -> Move:
        self.seen.append(observation)
        if callable(self.script):
            return Move(actions=self.script(observation))
        return Move(actions=self.script.get(observation.round, []))
