"""A fake OpenAI-compatible chat-completions server on 127.0.0.1, for tests and benchmarks over real HTTP.

Stdlib only. It answers `POST /v1/chat/completions` with a Parley move synthesised from the
`parley_move_<actor>` JSON schema of the request (see `parley/move_schema.py`), or with whatever
a test queued for that actor: broken JSON, prose, a schema violation, an HTTP error, a slow or
hanging answer, an answer dripped a byte at a time, a valid move that echoes the caller's key back.
Every chat request is recorded.

In-process (tests)::

    with FakeOpenAI(latency=0.1) as server:
        server.script("a", {"kind": "broken_json"}, {"kind": "status", "status": 429, "retry_after": 1.5})
        client = openai.OpenAI(api_key="test-key", base_url=server.url, max_retries=0)
        ...
        server.calls_for("a")

As a process (manual use, benchmarks)::

    python -m tests.fake_openai --port 8000 --latency 0.2 [--no-json-schema] [--no-json-object] [--require-key KEY]

and script it over HTTP: `POST /control/script {"actor": "a", "behaviours": [...]}`,
`POST /control/reset`, `POST /control/config {"latency": 0.5, ...}`, `GET /control/requests`.

How the actor of a request is found, in order:
1. `response_format.json_schema.name` = `parley_move_<actor>` (the schema is used for the answer);
2. a move schema written out in the last user message (the json_object and prompt-only
   fallbacks), the actor taken from a `parley_move_<actor>` name in that message, else from the
   schema's description "the move of <actor> this round", else as in 3;
3. the most recent schema seen (even in a request then refused) with the same system message;
4. none: the actor is None and the answer is a `pass` move.
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import json
import random
import re
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SCHEMA_PREFIX = "parley_move_"
REDACTED = "[redacted]"
SECRET_HEADERS = {"authorization", "api-key", "x-api-key"}

KINDS = {
    "valid", "move", "content", "broken_json", "prose", "schema_violation", "status", "slow", "hang", "drip", "echo_key",
    "cut_off",
}  # fmt: skip
ECHO_SPELLINGS = {"plain", "unicode", "url"}

ERRORS: dict[int, tuple[str, str]] = {
    400: ("bad request", "invalid_request_error"),
    401: ("invalid api key", "authentication_error"),
    403: ("permission denied", "permission_error"),
    404: ("not found", "not_found_error"),
    408: ("request timed out", "timeout_error"),
    409: ("conflict", "conflict_error"),
    422: ("unprocessable entity", "invalid_request_error"),
    429: ("rate limited", "rate_limit_error"),
    500: ("internal server error", "server_error"),
    502: ("bad gateway", "server_error"),
    503: ("service unavailable", "server_error"),
    504: ("gateway timeout", "server_error"),
}


def check_behaviour(behaviour: Any) -> dict:
    """The behaviour itself, or ValueError saying what is wrong with it."""
    if not isinstance(behaviour, dict) or behaviour.get("kind") not in KINDS:
        raise ValueError(f"a behaviour is a dict whose kind is one of {sorted(KINDS)}, not {behaviour!r}")
    kind = behaviour["kind"]
    if kind == "move" and not isinstance(behaviour.get("move"), dict):
        raise ValueError("a 'move' behaviour needs a 'move' object")
    if kind == "content" and not isinstance(behaviour.get("content"), str):
        raise ValueError("a 'content' behaviour needs a 'content' string")
    if kind == "status" and not (isinstance(behaviour.get("status"), int) and 400 <= behaviour["status"] <= 599):
        raise ValueError("a 'status' behaviour needs a 'status' between 400 and 599")
    if kind in ("slow", "hang", "drip") and not isinstance(behaviour.get("seconds"), int | float):
        raise ValueError(f"a '{kind}' behaviour needs 'seconds'" + (" (between bytes)" if kind == "drip" else ""))
    if kind == "echo_key" and behaviour.get("spelling", "unicode") not in ECHO_SPELLINGS:
        raise ValueError(f"an 'echo_key' behaviour spells the key one of {sorted(ECHO_SPELLINGS)}")
    return dict(behaviour)


def credential(headers: dict[str, str]) -> str:
    """The secret a request carried: a bearer token, or the password (else the user) of basic auth."""
    auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return value
        return password or user
    return value


def spell(secret: str, spelling: str) -> str:
    """The secret as it appears inside a JSON string: as is, every character a \\u escape, or %-encoded."""
    if spelling == "unicode":
        return "".join(f"\\u{ord(c):04x}" for c in secret)
    if spelling == "url":
        return "".join(f"%{ord(c):02X}" for c in secret)
    return secret


def echoing(move: dict, said: str) -> dict:
    """The move with every text and reason saying `said`."""
    move = copy.deepcopy(move)
    for action in [*move.get("actions", []), *move.get("proposals", [])]:
        for name in ("text", "reason"):
            if isinstance(action.get(name), str):
                action[name] = said
    return move


def error_body(status: int, message: str | None = None, type_: str | None = None, param: str | None = None) -> dict:
    default_message, default_type = ERRORS.get(
        status, ("error", "server_error" if status >= 500 else "invalid_request_error")
    )
    return {
        "error": {"message": message or default_message, "type": type_ or default_type, "param": param, "code": None}
    }


# --- moves from schemas ----------------------------------------------------------------------------


def _text_of(content: Any) -> str:
    """The text of a message content: a string, or a list of parts of which the text ones count."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def _variants(schema: dict) -> dict[str, list[dict]]:
    """The action variants of a move schema by action type, from its `actions` and `proposals` lists
    ({} when the schema is not a move schema). A type may have several variants (an answer to
    proposals it may accept, and to proposals it may only reject)."""
    out: dict[str, list[dict]] = {}
    for field in ("actions", "proposals"):
        try:
            options = schema["properties"][field]["items"]["anyOf"]
        except (KeyError, TypeError):
            continue
        for variant in options:
            try:
                out.setdefault(variant["properties"]["type"]["enum"][0], []).append(variant)
            except (KeyError, TypeError, IndexError):
                continue
    return out


