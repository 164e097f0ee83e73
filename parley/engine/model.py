"""The negotiation as a Mesa model: one `step()` is one round of simultaneous moves.

Every actor observes the same table and decides; then the engine resolves all moves in a fixed
order (walkouts, channels, responses, messages, proposals), checks the decision rule, records
the round and checks whether the negotiation has ended.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

import mesa
import numpy as np

from parley.engine.actions import Channel, Counter, Message, Move, Pass, Propose, Respond, WalkOut
from parley.engine.agents import ActorAgent
from parley.engine.decision import DecisionRule
from parley.engine.events import EventType
from parley.engine.graph import RelationshipGraph
from parley.engine.issue_space import IssueSpace
from parley.engine.measures import AGENT_REPORTERS, MODEL_REPORTERS
from parley.engine.outcome import Outcome, settle
from parley.engine.policy import AnyPolicy, Observation, RunHalted, deliberates
from parley.engine.rules import move_problems, red_lines_of
from parley.engine.table import Proposal, Table
from parley.world.injects import Effects, Inject
from parley.world.persona import Persona
from parley.world.scenario import Scenario

EventSink = Callable[[dict], None]


class Recast(Protocol):
    """Makes the persona card and policy of an actor played as another variant, mid-run."""

    def __call__(self, actor: str, variant: str, model: NegotiationModel) -> tuple[Persona, AnyPolicy]: ...


class Budget(Protocol):
    def allows_round(self, deciders: int) -> bool: ...


class Runner(Protocol):
    """Runs a coroutine to completion and hands back its result (e.g. `asyncio.Runner().run`)."""

    def __call__[T](self, coroutine: Coroutine[Any, Any, T], /) -> T: ...


Costs = Callable[[list[dict]], dict]  # the cost ledger of a run's events
Change = Callable[["NegotiationModel"], None]


class Casting(Protocol):
    """How every actor is played from some round on (a fork that changes backend): `runs.cast.Cast`."""

    @property
    def runner(self) -> Runner | None: ...
    @property
    def budget(self) -> Budget | None: ...
    @property
    def costs(self) -> Costs | None: ...
    def make(self, actor: str, scenario: Scenario, space: IssueSpace, /) -> AnyPolicy: ...


def held_back(action: Propose | Counter | Message, phase: object, actions: list) -> bool:
    """On a table closed to offers: an offer, in the offers' phase (a Counter's rejection stands, in
    the answers' phase), or a concession from an actor who makes one (it would announce it)."""
    if isinstance(action, Message):
        return action.kind == "concession" and any(isinstance(a, (Propose, Counter)) for a in actions)
    return phase == (Propose, Counter)


