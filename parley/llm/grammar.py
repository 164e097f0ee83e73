"""A JSON schema as a compact GBNF grammar, for servers that take a grammar (llama.cpp's `grammar` field).

llama.cpp turns a `response_format` schema into a grammar whose every whitespace slot admits up to
22 characters, and a small model fills them, one token each (issue 16). The grammar made here
admits at most one space, after a `:` or a `,`, so the answer is as short as JSON allows. It covers
the subset of JSON schema that move schemas use: objects with fixed, required properties in order,
arrays with `minItems`/`maxItems`, strings with `minLength`/`maxLength`, `enum`, `const`, booleans,
integers, null and `anyOf`. GBNF is documented in llama.cpp's `grammars/README.md`.
"""

from __future__ import annotations

import json
import re

# a JSON string character: anything but a quote, a backslash or a control character, or an escape
CHAR = r'char ::= [^"\\\x7F\x00-\x1F] | [\\] (["\\/bfnrt] | "u" [0-9a-fA-F]{4})'
WS = 'ws ::= " "?'


class UnsupportedSchema(ValueError):
    """A schema this converter cannot express (the request then goes as a response_format)."""


def literal(text: str) -> str:
    """`text` as a GBNF string literal."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _json_literal(value: object) -> str:
    return literal(json.dumps(value, ensure_ascii=False))


def _repeat(low: int, high: int | None) -> str:
    if high is None:
        return {0: "*", 1: "+"}.get(low, f"{{{low},}}")
    if (low, high) == (0, 1):
        return "?"
    return f"{{{low}}}" if low == high else f"{{{low},{high}}}"


class _Rules:
    """Named rules, one per distinct body, so a package used by propose and counter is written once."""

    def __init__(self) -> None:
        self.rules: dict[str, str] = {}
        self.by_body: dict[str, str] = {}

    def name(self, hint: str, body: str) -> str:
        if body in self.by_body:
            return self.by_body[body]
        base = re.sub(r"[^a-zA-Z0-9-]+", "-", hint).strip("-").lower() or "value"
        name, n = base, 1
        while name in self.rules or name in ("root", "char", "ws"):
            n += 1
            name = f"{base}-{n}"
        self.rules[name] = body
        self.by_body[body] = name
        return name

    def node(self, schema: object, hint: str) -> str:
        """An expression (a rule name or an inline alternative) for one schema node."""
        if not isinstance(schema, dict):
            raise UnsupportedSchema(f"{hint}: a schema node must be an object")
        if "const" in schema:
            return _json_literal(schema["const"])
        if "enum" in schema:
            values = schema["enum"]
            if not values:
                raise UnsupportedSchema(f"{hint}: an empty enum")
            alternatives = " | ".join(_json_literal(v) for v in values)
            return alternatives if len(values) == 1 else f"({alternatives})"
        if "anyOf" in schema:
            options = [self.node(alt, f"{hint}-{i}") for i, alt in enumerate(schema["anyOf"])]
            if not options:
                raise UnsupportedSchema(f"{hint}: an empty anyOf")
            return options[0] if len(options) == 1 else "(" + " | ".join(options) + ")"
        kind = schema.get("type")
        if kind == "object":
            properties = schema.get("properties", {})
            parts = [f'{literal(json.dumps(key))} ":" ws {self.node(value, key)}' for key, value in properties.items()]
            body = '"{" ' + ' "," ws '.join(parts) + ' "}"' if parts else '"{" "}"'
            return self.name(hint, body)
        if kind == "array":
            item = self.node(schema.get("items", {}), f"{hint}-item")
            low, high = int(schema.get("minItems", 0)), schema.get("maxItems")
            high = None if high is None else int(high)
            if high == 0:
                return self.name(hint, '"[" "]"')
            more = f'("," ws {item}){_repeat(max(low - 1, 0), None if high is None else high - 1)}'
            more = "" if high == 1 else " " + more
            body = f'"[" {item}{more} "]"' if low >= 1 else f'"[" ({item}{more})? "]"'
            return self.name(hint, body)
        if kind == "string":
            low, high = int(schema.get("minLength", 0)), schema.get("maxLength")
            return self.name(f"{hint}-text", f'"\\"" char{_repeat(low, None if high is None else int(high))} "\\""')
        if kind == "boolean":
            return '("true" | "false")'
        if kind == "integer":
            return '("-"? ([0-9] | [1-9] [0-9]{1,15}))'
        if kind == "number":
            return '("-"? ([0-9] | [1-9] [0-9]{1,15}) ("." [0-9]{1,16})?)'
        if kind == "null":
            return '"null"'
        raise UnsupportedSchema(f"{hint}: type {kind!r} is not supported")


def gbnf(schema: dict, name: str = "") -> str:
    """The grammar of the JSON texts that follow `schema`, written compactly (no whitespace runs);
    `name` (the schema's name) heads it as a comment, as a `json_schema` request carries its name."""
    rules = _Rules()
    root = rules.node(schema, "move")
    named = [f"{rule} ::= {body}" for rule, body in rules.rules.items()]
    lines = ([f"# {name}"] if re.fullmatch(r"[A-Za-z0-9_-]+", name) else []) + [f"root ::= {root}", *named, CHAR, WS]
    return "\n".join(lines) + "\n"
