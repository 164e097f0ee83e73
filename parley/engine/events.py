"""The events of a run: every type a log line may have, and the fields of those read beyond their writer.

An event is a plain dict, `{"seq", "round", "type", ...}`, written as one JSON line of `events.jsonl`.
`EventType` is a `StrEnum`, so a member is the very string it names: comparing, hashing and writing it
as JSON give what the bare string gives, and logs recorded before it existed read and replay alike.
"""

# no `from __future__ import annotations`: TypedDict reads NotRequired from evaluated annotations
from enum import StrEnum
from typing import Any, NotRequired, TypedDict


class EventType(StrEnum):
    # a round
    ROUND_STARTED = "round_started"
    ROUND_ENDED = "round_ended"
    # the facilitator's news, at the start of a round
    INJECT = "inject"
    VARIANT_SWITCHED = "variant_switched"
    REVALUED = "revalued"
    # moves, resolved in the engine's order
    PASS = "pass"
    INVALID_ACTION = "invalid_action"
    WALKOUT = "walkout"
    CHANNEL = "channel"
    RESPONSE = "response"
    PROPOSAL_DEAD = "proposal_dead"
    DEAL = "deal"
    FRAMEWORK = "framework"
    FRAMEWORK_REFUSED = "framework_refused"
    MESSAGE = "message"
    PROPOSAL = "proposal"
    PROPOSAL_REAFFIRMED = "proposal_reaffirmed"
    SET_ASIDE = "set_aside"  # an offer made once a deal or a framework closed the round (and its concession)
    # what moves cause
    MEDIATED = "mediated"
    UNDELIVERABLE = "undeliverable"
    TRUST = "trust"
    # the end
    HALTED = "halted"
    OUTCOME = "outcome"
    # how a policy decided: an LLM persona...
    LLM_CALL = "llm_call"
    LLM_FAILED = "llm_failed"
    LLM_GAVE_UP = "llm_gave_up"
    # ... or a person at the table
    HUMAN_MOVE = "human_move"
    HUMAN_LEFT = "human_left"
    # a run that stopped on an exception (a refused API key, a server gone)
    ERROR = "error"


# What the engine works out again from the seed and the moves: a replay produces these itself, so a log
# may flush them with their round. The others (a round's end, an LLM's answer, a person's move, an error)
# carry what cannot be made again, and are written at once.
DERIVED: frozenset[EventType] = frozenset(
    {
        EventType.ROUND_STARTED,
        EventType.PROPOSAL,
        EventType.PROPOSAL_REAFFIRMED,
        EventType.SET_ASIDE,
        EventType.PROPOSAL_DEAD,
        EventType.RESPONSE,
        EventType.MESSAGE,
        EventType.CHANNEL,
        EventType.TRUST,
        EventType.MEDIATED,
        EventType.UNDELIVERABLE,
        EventType.PASS,
        EventType.INVALID_ACTION,
        EventType.DEAL,
        EventType.FRAMEWORK,
        EventType.FRAMEWORK_REFUSED,
        EventType.REVALUED,
        EventType.WALKOUT,
        EventType.INJECT,
        EventType.VARIANT_SWITCHED,
    }
)


# -- the payloads read beyond the module that writes them ----------------------------------------------
class Event(TypedDict):
    seq: int
    round: int
    type: str


class ProposalEvent(Event):
    actor: str
    proposal: str
    package: dict[str, str]  # one option per issue
    to: list[str]
    counter_to: str | None  # the proposal it counters
    text: str  # the proposer's words (an LLM's or a person's: untrusted)


class ResponseEvent(Event):
    actor: str
    proposal: str
    accept: bool
    reason: str  # untrusted
    countered: bool  # a counter-proposal follows from the same actor (or is set aside: see SetAsideEvent)


class SetAsideEvent(Event):
    actor: str
    what: str  # "proposal" (an offer or a counter) or "message" (the concession that announced it)
    to: list[str]
    closed: str  # what closed the table to offers: "deal" or "framework"
    reason: str  # why, in words: the deal agreed, or the framework before the ratifiers until a round
    text: str  # the actor's words (untrusted)
    package: NotRequired[dict[str, str]]  # a proposal's terms
    counter_to: NotRequired[str | None]  # the proposal it counters
    kind: NotRequired[str]  # a message's kind


class TrustEvent(Event):
    actor: str  # who trusts
    toward: str  # whom
    before: float
    after: float
    cause: str  # accepted, rejected, threat, flattery, concession, walkout, channel_closed, inject


class ChannelEvent(Event):
    actor: str
    to: str
    open: bool
    reason: str  # untrusted ("inject" when the facilitator's news opened or closed it)


class InjectEvent(Event):
    to: list[str]  # who is told
    text: str  # the facilitator's words
    effects: dict[str, Any]  # trust, channels, withdraw, variants (world.injects.Effects, by alias)


class LLMCallEvent(Event):
    actor: str
    model: str  # as the server named it (untrusted)
    request_hash: str
    params: dict[str, Any]
    reask: int  # 0 for the first question of a round
    raw: str  # the answer as it came (untrusted)
    move: dict[str, Any] | None  # the move read from it, None when refused
    error: str | None  # why it was refused (sent back to the model)
    tokens: dict[str, int]  # prompt, completion
    transport: NotRequired[dict[str, Any]]  # cached, usd, latency_s, retries, fallbacks: ignored by replay


class OutcomeEvent(Event):
    status: str  # converged, refused, stalled, breakdown, max_rounds, budget_exhausted, halted, abandoned
    deal: dict[str, str] | None
    proposal: str | None  # the proposal that passed
    utilities: dict[str, float]
    no_deal: dict[str, float]
    closest: dict[str, Any] | None  # the closest offer when there is no deal
    pareto_optimal: bool | None
    nash: dict[str, Any] | None
    walked_out: list[str]
    # where the protocol makes them news (a rule other than unanimity, or a world that names a war):
    signed: NotRequired[list[str]]  # who signed the deal or the framework
    refused: NotRequired[list[str]]  # signatories who did not sign what the others signed
    war_continues: NotRequired[bool]  # whether a party at war did not sign
    framework: NotRequired[dict[str, Any] | None]  # rule ratify: the framework and its fate
    transport: NotRequired[dict[str, Any]]  # an LLM run's costs
