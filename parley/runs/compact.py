"""The compact line form of an event log: what `events.jsonl` holds, and how it reads back exactly.

Every line is one JSON object. A line without the marker key `"~"` is one plain event, as every log
recorded before this form held, so old logs read unchanged. A line `{"~": "rows", ...}` holds the
derived events of one round with consecutive seqs, written together (from a 12-actor world):

    {"~":"rows","round":1,"seq":1,"shapes":[{"id":0,"type":"round_started","keys":[]},
     {"id":2,"type":"trust","keys":["actor","toward","before","after","cause"],
      "codes":{"actor":"s","toward":"s","cause":"s"}}, ...],"strings":0,
     "rows":[[0],[1,"a000","nothing to add this round"],[1,"a001",1],
      [2,"a004","a003",0.4,0.4732,"flattery"],[2,"a007",4,0.0,0.0756,5], ...]}
    {"~":"rows","round":2,"seq":46,"shapes":[{"id":7,"type":"response","keys":["actor","proposal",
     "accept","reason","countered"],"codes":{...,"accept":"b","countered":"b"}}, ...],"strings":38,
     "rows":[[0],[7,0,15,0,"On issue 13 it asks too much of us.",0],[2,14,0,0.0,-0.04,"rejected"], ...,
      [5,46,"P31",["P2",{"i16":"o1"}],[0,2,4],"P2",...], ...]}

- A **shape** is an event type with its keys in order, declared (with the next `id`) in the line
  that first uses it; `keys` leaves out seq, round and type when they come first, as they do.
- A **row** is `[shape id, the values of its other keys]`: its seq is the line's `seq` plus the
  row's index, its round the line's.
- A column coded `"s"` holds strings by reference: a string is written in full the first time the
  log holds it in such a column, and as its number (in order of first writing, over the whole log)
  after that; a value that is not a string is wrapped as `[value]`. `"l"` holds lists of strings so,
  item by item (anything else as `{"=": value}`); `"b"` holds true and false as 1 and 0 (anything
  else as `[value]`). A line that writes strings in full says the number of the first (`strings`),
  so a damaged line costs only the lines that refer to what it held, never a misread string.
- The `package` of a proposal (coded `"p"`) is written as it is (an object), or as the id of an
  earlier proposal with the same package, or `[id, {the options that differ from its package}]`
  (the base is the proposal it counters, its proposer's last or the last, whichever differs
  least), or `[value]` for a value that is not an object.

Events the engine cannot make again (an LLM's answer, a person's move, a round's end, an error, the
outcome) are written plain, each at once, so a reader of the last line (an ensemble's index) and a
killed run lose nothing to this form. Decoding what was encoded gives the same dicts: keys, their
order, values, floats and seqs. A change to this form that today's reader could not read must take
a new form name (the value of `"~"`), so a log says which reader it needs.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator
from typing import Any, TypeGuard

from parley.engine.events import DERIVED

MARK = "~"  # the key that says a line is compact; no event has it
ROWS = "rows"
HEAD = ("seq", "round", "type")
LINE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class CompactError(ValueError):
    """A compact line that cannot be read back; `lost`: it refers to what no readable line declared
    (a line before it was damaged), rather than being malformed itself."""

    def __init__(self, message: str, lost: bool = False) -> None:
        super().__init__(message)
        self.lost = lost


class _Shape:
    """One event type with its keys in order, and how each column other than seq, round and type is coded."""

    __slots__ = ("codes", "columns", "id", "keys", "plain_head", "type")

    def __init__(self, id_: int, type_: str, keys: list[str], codes: dict[str, str]) -> None:
        self.id, self.type, self.keys = id_, type_, keys
        self.columns = [k for k in keys if k not in HEAD]
        self.codes = [codes.get(k, "") for k in self.columns]
        self.plain_head = tuple(keys[:3]) == HEAD  # the usual order: seq, round, type, then the rest

    def declaration(self) -> dict[str, Any]:
        """`keys` leaves out seq, round and type when they come first, in that order (as they always do)."""
        out: dict[str, Any] = {"id": self.id, "type": self.type, "keys": self.columns if self.plain_head else self.keys}
        codes = {k: c for k, c in zip(self.columns, self.codes, strict=True) if c}
        if codes:
            out["codes"] = codes
        return out

    @classmethod
    def declared(cls, d: dict[str, Any]) -> _Shape:
        keys = list(d["keys"])
        if not any(k in HEAD for k in keys):
            keys = [*HEAD, *keys]
        return cls(d["id"], d["type"], keys, dict(d.get("codes") or {}))


def _plain_strings(package: Any) -> TypeGuard[dict[str, str]]:
    return type(package) is dict and all(type(k) is str and type(v) is str for k, v in package.items())


class _Packages:
    """The packages of the proposals logged so far, by proposal id: what a package may refer to."""

    def __init__(self) -> None:
        self.by_id: dict[str, dict[str, str]] = {}

    def note(self, event: dict[str, Any]) -> None:
        if event.get("type") == "proposal" and isinstance(event.get("proposal"), str):
            package = event.get("package")
            if _plain_strings(package):
                self.by_id[event["proposal"]] = dict(package)  # a copy: the engine's dict is not ours


class LogEncoder:
    """Events in, lines out. Derived events (`held`) wait in rows until `flush` or an event of another
    round, seq run or kind; the others are written plain at once, after the rows before them."""

    def __init__(self, held: Collection[str] = DERIVED) -> None:
        self.held = held
        self._shapes: dict[tuple[str, tuple[str, ...]], _Shape] = {}
        self._strings: dict[str, int] = {}
        self._next_string = 0  # the number the next string written in full gets
        self._next_shape = 0
        self._strings_at = 0  # the number of the first string the rows held write in full
        self._packages = _Packages()
        self._last_of: dict[str, str] = {}  # actor -> id of their last proposal
        self._same: dict[tuple[tuple[str, str], ...], str] = {}  # package -> id of a proposal with it
        self._last: str | None = None
        self._rows: list[list[Any]] = []
        self._new: list[_Shape] = []
        self._round = 0
        self._seq = 0  # the first seq of the rows held

    @classmethod
    def after(cls, lines: Iterable[str | bytes], held: Collection[str] = DERIVED) -> LogEncoder:
        """An encoder to go on writing the log whose (whole, readable) lines are `lines`."""
        decoder = LogDecoder()
        encoder = cls(held)
        for line in lines:
            if line.strip():
                for event in decoder.decode(json.loads(line)):
                    encoder._note(event)
        encoder._shapes = {(s.type, tuple(s.keys)): s for s in decoder.shapes if s is not None}
        encoder._strings = {s: i for i, s in enumerate(decoder.strings) if s is not None}
        encoder._next_shape, encoder._next_string = len(decoder.shapes), len(decoder.strings)
        return encoder

    def encode(self, event: dict[str, Any]) -> list[str]:
        """The lines to write now for `event` (none while it waits in a row)."""
        seq, round_, type_ = event.get("seq"), event.get("round"), event.get("type")
        if MARK in event:
            raise ValueError(f"an event may not have the key {MARK!r}: it marks a compact line")
        if not (isinstance(type_, str) and type_ in self.held and type(seq) is int and type(round_) is int):
            lines = self.flush()
            lines.append(LINE.encode(event))
            self._note(event)
            return lines
        lines = []
        if self._rows and (round_ != self._round or seq != self._seq + len(self._rows)):
            lines = self.flush()
        if not self._rows:
            self._round, self._seq, self._strings_at = round_, seq, self._next_string
        self._rows.append(self._row(event, str(type_)))
        self._note(event)
        return lines

    def flush(self) -> list[str]:
        """The rows held, as a line (none when nothing is held)."""
        if not self._rows:
            return []
        line: dict[str, Any] = {MARK: ROWS, "round": self._round, "seq": self._seq}
        if self._new:
            line["shapes"] = [s.declaration() for s in self._new]
        if self._next_string > self._strings_at:
            line["strings"] = self._strings_at  # lets a reader tell a lost line from a misnumbered string
        line["rows"] = self._rows
        self._rows, self._new = [], []
        return [LINE.encode(line)]

    # -- one row ------------------------------------------------------------------------------------
    def _row(self, event: dict[str, Any], type_: str) -> list[Any]:
        keys = tuple(event)
        shape = self._shapes.get((type_, keys))
        if shape is None:
            shape = self._declare(event, type_, keys)
        row: list[Any] = [shape.id]
        for key, code in zip(shape.columns, shape.codes, strict=True):
            value = event[key]
            if code == "s":
                value = self._string(value) if isinstance(value, str) else [value]
            elif code == "l":
                if type(value) is list and all(isinstance(v, str) for v in value):
                    value = [self._string(v) for v in value]
                else:
                    value = {"=": value}
            elif code == "b":
                value = int(value) if type(value) is bool else [value]
            elif code == "p":
                value = self._package(value, event)
            row.append(value)
        return row

    def _declare(self, event: dict[str, Any], type_: str, keys: tuple[str, ...]) -> _Shape:
        codes = {}
        for key in keys:
            if key in HEAD:
                continue
            value = event[key]
            if key == "package" and type_ == "proposal":
                codes[key] = "p"
            elif isinstance(value, str):
                codes[key] = "s"
            elif type(value) is bool:
                codes[key] = "b"
            elif type(value) is list and all(isinstance(v, str) for v in value):
                codes[key] = "l"
        shape = _Shape(self._next_shape, type_, list(keys), codes)
        self._next_shape += 1
        self._shapes[(type_, keys)] = shape
        self._new.append(shape)
        return shape

    def _string(self, value: str) -> str | int:
        ref = self._strings.get(value)
        if ref is None:
            self._strings[value] = self._next_string
            self._next_string += 1
            return value
        return ref

    def _package(self, package: Any, event: dict[str, Any]) -> Any:
        if not _plain_strings(package):
            return package if type(package) is dict else [package]
        items = tuple(package.items())
        same = self._same.get(items)
        if same is not None and tuple(self._packages.by_id[same].items()) == items:
            return same
        best: list[Any] | None = None
        actor = event.get("actor")
        for ref in (event.get("counter_to"), self._last_of.get(actor) if isinstance(actor, str) else None, self._last):
            base = self._packages.by_id.get(ref) if isinstance(ref, str) else None
            if base is None or list(base) != list(package):
                continue
            changed = {k: v for k, v in items if base[k] != v}
            if best is None or len(changed) < len(best[1]):
                best = [ref, changed]
        if best is None or len(best[1]) * 2 > len(package):
            return package
        return best

    def _note(self, event: dict[str, Any]) -> None:
        """What later packages may refer to (the same on both sides: every proposal, plain or in a row)."""
        self._packages.note(event)
        if event.get("type") == "proposal" and isinstance(event.get("proposal"), str):
            pid = event["proposal"]
            if pid in self._packages.by_id:
                self._same[tuple(self._packages.by_id[pid].items())] = pid
                if isinstance(event.get("actor"), str):
                    self._last_of[event["actor"]] = pid
                self._last = pid


class LogDecoder:
    """Lines (parsed) in, events out, in the order they were logged; stateful across one log's lines."""

    def __init__(self) -> None:
        self.shapes: list[_Shape | None] = []  # None: declared by a line that could not be read
        self.strings: list[str | None] = []
        self._packages = _Packages()

    def decode(self, line: Any) -> list[dict[str, Any]]:
        """The events of one parsed line: itself when plain. CompactError when it cannot be read."""
        if not isinstance(line, dict) or MARK not in line:
            if isinstance(line, dict):
                self._packages.note(line)
            return [line]
        if line[MARK] != ROWS:
            raise CompactError(f"has an unknown form {line[MARK]!r}")
        try:
            return self._rows(line)
        except LookupError as exc:  # KeyError, IndexError: refers to what no line it follows declared
            raise CompactError(f"refers to what no readable line declared ({exc})", lost=True) from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise CompactError(f"is a compact line that cannot be read ({exc})") from None

    def _rows(self, line: dict[str, Any]) -> list[dict[str, Any]]:
        for d in line.get("shapes") or ():
            try:
                shape = _Shape.declared(d)
            except (KeyError, TypeError) as exc:
                raise ValueError(f"a shape without {exc}") from None
            if type(shape.id) is not int or shape.id < len(self.shapes):
                raise ValueError(f"shape {shape.id} declared twice")
            self.shapes.extend([None] * (shape.id - len(self.shapes)))  # declared by lines lost
            self.shapes.append(shape)
        if "strings" in line:
            first = line["strings"]
            if type(first) is not int or first < len(self.strings):
                raise ValueError(f"strings from {first} written twice")
            self.strings.extend([None] * (first - len(self.strings)))
        seq, round_ = line["seq"], line["round"]
        if type(seq) is not int or type(round_) is not int:
            raise ValueError("seq and round must be integers")
        events = []
        for i, row in enumerate(line["rows"]):
            shape = self.shapes[row[0]]
            if shape is None:
                raise LookupError(f"shape {row[0]} was declared in a line that could not be read")
            values = [self._value(code, v) for code, v in zip(shape.codes, row[1:], strict=True)]
            if shape.plain_head:
                event = {"seq": seq + i, "round": round_, "type": shape.type}
                event.update(zip(shape.columns, values, strict=True))
            else:
                given = dict(zip(shape.columns, values, strict=True))
                given.update(seq=seq + i, round=round_, type=shape.type)
                event = {k: given[k] for k in shape.keys}
            if shape.type == "proposal":
                self._packages.note(event)
            events.append(event)
        return events

    def _value(self, code: str, value: Any) -> Any:
        if not code:
            return value
        if code == "s":
            if type(value) is int:
                found = self.strings[value]
                if found is None:
                    raise LookupError(f"string {value} was written in a line that could not be read")
                return found
            if type(value) is str:
                self.strings.append(value)
                return value
            return value[0]
        if code == "l":
            if type(value) is list:
                return [self._value("s", v) for v in value]
            return value["="]
        if code == "b":
            return bool(value) if type(value) is int else value[0]
        if code == "p":
            if type(value) is dict:
                return value
            if type(value) is str:
                return dict(self._packages.by_id[value])
            if len(value) == 2:
                package = dict(self._packages.by_id[value[0]])
                package.update(value[1])
                return package
            return value[0]
        raise ValueError(f"unknown code {code!r}")


def read_lines(lines: Iterable[str | bytes]) -> Iterator[dict[str, Any]]:
    """The events of a log's lines, plain or compact; a line that is not JSON raises (as json.loads does)."""
    decoder = LogDecoder()
    for line in lines:
        if line.strip():
            yield from decoder.decode(json.loads(line))
