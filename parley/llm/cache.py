"""Answers stored by the content of their request and the server that gave them, so a run played
again asks nothing twice, and a run pointed at another server (or a dead one) asks that server."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from parley.llm.answerer import Answerer, ChatParams, Completion, requests_for
from parley.llm.ledger import Ledger


class ResponseCache:
    """A folder of answers, one file each, filed under the server and the request's hash (the
    request hash a run's events record stays the request's alone)."""

    def __init__(self, folder: Path, server: str = "") -> None:
        self.folder = folder
        self.server = server.rstrip("/")  # as it may be written: a key in the URL is scrubbed already

    def _path(self, key: str) -> Path:
        name = hashlib.sha256(f"{self.server}\n{key}".encode()).hexdigest() if self.server else key
        return self.folder / name[:2] / f"{name}.json"

    def get(self, key: str) -> dict | None:
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None  # a damaged entry is asked again, not trusted

    def put(self, key: str, answer: dict) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(answer, ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)


class Cached:
    """An answerer that answers from the cache what it can (free, no call) and stores what `inner` answers.

    A request is looked up in every structured mode, best first, so a server that refused the
    strict schema is not asked again for an answer already stored in the mode it took.
    """

    def __init__(self, inner: Answerer, cache: ResponseCache, ledger: Ledger | None = None) -> None:
        self.inner = inner
        self.cache = cache
        self.ledger = ledger  # counts the answers served from the cache (they cost nothing)

    async def complete(
        self, actor: str, model: str, messages: list[dict], schema: dict, schema_name: str, params: ChatParams
    ) -> Completion:
        for mode, request, key in requests_for(model, messages, schema, schema_name, params):
            stored = self.cache.get(key)
            if stored is not None:
                prompt, completion = stored["prompt_tokens"], stored["completion_tokens"]
                if self.ledger is not None:
                    self.ledger.charge(actor, model, prompt, completion, cached=True)
                return Completion(
                    stored["content"], model, key, mode, prompt, completion, 0.0, True, 0.0,
                    finish_reason=stored.get("finish_reason"), max_tokens=request["max_tokens"],
                    chars=stored.get("chars"),
                )  # fmt: skip
        answer = await self.inner.complete(actor, model, messages, schema, schema_name, params)
        if not answer.cached:
            entry = {
                "content": answer.content,
                "prompt_tokens": answer.prompt_tokens,
                "completion_tokens": answer.completion_tokens,
                "model": model,
            }
            if answer.finish_reason not in (None, "stop"):
                entry["finish_reason"] = answer.finish_reason
            if answer.chars is not None:
                entry["chars"] = answer.chars
            self.cache.put(answer.request_hash, entry)
        return answer
