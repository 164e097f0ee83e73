"""The offline default: a deterministic, persona-driven negotiation strategy that needs no network.

Each actor
- concedes from its aspiration (its best package, or the card's `aspiration`) toward its reservation
  (the card's `reservation`, else no deal, or the world's minimum for it) at a pace its persona sets:
  `patience` says over how many rounds (or the world's `deadline`, which every actor knows; the run's
  round cap is never known), held back by `reciprocity` until others concede visibly too, hardened
  by threats when reciprocal, softened by threats from those who sway it when not assertive;
- proposes the package that maximises its own utility among those it predicts the parties it needs
  will accept (under `ratify`, first among those the ratifiers would also accept), from beliefs about
  their preferences (their public cards read with the noise its card's `information` gives, per
  actor) that sharpen with what they propose, accept and reject; when none is predicted acceptable,
  the most acceptable package it can still live with;
- never accepts or proposes a package that crosses its red lines, misses its core aims, or falls
  below its reservation; as a ratifier, accepts a framework worth more to it than refusing it;
- threatens those who block what it needs, flatters those who are susceptible, signals concessions,
  opens channels and walks out when those it needs offer nothing it can take, as its traits say;
- speaks through the world's Jinja2 templates.

All randomness comes from generators seeded from the run seed and actor ids (never their position
in the world file), and everything read from the table is taken in an order of its own, so a run does
not depend on the order actors are listed in or the order in which they decide.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from parley.engine.actions import Channel, Counter, Message, Move, Pass, Propose, Respond, WalkOut
from parley.engine.issue_space import NEG, IssueSpace
from parley.engine.policy import Observation
from parley.world.persona import Core, Persona, RedLine
from parley.world.scenario import Scenario
from parley.world.templates import Templates, and_list

HORIZON_BASE, HORIZON_SPAN = 4, 20  # rounds over which an actor concedes all it will: 4 + 20 x patience
SAFETY_MARGIN = 0.03  # how far above a party's predicted floor a proposal aims, at the default belief noise
BELIEF_NOISE = 0.15  # default spread of the error in what an actor believes of others' option values
LEARNING_RATE = 0.1
CANDIDATE_WEIGHTINGS = 48
RECIPROCITY_SLACK = 0.1  # how far a reciprocal actor concedes ahead of what it has seen others concede
ENDGAME_ROUNDS = 2  # in the last rounds before a known deadline, the best offer received is good enough
RECENT = 3  # rounds that count as recent (threats, offers that do not move)
STUCK_MARGIN = 0.03  # an offer this far below my reservation is nothing I can take


def stable_id(name: str) -> int:
    """A number for an actor id that does not depend on where the world lists it."""
    return zlib.crc32(name.encode("utf-8"))


def horizon(persona: Persona, deadline: int | None) -> float:
    """Over how many rounds an actor concedes all it will: the world's deadline when it sets one,
    else what its patience gives."""
    if deadline is not None:
        return float(deadline)
    return HORIZON_BASE + HORIZON_SPAN * persona.traits.level("patience", 0.5)


@dataclass
class Beliefs:
    """What the strategy has learned so far about the others."""

    conceded: dict[str, float] = field(default_factory=dict)  # how far j's latest proposal is from its ideal
    floors: dict[str, float] = field(default_factory=dict)  # predicted utility j needs to accept
    threats: list[tuple[int, str]] = field(default_factory=list)  # (round, who) for each threat I received
    frustration: int = 0
    best_received: float = 0.0
    offers: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # j -> (round, my utility) of its offers
    rebuffed_by: dict[str, int] = field(default_factory=dict)  # j -> the last round it rejected my proposal
    last_aspiration: float | None = None
    flattered: set[str] = field(default_factory=set)


class OfflineStrategy:
    def __init__(
        self,
        actor: str,
        scenario: Scenario,
        space: IssueSpace,
        templates: Templates,
        seed: int,
        rehearsal: bool = False,
    ) -> None:
        """`rehearsal`: only to `rehearse` the templates, so no beliefs about the others are formed
        (N draws per actor, N x N in all, which a big world pays once per run, not twice)."""
        self.actor = actor
        self.scenario = scenario
        self.templates = templates
        self.seed = seed
        self.me = space.index(actor)
        self.rng = np.random.default_rng([seed, stable_id(actor)])
        self.memory = Beliefs()
        self._said: dict[tuple, str] = {}
        self.names = {a: scenario.personas[a].called() for a in space.actors}
        self._proposed: set[tuple[str, ...]] = set()  # every package I have tabled
        self._last_tabled: dict[str, str] | None = None
        self._moved: list[str] = []  # the issues my proposal this round changed against my last one
        self._real = space.values[0] > NEG / 2  # the options that exist, issue by issue
        self._issues = np.arange(len(space.issues))
        self._influence = {(e.source, e.target): e.influence for e in scenario.world.edges if e.source == actor}
        self._contacts = {e.target for e in scenario.world.edges if e.source == actor} | {
            e.source for e in scenario.world.edges if e.target == actor
        }
        self._entries: dict[tuple[int, int], dict] = {}
        self._encoded: dict[str, np.ndarray] = {}
        self._worst: dict[tuple[str, ...], tuple[int, int]] = {}
        self.adopt(scenario.personas[actor], space)
        if rehearsal:
            return
        self._weighed = self._dealt_with()
        self.beliefs = self._initial_beliefs()
        self.prior = self.beliefs.copy()  # kept unlearned, to judge how far others have conceded
        self._prior_ideal = np.where(self.prior > NEG / 2, self.prior, 0.0).max(axis=2).sum(axis=1)
        self.mask = self._known_red_lines()
        self.weightings = self._weightings()

    def adopt(self, persona: Persona, space: IssueSpace) -> None:
        """Take (or take again, after news) my own card and the issue space: what I value, my limits."""
        self.persona = persona
        self.space = space
        self.traits = persona.traits
        self._own_mask = space.feasible_mask([self.me])  # what my own red lines leave
        self._weight_order = np.argsort(-space.weights[self.me], kind="stable")
        self._by_weight = [int(i) for i in self._weight_order]
        scores = space.scores[self.me]  # what each option costs me against my ideal, issue by issue:
        self._losses = space.weights[self.me][:, None] * (scores.max(axis=1, keepdims=True) - scores)
        floor = max(persona.reservation_value(), self.scenario.world.protocol.min_utility.get(self.actor, 0.0))
        self.reservation = floor + 0.01
        own = np.where(space.allowed[self.me], space.values[self.me], NEG)
        self.ideal_utility = max(float(own.max(axis=1).sum()), self.reservation)  # my best, within my red lines
        self.opening: float | None = None  # what I open with: set once I see the table (see `open_with`)
        self._refused_value = persona.refused_value()
        self._entries.clear()
        self._worst.clear()

    def open_with(self, obs: Observation) -> float:
        """What I open with: my card's aspiration, or else the best I could get from a package that the
        others' known red lines and the known cores of those I need leave on the table (no actor opens
        with what it knows nobody can sign)."""
        if self.opening is None:
            s = self.space
            required = [s.index(a) for a in sorted(obs.required) if a != self.actor]
            mask = self.mask & self._own_mask
            alone = np.zeros((1, len(s.actors)))
            alone[0, self.me] = 1.0
            best = s.weighted_best(alone, mask)
            for a in self.public_cores([self.me, *required]):
                best = self.repaired(best, a, mask)
            reachable = float(s.sums(best, s.values[self.me])[0])
            card = self.persona.aspiration
            opening = min(card.value, self.ideal_utility) if card is not None else min(reachable, self.ideal_utility)
            self.opening = max(opening, self.reservation)
        return self.opening

    # -- beliefs ----------------------------------------------------------------------------
    def noise_about(self, actor: str) -> float:
        info = self.persona.information
        return BELIEF_NOISE if info is None else info.noise(actor)

    def _stream(self, *keys: str) -> np.random.Generator:
        """A generator of my own for one thing about one actor: draws that do not depend on the others."""
        return np.random.default_rng([self.seed, stable_id(self.actor), *(stable_id(k) for k in keys)])

    def _dealt_with(self) -> np.ndarray:
        """The actors whose interests I weigh when I look for a package: me, those the world's graph
        joins me to, and the parties the protocol names (signatories, parties at war, those with a
        minimum); everyone when the world draws no graph or every actor signs. So in a big world
        what an actor weighs grows with its edges, not with the world."""
        s, protocol = self.space, self.scenario.world.protocol
        if not self.scenario.world.edges or not protocol.signatories:
            return np.arange(len(s.actors))
        named = {*protocol.signatories, *protocol.belligerents, *protocol.min_utility}
        wanted = {self.actor} | self._contacts | {a for a in named if a in s.actors}
        return np.array(sorted(s.index(a) for a in wanted))

    def _initial_beliefs(self) -> np.ndarray:
        """Others' value tables as this actor believes them: public cards blurred by seeded noise, as
        much noise as my card says I have about each of them. Only of those I weigh (`believes`):
        nothing I do reads a belief about anyone else, so I neither form nor revise one."""
        s = self.space
        beliefs = np.full_like(s.values, NEG)
        beliefs[self.me] = s.values[self.me]
        self._reservation_guess = np.array([s.no_deal[a] for a in range(len(s.actors))], dtype=float)
        self._refused_guess = np.array(s.refused, dtype=float)
        self.believes = np.zeros(len(s.actors), dtype=bool)
        self.believes[self._weighed] = True
        for a in np.flatnonzero(self.believes):
            other = s.actors[a]
            self._reservation_guess[a] = self.scenario.personas[other].reservation_value()
            if a == self.me:
                continue
            rng = self._stream("beliefs", other)
            k = self.noise_about(other) / BELIEF_NOISE
            weights = s.weights[a] * np.exp(rng.normal(0.0, 0.3 * k, size=s.weights.shape[1]))
            weights /= max(weights.sum(), 1e-12)
            scores = np.clip(s.scores[a] + rng.normal(0.0, BELIEF_NOISE * k, size=s.scores.shape[1:]), 0.0, 1.0)
            beliefs[a] = np.where(s.values[a] > NEG / 2, weights[:, None] * scores, NEG)
            error = rng.normal(0.0, 0.05 * k, size=2)
            self._reservation_guess[a] = clamp(self._reservation_guess[a] + error[0], 0.0, 1.0)
            self._refused_guess[a] = clamp(self._refused_guess[a] + error[1], 0.0, 1.0)
        return beliefs

    def _weightings(self) -> np.ndarray:
        """Weightings of the utilities of those I weigh that seed my candidate packages, as columns of
        `_weighed`: mine 1, the others' drawn per actor (each from its own stream), a scale per row."""
        s = self.space
        w = np.zeros((CANDIDATE_WEIGHTINGS, len(self._weighed)))
        for k, a in enumerate(self._weighed):
            w[:, k] = self._stream("weightings", s.actors[a]).gamma(0.6, size=CANDIDATE_WEIGHTINGS)
        scale = self._stream("scales").choice([0.25, 0.5, 1.0, 2.0, 4.0], size=(CANDIDATE_WEIGHTINGS, 1))
        me = int(np.flatnonzero(self._weighed == self.me)[0])
        others = np.delete(np.arange(len(self._weighed)), me)
        total = w[:, others].sum(axis=1, keepdims=True)
        w *= scale / np.maximum(total, 1e-9)
        w[:, me] = 1.0
        w[0] = 0.0
        w[0, me] = 1.0
        return w

    def _known_red_lines(self) -> np.ndarray:
        """Options ruled out by my red lines and by the public red lines of everyone else."""
        s = self.space
        mask = s.feasible_mask([self.me])
        for a, actor in enumerate(s.actors):
            if a == self.me:
                continue
            for line in self.scenario.personas[actor].red_lines:
                if line.public:
                    i = s.issues.index(line.issue)
                    for opt in line.excludes:
                        mask[i, s.options[i].index(opt)] = False
        return mask

    def public_cores(self, actors: list[int]) -> list[int]:
        """Of `actors`, those whose core I know: my own, and the others' that their cards make public."""
        out = []
        for a in actors:
            core = self.scenario.personas[self.space.actors[a]].core
            if core is not None and (a == self.me or core.public):
                out.append(a)
        return out

    def learn(self, obs: Observation) -> None:
        s = self.space
        by_id = {p["id"]: p for p in obs.table}

        def order(item: dict) -> tuple:  # what happened, in an order that is not the world file's
            p = by_id.get(item.get("proposal", ""))
            about = (p["round"], p["proposer"]) if p is not None else (0, "")
            return (item["round"], item["from"], item["kind"], about)

        for item in sorted(obs.inbox, key=order):
            j = item["from"]
            if j == self.actor or j not in s.actors:  # the facilitator's injects teach nothing of the others
                continue
            a = s.index(j)
            weighed = self.believes[a]  # what I learn of the preferences of those I do not weigh is never read
            if item["kind"] == "proposal":
                p = by_id[item["proposal"]]
                pkg = self.encoded(p)
                mine = s.utility(pkg, self.me)
                self.memory.best_received = max(self.memory.best_received, mine)
                self.memory.offers.setdefault(j, []).append((item["round"], mine))
                if weighed:
                    self._pull(a, pkg, LEARNING_RATE)
                    self.memory.conceded[j] = self.concession_of(a, pkg)
                    self.memory.floors[j] = min(self.memory.floors.get(j, 1.0), self.believed_utility(a, pkg))
            elif item["kind"] == "response" and item["proposal"] in by_id:
                p = by_id[item["proposal"]]
                if weighed:
                    believed = self.believed_utility(a, self.encoded(p))
                    if item["accept"]:
                        self.memory.floors[j] = min(self.memory.floors.get(j, believed), believed)
                    else:
                        self.memory.floors[j] = max(self.memory.floors.get(j, 0.0), believed + 0.02)
                if not item["accept"] and p["proposer"] == self.actor:
                    self.memory.rebuffed_by[j] = item["round"]
            elif item["kind"] == "message" and item["message_kind"] == "threat":
                self.memory.threats.append((obs.round, j))
            elif item["kind"] == "message" and item["message_kind"] == "flattery":
                self.memory.flattered.add(j)

    def _pull(self, actor: int, package: np.ndarray, rate: float) -> None:
        """What an actor proposes, it prefers: shift my belief, issue by issue, toward the options it chose."""
        b = self.beliefs[actor]
        weight = b.max(axis=1)  # the weight I believe each issue has (beliefs are >= 0 where an option exists)
        pulled = (1 - rate) * b
        pulled[self._issues, package] += rate * weight
        self.beliefs[actor] = np.where(self._real, pulled, NEG)

    def concession_of(self, actor: int, package: np.ndarray) -> float:
        """How far a proposal by `actor` has come from its ideal toward its reservation, as I believe them."""
        ideal = self._prior_ideal[actor]
        span = max(ideal - self._reservation_guess[actor], 0.05)
        offered = self.space.utility(package, actor, self.prior)
        return clamp((ideal - offered) / span, 0.0, 1.0)

    def believed_utility(self, actor: int, package: np.ndarray) -> float:
        return self.space.utility(package, actor, self.beliefs)

    def encoded(self, proposal: dict) -> np.ndarray:
        """A proposal's package as option indices. A proposal's package never changes, so once per id:
        looking up an id is cheaper than the package lookup the issue space does (measured, ~3%)."""
        pkg = self._encoded.get(proposal["id"])
        if pkg is None:
            pkg = self._encoded[proposal["id"]] = self.space.encode(proposal["package"])
        return pkg

    # -- news -------------------------------------------------------------------------------
    def revise(self, persona: Persona, space: IssueSpace, news: dict) -> None:
        """News changed what actors value or believe: my own card and the issue space (my values, my
        reservation), and what I believe of the others (`news`: actor -> no_deal delta, for the news I
        was told; `beliefs`: about -> {clarity, no_deal} for what I was led to believe)."""
        self.adopt(persona, space)
        for other, delta in news.get("no_deal", {}).items():
            a = space.index(other)
            if a != self.me:
                self._reservation_guess[a] = clamp(self._reservation_guess[a] + delta, 0.0, 1.0)
                self._refused_guess[a] = clamp(self._refused_guess[a] + delta, 0.0, 1.0)
        for other, factors in news.get("weights", {}).items():
            a = space.index(other)
            if a != self.me:  # it now weighs these issues more (or less): so do my beliefs of it
                b = np.where(self._real, self.beliefs[a], 0.0)
                mass = float(b.max(axis=1).sum())  # utilities stay on the same scale: weights share one total
                for issue, factor in factors.items():
                    b[space.issues.index(issue)] *= factor
                b *= mass / max(float(b.max(axis=1).sum()), 1e-12)
                self.beliefs[a] = np.where(self._real, b, NEG)
        for other, change in news.get("beliefs", {}).items():
            a = space.index(other)
            if a == self.me:
                continue
            clarity = change.get("clarity", 0.0)
            if clarity:
                truth = space.values[a]
                self.beliefs[a] = np.where(self._real, self.beliefs[a] + clarity * (truth - self.beliefs[a]), NEG)
                self._reservation_guess[a] += clarity * (space.no_deal[a] - self._reservation_guess[a])
            delta = change.get("no_deal", 0.0)
            if delta:
                self._reservation_guess[a] = clamp(self._reservation_guess[a] + delta, 0.0, 1.0)
                self._refused_guess[a] = clamp(self._refused_guess[a] + delta, 0.0, 1.0)

    # -- concession -------------------------------------------------------------------------
    def aspiration(self, obs: Observation) -> float:
        """The least I want now: from my opening toward my reservation, at my persona's pace."""
        t = min(1.0, obs.round / max(horizon(self.persona, obs.deadline), 1.0))
        patience = self.traits.level("patience", 0.5)
        beta = 2.0 ** (2.0 - 4.0 * patience)  # impatient: concedes early; patient: holds, then moves late
        by_time = t ** (1.0 / beta)
        opening = self.open_with(obs)
        span = max(opening - self.reservation, 1e-9)
        seen = [self.memory.conceded[j] for j in sorted(self.memory.conceded) if j in obs.required]
        by_others = float(np.mean(seen)) if seen else 0.0
        r = self.traits.level("reciprocity", 0.0)
        matched = min(1.0, (by_others + RECIPROCITY_SLACK * by_time) / max(by_time, 1e-9))
        conceded = by_time * (1 - r * (1 - matched))
        recent = self.recent_threats(obs)
        hardening = 0.02 * r * min(len(recent), 3)
        yielding = 1.0 - self.traits.level("assertiveness", 0.5)
        pressure = 0.05 * yielding * sum(obs.influence_on_me.get(j, 0.0) for j in sorted(set(recent)))
        level = opening - span * min(1.0, conceded + pressure) + hardening
        return clamp(level, self.reservation, opening)

    def recent_threats(self, obs: Observation) -> list[str]:
        """Who threatened me in the last rounds (once per threat)."""
        return [j for r, j in self.memory.threats if r >= obs.round - RECENT]

    def acceptance_threshold(self, obs: Observation, proposal: dict, aspiration: float) -> float:
        """My aspiration, eased by trust in the proposer and by endorsements from those who sway me.

        As a deadline the world sets nears, an offer as good as the best I have been given is good enough.
        """
        if obs.deadline is not None and obs.deadline - obs.round < ENDGAME_ROUNDS:
            aspiration = min(aspiration, self.memory.best_received)
        return max(self.reservation, aspiration - self.goodwill(obs, proposal))

    def goodwill(self, obs: Observation, proposal: dict) -> float:
        """How much easier I make it for a proposal: trust in who proposed it, and the word of those who
        sway me and whom I trust - their acceptance eases it, their rejection hardens it."""
        trust = {c["to"]: c["trust"] for c in obs.channels}
        bonus = 0.04 * trust.get(proposal["proposer"], 0.0)
        voices = [(a, 1.0) for a in proposal["accepted_by"]] + [(a, -1.0) for a in proposal["rejected_by"]]
        for voice, sign in sorted(voices):
            if voice not in (self.actor, proposal["proposer"]):
                bonus += sign * 0.05 * obs.influence_on_me.get(voice, 0.0) * max(trust.get(voice, 0.0), 0.0)
        return bonus

    def ratification_threshold(self, obs: Observation, proposal: dict) -> float:
        """As a ratifier: a framework is worth taking when it beats refusing it (the war going on), or
        the world's minimum for me, eased by those who sway me and have signed it."""
        floor = max(self.persona.refused_value(), self.scenario.world.protocol.min_utility.get(self.actor, 0.0))
        return floor + 0.01 - self.goodwill(obs, proposal)

    # -- choosing a package -----------------------------------------------------------------
    def predicted_floors(self, obs: Observation, others: list[int], ratifying: bool = False) -> np.ndarray:
        """What I predict each other party needs: its believed reservation, raised by what it rejected
        and softening at the pace its card gives it; as a ratifier, what refusing is worth to it."""
        out = []
        trust_back = {c["to"]: c["trust_back"] for c in obs.channels}
        for a in others:
            if ratifying:  # what refusing is worth to it, and how little it trusts me (it knows who proposes)
                distrust = 0.04 * trust_back.get(self.space.actors[a], 0.0)
                out.append(self._refused_guess[a] + 0.01 - distrust)
                continue
            card = self.scenario.personas[self.space.actors[a]]
            t = min(1.0, obs.round / max(horizon(card, obs.deadline), 1.0))
            guess = self._reservation_guess[a] + 0.15 * (1 - t)
            learned = self.memory.floors.get(self.space.actors[a])
            out.append(max(guess, learned * (1 - 0.05 * t)) if learned is not None else guess)
        return np.array(out)

    def margins(self, others: list[int]) -> np.ndarray:
        """How far above each party's predicted floor to aim: less for those I read well."""
        return np.array([SAFETY_MARGIN * self.noise_about(self.space.actors[a]) / BELIEF_NOISE for a in others])

    def choose_package(self, obs: Observation, aspiration: float) -> np.ndarray | None:
        s = self.space
        present = set(obs.present)
        required = [s.index(a) for a in sorted(obs.required) if a != self.actor and a in present]
        mask = self.mask.copy()
        for issue, options in obs.withdrawn.items():
            i = s.issues.index(issue)
            for option in options:
                mask[i, s.options[i].index(option)] = False
        stuck = ~mask.any(axis=1)  # others' red lines leave nothing on an issue: keep to my own
        mask[stuck] = self._own_mask[stuck]
        own = self._own_mask.copy()
        for issue, options in obs.withdrawn.items():
            i = s.issues.index(issue)
            for option in options:
                own[i, s.options[i].index(option)] = False
        mask &= own
        cored = self.public_cores([self.me, *required, *self.ratifying(obs)[0]])
        candidates = s.weighted_best(self.weightings, mask, self.beliefs[self._weighed])
        candidates = unique_rows(np.vstack([candidates, *(self.repaired(candidates, a, mask) for a in cored)]))
        groups = [(required, self.predicted_floors(obs, required)), self.ratifying(obs)]
        best = self._pick(candidates, groups, aspiration)
        if best is None:
            return None
        for _ in range(len(s.issues)):  # polish with single-issue changes while they help
            pool = np.vstack([best[None], s.neighbours(best, mask)])
            better = self._pick(pool, groups, aspiration)
            if better is None or np.array_equal(better, best):
                break
            best = better
        return best

    def repaired(self, packages: np.ndarray, actor: int, mask: np.ndarray) -> np.ndarray:
        """The packages changed, issue by issue at the least cost to me, until `actor`'s core holds."""
        s = self.space
        need = int(s.core_need[actor])
        hits = s.core_hits[actor] & mask  # the options (within mask) that meet one of its aims
        out = packages.copy()
        counts = s.core_counts(out, [actor])[:, 0]
        own = np.where(mask, s.values[self.me], NEG)
        # Per issue, the aim-meeting option best for me and its value. A change to one issue leaves the
        # cost of the others as it was, so changing the cheapest issue first, then the next, is the same
        # as sorting them by cost once (ties to the lower issue, as argmin takes the first).
        fixable = np.flatnonzero(hits.any(axis=1))
        best = np.array([int(np.flatnonzero(hits[i])[np.argmax(own[i][hits[i]])]) for i in fixable], dtype=out.dtype)
        best_value = own[fixable, best]
        counted = s.core_hits[actor]
        for row in np.flatnonzero(counts < need):
            pkg = out[row]
            count = int(counts[row])
            current = pkg[fixable]
            todo = ~hits[fixable, current]
            order = np.argsort((own[fixable, current] - best_value)[todo], kind="stable")
            for k in np.flatnonzero(todo)[order]:
                if count >= need:
                    break
                i = fixable[k]
                count += 0 if counted[i, pkg[i]] else 1
                pkg[i] = best[k]
        return out

    def _pick(
        self,
        packages: np.ndarray,
        groups: list[tuple[list[int], np.ndarray]],
        aspiration: float,
    ) -> np.ndarray | None:
        """The package worth most to me among those I can live with and predict the parties I need
        accept; else the most acceptable one I can live with.

        Under `ratify` a package is worth what I get if it is ratified, but only what a refused
        framework is worth to me when I predict a party at war refuses it (`groups[1]`: the ratifiers
        and what refusing is worth to each). Packages that miss my own core, or a known core of a
        party I need, are never picked."""
        s = self.space
        required, floors = groups[0]
        ok = s.meets_cores(packages, self.public_cores([self.me]))
        if not ok.any():
            return None
        value = self.worth(packages, groups[1])
        livable = ok & (value >= aspiration - 1e-9)
        if not livable.any():  # the closest to my aspiration, but never below what I can accept
            best = value[ok].max()
            if best < self.reservation - 1e-9:
                return None
            livable = ok & (value >= best - 1e-9)
        slack = np.ones(len(packages))
        if required:
            slack = (s.sums(packages, self.beliefs[required]) - floors - self.margins(required)).min(axis=1)
            slack = np.where(s.meets_cores(packages, self.public_cores(required)), slack, -1.0)
        accepted = livable & (slack >= 0)
        if accepted.any():
            key = np.where(accepted, value + 1e-6 * slack, -np.inf)
        else:
            key = np.where(livable, slack + 1e-6 * value, -np.inf)
        return packages[int(np.argmax(key))]

    def worth(self, packages: np.ndarray, ratifying: tuple[list[int], np.ndarray]) -> np.ndarray:
        """What packages are worth to me: their utility, or under `ratify`, where I predict a party at
        war among the ratifiers refuses them, what a refused framework is worth to me (but never more
        than the terms themselves: I sign nothing I would not keep if it were ratified after all)."""
        s = self.space
        mine = s.sums(np.atleast_2d(packages), s.values[self.me])
        ratifiers, floors = ratifying
        at_war = set(self.scenario.world.protocol.belligerents)
        decisive = [k for k, a in enumerate(ratifiers) if s.actors[a] in at_war]
        if not decisive:
            return mine
        who = [ratifiers[k] for k in decisive]
        # what they would ratify, judged by their cards as I read them (not by what they have proposed)
        slack = (s.sums(np.atleast_2d(packages), self.prior[who]) - floors[decisive] - self.margins(who)).min(axis=1)
        ratified = (slack >= 0) & s.meets_cores(np.atleast_2d(packages), self.public_cores(who))
        if not self.public_red_lines(who):
            ratified &= ~s.crosses(np.atleast_2d(packages), who)
        return np.where(ratified, mine, np.minimum(mine, self._refused_value))  # refused or not, never below its terms

    def public_red_lines(self, actors: list[int]) -> bool:
        """Whether I know every red line of `actors` (the packages I choose already keep out the ones I
        know; a package from the table may cross them)."""
        return all(line.public for a in actors for line in self.scenario.personas[self.space.actors[a]].red_lines)

    def ratifying(self, obs: Observation) -> tuple[list[int], np.ndarray]:
        """The ratifiers still at the table but me, and what I believe refusing a framework is worth to each."""
        s = self.space
        wanted = [s.index(a) for a in sorted(obs.ratifiers) if a != self.actor and a in obs.present]
        return wanted, self.predicted_floors(obs, wanted, ratifying=True)

    # -- deciding ---------------------------------------------------------------------------
    def decide(self, obs: Observation) -> Move:
        self.learn(obs)
        aspiration = self.aspiration(obs)
        actions: list = []
        actions += self.channels(obs)
        walkout = self.maybe_walk_out(obs, aspiration)
        if walkout:
            return Move(actions=[walkout])
        responses, rejected = self.responses(obs, aspiration)
        actions += responses
        if obs.ratification is None and not self.closes(obs, responses):
            actions += self.proposal(obs, aspiration, rejected)
            actions += self.messages(obs, aspiration, rejected)
        else:  # the framework is before the ratifiers, or my signature completes it: no new offers, no talk of them
            actions += [Respond(proposal=p["id"], accept=False, reason=p["reason"]) for p in rejected]
            self._moved = []
            if obs.ratification is not None:
                actions += self.messages(obs, aspiration, rejected)
        self.memory.last_aspiration = aspiration
        return Move(actions=actions or [Pass(reason="nothing to add this round")])

    def closes(self, obs: Observation, responses: list) -> bool:
        """Whether one of my acceptances gives a proposal the last signature it needs from the parties
        that agree first (the framework parties under `ratify`, else every required signatory): the
        round ends the bargaining, so an offer or a concession signal of mine would never be tabled."""
        first = list(obs.world.protocol.framework) or list(obs.required)
        by_id = {p["id"]: p for p in obs.table}
        for r in responses:
            p = by_id.get(r.proposal)
            if r.accept and p is not None and set(first) - {self.actor} <= {*p["accepted_by"], p["proposer"]}:
                return self.actor in first
        return False

    def table_in_order(self, obs: Observation) -> list[dict]:
        """The proposals I see, oldest first, then by proposer: not by their numbers, which follow the
        order the world lists actors in."""
        return sorted(obs.table, key=lambda p: (p["round"], p["proposer"]))

    def responses(self, obs: Observation, aspiration: float) -> tuple[list, list[dict]]:
        out, rejected = [], []
        framework = (obs.ratification or {}).get("proposal")
        for p in self.table_in_order(obs):
            if p["status"] != "open" or self.actor not in p["recipients"]:
                continue
            if self.actor in p["accepted_by"] or self.actor in p["rejected_by"]:
                continue
            pkg = self.encoded(p)
            mine = self.space.utility(pkg, self.me)
            crossed = self.crossed_red_line(p["package"])
            if p["id"] == framework:
                value, threshold = mine, self.ratification_threshold(obs, p)
            else:
                value = mine
                if self.actor in obs.world.protocol.framework:  # it becomes the framework if we all accept
                    value = float(self.worth(pkg, self.ratifying(obs))[0])
                threshold = self.acceptance_threshold(obs, p, aspiration)
            own = tuple(p["package"].values()) in self._proposed and mine >= self.reservation - 1e-9
            accept = crossed is None and (value >= threshold or own)  # what I tabled myself, I take
            reason = self.say(
                "accept.j2" if accept else "reject.j2",
                obs,
                to=[p["proposer"]],
                package=p["package"],
                **({} if accept else self.why_not(p["package"], crossed, mine, threshold)),
            )
            if accept:
                out.append(Respond(proposal=p["id"], accept=True, reason=reason))
            else:
                rejected.append({**p, "reason": reason, "utility": mine})
        return out, rejected

    def why_not(self, package: dict[str, str], crossed: RedLine | Core | None, mine: float, threshold: float) -> dict:
        """Why I reject a package, as reject.j2 says it: a red line (issue and option), my core (the
        issues it misses), the ratifiers who would refuse it (it is good enough for me, not for them),
        or it is short of what I want (the issue where it costs me most)."""
        issues = {i.id: i for i in self.scenario.world.issues}
        if isinstance(crossed, RedLine):
            issue = issues[crossed.issue]
            option = next(o.meaning for o in issue.options if o.id == package[crossed.issue])
            line = {"issue": issue.title, "option": option, "id": issue.id, "why": crossed.why}
            return {"because": "red_line", "red_line": line}
        if isinstance(crossed, Core):
            missing = [issues[a.issue].title for a in crossed.of if package[a.issue] not in a.options]
            return {"because": "core", "missing": tuple(missing[:2]), "issue_id": crossed.of[0].issue}
        if mine >= threshold:
            return {"because": "ratifiers"}
        return {"because": "short"}

    def crossed_red_line(self, package: dict[str, str]) -> RedLine | Core | None:
        """The red line a package crosses, or my core when it misses it (both say why)."""
        for line in self.persona.red_lines:
            if package[line.issue] in line.excludes:
                return line
        core = self.persona.core
        if core is not None and sum(package[aim.issue] in aim.options for aim in core.of) < core.at_least:
            return core
        return None

    def addressees(self, obs: Observation) -> list[str]:
        """Whom I talk to: those the world's graph joins me to (either way) and those whose signature
        a deal needs; everyone present when the world draws no graph. In a world where everyone is
        joined to everyone, that is everyone; in a big one, talk follows the graph, not N x N."""
        if not obs.world.edges:
            return [a for a in sorted(obs.present) if a != self.actor]
        wanted = self._contacts | set(obs.required) | set(obs.ratifiers)
        return [a for a in sorted(obs.present) if a != self.actor and a in wanted]

    def proposal(self, obs: Observation, aspiration: float, rejected: list[dict]) -> list:
        recipients = self.addressees(obs)
        out: list = [Respond(proposal=p["id"], accept=False, reason=p["reason"]) for p in rejected]
        if not recipients:
            return out
        chosen = self.choose_package(obs, aspiration)
        if chosen is None:
            return out
        package = self.space.decode(chosen)
        before = self._last_tabled
        self._moved = [] if before is None else [k for k, v in package.items() if before.get(k) != v]
        self._last_tabled = package
        self._proposed.add(tuple(package.values()))
        text = self.say("propose.j2", obs, to=recipients, package=package)
        if rejected:  # counter the rejected offer that came closest to what I want
            target = max(rejected, key=lambda p: (p["utility"], p["round"], p["proposer"]))
            out = [Respond(proposal=p["id"], accept=False, reason=p["reason"]) for p in rejected if p is not target]
            return [
                *out,
                Counter(proposal=target["id"], package=package, to=recipients, reason=target["reason"], text=text),
            ]
        return [Propose(package=package, to=recipients, text=text)]

    def blockers(self, obs: Observation) -> dict[str, float]:
        """Those whose acceptance I need and who stand in the way: who rebuffed my last proposals, or
        whose offers to me are below what I can take; each scored by how much it blocks, and how much
        I sway it (a threat to those I cannot move is empty)."""
        out = {}
        for j in sorted(obs.required):
            if j == self.actor or j not in obs.present:
                continue
            offers = self.memory.offers.get(j, [])
            best = max((u for _, u in offers), default=0.0)
            shortfall = max(0.0, self.reservation - best)
            rebuffed = self.memory.rebuffed_by.get(j, -99) >= obs.round - 1
            if shortfall <= 0 and not rebuffed:
                continue
            sway = self._influence.get((self.actor, j), 0.0)
            out[j] = (shortfall + (0.05 if rebuffed else 0.0)) * (0.5 + sway)
        return out

    def messages(self, obs: Observation, aspiration: float, rejected: list[dict]) -> list:
        out: list = []
        s = self.scenario.personas
        flatterer = self.traits.level("flattery_use")
        if obs.ratification is not None:  # the framework is agreed: no flattery, no concessions, only pressure
            flatterer = 0.0
        if flatterer > 0.3:
            marks = [a for a in self.addressees(obs) if s[a].traits.level("flattery_susceptibility") >= 0.6]
            if marks and self.rng.random() < flatterer * 0.6:
                out.append(Message(kind="flattery", to=marks, text=self.say("flattery.j2", obs, to=marks)))
        assertive = self.traits.level("assertiveness")
        blocking = self.blockers(obs)
        rebuffed = rejected or any(r >= obs.round - 1 for r in self.memory.rebuffed_by.values())
        if blocking and rebuffed and assertive > 0.3 and self.rng.random() < assertive * 0.5:
            top = max(blocking.values())
            tied = sorted(j for j, v in blocking.items() if v >= top - 1e-9)
            target = [tied[int(self.rng.integers(len(tied)))] if len(tied) > 1 else tied[0]]
            out.append(Message(kind="threat", to=target, text=self.say("threat.j2", obs, to=target)))
        last = self.memory.last_aspiration
        moved, self._moved = self._moved, []
        if last is not None and last - aspiration > 0.02 and moved and obs.ratification is None:
            to = [a for a in sorted(obs.required) if a != self.actor and a in obs.present]
            if to:
                titles = {i.id: i.title for i in self.scenario.world.issues}
                said = self.say("concession.j2", obs, to=to, moved=tuple(titles[k] for k in moved))
                out.append(Message(kind="concession", to=to, text=said))
        return out

    def channels(self, obs: Observation) -> list:
        out = []
        openness = self.traits.level("openness", 0.5)
        needed = set(obs.required) | {p["proposer"] for p in obs.table}
        threatened = bool(self.recent_threats(obs))
        for c in sorted(obs.channels, key=lambda c: c["to"]):
            if c["to"] not in obs.present:
                continue
            if not c["open"] and c["to"] in needed and c["trust"] > -0.8 and self.rng.random() < openness * 0.5:
                out.append(
                    Channel(to=c["to"], open=True, reason=self.say("channel.j2", obs, to=[c["to"]], opening=True))
                )
            elif c["open"] and c["trust"] < -0.7 and threatened and self.rng.random() < 0.3:
                out.append(
                    Channel(to=c["to"], open=False, reason=self.say("channel.j2", obs, to=[c["to"]], opening=False))
                )
        return out

    def stuck(self, obs: Observation) -> bool:
        """Someone whose acceptance I need offers me nothing I can take, and has not moved lately."""
        if obs.round <= RECENT:
            return False
        for j in sorted(obs.required):
            if j == self.actor or j not in obs.present:
                continue
            offers = self.memory.offers.get(j, [])
            if not offers:
                return True  # it has not made me an offer in all this time
            latest = offers[-1][1]
            before = max((u for r, u in offers if r < obs.round - RECENT), default=None)
            moving = before is not None and latest > before + 0.01
            if latest < self.reservation - STUCK_MARGIN and not moving:
                return True
        return False

    def maybe_walk_out(self, obs: Observation, aspiration: float) -> WalkOut | None:
        """Leave when those I need have offered nothing I can take for longer than my temper allows."""
        if obs.ratification is not None:  # the framework is before the ratifiers: nothing left to wait for
            return None
        propensity = self.traits.level("walkout_propensity")
        pressed = [j for j in self.recent_threats(obs) if j in obs.required]  # threats from those I need
        frustrated = self.stuck(obs) or len(pressed) > 2
        self.memory.frustration = self.memory.frustration + 1 if frustrated else 0
        patience = 3 + round((1 - propensity) * 15)
        if propensity > 0.2 and self.memory.frustration >= patience and self.rng.random() < propensity:
            return WalkOut(reason=self.say("walkout.j2", obs, to=[]))
        return None

    # -- speaking ---------------------------------------------------------------------------
    ACTS: ClassVar[dict[str, str | None]] = {  # template -> the speech act of the card's voice it draws from
        "propose.j2": "offer",
        "accept.j2": "acceptance",
        "reject.j2": "refusal",
        "threat.j2": "threat",
        "flattery.j2": "flattery",
        "concession.j2": "concession",
        "channel.j2": None,
        "walkout.j2": "walkout",
    }
    TEMPLATES = tuple(ACTS)

    def rehearse(self) -> None:
        """Render every template this persona may use once, with and without its card's lines, so a
        broken one fails before the run."""
        others = [a for a in self.space.actors if a != self.actor]
        ideal = self.describe(self.space.decode(self.space.ideal(self.me)))
        voice = self.persona.voice
        for name, act in self.ACTS.items():
            lines = [""] + ([line.said(self.names[others[0]]) for line in getattr(voice, act)] if voice and act else [])
            for because in ("red_line", "core", "ratifiers", "short") if name == "reject.j2" else (None,):
                for line in lines:
                    for opening in (True, False):
                        context = self.context(1, [self.names[a] for a in others], ideal, ideal[0])
                        context |= {"line": line, "because": because, "opening": opening, "moved": ("x",)}
                        context |= {"missing": ("x",), "red_line": {"issue": "x", "option": "y", "id": "x", "why": "z"}}
                        self.templates.render(f"offline/{name}", **context)

    def context(self, round_: int, to: list[str], package: list[dict], worst: dict | None) -> dict:
        """What every offline template may read; each names only what it uses."""
        return {
            "me": self.persona,
            "v": self.persona.verbs(),
            "round": round_,
            "to": to,
            "package": package,
            "worst": worst,
            "line": "",
            "because": None,
            "red_line": None,
            "missing": (),
            "moved": (),
            "opening": None,
        }

    def voice_line(self, template: str, round_: int, to: list[str], issue: str | None) -> str:
        """A line of my card's voice for this act, to these addressees, about this issue: drawn from a
        stream of its own (seeded by the run seed, my id, the act and the round), so what I say never
        changes what I do, and does not depend on where the world lists me."""
        voice, act = self.persona.voice, self.ACTS.get(template)
        if voice is None or act is None:
            return ""
        if act == "refusal" and issue is not None:
            act = "red_line"
        lines = voice.lines(act, to, issue)
        if not lines:
            return ""
        rng = np.random.default_rng([self.seed, stable_id(self.actor), stable_id("voice"), stable_id(act), round_])
        line = lines[int(rng.integers(len(lines)))]
        return line.said(and_list([self.names[a] for a in to]))

    def say(
        self, template: str, obs: Observation, to: list[str], package: dict[str, str] | None = None, **extra: object
    ) -> str:
        name = f"offline/{template}"
        issue = None
        if extra.get("because") == "red_line":
            issue = extra["red_line"]["id"]  # type: ignore[index]
        elif extra.get("because") == "core":
            issue = str(extra["issue_id"])
        extra.pop("issue_id", None)
        extra["line"] = self.voice_line(template, obs.round, to, issue)
        used = self.templates.names_used(name)
        packed = tuple(package.values()) if package else ()
        worst = self.worst_issue(package) if package and ("worst" in used or "*" in used) else None
        cheap = {"me": 0, "v": 0, "round": obs.round, "to": tuple(to), "package": packed, "worst": worst} | {
            k: (repr(v) if isinstance(v, dict) else v) for k, v in extra.items()
        }
        key = None if "*" in used else (name, *(cheap.get(n) for n in used))
        if key is not None and key in self._said:  # the same words for the same things (runs say little new)
            return self._said[key]
        described = self.describe(package) if package else []
        entry = self.entry(worst[0], self.space.encode(package)) if package and worst else None
        context = self.context(obs.round, [self.names[a] for a in to], described, entry) | extra
        text = " ".join(self.templates.render(name, **context).split())
        if key is not None:
            self._said[key] = text
        return text

    def worst_issue(self, package: dict[str, str]) -> tuple[int, int]:
        """(issue, option) where the package costs me most against my ideal; ties: the weightier issue."""
        key = tuple(package.values())
        found = self._worst.get(key)
        if found is None:
            found = self._worst[key] = self._costliest(package)
        return found

    def _costliest(self, package: dict[str, str]) -> tuple[int, int]:
        pkg = self.space.encode(package)
        losses = self._losses[self._issues, pkg]
        i = int(self._weight_order[int(np.argmax(losses[self._weight_order]))])
        return i, int(pkg[i])

    def describe(self, package: dict[str, str]) -> list[dict]:
        """The package, issue by issue, with how it stands against my own ideal: most important first."""
        pkg = self.space.encode(package)
        return [self.entry(i, pkg) for i in self._by_weight]

    def entry(self, i: int, pkg: np.ndarray) -> dict:
        """One issue of a package as templates see it: title, option, weight, what it costs me, ideal?

        It depends on the issue and the option only, so each is made once (templates read, never write).
        """
        key = (i, int(pkg[i]))
        found = self._entries.get(key)
        if found is None:
            scores, weight = self.space.scores[self.me, i], float(self.space.weights[self.me, i])
            got, best = float(scores[key[1]]), float(scores.max())
            issue = self.scenario.world.issues[i]
            found = self._entries[key] = {
                "issue": issue.title,
                "option": issue.options[key[1]].meaning,
                "weight": weight,
                "loss": weight * (best - got),
                "ideal": got >= best - 1e-9,
            }
        return found


def clamp(x: float, low: float, high: float) -> float:
    """`np.clip` for one number, as it computes it (min of max), at a tenth of its cost."""
    return float(min(max(x, low), high))


def unique_rows(packages: np.ndarray) -> np.ndarray:
    """The distinct rows in lexicographic order: `np.unique(axis=0)`, at a fifth of its cost."""
    ordered = packages[np.lexsort(packages.T[::-1])]
    keep = np.ones(len(ordered), dtype=bool)
    keep[1:] = (ordered[1:] != ordered[:-1]).any(axis=1)
    return ordered[keep]
