"""How many tokens an answer that follows a schema can take, so `max_tokens` always leaves it room.

The bound is read off the schema: every string is bounded by its `maxLength` (or its enum), every
array by its `maxItems`, so the longest answer is known in characters. A token covers at least one
character of ASCII text, so characters bound tokens, with two allowances:
- whitespace: a server's JSON grammar lets the model put whitespace in every gap between tokens of
  JSON (llama.cpp allows up to 22 characters per gap in a `response_format`; the compact grammar
  of `grammar.py` one);
- text that is escaped (`\\u00e9` counts as one character of `maxLength` but is six of output) or
  split into byte tokens costs more than a token per character: `tokens_per_char` says how much
  to allow (1 covers plain text; 6 covers anything, and is what a re-ask after a cut-off gets).
"""

from __future__ import annotations

import json

GAP_WHITESPACE = 22  # llama.cpp's `space ::= | " " | "\n"{1,2} [ \t]{0,20}` (json-schema-to-grammar)
LEADING_GAPS = 4  # llama.cpp's answer grammar allows whitespace before the JSON and after it
FENCE = len("```json") + len("```") + 2  # and a ```json fence around it
STRICT_TOKENS_PER_CHAR = 6  # a \uXXXX escape is one character of maxLength


def _measure(schema: object, per_char: int) -> tuple[int, int] | None:
    """(characters, whitespace gaps) of the longest JSON text that follows `schema`; None if unbounded."""
    if not isinstance(schema, dict):
        return None
    if "const" in schema:
        return len(json.dumps(schema["const"], ensure_ascii=False)), 1
    if "enum" in schema:
        return max(len(json.dumps(v, ensure_ascii=False)) for v in schema["enum"]) if schema["enum"] else 0, 1
    if "anyOf" in schema:
        sizes = [_measure(alt, per_char) for alt in schema["anyOf"]]
        if not sizes or any(s is None for s in sizes):
            return None
        return max(s[0] for s in sizes if s), max(s[1] for s in sizes if s)
    kind = schema.get("type")
    if kind == "object":
        chars, gaps = 2, 2  # { } and the gaps after { and after }
        for key, value in schema.get("properties", {}).items():
            size = _measure(value, per_char)
            if size is None:
                return None
            chars += len(json.dumps(key, ensure_ascii=False)) + 2 + size[0]  # "key": value,
            gaps += 3 + size[1]  # after the key, after :, after ,
        return chars, gaps
    if kind == "array":
        most = schema.get("maxItems")
        if most is None:
            return None
        item = _measure(schema.get("items", {}), per_char) if most else (0, 0)
        if item is None:
            return None
        return 2 + most * (item[0] + 1), 2 + most * (item[1] + 1)
    if kind == "string":
        most = schema.get("maxLength")
        return None if most is None else (2 + int(most) * per_char, 1)
    if kind == "boolean":
        return 5, 1
    if kind == "null":
        return 4, 1
    return None  # numbers are not bounded by these schemas


def answer_tokens(schema: dict, gap_whitespace: int = GAP_WHITESPACE, tokens_per_char: int = 1) -> int | None:
    """The most tokens an answer following `schema` can take, when a server allows
    `gap_whitespace` characters in every gap of the JSON; None when the schema does not bound it."""
    size = _measure(schema, tokens_per_char)
    if size is None:
        return None
    chars, gaps = size
    return chars + (gaps + LEADING_GAPS) * gap_whitespace + FENCE
