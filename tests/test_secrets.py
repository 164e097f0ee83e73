"""The one scrubber: every spelling of a known secret, and the shapes secrets come in, whoever's."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

import pytest

from parley.llm.secrets import REDACTED, Scrubber, public_url, url_secrets

KEY = "sk-unit-0123456789ABCDEF"


@pytest.fixture
def scrubber(monkeypatch: pytest.MonkeyPatch) -> Scrubber:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    s = Scrubber()
    s.add_key(KEY)
    return s


@pytest.mark.parametrize(
    "spelled",
    [
        KEY,
        json.dumps(KEY, ensure_ascii=True),
        "".join(f"\\u{ord(c):04x}" for c in KEY),
        "".join(f"\\u{ord(c):04X}" for c in KEY),
        "sk-unit-0123" + "".join(f"\\u{ord(c):04x}" for c in "456789ABCDEF"),  # half escaped
        "".join(f"%{ord(c):02x}" for c in KEY),
        quote(KEY, safe=""),
        "".join(f"&#{ord(c)};" for c in KEY),
        "".join(f"&#x{ord(c):X};" for c in KEY[:10]) + KEY[10:],
    ],
)
def test_a_known_key_goes_in_every_spelling(scrubber: Scrubber, spelled: str) -> None:
    text = scrubber.text(f'{{"text": "my key: {spelled} ok"}}')
    assert text.replace(REDACTED, "X") in ('{"text": "my key: X ok"}', '{"text": "my key: "X" ok"}')


def test_parsed_values_are_scrubbed_too(scrubber: Scrubber) -> None:
    assert scrubber.data({"actions": [{"text": f"it is {KEY}", "to": ["north"]}]}) == {
        "actions": [{"text": "it is ***", "to": ["north"]}]
    }


@pytest.mark.parametrize(
    ("text", "left"),
    [
        ("GET http://joe:hunter22@host/v1 failed", "GET http://***@host/v1 failed"),
        ("https://host/v1?api-key=abc123&x=1", "https://host/v1?api-key=***&x=1"),
        ("http://h/v1?key=abc123", "http://h/v1?key=***"),
        ("http://h/v1?access_token=abc123#top", "http://h/v1?access_token=***#top"),
        ('{"Authorization": "Bearer abcdefgh12345678"}', '{"Authorization": "Bearer ***"}'),
        ("authorization: Basic dXNlcjpwYXNz", "authorization: Basic ***"),
        ("x-api-key=zzz999", "x-api-key=***"),
        ("sent with bearer abcdefghijklmnop", "sent with bearer ***"),
        ("someone else's sk-proj-abcdefghijklmnopqrstuvwx", "someone else's ***"),
        ("a task-force-of-sixteen-people and a user", "a task-force-of-sixteen-people and a user"),
        ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1"),
    ],
)
def test_shapes_of_secrets_go_whoever_they_belong_to(scrubber: Scrubber, text: str, left: str) -> None:
    assert scrubber.text(text) == left


def test_a_url_gives_its_secrets_and_a_public_form() -> None:
    url = "http://someone-long:pa%40ss-word@host:8000/v1?api-key=Q1W2E3R4&model=x"
    assert set(url_secrets(url)) == {
        "pa@ss-word",
        "someone-long",
        base64.b64encode(b"someone-long:pa@ss-word").decode(),
        "Q1W2E3R4",
    }
    assert public_url(url) == "http://***@host:8000/v1?api-key=***&model=x"
    assert url_secrets("http://user:topsecret@h/v1") == ["topsecret", base64.b64encode(b"user:topsecret").decode()]
    assert public_url("http://127.0.0.1:8765/v1") == "http://127.0.0.1:8765/v1"  # a plain URL is left as it is
    assert public_url(None) is None


def test_secrets_in_the_environment_are_known_without_being_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    s = Scrubber()
    monkeypatch.setenv("OPENAI_API_KEY", "envkey-987654")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://h/v1?token=tok-55555")
    assert s.text("envkey-987654 tok-55555") == "*** ***"


def test_short_or_empty_secrets_are_not_registered(scrubber: Scrubber) -> None:
    scrubber.add(["", None, "abc"])
    assert scrubber.text("abc user") == "abc user"


def test_a_url_recorded_without_its_key_takes_it_back_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from parley.llm.settings import LLMSettings

    secret_url = "http://someone:sk-env-0123456789abcdef@127.0.0.1:9/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", secret_url)
    recorded = public_url(secret_url)
    assert recorded == "http://***@127.0.0.1:9/v1"
    assert LLMSettings(base_url=recorded).base() == secret_url  # resume: the same server, its key from the env
    assert LLMSettings(base_url="http://***@elsewhere:9/v1").base() == "http://***@elsewhere:9/v1"
    assert LLMSettings(base_url="http://plain:9/v1").base() == "http://plain:9/v1"
    assert LLMSettings().base() == secret_url
