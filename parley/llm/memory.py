"""What an LLM persona remembers: the last few rounds word for word, and a digest of everything older.

The digest keeps one line per other actor (their latest proposal, how they answered yours, what
they said), so the prompt stays the same size however long the negotiation runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from parley.actions import Move


@dataclass
class Stance:
    last_proposal: str | None = None
    last_proposal_round: int | None = None
    accepted_mine: int = 0
    rejected_mine: int = 0
    said: dict[str, int] = field(default_factory=dict)
    last_words: str = ""


@dataclass
class Memory:
    window: int = 2
    rounds: list[dict] = field(default_factory=list)  # {"round", "heard": [...], "did": [...]}
    stances: dict[str, Stance] = field(default_factory=dict)

    def remember(self, round_: int, inbox: list[dict], table: list[dict], move: Move, me: str) -> None:
        mine = {p["id"] for p in table if p["proposer"] == me}
        for item in inbox:
            if item["kind"] == "inject":
                continue
            stance = self.stances.setdefault(item["from"], Stance())
            if item["kind"] == "proposal":
                stance.last_proposal, stance.last_proposal_round = item["proposal"], item["round"]
            elif item["kind"] == "response" and item["proposal"] in mine:
                if item["accept"]:
                    stance.accepted_mine += 1
                else:
                    stance.rejected_mine += 1
            elif item["kind"] == "message":
                stance.said[item["message_kind"]] = stance.said.get(item["message_kind"], 0) + 1
                stance.last_words = item["text"][:300]
        did = [a.model_dump() for a in move.actions]
        self.rounds.append({"round": round_, "heard": inbox, "did": did})
        self.rounds = self.rounds[-self.window :]

    def digest(self) -> list[dict]:
        return [
            {
                "actor": actor,
                "last_proposal": s.last_proposal,
                "last_proposal_round": s.last_proposal_round,
                "accepted_mine": s.accepted_mine,
                "rejected_mine": s.rejected_mine,
                "said": dict(s.said),
                "last_words": s.last_words,
            }
            for actor, s in sorted(self.stances.items())
        ]
