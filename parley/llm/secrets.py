"""One scrubber for secrets, wherever they come from, applied before anything is written or shown.

A secret reaches text in many shapes: the API key itself, a key in a base URL (its user and password,
or a query parameter such as `?key=` or `api-key=`), an `Authorization` header, and any of them as a
server may echo them back: JSON-escaped (`\\u0073k-...`), URL-encoded (`%73k-...`), as HTML
character references (`&#115;k-...`) or, for basic auth, base64. The secrets this process knows
(registered by the client, and read from `OPENAI_API_KEY` and `OPENAI_BASE_URL`) are removed in every
one of those spellings, even mixed; a few shapes are removed whatever the secret (URL user info,
secret-named query parameters, authorization headers, bearer tokens, OpenAI-style `sk-` keys).
"""

from __future__ import annotations

import base64
import os
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

REDACTED = "***"
SHORTEST = 4  # a shorter "secret" would blank common words out of every answer
SHORTEST_USER = 8  # a URL's user name is scrubbed as a secret only when it could be a key

_SECRET_NAME = r"[\w.-]*(?:key|token|secret|passw(?:or)?d|pwd|signature|auth|credential)[\w.-]*"
_SHAPES: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    # a URL's user info: scheme://user:password@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@?#\"'<>]+@"), rf"\1{REDACTED}@"),
    # a secret-named query parameter: ?key=..., &api-key=..., ;access_token=...
    (re.compile(rf"(?i)([?&;]{_SECRET_NAME}=)[^&#\s\"'<>]+"), rf"\1{REDACTED}"),
    # an authorization header, as written in a log or a JSON dump of headers
    (
        re.compile(
            r"(?i)\b((?:proxy-)?authorization|(?:x-)?api[-_]?key)([\"']?\s*[:=]\s*[\"']?)((?:bearer|basic|token)\s+)?"
            r"[^\s\"',;}&]+"
        ),
        lambda m: f"{m[1]}{m[2]}{m[3] or ''}{REDACTED}",
    ),
    (re.compile(r"(?i)\b(bearer)\s+[\w.~+/=-]{8,}"), rf"\1 {REDACTED}"),
    # OpenAI-style keys, whoever they belong to
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), REDACTED),
]


def _spelled(char: str) -> str:
    """Every way JSON, a URL or HTML may spell one character: itself, \\uXXXX (any case), %XX,
    &#NN; and &#xXX;, and \\/ for /."""
    code = ord(char)
    hex_digits = "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in f"{code:x}")
    ways = [re.escape(char), f"&#0*{code};", f"&#[xX]0*{hex_digits};"]
    if code < 0x10000:
        ways.append(r"\\u" + "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in f"{code:04x}"))
    if code < 0x80:
        ways.append("%" + "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in f"{code:02x}"))
    if char == "/":
        ways.append(r"\\/")
    return "(?:" + "|".join(ways) + ")"


def url_secrets(url: str | None) -> list[str]:
    """The secrets a URL carries: its password, a user name that could be a key, the basic-auth
    header they make, and the values of secret-named query parameters."""
    if not url:
        return []
    try:
        parts = urlsplit(url)
        user, password = parts.username, parts.password
    except ValueError:
        return []
    found = []
    if password:
        found.append(unquote(password))
    if user and len(unquote(user)) >= SHORTEST_USER:  # a short one is a name, not a key
        found.append(unquote(user))
    if user or password:
        pair = f"{unquote(user or '')}:{unquote(password or '')}"
        found.append(base64.b64encode(pair.encode()).decode())
    name = re.compile(rf"(?i){_SECRET_NAME}")
    found += [value for key, value in parse_qsl(parts.query, keep_blank_values=False) if name.fullmatch(key)]
    return found


def public_url(url: str | None) -> str | None:
    """A URL as it may be written: its user info and secret-named query values replaced by ***."""
    if url is None:
        return None
    try:
        parts = urlsplit(url)
        has_user = parts.username is not None or parts.password is not None
    except ValueError:
        return scrub(url)
    netloc = parts.netloc
    if has_user:
        netloc = f"{REDACTED}@{netloc.rpartition('@')[2]}"
    query = re.sub(rf"(?i)((?:^|[&;]){_SECRET_NAME}=)[^&;#]+", rf"\1{REDACTED}", parts.query)
    return scrub(urlunsplit(parts._replace(netloc=netloc, query=query)))


class Scrubber:
    """The secrets this process knows, and how to take them out of text and data."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._known: re.Pattern[str] | None = None
        self._environment: tuple[str | None, str | None] = (None, None)
        self._lock = threading.Lock()

    def add(self, secrets: Iterable[str | None]) -> None:
        with self._lock:
            new = {s for s in secrets if s and len(s) >= SHORTEST} - self._secrets
            if not new:
                return
            self._secrets |= new
            longest_first = sorted(self._secrets, key=len, reverse=True)
            self._known = re.compile("|".join("".join(_spelled(c) for c in s) for s in longest_first))

    def add_key(self, key: str | None) -> None:
        self.add([key])

    def add_url(self, url: str | None) -> None:
        self.add(url_secrets(url))

    def _read_environment(self) -> None:
        now = (os.environ.get("OPENAI_API_KEY"), os.environ.get("OPENAI_BASE_URL"))
        if now != self._environment:
            self._environment = now
            self.add([now[0], *url_secrets(now[1])])

    def text(self, text: str) -> str:
        self._read_environment()
        if self._known is not None:
            text = self._known.sub(REDACTED, text)
        for shape, replacement in _SHAPES:
            text = shape.sub(replacement, text)
        return text

    def data(self, value: Any) -> Any:
        """The same value with every string in it scrubbed (parsed answers: escapes are decoded by now)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.data(k): self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.data(v) for v in value)
        return value


SCRUBBER = Scrubber()


def scrub(text: str) -> str:
    """Text without any secret this process knows, in any of its spellings, nor anything shaped like one."""
    return SCRUBBER.text(text)


def scrub_data(value: Any) -> Any:
    return SCRUBBER.data(value)