class NegotiationModel(mesa.Model):
    agent_reporters = AGENT_REPORTERS  # what is collected of each actor every round (a board collects more)

    def __init__(
        self,
        scenario: Scenario,
        policies: dict[str, AnyPolicy],
        seed: int,
        emit: EventSink | None = None,
        max_rounds: int | None = None,
        space: IssueSpace | None = None,
        runner: Runner | None = None,
        budget: Budget | None = None,
        injects: list[Inject] | None = None,
        recast: Recast | None = None,
        scheduled: dict[int, list[Change]] | None = None,
        costs: Costs | None = None,
    ) -> None:
        """`runner` runs a coroutine to completion (LLM calls share its event loop across rounds and
        runs); without one the model keeps a loop of its own. `budget` may stop a run between rounds.
        `scheduled`: changes made at the start of a round; `costs`: what the run's events cost (an
        LLM run's outcome records it)."""
        super().__init__(rng=seed)
        self.setting = scenario
        self.world = scenario.world
        self.space = space or IssueSpace.build(scenario.world, scenario.personas)
        self.graph = RelationshipGraph(self.world)
        self.table = Table()
        self.rule = DecisionRule.of(self.world)
        self.max_rounds = max_rounds or self.world.protocol.max_rounds  # a cap on the run: no actor knows it
        deadline = self.world.protocol.deadline  # the end of talks every actor knows, if the world sets one
        self.last_round = min(self.max_rounds, deadline) if deadline is not None else self.max_rounds
        self.round = 0
        self.seq = 0
        self.events: list[dict] = []
        self._emit = emit
        self.runner = runner
        self._own_runner: asyncio.Runner | None = None
        self.budget = budget
        self.costs: Callable[[], dict] | None = None  # the cost ledger of this run's calls, for the outcome
        if costs is not None:  # this run's calls only, whatever else shares the client and its ledger
            self.costs = lambda: costs(self.events)
        self.injects = list(injects or [])
        self.recast = recast
        self.withdrawn: dict[str, list[str]] = {}
        self.scheduled: dict[int, list[Change]] = dict(scheduled or {})  # changes at the start of a round
        self.outcome: Outcome | None = None
        self.deal: Proposal | None = None
        self.signed: list[str] = []  # who signed the deal (or the framework)
        self.framework: Proposal | None = None  # rule ratify: the framework put to the ratifiers
        self.framework_until = 0  # the last round the ratifiers may answer in
        self.refused: list[str] = []  # ratifiers who refused the framework (or let the time run out)
        self.walked_out: list[str] = []
        self._stalled_for = 0
        self._last_signature: tuple = ()
        self._open_utilities: tuple[int, np.ndarray | None] = (-1, None)
        self.by_actor: dict[str, ActorAgent] = {}
        for actor in self.world.actor_ids():
            self.by_actor[actor] = ActorAgent(self, actor, scenario.personas[actor], policies[actor])
        self.datacollector = mesa.DataCollector(model_reporters=MODEL_REPORTERS, agent_reporters=self.agent_reporters)

    # -- the protocol -----------------------------------------------------------------------
    def step(self) -> None:
        if self.open_round():
            self.close_round()

    def open_round(self) -> bool:
        """The first half of a round: news, then everyone observes the same table and the policies
        that answer at once decide. False when the run ended instead (its budget, a halt).

        Kept apart from `close_round` so a board can show a person the table before they move.
        """
        if self.budget is not None and not self.budget.allows_round(len(self.graph.present)):
            self.finish("budget_exhausted")
            return False
        self.round += 1
        self.emit(EventType.ROUND_STARTED)
        self.apply_injects()
        for change in self.scheduled.get(self.round, []):
            change(self)
        try:
            self.agents.do("step")  # everyone observes the same table; policies that answer at once decide
        except RunHalted as halt:
            self.halt(halt)
            return False
        return True

    def close_round(self) -> None:
        """The second half: the policies that deliberate decide together, then every move is resolved."""
        try:
            self.deliberate()  # the others (LLM personas, people on a board) decide together, concurrently
        except RunHalted as halt:
            self.halt(halt)
            return
        self.log_notes()
        moves = {a: self.by_actor[a].move for a in self.world.actor_ids()}
        for agent in self.agents:
            agent.inbox = []
        self.resolve(moves)
        self.datacollector.collect(self)
        self.emit(EventType.ROUND_ENDED, **self.round_measures())
        self.check_for_end()

    def halt(self, halt: RunHalted) -> None:
        self.log_notes()
        self.emit(EventType.HALTED, reason=str(halt))
        self.finish(halt.status)

    def resolve(self, moves: dict[str, Move]) -> None:
        """Apply every valid action, phase by phase. A deal, or a framework before the ratifiers, ends
        the round before new offers: those are set aside, each with an event that says why, and so is
        the word of a concession that went with one (it would announce an offer nobody received)."""
        valid = {actor: self.valid_actions(actor, move) for actor, move in moves.items()}
        for phase in (WalkOut, Channel, (Respond, Counter), "deal?", Message, (Propose, Counter)):
            if isinstance(phase, str):  # "deal?"
                self.check_for_deal()
                continue
            closed = self.closed_to_offers()
            for actor, actions in valid.items():
                for action in actions:
                    if not isinstance(action, phase):
                        continue
                    if (
                        closed is not None
                        and isinstance(action, (Propose, Counter, Message))
                        and held_back(action, phase, actions)
                    ):
                        self.set_aside(actor, action, closed)
                    else:
                        self.apply(actor, action, phase)

    def closed_to_offers(self) -> tuple[str, str] | None:
        """What closed the table to new offers this round ("deal" or "framework") and why, or None."""
        if self.deal is not None:
            return "deal", f"the deal {self.deal.id} was agreed this round, so the talks are over"
        if self.framework is not None:  # (in the rounds after, an offer is an invalid action: the move is refused)
            return (
                "framework",
                f"the framework {self.framework.id} was agreed this round, so no new offers until the ratifiers answer",
            )
        return None

    def set_aside(self, actor: str, action: Propose | Counter | Message, closed: tuple[str, str]) -> None:
        """An offer (or the concession announcing it) made when offers are closed: logged, not delivered."""
        by, why = closed
        if isinstance(action, Message):
            self.emit(
                EventType.SET_ASIDE, actor=actor, what="message", kind=action.kind, to=list(action.to),
                text=action.text, closed=by, reason=why,
            )  # fmt: skip
            return
        counter_to = action.proposal if isinstance(action, Counter) else None
        package = {i: action.package[i] for i in self.space.issues}
        recipients = sorted(set(action.to), key=self.world.actor_ids().index)
        self.emit(
            EventType.SET_ASIDE, actor=actor, what="proposal", package=package, to=recipients,
            counter_to=counter_to, text=action.text, closed=by, reason=why,
        )  # fmt: skip
        self.by_actor[actor].receive(  # told next round, as a person or an LLM would be: it was never tabled
            {"kind": "set_aside", "round": self.round, "from": actor, "counter_to": counter_to, "reason": why}
        )

    def apply(self, actor: str, action, phase) -> None:  # noqa: ANN001
        if isinstance(action, WalkOut):
            self.walk_out(actor, action.reason)
        elif isinstance(action, Channel):
            self.set_channel(actor, action)
        elif isinstance(action, Respond):
            self.respond(actor, action.proposal, action.accept, action.reason)
        elif isinstance(action, Counter) and phase == (Respond, Counter):
            self.respond(actor, action.proposal, False, action.reason, countered=True)
        elif isinstance(action, Counter):
            self.propose(actor, action.package, action.to, action.text, counter_to=action.proposal)
        elif isinstance(action, Message):
            self.send(actor, action)
        elif isinstance(action, Propose):
            self.propose(actor, action.package, action.to, action.text)

    def apply_injects(self) -> None:
        """The facilitator's news for this round: told to its audience first, its effects applied."""
        for inject in [i for i in self.injects if i.round == self.round]:
            audience = inject.audience(self.world.actor_ids())
            self.emit(EventType.INJECT, to=audience, text=inject.text, effects=inject.effects.logged())
            for actor in audience:
                self.by_actor[actor].receive(
                    {"kind": "inject", "round": self.round, "from": "facilitator", "text": inject.text}
                )
            effects = inject.effects
            for t in effects.trust:
                self.trust_change(t.source, t.target, t.delta, "inject")
            for c in effects.channels:
                if self.graph.set_open(c.source, c.target, c.open):
                    self.emit(EventType.CHANNEL, actor=c.source, to=c.target, open=c.open, reason="inject")
            for w in effects.withdraw:
                if w.option not in self.withdrawn.setdefault(w.issue, []):
                    self.withdrawn[w.issue].append(w.option)
            for p in self.table.open():
                bad = [k for k, v in p.package.items() if v in self.withdrawn.get(k, [])]
                if bad:
                    p.status = "dead"
                    self.emit(
                        EventType.PROPOSAL_DEAD, proposal=p.id, reason=f"withdrawn from the table: {', '.join(bad)}"
                    )
            for actor, variant in effects.variants.items():
                self.switch_variant(actor, variant)
            if effects.changes_values():
                self.revalue(effects, audience)

    def revalue(self, effects: Effects, audience: list[str]) -> None:
        """News that changes what actors value (their no-deal values, their weights) and believe: the
        cards change from now on, those told learn of it, and each policy that can takes it in."""
        personas = self.setting.personas
        moved: dict[str, float] = {}
        for c in effects.no_deal:
            card = personas[c.actor]
            value = min(1.0, max(0.0, card.no_deal.value + c.delta))
            update: dict = {"no_deal": card.no_deal.model_copy(update={"value": value})}
            if card.reservation is not None:
                reservation = min(1.0, max(value, card.reservation.value + c.delta))
                update["reservation"] = card.reservation.model_copy(update={"value": reservation})
            if (
                card.aspiration is not None
                and card.aspiration.value < update.get("reservation", update["no_deal"]).value
            ):
                update["aspiration"] = card.aspiration.model_copy(
                    update={"value": update.get("reservation", update["no_deal"]).value}
                )
            personas[c.actor] = card.model_copy(update=update)
            moved[c.actor] = moved.get(c.actor, 0.0) + value - card.no_deal.value
        factors: dict[str, dict[str, float]] = {}
        for w in effects.weights:
            card = personas[w.actor]
            pref = card.preferences.get(w.issue)
            if pref is None:
                continue
            preferences = {**card.preferences, w.issue: pref.model_copy(update={"weight": pref.weight * w.factor})}
            personas[w.actor] = card.model_copy(update={"preferences": preferences})
            factors.setdefault(w.actor, {})[w.issue] = factors.get(w.actor, {}).get(w.issue, 1.0) * w.factor
        self.space = IssueSpace.build(self.world, personas)
        for agent in self.agents:
            agent.persona = personas[agent.actor]
        self.emit(
            EventType.REVALUED,
            no_deal={a: round(float(self.space.no_deal[self.space.index(a)]), 6) for a in moved},
            weights={a: sorted(f) for a, f in factors.items()},
        )
        for actor in self.world.actor_ids():
            revise = getattr(self.by_actor[actor].policy, "revise", None)
            if revise is None:
                continue
            told = actor in audience
            news = {
                "no_deal": {a: d for a, d in moved.items() if told},
                "weights": {a: f for a, f in factors.items() if told},
                "beliefs": {
                    b.about: {"clarity": b.clarity, "no_deal": b.no_deal} for b in effects.beliefs if b.actor == actor
                },
            }
            revise(personas[actor], self.space, news)

    def switch_variant(self, actor: str, variant: str) -> None:
        """Play `actor` as another variant of its persona from now on (a new card, a new policy)."""
        if self.recast is None:
            raise ValueError("this run cannot switch persona variants (no recast given)")
        persona, policy = self.recast(actor, variant, self)
        self.setting.personas[actor] = persona
        self.setting.variants[actor] = variant
        self.space = IssueSpace.build(self.world, self.setting.personas)
        agent = self.by_actor[actor]
        agent.persona, agent.policy = persona, policy
        self.emit(EventType.VARIANT_SWITCHED, actor=actor, variant=variant)

    def recast_all(self, cast: Casting) -> None:
        """Every actor played by `cast` from now on (a fork that goes from offline to LLM personas)."""
        for agent in self.agents:
            agent.policy = cast.make(agent.actor, self.setting, self.space)
        self.runner, self.budget = cast.runner, cast.budget
        costs = cast.costs
        self.costs = None if costs is None else (lambda: costs(self.events))

    def forget_from(self, round_: int) -> None:
        """Drop the injects and scheduled changes of `round_` and after (a fork plays its own future)."""
        self.injects = [i for i in self.injects if i.round < round_]
        self.scheduled = {k: v for k, v in self.scheduled.items() if k < round_}

    def log_notes(self) -> None:
        """What policies recorded while deciding, in actor order whatever order they answered in."""
        for actor in self.world.actor_ids():
            for note in self.by_actor[actor].notes():
                self.emit(note.pop("type"), actor=actor, **note)

    def deliberate(self) -> None:
        waiting = [a for a in self.agents if a.observation is not None and deliberates(a.policy)]
        if not waiting:
            return

        async def together() -> list:
            return await asyncio.gather(*(agent.deliberate() for agent in waiting), return_exceptions=True)

        if self.runner is None:
            self._own_runner = self._own_runner or asyncio.Runner()
            results = self._own_runner.run(together())
        else:
            results = self.runner(together())
        failures = [r for r in results if isinstance(r, BaseException)]
        halts = [r for r in failures if isinstance(r, RunHalted)]
        others = [r for r in failures if not isinstance(r, RunHalted)]
        if others:
            raise others[0]
        if halts:
            raise halts[0]

    # -- checking moves ---------------------------------------------------------------------
    def valid_actions(self, actor: str, move: Move) -> list:
        """The legal actions of a move; each illegal one is logged and dropped."""
        persona = self.setting.personas[actor]
        problems = dict(
            move_problems(self.world, actor, move, self.table, self.withdrawn, red_lines_of(persona), persona.core)
        )
        if self.framework is not None:
            for idx, action in enumerate(move.actions):
                if isinstance(action, (Propose, Counter)) and idx not in problems:
                    problems[idx] = (
                        f"the framework {self.framework.id} is before the ratifiers: "
                        "no new proposals until they have answered"
                    )
        out = []
        for idx, action in enumerate(move.actions):
            if isinstance(action, Pass):
                self.emit(EventType.PASS, actor=actor, reason=action.reason)
            elif idx in problems:
                self.emit(EventType.INVALID_ACTION, actor=actor, action=action.model_dump(), error=problems[idx])
            else:
                out.append(action)
        return out

    # -- resolving moves --------------------------------------------------------------------
    def walk_out(self, actor: str, reason: str) -> None:
        self.graph.leave(actor)
        self.walked_out.append(actor)
        self.emit(EventType.WALKOUT, actor=actor, reason=reason)
        for other in self.world.actor_ids():
            if other != actor:
                self.trust_change(other, actor, self.world.trust_rules.walkout, "walkout")

    def set_channel(self, actor: str, action: Channel) -> None:
        if self.graph.set_open(actor, action.to, action.open):
            self.emit(EventType.CHANNEL, actor=actor, to=action.to, open=action.open, reason=action.reason)
            if not action.open:
                self.trust_change(action.to, actor, self.world.trust_rules.channel_closed, "channel_closed")

    def respond(self, actor: str, proposal_id: str, accept: bool, reason: str, countered: bool = False) -> None:
        p = self.table.proposals[proposal_id]
        (p.accepted_by if accept else p.rejected_by).append(actor)
        self.emit(EventType.RESPONSE, actor=actor, proposal=p.id, accept=accept, reason=reason, countered=countered)
        notice = {
            "kind": "response",
            "round": self.round,
            "from": actor,
            "proposal": p.id,
            "accept": accept,
            "reason": reason,
        }
        for other in {p.proposer, *p.recipients} - {actor}:
            self.by_actor[other].receive(notice)
        rules = self.world.trust_rules
        self.trust_change(
            p.proposer,
            actor,
            rules.proposal_accepted if accept else rules.proposal_rejected,
            "accepted" if accept else "rejected",
        )
        if not accept and p.status == "open" and not self.rule.can_still_pass(p.rejected_by, self.graph.present):
            p.status = "dead"
            self.emit(EventType.PROPOSAL_DEAD, proposal=p.id, reason=f"rejected by {actor}")

    def send(self, actor: str, message: Message) -> None:
        for target in message.to:
            path = self.deliver(actor, target, "message", {"kind": message.kind})
            if path is None:
                continue
            self.by_actor[target].receive(
                {
                    "kind": "message",
                    "round": self.round,
                    "from": actor,
                    "message_kind": message.kind,
                    "text": message.text,
                    "path": path,
                }
            )
            rules = self.world.trust_rules
            listener = self.setting.personas[target].traits
            delta = {
                "threat": rules.threat,
                "flattery": rules.flattery * listener.level("flattery_susceptibility"),
                "concession": rules.concession_signal,
            }.get(message.kind, 0.0)
            if delta:
                self.trust_change(target, actor, delta, message.kind)
        self.emit(EventType.MESSAGE, actor=actor, kind=message.kind, to=list(message.to), text=message.text)

    def propose(
        self, actor: str, package: dict[str, str], to: list[str], text: str, counter_to: str | None = None
    ) -> None:
        package = {i: package[i] for i in self.space.issues}
        recipients = sorted(set(to), key=self.world.actor_ids().index)
        for old in self.table.open_by(actor):
            if old.package == package and old.addressed == recipients and counter_to is None:
                self.emit(EventType.PROPOSAL_REAFFIRMED, actor=actor, proposal=old.id, text=text)
                return
        for old in self.table.open_by(actor):
            old.status = "superseded"
        p = Proposal(
            self.table.next_id(), self.round, actor, package, [], counter_to, accepted_by=[actor], addressed=recipients
        )
        self.table.add(p)
        self.emit(
            EventType.PROPOSAL,
            actor=actor,
            proposal=p.id,
            package=package,
            to=recipients,
            counter_to=counter_to,
            text=text,
        )
        utilities = self.utilities_of(package)
        for target in recipients:
            path = self.deliver(actor, target, "proposal", {"proposal": p.id})
            if path is not None:  # only those it reached can answer it
                self.table.reach(p, target)
                self.by_actor[target].receive(
                    {
                        "kind": "proposal",
                        "round": self.round,
                        "from": actor,
                        "proposal": p.id,
                        "text": text,
                        "path": path,
                    }
                )
                self.by_actor[target].note_offer(utilities[target])

    def deliver(self, source: str, target: str, what: str, detail: dict) -> list[str] | None:
        """Route over open channels; log every hop, or that nothing could get through."""
        path = self.graph.route(source, target)
        if path is None:
            self.emit(EventType.UNDELIVERABLE, actor=source, to=target, what=what, **detail)
        elif len(path) > 2:
            self.emit(EventType.MEDIATED, actor=source, to=target, what=what, path=path, **detail)
        return path

    def trust_change(self, feeler: str, cause: str, delta: float, why: str) -> None:
        if delta == 0:
            return
        before, after = self.graph.adjust_trust(feeler, cause, delta)
        if before != after:
            self.emit(EventType.TRUST, actor=feeler, toward=cause, before=before, after=after, cause=why)

    # -- ending -----------------------------------------------------------------------------
    def utilities_of(self, package: dict[str, str]) -> dict[str, float]:
        u = self.space.utilities(self.space.encode(package))
        return {a: round(float(x), 6) for a, x in zip(self.space.actors, u, strict=True)}

    def check_for_deal(self) -> None:
        """Whether a proposal passes the decision rule (the one most accepted, then the oldest, then the
        one best for the signatories together, should two pass at once); under `ratify`, whether the
        ratifiers have answered the framework before them."""
        if self.deal is not None or self.refused:
            return
        if self.framework is not None:
            self.check_ratification()
            return
        present = self.graph.present
        passing = []
        for p in self.table.open():
            utilities = self.utilities_of(p.package)
            if self.rule.passes(p.accepted_by, utilities, present):
                passing.append((self.preference(p, utilities), p, utilities))
        if not passing:
            return
        _, p, utilities = max(passing, key=lambda x: x[0])
        signed = self.rule.counted(p.accepted_by, utilities, present)
        ratifiers = self.rule.ratifiers
        if set(ratifiers) <= set(signed):
            self.pass_deal(p, signed)
        else:
            self.put_to_ratifiers(p, signed)

    def preference(self, p: Proposal, utilities: dict[str, float]) -> tuple:
        """Which of two proposals passing in the same round passes: not the order actors are listed in."""
        voters = self.rule.voters
        counted = len(self.rule.counted(p.accepted_by, utilities, self.graph.present))
        gains = [max(utilities[a] - float(self.space.no_deal[self.space.index(a)]), 1e-9) for a in voters]
        # the same package proposed by two actors in one round: by proposer, not by the number the
        # world's order gave it (only the trust the acceptance earns differs)
        return (counted, -p.round, round(float(np.sum(np.log(gains))), 9), p.proposer, -int(p.id[1:]))

    def pass_deal(self, p: Proposal, signed: list[str]) -> None:
        p.status = "passed"
        self.deal = p
        self.signed = list(signed)
        present = [a for a in p.accepted_by if a in self.graph.present]  # who walked out accepts nothing
        self.emit(EventType.DEAL, proposal=p.id, package=p.package, accepted_by=present)

    def put_to_ratifiers(self, p: Proposal, signed: list[str]) -> None:
        """Rule ratify: the framework parties have agreed; the others now accept or refuse it."""
        self.framework = p
        self.signed = list(signed)
        self.framework_until = self.round + self.world.protocol.ratify_rounds
        pending = [a for a in self.rule.ratifiers if a not in signed]
        self.emit(
            EventType.FRAMEWORK,
            proposal=p.id,
            package=p.package,
            signed_by=list(signed),
            to=pending,
            until=self.framework_until,
        )
        for other in self.table.open():
            if other is not p:
                other.status = "dead"
                self.emit(EventType.PROPOSAL_DEAD, proposal=other.id, reason=f"the framework {p.id} was agreed")
        for actor in pending:
            if actor in p.rejected_by:  # a framework is a new question: what it said of the proposal is not its answer
                p.rejected_by.remove(actor)
            if actor not in p.recipients:
                self.table.reach(p, actor)  # put to them by the framework parties, whatever the channels
            if actor in self.graph.present:
                self.by_actor[actor].receive(
                    {"kind": "framework", "round": self.round, "from": p.proposer, "proposal": p.id}
                )
        self.check_ratification()  # ratifiers who have left cannot answer: it may be settled at once

    def check_ratification(self) -> None:
        """The ratifiers' answers. The framework becomes the deal once every ratifier has signed, or once
        the ratifiers at war have signed and the others have answered (or let the time run out): the war
        ends, and who refused is on record. A ratifier at war who refuses, leaves or lets the time run
        out leaves a refused framework, and the war goes on."""
        p = self.framework
        assert p is not None
        utilities = self.utilities_of(p.package)
        ratifiers = self.rule.ratifiers
        framework = [a for a in self.signed if a not in ratifiers]  # their signatures stand, whatever they do next
        counted = self.rule.counted(p.accepted_by, utilities, self.graph.present)
        signed = framework + [a for a in counted if a in ratifiers]
        answered = [a for a in ratifiers if a in signed or a in p.rejected_by or a not in self.graph.present]
        over = self.round >= self.framework_until or len(answered) == len(ratifiers)
        decisive = self.rule.decisive_ratifiers
        if set(decisive) <= set(signed) and (over or set(ratifiers) <= set(signed)):
            if self.rule.protects(utilities, bound=signed):
                self.refused = []
                self.pass_deal(p, signed)
                return
        if over or any(a in answered and a not in signed for a in decisive):
            self.signed = list(signed)
            self.refused = [a for a in ratifiers if a not in signed]
            p.status = "refused"
            self.emit(
                EventType.FRAMEWORK_REFUSED,
                proposal=p.id,
                signed_by=list(signed),
                refused_by=list(self.refused),
                war_continues=self.rule.war_continues(signed),
            )

    def check_for_end(self) -> None:
        status = None
        if self.deal is not None:
            status = "converged"
        elif self.refused:
            status = "refused"
        elif self.rule.broken_down(self.walked_out, self.graph.present):
            status = "breakdown"
        else:
            signature = self.table.signature()
            self._stalled_for = self._stalled_for + 1 if signature == self._last_signature else 0
            self._last_signature = signature
            if self._stalled_for >= self.world.protocol.stall_patience and self.framework is None:
                status = "stalled"
            elif self.round >= self.last_round:
                status = "max_rounds"
        if status:
            self.finish(status)

    def finish(self, status: str) -> None:
        self.running = False
        if self._own_runner is not None:
            self._own_runner.close()
            self._own_runner = None
        self.outcome = settle(self, status)
        event = self.outcome.as_event()
        if self.costs is not None:  # spending differs between a live run and a cached one: transport
            event["transport"] = {"cost": self.costs()}
        self.emit(EventType.OUTCOME, **event)

    def run(self) -> Outcome:
        while self.running:
            self.step()
        assert self.outcome is not None
        return self.outcome

    # -- what actors see ---------------------------------------------------------------------
    def observation_for(self, actor: str) -> Observation:
        inbox = self.by_actor[actor].inbox
        mentioned = {item["proposal"] for item in inbox if "proposal" in item}
        visible = [p.view() for p in self.table.of_party(actor) if p.status == "open" or p.id in mentioned]
        return Observation(
            round=self.round,
            max_rounds=self.max_rounds,
            actor=actor,
            persona=self.setting.personas[actor],
            world=self.world,
            present=[a for a in self.world.actor_ids() if a in self.graph.present],
            required=list(self.rule.required()),
            ratifiers=list(self.rule.ratifiers),
            deadline=self.world.protocol.deadline,
            ratification=None
            if self.framework is None
            else {"proposal": self.framework.id, "until": self.framework_until, "signed_by": list(self.signed)},
            table=visible,
            inbox=list(inbox),
            channels=self.graph.channels(actor),
            influence_on_me=self.graph.influence_on(actor),
            withdrawn={k: list(v) for k, v in self.withdrawn.items()},
        )

    def open_utilities(self) -> np.ndarray | None:
        """Every actor's utility of each open proposal (proposals, actors); None when none is open.
        Made once per state of the table (reporters ask for it actor by actor)."""
        if self._open_utilities[0] != self.seq:
            open_now = self.table.open()
            packages = [self.space.encode(p.package) for p in open_now]
            self._open_utilities = (self.seq, self.space.utilities(np.stack(packages)) if packages else None)
        return self._open_utilities[1]

    def round_measures(self) -> dict:
        row = {k: values[-1] for k, values in self.datacollector.model_vars.items()}
        best = {
            a.actor: (None if a.best_offer_utility is None else round(a.best_offer_utility, 6)) for a in self.agents
        }
        return {k: (round(float(v), 6) if isinstance(v, float) else v) for k, v in row.items()} | {
            "best_offer_utility": best
        }

    def emit(self, type_: str, **fields) -> None:  # noqa: ANN003
        self.seq += 1
        event = {"seq": self.seq, "round": self.round, "type": type_, **fields}
        self.events.append(event)
        if self._emit is not None:
            self._emit(event)
