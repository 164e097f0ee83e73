"""Short names for a world's issues and options, written as the world writes its words.

Ids are snake case (`us_lifted_eu_kept`); a room reads "US lifted, EU kept". The transcript and the
board both name options briefly this way, while the log and `parley show` keep their full meaning.
"""

from __future__ import annotations

import re

from parley.world.world import World


class Labels:
    """Short names for issues and options, made from their ids and written as the world writes them
    ("us_military_aid" -> "US military aid", "fortified_dmz" -> "fortified DMZ"): the transcript names
    options briefly, the log and `parley show` keep their full meaning."""

    def __init__(self, world: World) -> None:
        texts = [i.title for i in world.issues] + [i.meaning for i in world.issues]
        texts += [o.meaning for i in world.issues for o in i.options]
        forms: dict[str, dict[str, int]] = {}  # how each word is written where it is not a sentence's first
        anywhere: dict[str, set[str]] = {}
        for text in texts:
            for sentence in re.split(r"[.;:!?(]\s+", text):
                for k, word in enumerate(re.findall(r"[A-Za-z]+", sentence)):
                    anywhere.setdefault(word.lower(), set()).add(word)
                    if k:
                        forms.setdefault(word.lower(), {}).setdefault(word, 0)
                        forms[word.lower()][word] += 1
        self.forms = {low: max(seen, key=lambda w: (seen[w], w == low)) for low, seen in forms.items()}
        for low, seen_as in anywhere.items():
            if low not in self.forms:  # only ever first in a sentence: lower case, unless never written so
                self.forms[low] = low if low in seen_as else sorted(seen_as)[0]

    def word(self, token: str) -> str:
        if token in self.forms:
            return self.forms[token]
        return token.upper() if len(token) <= 3 else token  # a short word the world never writes: an acronym

    def __call__(self, ident: str) -> str:
        return " ".join(self.word(t) for t in str(ident).split("_"))