def _fill(node: Any, key: str, n: int, texts: dict[str, str], longest: bool = False) -> Any:
    """A value that fits a schema node: every property filled, arrays of enums take all of them,
    a package option (any enum inside an object) is the one at index n. `longest`: every string
    as long as its maxLength allows and every array as long as its maxItems (the worst case)."""
    if not isinstance(node, dict):
        return None
    if node.get("enum"):
        if longest:
            return max(node["enum"], key=lambda v: len(json.dumps(v)))
        return node["enum"][0]
    if "const" in node:
        return node["const"]
    for alt in ("anyOf", "oneOf"):
        if node.get(alt):
            if longest:
                return max((_fill(a, key, n, texts, True) for a in node[alt]), key=lambda v: len(json.dumps(v)))
            return _fill(node[alt][0], key, n, texts)
    kind = node.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in node:
        out = {}
        for name, prop in node.get("properties", {}).items():
            if isinstance(prop, dict) and prop.get("enum") and key == "package" and not longest:
                out[name] = prop["enum"][n % len(prop["enum"])]
            else:
                out[name] = _fill(prop, name, n, texts, longest)
        return out
    if kind == "array":
        items = node.get("items", {})
        if longest:
            most = node.get("maxItems", 3)
            if isinstance(items, dict) and items.get("enum"):
                return [max(items["enum"], key=lambda v: len(json.dumps(v)))] * most
            return [_fill(items, key, n, texts, True) for _ in range(most)]
        if isinstance(items, dict) and items.get("enum"):
            return list(items["enum"])[: node.get("maxItems")]
        return [_fill(items, key, n, texts)] if node.get("minItems", 0) > 0 else []
    if kind == "boolean":
        return True
    if kind in ("integer", "number"):
        return node.get("minimum", 0)
    if kind == "string":
        if longest:
            return "x" * node.get("maxLength", 40)
        text = texts.get(key, f"fake {key}")
        return text[: node["maxLength"]] if "maxLength" in node else text
    return None


def _action(variant: dict, n: int, texts: dict[str, str]) -> dict:
    return _fill(variant, "", n, texts)


def longest_answer(schema: dict) -> dict:
    """The longest JSON value that follows a move schema (every text and list at its bound)."""
    return _fill(schema, "", 0, {}, longest=True)


