"""The room a board serves: one game shared by every page, the seats' private links, the timer.

Solara gives every browser tab its own state; a workshop needs the opposite: the facilitator's page,
the projector and each team's page show one game. `ROOM` holds it for the whole server process. Seat
links carry an unguessable token (`secrets.token_urlsafe`) made by `parley board` and handed to the
server in its environment (`PARLEY_BOARD_SEATS`, never on a command line others can list); a page
acts for a seat only with its token, compared in constant time. When the board serves beyond
loopback (`--host`), the facilitator's and projector's pages need a key of their own as well.
"""

from __future__ import annotations

import os
import secrets
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

if TYPE_CHECKING:
    from parley.ui.board import BoardModel

PASS = "pass"
PERSONA = "persona"


def new_token() -> str:
    return secrets.token_urlsafe(24)


def encode_seats(seats: dict[str, str]) -> str:
    """`actor:token,...`: how `parley board` hands the seats to its server."""
    return ",".join(f"{actor}:{token}" for actor, token in seats.items())


def decode_seats(text: str) -> dict[str, str]:
    """actor -> token, from `encode_seats`."""
    out = {}
    for part in text.split(","):
        actor, _, token = part.partition(":")
        if actor.strip() and token.strip():
            out[actor.strip()] = token.strip()
    return out


def query(search: str | None, name: str) -> str:
    """One value of a page address's query string (`token=...`), '' if absent."""
    return (parse_qs(search or "").get(name) or [""])[0]


@dataclass
class Room:
    """The board's one game and who may act in it."""

    seats: dict[str, str] = field(default_factory=dict)  # actor -> token
    key: str = ""  # the facilitator's and projector's key; '' on loopback, where none is asked
    timer_seconds: int = 0  # 0: no timer, the round waits for every seat
    on_timeout: str = PASS  # what a seat that has not moved does when the time runs out: pass | persona
    # what the facilitator has typed but not yet set: kept here, not in the page, so a redraw of the
    # sidebar (Mesa rebuilds it) never loses it
    draft_seconds: int = 0
    draft_on_timeout: str = PASS
    game: BoardModel | None = None
    deadline: float | None = None  # when the open round closes, by the monotonic clock
    _deadline_round: int = -1
    _ticker: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_environment(cls) -> Room:
        return cls(
            seats=decode_seats(os.environ.get("PARLEY_BOARD_SEATS", "")),
            key=os.environ.get("PARLEY_BOARD_KEY", ""),
        )

    # -- who is asking -------------------------------------------------------------------------
    def seat_of(self, token: str) -> str | None:
        """The actor whose link this token is, or None: compared in constant time, every seat tried."""
        found = None
        for actor, secret in self.seats.items():
            if token and secrets.compare_digest(token.encode(), secret.encode()):
                found = actor
        return found

    def lets_in(self, key: str) -> bool:
        """The facilitator's and the projector's pages: open on loopback, with the key beyond it."""
        return not self.key or (bool(key) and secrets.compare_digest(key.encode(), self.key.encode()))

    # -- the game ------------------------------------------------------------------------------
    def set_game(self, game: BoardModel) -> None:
        with self._lock:
            self.game = game
            self.deadline = None
            self._deadline_round = -1
        self._start_ticker()

    def version(self) -> tuple[int, int, float | None]:
        """What changes when a page should redraw: the game, its version, the deadline."""
        game = self.game
        return (id(game), -1 if game is None else game.version, self.deadline)

    def set_timer(self, seconds: int, on_timeout: str) -> None:
        self.timer_seconds = max(0, int(seconds))
        self.on_timeout = on_timeout if on_timeout in (PASS, PERSONA) else PASS
        self.deadline = None
        self._deadline_round = -1

    def timer_says(self) -> str:
        """The timer as it is set, in words."""
        if self.timer_seconds <= 0:
            return "Timer: off (a round waits for every team)."
        then = "is played by its persona" if self.on_timeout == PERSONA else "passes"
        return f"Timer: {self.timer_seconds} s per round; a team that has not moved {then}."

    def seconds_left(self) -> int | None:
        if self.deadline is None:
            return None
        return max(0, round(self.deadline - time.monotonic()))

    def tick(self) -> None:
        """Start the clock on a round that opened, close one whose time ran out."""
        game = self.game
        if game is None or not game.awaiting_move or self.timer_seconds <= 0:
            self.deadline = None if game is None or not game.awaiting_move else self.deadline
            return
        if self._deadline_round != game.round:
            self._deadline_round = game.round
            self.deadline = time.monotonic() + self.timer_seconds
            game.version += 1
        elif self.deadline is not None and time.monotonic() >= self.deadline:
            self.deadline = None
            game.close_now(persona=self.on_timeout == PERSONA)

    def _start_ticker(self) -> None:
        if self._ticker is not None:
            return

        def run() -> None:
            while True:
                try:
                    self.tick()
                except Exception as exc:  # the game shows a failed round itself; the clock keeps ticking
                    print(f"board timer: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
                time.sleep(0.25)

        self._ticker = threading.Thread(target=run, name="parley-board-timer", daemon=True)
        self._ticker.start()


ROOM = Room.from_environment()
