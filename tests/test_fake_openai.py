"""The fake OpenAI server, exercised over real HTTP with the official `openai` client."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.fake_openai import FakeOpenAI

KEY = "test-key"
ISSUES = {"money": ["m0", "m1", "m2"], "land": ["l0", "l1"]}


def _obj(properties: dict) -> dict:
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


def make_schema(actor: str, proposals: list[str] | None = None) -> dict:
    """A small move schema in the format of parley/move_schema.py."""
    others = [a for a in ("a", "b", "c") if a != actor]
    package = _obj({issue: {"type": "string", "enum": options} for issue, options in ISSUES.items()})
    to = {"type": "array", "items": {"type": "string", "enum": others}, "minItems": 1}
    text = {"type": "string"}
    kinds = {
        "propose": {"package": package, "to": to, "text": text},
        "message": {"kind": {"type": "string", "enum": ["statement", "threat"]}, "to": to, "text": text},
        "channel": {"to": {"type": "string", "enum": others}, "open": {"type": "boolean"}, "reason": text},
        "walkout": {"reason": text},
        "pass": {"reason": text},
    }
    if proposals:
        ids = {"type": "string", "enum": proposals}
        kinds["respond"] = {"proposal": ids, "accept": {"type": "boolean"}, "reason": text}
        kinds["counter"] = {"proposal": ids, "package": package, "to": to, "reason": text, "text": text}
    variants = [_obj({"type": {"type": "string", "enum": [k]}, **props}) for k, props in kinds.items()]
    return _obj({"actions": {"type": "array", "items": {"anyOf": variants}}})


def problems(value: object, schema: dict, where: str = "$") -> list[str]:
    """A tiny validator for the subset of JSON schema the move schemas use."""
    if "anyOf" in schema:
        if any(not problems(value, alt, where) for alt in schema["anyOf"]):
            return []
        return [f"{where}: fits no variant"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: {value!r} not in {schema['enum']}"]
    kind = schema.get("type")
    if kind == "object":
        if not isinstance(value, dict):
            return [f"{where}: not an object"]
        out = [f"{where}: missing {k}" for k in schema.get("required", []) if k not in value]
        if schema.get("additionalProperties") is False:
            out += [f"{where}: extra {k}" for k in value if k not in schema["properties"]]
        for k, sub in schema.get("properties", {}).items():
            if k in value:
                out += problems(value[k], sub, f"{where}.{k}")
        return out
    if kind == "array":
        if not isinstance(value, list):
            return [f"{where}: not an array"]
        out = [f"{where}: fewer than {schema['minItems']} items"] if len(value) < schema.get("minItems", 0) else []
        for i, item in enumerate(value):
            out += problems(item, schema.get("items", {}), f"{where}[{i}]")
        return out
    types = {"string": str, "boolean": bool}
    if kind in types and not isinstance(value, types[kind]):
        return [f"{where}: not a {kind}"]
    return []


def test_the_hand_validator_catches_what_it_should():
    schema = make_schema("a", ["P1"])
    good = {"actions": [{"type": "pass", "reason": "x"}]}
    assert problems(good, schema) == []
    assert problems({"actions": [{"type": "pass"}]}, schema)
    assert problems({"actions": [{"type": "pass", "reason": "x", "extra": 1}]}, schema)
    assert problems({"actions": [{"type": "respond", "proposal": "P2", "accept": True, "reason": "x"}]}, schema)
    assert problems({}, schema)


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as s:
        yield s


def client_for(server: FakeOpenAI, **kwargs) -> openai.OpenAI:
    return openai.OpenAI(api_key=kwargs.pop("api_key", KEY), base_url=server.url, max_retries=0, **kwargs)


def messages(actor: str = "a", user: str = "Your move.") -> list[dict]:
    return [{"role": "system", "content": f"You are {actor}."}, {"role": "user", "content": user}]


def ask(
    client: openai.OpenAI,
    actor: str = "a",
    proposals: list[str] | None = None,
    fmt: str | None = "json_schema",
    **kwargs,
):
    """One chat completion as Parley asks for a move."""
    extra = {}
    if fmt == "json_schema":
        schema = make_schema(actor, proposals)
        extra["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": f"parley_move_{actor}", "strict": True, "schema": schema},
        }
    elif fmt == "json_object":
        extra["response_format"] = {"type": "json_object"}
    return client.chat.completions.create(
        model="fake-model",
        messages=kwargs.pop("messages", None) or messages(actor),
        temperature=0.7,
        seed=1,
        max_completion_tokens=500,
        **extra,
        **kwargs,
    )


def get_json(server: FakeOpenAI, path: str) -> object:
    with urllib.request.urlopen(server.url.removesuffix("/v1") + path, timeout=5) as resp:
        return json.loads(resp.read())


def post_json(server: FakeOpenAI, path: str, body: dict) -> object:
    req = urllib.request.Request(
        server.url.removesuffix("/v1") + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


# --- the valid answer --------------------------------------------------------------------------------


def test_valid_answer_fits_the_schema_accepts_the_first_proposal_and_proposes(server):
    client = client_for(server)
    resp = ask(client, "a", ["P1"])
    assert resp.object == "chat.completion"
    assert resp.model == "fake-model"
    assert resp.id.startswith("chatcmpl-")
    assert resp.choices[0].finish_reason == "stop"
    assert resp.choices[0].message.role == "assistant"
    move = json.loads(resp.choices[0].message.content)
    assert problems(move, make_schema("a", ["P1"])) == []
    respond, propose = move["actions"]
    assert respond == {"type": "respond", "proposal": "P1", "accept": True, "reason": "fake: acceptable"}
    assert propose["type"] == "propose"
    assert propose["package"] == {"money": "m0", "land": "l0"}
    assert propose["to"] == ["b", "c"]
    assert propose["text"] == "fake proposal"


def test_successive_proposals_differ_and_count_per_actor(server):
    client = client_for(server)
    packages = [json.loads(ask(client, "a").choices[0].message.content)["actions"][0]["package"] for _ in range(3)]
    assert packages == [{"money": "m0", "land": "l0"}, {"money": "m1", "land": "l1"}, {"money": "m2", "land": "l0"}]
    # another actor has its own count
    b = json.loads(ask(client, "b").choices[0].message.content)
    assert b["actions"][0]["package"] == {"money": "m0", "land": "l0"}
    assert b["actions"][0]["to"] == ["a", "c"]
    assert problems(b, make_schema("b")) == []
    assert [r["actor"] for r in server.requests] == ["a", "a", "a", "b"]
    assert len(server.calls_for("a")) == 3


def test_without_a_proposal_to_answer_there_is_no_respond(server):
    move = json.loads(ask(client_for(server), "c").choices[0].message.content)
    assert [a["type"] for a in move["actions"]] == ["propose"]
    assert problems(move, make_schema("c")) == []


def test_json_object_request_uses_the_schema_last_seen_with_the_same_system_message(server):
    client = client_for(server)
    ask(client, "b", ["P1"])
    resp = ask(client, "b", fmt="json_object")
    move = json.loads(resp.choices[0].message.content)
    assert problems(move, make_schema("b", ["P1"])) == []
    assert server.requests[-1]["actor"] == "b"
    # no response_format at all: the same
    assert server.calls_for("b")[-1]["body"]["response_format"] == {"type": "json_object"}
    move = json.loads(ask(client, "b", fmt=None).choices[0].message.content)
    assert problems(move, make_schema("b", ["P1"])) == []
    assert len(server.calls_for("b")) == 3


def test_an_unknown_system_message_without_schema_gets_a_pass(server):
    resp = ask(client_for(server), fmt="json_object", messages=messages("nobody"))
    assert json.loads(resp.choices[0].message.content) == {
        "actions": [{"type": "pass", "reason": "fake: no schema seen"}]
    }
    assert server.requests[-1]["actor"] is None


def test_a_schema_written_in_the_last_user_message_is_used(server):
    schema = make_schema("c", ["P1"])
    user = f"Answer with JSON fitting the schema parley_move_c:\n{json.dumps(schema)}\nNothing else."
    resp = ask(client_for(server), fmt="json_object", messages=messages("new", user))
    assert problems(json.loads(resp.choices[0].message.content), schema) == []
    assert server.requests[-1]["actor"] == "c"
    # as parley/llm/client.py spells it out: no name, but the schema's description names the actor
    schema = {**make_schema("b"), "description": "the move of b this round"}
    user = "Your move.\n\nAnswer with one JSON object, and nothing else, that matches this JSON schema:\n" + json.dumps(
        schema
    )
    resp = ask(client_for(server), fmt=None, messages=messages("other", user))
    assert problems(json.loads(resp.choices[0].message.content), schema) == []
    assert server.requests[-1]["actor"] == "b"


def test_usage_counts_characters_over_four(server):
    msgs = [{"role": "system", "content": "s" * 41}, {"role": "user", "content": "u" * 80}]
    resp = ask(client_for(server), "a", messages=msgs)
    content = resp.choices[0].message.content
    assert resp.usage.prompt_tokens == (41 + 80) // 4 == 30
    assert resp.usage.completion_tokens == len(content) // 4
    assert resp.usage.total_tokens == 30 + len(content) // 4


# --- scripted behaviours -----------------------------------------------------------------------------


def test_scripted_behaviours_come_in_order_per_actor_then_valid_again(server):
    client = client_for(server)
    move = {"actions": [{"type": "walkout", "reason": "enough"}]}
    server.script("a", {"kind": "move", "move": move}, {"kind": "content", "content": "just words"})
    server.script("b", {"kind": "content", "content": "for b"})
    assert json.loads(ask(client, "a").choices[0].message.content) == move
    assert ask(client, "b").choices[0].message.content == "for b"
    assert ask(client, "a").choices[0].message.content == "just words"
    assert problems(json.loads(ask(client, "a").choices[0].message.content), make_schema("a")) == []


def test_broken_json(server):
    server.script("a", {"kind": "broken_json"})
    content = ask(client_for(server), "a").choices[0].message.content
    assert content.startswith('{"actions": [')
    with pytest.raises(json.JSONDecodeError):
        json.loads(content)


def test_prose_wraps_a_valid_move(server):
    server.script("a", {"kind": "prose"})
    content = ask(client_for(server), "a", ["P1"]).choices[0].message.content
    assert content.startswith("Here is my move.\n```json\n")
    assert content.endswith("\n```\nI hope this helps.")
    inner = content.split("```json\n")[1].split("\n```")[0]
    assert problems(json.loads(inner), make_schema("a", ["P1"])) == []


def test_schema_violation_has_an_option_not_in_the_enum(server):
    server.script("a", {"kind": "schema_violation"})
    move = json.loads(ask(client_for(server), "a").choices[0].message.content)
    assert "not_an_option" in move["actions"][0]["package"].values()
    assert problems(move, make_schema("a")) != []


def test_429_carries_retry_after(server):
    server.script(
        "a",
        {"kind": "status", "status": 429, "retry_after": 1.5},
        {"kind": "status", "status": 429, "retry_after": None},
    )
    client = client_for(server)
    with pytest.raises(openai.RateLimitError) as info:
        ask(client, "a")
    assert info.value.response.headers["retry-after"] == "1.5"
    assert info.value.body == {"message": "rate limited", "type": "rate_limit_error", "param": None, "code": None}
    with pytest.raises(openai.RateLimitError) as info:
        ask(client, "a")
    assert "retry-after" not in info.value.response.headers
    assert [r["status"] for r in server.requests] == [429, 429]


@pytest.mark.parametrize(
    ("status", "error", "type_"),
    [
        (500, openai.InternalServerError, "server_error"),
        (503, openai.InternalServerError, "server_error"),
        (400, openai.BadRequestError, "invalid_request_error"),
        (401, openai.AuthenticationError, "authentication_error"),
    ],
)
def test_error_statuses(server, status, error, type_):
    server.script("a", {"kind": "status", "status": status})
    with pytest.raises(error) as info:
        ask(client_for(server), "a")
    assert info.value.status_code == status
    assert info.value.body["type"] == type_


def test_slow_answers_late_but_valid(server):
    server.script("a", {"kind": "slow", "seconds": 0.3})
    start = time.monotonic()
    content = ask(client_for(server), "a").choices[0].message.content
    assert time.monotonic() - start >= 0.3
    assert problems(json.loads(content), make_schema("a")) == []
    record = server.calls_for("a")[0]
    assert record["answered"] - record["received"] >= 0.3


def test_hang_makes_the_client_time_out(server):
    server.script("a", {"kind": "hang", "seconds": 3})
    with pytest.raises(openai.APITimeoutError):  # the hang's end would close the connection instead
        ask(client_for(server, timeout=0.3), "a")
    # a hang that ends before the client gives up: the connection closes without an answer
    server.script("a", {"kind": "hang", "seconds": 0.1})
    with pytest.raises(openai.APIConnectionError):
        ask(client_for(server, timeout=5), "a")


def test_drip_answers_a_byte_at_a_time(server):
    server.script("a", {"kind": "drip", "seconds": 0.001, "pad": 3})
    content = ask(client_for(server), "a").choices[0].message.content
    assert problems(json.loads(content), make_schema("a")) == []
    for _ in range(500):  # the server records a drip once its last byte is out, which may be after we read it
        if server.calls_for("a"):
            break
        time.sleep(0.01)
    (record,) = server.calls_for("a")
    assert record["dripped"] == record["length"] and record["status"] == 200


def test_a_client_that_hangs_up_on_a_drip_is_recorded(server):
    server.script("a", {"kind": "drip", "seconds": 0.02, "pad": 10_000})
    schema = {"name": "parley_move_a", "strict": True, "schema": make_schema("a")}
    body = {"model": "m", "messages": messages("a"), "response_format": {"type": "json_schema", "json_schema": schema}}
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
    response = connection.getresponse()  # the status and headers come at once
    assert response.status == 200 and response.read(1) == b"{"
    response.close()
    connection.close()  # and hang up, long before the answer is whole
    for _ in range(1000):  # the server notices at its next bytes
        if server.calls_for("a"):
            break
        time.sleep(0.01)
    (record,) = server.calls_for("a")
    assert 1 <= record["dripped"] < record["length"]


@pytest.mark.parametrize("spelling", ["unicode", "url", "plain"])
def test_echo_key_says_the_bearer_token_back(server, spelling):
    secret = "sk-echo-0123456789abcdef"
    server.script("a", {"kind": "echo_key", "spelling": spelling})
    content = ask(client_for(server, api_key=secret), "a").choices[0].message.content
    assert (secret in content) == (spelling == "plain")
    texts = [action["text"] for action in json.loads(content)["actions"] if "text" in action]
    if spelling == "unicode":
        assert "\\u0073\\u006b" in content and texts and all(t == f"My key is {secret}" for t in texts)
    if spelling == "url":
        assert "%73%6B%2D" in content


def test_echo_key_says_basic_auth_from_the_url_back(server):
    server.script("a", {"kind": "echo_key", "spelling": "plain", "say": "Password:"})
    url = server.url.replace("http://", "http://someone:hunter2-secret@")
    client = openai.OpenAI(api_key=KEY, base_url=url, max_retries=0)
    content = ask(client, "a").choices[0].message.content
    assert "Password: hunter2-secret" in content


def test_unknown_behaviour_is_refused():
    with FakeOpenAI() as server, pytest.raises(ValueError, match="kind"):
        server.script("a", {"kind": "explode"})


# --- server options ----------------------------------------------------------------------------------


def test_json_schema_unsupported_is_a_bad_request_and_json_object_still_works():
    with FakeOpenAI(supports_json_schema=False) as server:
        client = client_for(server)
        with pytest.raises(openai.BadRequestError) as info:
            ask(client, "a", ["P1"])
        assert info.value.body == {
            "message": "response_format type json_schema is not supported",
            "type": "invalid_request_error",
            "param": "response_format",
            "code": None,
        }
        # the fallback a client makes: json_object with the same system message gets a move for the refused schema
        move = json.loads(ask(client, "a", fmt="json_object").choices[0].message.content)
        assert problems(move, make_schema("a", ["P1"])) == []
        assert [r["status"] for r in server.requests] == [400, 200]


def test_json_object_unsupported():
    with FakeOpenAI(supports_json_object=False) as server, pytest.raises(openai.BadRequestError, match="json_object"):
        ask(client_for(server), "a", fmt="json_object")


def test_require_key():
    with FakeOpenAI(require_key="sekrit-123") as server:
        with pytest.raises(openai.AuthenticationError):
            ask(client_for(server, api_key="wrong"), "a")
        # no Authorization header at all (the openai client refuses to send without a key)
        with pytest.raises(urllib.error.HTTPError) as info:
            post_json(server, "/v1/chat/completions", {"model": "m", "messages": messages("a")})
        assert info.value.code == 401
        assert json.loads(info.value.read())["error"]["type"] == "authentication_error"
        assert ask(client_for(server, api_key="sekrit-123"), "a").choices[0].message.content
        assert [r["status"] for r in server.requests] == [401, 401, 200]


def test_latency_is_concurrent_across_requests():
    latency = 0.4
    with FakeOpenAI(latency=latency) as server:
        client = client_for(server)
        errors: list[BaseException] = []

        def one(actor: str) -> None:
            try:
                ask(client, actor)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=one, args=(actor,)) for actor in "abcab"]
        start = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - start
        assert errors == []
        assert elapsed >= latency
        assert len(server.requests) == 5
        # served at once: every request had arrived before the first was answered (no wall-clock bound)
        assert max(r["received"] for r in server.requests) < min(r["answered"] for r in server.requests)


async def _ask_async(server: FakeOpenAI) -> str:
    async with openai.AsyncOpenAI(api_key=KEY, base_url=server.url, max_retries=0) as client:
        resp = await client.chat.completions.create(
            model="m",
            messages=messages("a"),
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "parley_move_a", "strict": True, "schema": make_schema("a")},
            },
        )
        return resp.choices[0].message.content


def test_async_client(server):
    import asyncio

    assert problems(json.loads(asyncio.run(_ask_async(server))), make_schema("a")) == []


# --- control over HTTP -------------------------------------------------------------------------------


def test_control_script_reset_and_config_over_http(server):
    client = client_for(server)
    assert post_json(
        server, "/control/script", {"actor": "a", "behaviours": [{"kind": "content", "content": "hi"}]}
    ) == {
        "ok": True,
        "queued": 1,
    }
    assert ask(client, "a").choices[0].message.content == "hi"
    post_json(server, "/control/script", {"actor": "a", "behaviours": [{"kind": "content", "content": "never"}]})
    assert post_json(server, "/control/reset", {}) == {"ok": True}
    assert server.requests == []
    move = json.loads(ask(client, "a").choices[0].message.content)
    assert move["actions"][0]["package"] == {"money": "m0", "land": "l0"}  # counts were reset too
    config = post_json(server, "/control/config", {"supports_json_schema": False, "latency": 0.05})
    assert config == {
        "latency": 0.05,
        "supports_json_schema": False,
        "supports_json_object": True,
        "require_key": False,
    }
    with pytest.raises(openai.BadRequestError):
        ask(client, "a")
    with pytest.raises(urllib.error.HTTPError) as info:
        post_json(server, "/control/script", {"actor": "a", "behaviours": [{"kind": "nope"}]})
    assert info.value.code == 400


def test_requests_are_recorded_and_the_key_never_shown():
    key = "sk-very-secret-value-42"
    with FakeOpenAI(require_key=key) as server:
        ask(client_for(server, api_key=key), "a", ["P1"])
        with pytest.raises(openai.AuthenticationError) as info:
            ask(client_for(server, api_key="sk-wrong-guess"), "b")
        assert "sk-wrong-guess" not in info.value.response.text
        record = server.calls_for("a")[0]
        assert record["status"] == 200
        assert record["body"]["model"] == "fake-model"
        assert record["body"]["seed"] == 1
        assert record["received"] <= record["answered"]
        with urllib.request.urlopen(server.url.removesuffix("/v1") + "/control/requests", timeout=5) as resp:
            raw = resp.read().decode()
        assert key not in raw
        assert "sk-wrong-guess" not in raw
        shown = json.loads(raw)
        assert [r["actor"] for r in shown] == ["a", "b"]
        assert [r["status"] for r in shown] == [200, 401]
        auth = next(v for k, v in shown[0]["headers"].items() if k.lower() == "authorization")
        assert auth == "[redacted]"
        assert shown[0]["body"]["response_format"]["json_schema"]["name"] == "parley_move_a"


def test_runs_as_a_process_until_interrupted():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_openai", "--port", str(port), "--latency", "0.01", "--no-json-schema"],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = proc.stdout.readline().strip()
        assert url == f"http://127.0.0.1:{port}/v1"
        client = openai.OpenAI(api_key=KEY, base_url=url, max_retries=0)
        with pytest.raises(openai.BadRequestError):
            ask(client, "a")
        post = urllib.request.Request(
            url.removesuffix("/v1") + "/control/script",
            data=json.dumps({"actor": "a", "behaviours": [{"kind": "content", "content": "scripted"}]}).encode(),
            method="POST",
        )
        urllib.request.urlopen(post, timeout=5).close()
        assert ask(client, "a", fmt="json_object").choices[0].message.content == "scripted"
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=5) == 0
        proc.stdout.close()