def synthesise(schema: dict | None, n: int, accept: bool = True) -> dict:
    """The deterministic valid move for a schema on the actor's n-th (0-based) call: an answer to
    every proposal it may answer (accepted when `accept` and its variant allows it, else rejected)
    and a proposal of its own."""
    if not schema:
        return {"actions": [{"type": "pass", "reason": "fake: no schema seen"}]}
    variants = _variants(schema)
    if not variants:
        return _fill(schema, "", n, {})  # not a move schema: anything that fits it
    bounded = "maxItems" in schema.get("properties", {}).get("actions", {})  # not format 1's one list
    actions, proposals = [], []
    for variant in variants.get("respond", []):
        ids = variant["properties"]["proposal"]["enum"]
        may_accept = True in variant["properties"]["accept"].get("enum", [True, False])
        if not bounded:  # the one-list schema of request format 1: the first proposal, only to accept it
            if accept:
                actions.append(_action(variant, n, {"reason": "fake: acceptable"}))
            break
        for proposal in ids:
            yes = accept and may_accept
            reason = "fake: acceptable" if yes else "fake: not acceptable"
            actions.append({**_action(variant, n, {"reason": reason}), "proposal": proposal, "accept": yes})
    if "propose" in variants:
        propose = _action(variants["propose"][0], n, {"text": "fake proposal"})
        (proposals if "proposals" in schema.get("properties", {}) else actions).append(propose)
    if not actions and not proposals:
        kind = "pass" if "pass" in variants else next(iter(variants))
        actions.append(_action(variants[kind][0], n, {"reason": "fake: nothing to do", "text": "fake text"}))
    move: dict = {"actions": actions}
    if "proposals" in schema.get("properties", {}):
        move["proposals"] = proposals
    return move


def violate(move: dict) -> dict:
    """The move with one package option replaced by one that is in no enum."""
    move = copy.deepcopy(move)
    for action in [*move.get("proposals", []), *move.get("actions", [])]:
        package = action.get("package")
        if isinstance(package, dict) and package:
            package[next(iter(package))] = "not_an_option"
            return move
    if move.get("actions"):
        move["actions"][0]["type"] = "not_an_action"
    else:
        move["actions"] = [{"type": "not_an_action"}]
    return move


def truncate(move: dict) -> str:
    """The move's JSON cut off in the middle, as a model that ran out of tokens would leave it."""
    text = json.dumps(move)
    cut = text.find('"package": {')
    return text[: cut + len('"package": {')] if cut >= 0 else text[: max(1, len(text) // 2)]


def _json_objects(text: str) -> list[Any]:
    """Every top-level balanced {...} in a text that parses as JSON."""
    out, depth, start, in_string, escaped = [], 0, -1, False, False
    for i, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch == '"' and depth > 0:
            in_string = True
        elif ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}" and depth > 0:
            depth -= 1
            if depth == 0:
                try:
                    out.append(json.loads(text[start : i + 1]))
                except ValueError:
                    pass
    return out


def schema_in_text(text: str) -> dict | None:
    """A move schema written out in a prompt (the json_object fallback), if there is one."""
    if '"actions"' not in text:
        return None
    for obj in _json_objects(text):
        if isinstance(obj, dict):
            for candidate in (
                obj,
                obj.get("schema"),
                obj.get("json_schema", {}).get("schema") if isinstance(obj.get("json_schema"), dict) else None,
            ):
                if isinstance(candidate, dict) and _variants(candidate):
                    return candidate
    return None


def schema_problems(value: Any, schema: Any, where: str = "$") -> list[str]:
    """Where `value` breaks `schema` (the subset move schemas use, with their bounds: maxLength,
    minLength, maxItems, minItems, uniqueItems), [] when it follows it."""
    if not isinstance(schema, dict):
        return []
    if "anyOf" in schema:
        if any(not schema_problems(value, alt, where) for alt in schema["anyOf"]):
            return []
        return [f"{where}: fits no variant"]
    if "const" in schema and value != schema["const"]:
        return [f"{where}: {value!r} is not {schema['const']!r}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: {value!r} not in {schema['enum']}"]
    kind = schema.get("type")
    if kind == "object":
        if not isinstance(value, dict):
            return [f"{where}: not an object"]
        out = [f"{where}: missing {k}" for k in schema.get("required", []) if k not in value]
        if schema.get("additionalProperties") is False:
            out += [f"{where}: extra {k}" for k in value if k not in schema.get("properties", {})]
        for k, sub in schema.get("properties", {}).items():
            if k in value:
                out += schema_problems(value[k], sub, f"{where}.{k}")
        return out
    if kind == "array":
        if not isinstance(value, list):
            return [f"{where}: not an array"]
        out = [f"{where}: fewer than {schema['minItems']} items"] if len(value) < schema.get("minItems", 0) else []
        if len(value) > schema.get("maxItems", len(value)):
            out.append(f"{where}: more than {schema['maxItems']} items")
        if schema.get("uniqueItems") and len({json.dumps(v, sort_keys=True) for v in value}) < len(value):
            out.append(f"{where}: items repeat")
        for i, item in enumerate(value):
            out += schema_problems(item, schema.get("items", {}), f"{where}[{i}]")
        return out
    if kind == "string":
        if not isinstance(value, str):
            return [f"{where}: not a string"]
        if not schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", len(value)):
            return [
                f"{where}: {len(value)} characters, outside {schema.get('minLength', 0)}..{schema.get('maxLength')}"
            ]
        return []
    if kind == "boolean" and not isinstance(value, bool):
        return [f"{where}: not a boolean"]
    return []


# --- answers that follow a grammar or a schema, drawn at random --------------------------------------


class Grammar:
    """A GBNF grammar (the subset `parley/llm/grammar.py` writes: one rule a line, literals, character
    classes, rule names, groups, `|`, `?`, `*`, `+`, `{m,n}`) that can draw texts it accepts, as a
    server decoding under it would."""

    SAMPLE_CHARS = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?'-"

    def __init__(self, text: str) -> None:
        self.rules: dict[str, list] = {}
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, _, body = line.partition("::=")
            self.rules[name.strip()], end = self._alternatives(body.strip(), 0)
            if end != len(body.strip()):
                raise ValueError(f"cannot read rule {name.strip()!r} past column {end}")
        if "root" not in self.rules:
            raise ValueError("a grammar needs a root rule")

    # parsing: an expression is ("alt", [sequence, ...]); a sequence is a list of (atom, low, high)
    def _alternatives(self, text: str, i: int) -> tuple[tuple, int]:
        options = []
        while True:
            seq, i = self._sequence(text, i)
            options.append(seq)
            i = self._skip(text, i)
            if i < len(text) and text[i] == "|":
                i += 1
                continue
            return ("alt", options), i

    @staticmethod
    def _skip(text: str, i: int) -> int:
        while i < len(text) and text[i] == " ":
            i += 1
        return i

    def _sequence(self, text: str, i: int) -> tuple[list, int]:
        items = []
        while True:
            i = self._skip(text, i)
            if i >= len(text) or text[i] in "|)":
                return items, i
            atom, i = self._atom(text, i)
            low, high, i = self._quantifier(text, i)
            items.append((atom, low, high))

    def _atom(self, text: str, i: int) -> tuple[tuple, int]:
        ch = text[i]
        if ch == '"':
            out, i = [], i + 1
            while text[i] != '"':
                if text[i] == "\\":
                    c, i = self._escape(text, i)
                    out.append(c)
                else:
                    out.append(text[i])
                    i += 1
            return ("lit", "".join(out)), i + 1
        if ch == "[":
            i += 1
            negated = text[i] == "^"
            i += negated
            ranges = []
            while text[i] != "]":
                if text[i] == "\\":
                    lo, i = self._escape(text, i)
                else:
                    lo, i = text[i], i + 1
                hi = lo
                if text[i] == "-" and text[i + 1] != "]":
                    if text[i + 1] == "\\":
                        hi, i = self._escape(text, i + 1)
                    else:
                        hi, i = text[i + 1], i + 2
                ranges.append((lo, hi))
            return ("class", negated, ranges), i + 1
        if ch == "(":
            inner, i = self._alternatives(text, i + 1)
            i = self._skip(text, i)
            if text[i] != ")":
                raise ValueError(f"unclosed group at column {i}")
            return inner, i + 1
        m = re.match(r"[a-zA-Z0-9_-]+", text[i:])
        if not m:
            raise ValueError(f"unexpected {ch!r} at column {i}")
        return ("ref", m.group(0)), i + len(m.group(0))

    @staticmethod
    def _escape(text: str, i: int) -> tuple[str, int]:
        code = text[i + 1]
        simple = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "]": "]", "[": "[", "-": "-", "^": "^"}
        if code in simple:
            return simple[code], i + 2
        width = {"x": 2, "u": 4, "U": 8}[code]
        return chr(int(text[i + 2 : i + 2 + width], 16)), i + 2 + width

    @staticmethod
    def _quantifier(text: str, i: int) -> tuple[int, int | None, int]:
        if i < len(text) and text[i] in "?*+":
            return {"?": (0, 1), "*": (0, None), "+": (1, None)}[text[i]] + (i + 1,)
        m = re.match(r"\{(\d+)(,(\d*))?\}", text[i:])
        if not m:
            return 1, 1, i
        low = int(m.group(1))
        high = low if m.group(2) is None else (int(m.group(3)) if m.group(3) else None)
        return low, high, i + len(m.group(0))

    # drawing
    def draw(self, rng: random.Random, text_chars: int = 24) -> str:
        """A text the grammar accepts: alternatives and counts drawn at random, runs of free
        characters (a string's) kept to about `text_chars`."""
        out: list[str] = []
        self._draw(("ref", "root"), rng, out, text_chars, 0)
        return "".join(out)

    def _draw(self, node: tuple, rng: random.Random, out: list[str], text_chars: int, depth: int) -> None:
        if depth > 200:
            raise ValueError("the grammar recurses without end")
        kind = node[0]
        if kind == "lit":
            out.append(node[1])
        elif kind == "ref":
            self._draw(self.rules[node[1]], rng, out, text_chars, depth + 1)
        elif kind == "class":
            _, negated, ranges = node
            fits = [c for c in self.SAMPLE_CHARS if any(lo <= c <= hi for lo, hi in ranges) != negated]
            out.append(rng.choice(fits) if fits else ranges[0][0])  # a class of none of them: `[\\]`
        elif kind == "alt":
            for atom, low, high in rng.choice(node[1]):
                cap = text_chars if atom[0] == "class" or atom == ("ref", "char") else 3
                top = low + cap if high is None else min(high, low + cap)
                for _ in range(rng.randint(low, max(low, top))):
                    self._draw(atom, rng, out, text_chars, depth + 1)


def draw_from_schema(schema: Any, rng: random.Random, text_chars: int = 24) -> Any:
    """A value that follows a JSON schema (the subset move schemas use), drawn at random."""
    if not isinstance(schema, dict):
        return None
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return rng.choice(schema["enum"])
    if "anyOf" in schema:
        return draw_from_schema(rng.choice(schema["anyOf"]), rng, text_chars)
    kind = schema.get("type")
    if kind == "object":
        return {k: draw_from_schema(v, rng, text_chars) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        low = schema.get("minItems", 0)
        high = schema.get("maxItems", low + 3)
        items = [draw_from_schema(schema.get("items", {}), rng, text_chars) for _ in range(rng.randint(low, high))]
        if schema.get("uniqueItems"):
            items = list({json.dumps(i, sort_keys=True): i for i in items}.values())
            while len(items) < low:  # unique items drawn again until there are enough
                extra = draw_from_schema(schema.get("items", {}), rng, text_chars)
                if extra not in items:
                    items.append(extra)
        return items
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "string":
        low = schema.get("minLength", 0)
        high = min(schema.get("maxLength", low + text_chars), low + text_chars)
        return "".join(rng.choice(Grammar.SAMPLE_CHARS) for _ in range(rng.randint(low, high)))
    if kind in ("integer", "number"):
        return 0
    return None


# --- the server --------------------------------------------------------------------------------------


class _Hang(Exception):
    """Close the connection without answering."""


class _Drip(Exception):
    """Answer this body a byte at a time, `seconds` apart."""

    def __init__(self, status: int, body: dict, seconds: float, pad: int) -> None:
        super().__init__("drip")
        self.status, self.body, self.seconds, self.pad = status, body, seconds, pad


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that hung up is no news
            super().handle_error(request, client_address)


class FakeOpenAI:
    """A fake chat-completions server; `start()` it (or use it as a context manager) and point a client at `url`."""

    def __init__(
        self,
        latency: float = 0.0,
        supports_json_schema: bool = True,
        supports_json_object: bool = True,
        require_key: str | None = None,
        port: int = 0,
        by_content: bool = False,
        accept: bool = True,
        owned_by: str = "fake",
        follow: str = "synthesise",
        chars_per_token: int = 4,
        seed: int = 0,
    ) -> None:
        """`by_content`: a valid answer depends on the request alone, not on how many came before
        (so a run that was killed and resumed gets the answers an uninterrupted one would);
        `accept`: valid answers accept the first proposal they may."""
        self.by_content = by_content
        self.accept = accept
        self.owned_by = owned_by  # what /v1/models says: "llamacpp" makes Parley send a GBNF `grammar`
        if follow not in ("synthesise", "random"):
            raise ValueError("follow is 'synthesise' or 'random'")
        self.follow = follow  # valid answers: the deterministic move, or one drawn at random from the schema
        self.chars_per_token = chars_per_token  # how usage counts tokens, and where max_tokens cuts an answer
        self.seed = seed
        self.latency = float(latency)
        self.supports_json_schema = supports_json_schema
        self.supports_json_object = supports_json_object
        self.require_key = require_key
        self.port = port
        self.url = ""
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self._queues: dict[str | None, deque[dict]] = {}
        self._counts: dict[str | None, int] = {}
        self._systems: dict[str, tuple[str | None, dict]] = {}
        self._ids = 0
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> FakeOpenAI:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        handler = type("Handler", (_Handler,), {"fake": self})
        httpd = _Server(("127.0.0.1", self.port), handler, bind_and_activate=False)
        try:
            httpd.server_bind()
            httpd.server_activate()
        except OSError:
            httpd.server_close()
            raise
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-openai", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; sleeping answers (slow, hang, latency) are cut short."""
        self._stopping.set()
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # scripting

    def script(self, actor: str, *behaviours: dict) -> None:
        """Queue behaviours for the actor's next requests, first in first out; then "valid" again."""
        checked = [check_behaviour(b) for b in behaviours]
        with self._lock:
            self._queues.setdefault(actor, deque()).extend(checked)

    def reset(self) -> None:
        """Forget scripts, recorded requests, per-actor call counts and remembered schemas (not the options)."""
        with self._lock:
            self._queues.clear()
            self._counts.clear()
            self._systems.clear()
            self.requests.clear()

    def configure(self, **options: Any) -> dict:
        """Change server-wide options: latency, supports_json_schema, supports_json_object, require_key."""
        unknown = set(options) - {"latency", "supports_json_schema", "supports_json_object", "require_key"}
        if unknown:
            raise ValueError(f"unknown options: {sorted(unknown)}")
        with self._lock:
            if "latency" in options:
                self.latency = float(options["latency"])
            for name in ("supports_json_schema", "supports_json_object"):
                if name in options:
                    setattr(self, name, bool(options[name]))
            if "require_key" in options:
                self.require_key = options["require_key"] or None
        return self.config()

    def config(self) -> dict:
        """The options, without the key itself."""
        return {
            "latency": self.latency,
            "supports_json_schema": self.supports_json_schema,
            "supports_json_object": self.supports_json_object,
            "require_key": self.require_key is not None,
        }

    def calls_for(self, actor: str) -> list[dict]:
        with self._lock:
            return [r for r in self.requests if r["actor"] == actor]

    def public_requests(self) -> list[dict]:
        """The recorded requests with secret header values redacted (what `GET /control/requests` shows)."""
        with self._lock:
            records = list(self.requests)
        return [
            {**r, "headers": {k: (REDACTED if k.lower() in SECRET_HEADERS else v) for k, v in r["headers"].items()}}
            for r in records
        ]

    # answering

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def _identify(self, body: dict) -> tuple[str | None, dict | None, str | None]:
        """The actor, the schema to answer to, and a refusal message if the response_format is unsupported."""
        messages = body.get("messages") if isinstance(body.get("messages"), list) else []
        messages = [m for m in messages if isinstance(m, dict)]
        system = "\n".join(_text_of(m.get("content")) for m in messages if m.get("role") in ("system", "developer"))
        key = hashlib.sha256(system.encode()).hexdigest()
        fmt = body.get("response_format") if isinstance(body.get("response_format"), dict) else {}
        kind = fmt.get("type")
        actor: str | None = None
        schema: dict | None = None
        if kind == "json_schema":
            spec = fmt.get("json_schema") if isinstance(fmt.get("json_schema"), dict) else {}
            name = str(spec.get("name", ""))
            if isinstance(spec.get("schema"), dict):
                schema = spec["schema"]
                actor = name[len(SCHEMA_PREFIX) :] if name.startswith(SCHEMA_PREFIX) else (name or None)
                with self._lock:
                    self._systems[key] = (actor, schema)
        if schema is None:
            last_user = next((_text_of(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
            schema = schema_in_text(last_user)
            with self._lock:
                remembered = self._systems.get(key)
            if schema is not None:
                named = re.search(re.escape(SCHEMA_PREFIX) + r"([A-Za-z0-9_-]+)", last_user)
                described = re.fullmatch(r"the move of (.+) this round", str(schema.get("description", "")))
                if named:
                    actor = named.group(1)
                elif described:
                    actor = described.group(1)
                elif remembered:
                    actor = remembered[0]
            elif remembered is not None:
                actor, schema = remembered
        if isinstance(body.get("grammar"), str) and actor is None:
            named = re.match(r"#\s*" + re.escape(SCHEMA_PREFIX) + r"([A-Za-z0-9_-]+)", body["grammar"])
            actor = named.group(1) if named else actor
        refusal = None
        if kind == "json_schema" and not self.supports_json_schema:
            refusal = "response_format type json_schema is not supported"
        elif kind == "json_object" and not self.supports_json_object:
            refusal = "response_format type json_object is not supported"
        return actor, schema, refusal

    def _next(self, actor: str | None) -> tuple[dict, int]:
        with self._lock:
            queue = self._queues.get(actor)
            behaviour = queue.popleft() if queue else {"kind": "valid"}
            n = self._counts.get(actor, 0)
            self._counts[actor] = n + 1
        return behaviour, n

    def _completion(self, body: dict, content: str, finish_reason: str = "stop", obey: bool = True) -> dict:
        """A chat completion of `content`, cut where `max_tokens` runs out (finish_reason "length"),
        as a server counting `chars_per_token` characters a token would."""
        messages = body.get("messages") if isinstance(body.get("messages"), list) else []
        per = max(1, self.chars_per_token)
        prompt = sum(len(_text_of(m.get("content"))) for m in messages if isinstance(m, dict)) // per
        completion = len(content) // per
        limit = body.get("max_tokens")
        if obey and isinstance(limit, int) and completion > limit:  # scripted content ignores it, as a hostile server
            content, completion, finish_reason = content[: limit * per], limit, "length"
        with self._lock:
            self._ids += 1
            n = self._ids
        return {
            "id": f"chatcmpl-{n}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish_reason}
            ],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
        }

    def answer(
        self, body: dict, headers: dict[str, str], identity: tuple[str | None, dict | None, str | None]
    ) -> tuple[int, dict[str, str], dict]:
        """Status, extra headers and JSON body for a chat request (raises _Hang to close without answering)."""
        actor, schema, refusal = identity
        self._sleep(self.latency)
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        if self.require_key is not None and auth != f"Bearer {self.require_key}":
            return 401, {}, error_body(401, "Incorrect API key provided.", "authentication_error")
        if refusal:
            return 400, {}, error_body(400, refusal, "invalid_request_error", "response_format")
        if body.get("stream"):
            return 400, {}, error_body(400, "stream is not supported by this fake server", param="stream")
        behaviour, n = self._next(actor)
        kind = behaviour["kind"]
        if kind == "status":
            status = behaviour["status"]
            extra = {}
            if behaviour.get("retry_after") is not None:
                value = behaviour["retry_after"]
                extra["Retry-After"] = value if isinstance(value, str) else f"{value:g}"
            return status, extra, error_body(status, behaviour.get("message"), behaviour.get("type"))
        if kind == "hang":
            self._sleep(float(behaviour["seconds"]))
            raise _Hang
        if kind == "slow":
            self._sleep(float(behaviour["seconds"]))
        if kind == "move":
            content = json.dumps(behaviour["move"])
        elif kind == "echo_key":
            secret = credential(headers)
            marker = "KEY-GOES-HERE"
            said = json.dumps(
                echoing(synthesise(schema, n, self.accept), f"{behaviour.get('say', 'My key is')} {marker}")
            )
            content = said.replace(marker, spell(secret, behaviour.get("spelling", "unicode")))
        elif kind == "content":
            content = behaviour["content"]
        elif kind == "cut_off":  # a small model's answer: whitespace in every gap until max_tokens runs out
            content = json.dumps(synthesise(schema, n, self.accept), indent=20) + " " * 100_000
        elif kind == "valid" and (isinstance(body.get("grammar"), str) or (self.follow == "random" and schema)):
            rng = random.Random(f"{self.seed}|{actor}|{n}")
            if isinstance(body.get("grammar"), str):
                content = Grammar(body["grammar"]).draw(rng)
            else:
                content = json.dumps(draw_from_schema(schema, rng))
        else:
            if self.by_content:
                n = int(hashlib.sha256(json.dumps(body.get("messages"), sort_keys=True).encode()).hexdigest()[:8], 16)
            move = synthesise(schema, n, self.accept)
            if kind == "broken_json":
                content = truncate(move)
            elif kind == "prose":
                content = f"Here is my move.\n```json\n{json.dumps(move, indent=2)}\n```\nI hope this helps."
            elif kind == "schema_violation":
                content = json.dumps(violate(move))
            else:
                content = json.dumps(move)
        if kind == "drip":
            raise _Drip(200, self._completion(body, content), float(behaviour["seconds"]), int(behaviour.get("pad", 0)))
        return 200, {}, self._completion(body, content, obey=kind not in ("move", "content", "echo_key"))

    def record(
        self, actor: str | None, body: Any, headers: dict[str, str], received: float, status: int | None, **more: Any
    ) -> None:
        with self._lock:
            self.requests.append(
                {
                    "actor": actor,
                    "body": body,
                    "headers": headers,
                    "received": received,
                    "answered": time.monotonic(),
                    "status": status,
                    **more,
                }
            )


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOpenAI
    server_version = "FakeOpenAI/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any, extra: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _drip(self, drip: _Drip) -> tuple[int, int]:
        """Send the answer a byte at a time; how many bytes went out before the client hung up, of how many."""
        data = json.dumps(drip.body).encode() + b" " * drip.pad
        sent = 0
        try:
            self.send_response(drip.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.flush()
            for i in range(len(data)):
                if self.fake._stopping.wait(drip.seconds):
                    break
                self.wfile.write(data[i : i + 1])
                self.wfile.flush()
                sent += 1
        except OSError:
            pass  # the client gave up
        return sent, len(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        return json.loads(raw) if raw.strip() else {}

    def do_GET(self) -> None:
        path = self.path.split("?")[0].rstrip("/")
        if path == "/control/requests":
            self._send(200, self.fake.public_requests())
        elif path == "/control/config":
            self._send(200, self.fake.config())
        elif path == "/v1/models":
            self._send(
                200,
                {
                    "object": "list",
                    "data": [{"id": "fake", "object": "model", "created": 0, "owned_by": self.fake.owned_by}],
                },
            )
        else:
            self._send(404, error_body(404, f"no route GET {path}"))

    def do_POST(self) -> None:
        received = time.monotonic()
        path = self.path.split("?")[0].rstrip("/")
        try:
            body = self._body()
        except (ValueError, UnicodeDecodeError):
            self._send(400, error_body(400, "the body is not valid JSON"))
            return
        if path == "/v1/chat/completions":
            self._chat(body, received)
            return
        try:
            if path == "/control/script":
                behaviours = body.get("behaviours", [])
                if not isinstance(body.get("actor"), str) or not isinstance(behaviours, list):
                    raise ValueError("send {'actor': str, 'behaviours': [...]}")
                self.fake.script(body["actor"], *behaviours)
                self._send(200, {"ok": True, "queued": len(behaviours)})
            elif path == "/control/reset":
                self.fake.reset()
                self._send(200, {"ok": True})
            elif path == "/control/config":
                self._send(200, self.fake.configure(**body))
            else:
                self._send(404, error_body(404, f"no route POST {path}"))
        except (ValueError, TypeError, AttributeError) as exc:
            self._send(400, error_body(400, str(exc)))

    def _chat(self, body: Any, received: float) -> None:
        headers = dict(self.headers.items())
        if not isinstance(body, dict):
            self.fake.record(None, body, headers, received, 400)
            self._send(400, error_body(400, "the body must be a JSON object"))
            return
        actor = None
        try:
            identity = self.fake._identify(body)
            actor = identity[0]
            status, extra, answer = self.fake.answer(body, headers, identity)
        except _Hang:
            self.fake.record(actor, body, headers, received, None)
            self.close_connection = True
            return
        except _Drip as drip:
            sent, length = self._drip(drip)
            self.fake.record(actor, body, headers, received, drip.status, dripped=sent, length=length)
            self.close_connection = True
            return
        except Exception as exc:  # a bug in the fake must show as a 500, not a dropped connection
            self.fake.record(actor, body, headers, received, 500)
            self._send(500, error_body(500, f"fake server error: {type(exc).__name__}: {exc}"))
            return
        self.fake.record(actor, body, headers, received, status)
        try:
            self._send(status, answer, extra)
        except OSError:
            pass  # the client gave up (timeout) before the answer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fake_openai", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds slept before every answer")
    parser.add_argument("--no-json-schema", action="store_true", help="refuse response_format json_schema with 400")
    parser.add_argument("--no-json-object", action="store_true", help="refuse response_format json_object with 400")
    parser.add_argument("--require-key", default=None, help="answer 401 unless 'Authorization: Bearer KEY'")
    parser.add_argument("--owned-by", default="fake", help="what /v1/models says owns the model (llamacpp: grammars)")
    parser.add_argument(
        "--follow", choices=["synthesise", "random"], default="synthesise", help="valid answers: fixed or drawn"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the answers drawn at random")
    args = parser.parse_args(argv)
    server = FakeOpenAI(
        latency=args.latency,
        supports_json_schema=not args.no_json_schema,
        supports_json_object=not args.no_json_object,
        require_key=args.require_key,
        port=args.port,
        owned_by=args.owned_by,
        follow=args.follow,
        seed=args.seed,
    ).start()
    print(server.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
