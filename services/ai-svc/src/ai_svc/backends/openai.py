"""Any OpenAI-compatible server: GPT4All's API server (:4891), Ollama, llama.cpp's server.

POST <url>/chat/completions with temperature 0 and a fixed seed; GET <url>/models to list
what it serves. A server that cannot be reached, or does not know the model, is
"unavailable"; a call that times out or answers an error is "failed" for that requirement.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec

from ai_svc.backends.base import BackendFailed, BackendUnavailable, Cancel, Completion
from ai_svc.context import estimate_tokens
from genfleet_common.messages import Backend


class _Message(msgspec.Struct):
    content: str | None = None


class _Choice(msgspec.Struct):
    message: _Message


class _Usage(msgspec.Struct):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class _ChatReply(msgspec.Struct):
    choices: list[_Choice]
    usage: _Usage | None = None


class _Model(msgspec.Struct):
    id: str


class _Models(msgspec.Struct):
    data: list[_Model]


def base_url(url: str) -> str:
    """The API root: `http://host:port/v1` (given with or without the /v1)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BackendUnavailable(f"ai_openai_url {url!r} is not an http(s) URL")
    root = url.strip().rstrip("/")
    return root if root.endswith("/v1") else root + "/v1"


def server_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"


class OpenAIServer:
    """One server: its client (shared by analyses), its model list."""

    def __init__(self, url: str, *, api_key: str, timeout_s: float, seed: int) -> None:
        self.url = base_url(url)
        self.server = server_of(self.url)
        self.seed = seed
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.AsyncClient(
            base_url=self.url,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=5.0),
            trust_env=False,  # a local server is never reached through a proxy
        )

    async def models(self) -> list[str]:
        try:
            r = await self.client.get("/models", timeout=10.0)
        except httpx.HTTPError as exc:
            raise BackendUnavailable(
                f"no OpenAI-compatible server answers at {self.url}: {exc or type(exc).__name__}"
            ) from exc
        if r.status_code != 200:
            raise BackendUnavailable(f"{self.url}/models answered HTTP {r.status_code}")
        try:
            return [m.id for m in msgspec.json.decode(r.content, type=_Models).data]
        except msgspec.DecodeError as exc:
            raise BackendUnavailable(f"{self.url}/models answered no model list: {exc}") from exc

    async def chat(
        self,
        model: str,
        messages: list[dict[str, str]],
        max_tokens: int,
        deadline: float | None = None,
    ) -> Completion:
        body: dict[str, Any] = {
            "model": model,
            "messages": messages,
            "temperature": 0,
            "seed": self.seed,
            "max_tokens": max_tokens,
            "stream": False,
        }
        started = time.monotonic()
        timeout: httpx.Timeout | None = None
        if deadline is not None:
            left = deadline - started
            if left <= 0:
                raise BackendFailed("the time budget was spent before this call")
            default = self.client.timeout
            timeout = httpx.Timeout(min(left, default.read or left), connect=default.connect)
        try:
            if timeout is None:
                r = await self.client.post("/chat/completions", json=body)
            else:
                r = await self.client.post("/chat/completions", json=body, timeout=timeout)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise BackendUnavailable(f"no server answers at {self.url}: {exc}") from exc
        except httpx.TimeoutException as exc:
            spent = time.monotonic() - started
            raise BackendFailed(
                f"{self.url}: no answer within {spent:.0f} s"
                + (" (the time budget)" if deadline is not None else "")
            ) from exc
        except httpx.HTTPError as exc:
            raise BackendFailed(f"{self.url}: {type(exc).__name__}: {exc}") from exc
        seconds = time.monotonic() - started
        if r.status_code == 404:
            raise BackendUnavailable(f"{self.url} does not serve model {model!r}: {r.text[:300]}")
        if r.status_code != 200:
            raise BackendFailed(f"{self.url} answered HTTP {r.status_code}: {r.text[:300]}")
        try:
            reply = msgspec.json.decode(r.content, type=_ChatReply)
        except msgspec.DecodeError as exc:
            raise BackendFailed(f"{self.url} answered no chat completion: {exc}") from exc
        if not reply.choices:
            raise BackendFailed(f"{self.url} answered no choices")
        text = reply.choices[0].message.content or ""
        usage = reply.usage or _Usage()
        prompt = usage.prompt_tokens or sum(estimate_tokens(m["content"]) for m in messages)
        return Completion(text, prompt, usage.completion_tokens, seconds)

    async def close(self) -> None:
        await self.client.aclose()


class OpenAIBackend:
    kind = Backend.OPENAI

    def __init__(self, server: OpenAIServer, name: str, context_window: int) -> None:
        self.server = server
        self.name = name
        self.llm_id = f"openai:{name}@{server.server}"
        self.context_window = context_window

    async def check(self) -> None:
        served = await self.server.models()
        if self.name not in served:
            raise BackendUnavailable(
                f"{self.server.url} does not serve {self.name!r} (it serves: "
                f"{', '.join(served[:10]) or 'nothing'})"
            )

    @contextlib.asynccontextmanager
    async def conversation(self, system: str, cancel: Cancel) -> AsyncIterator[_Chat]:
        yield _Chat(self, system)


class _Chat:
    def __init__(self, backend: OpenAIBackend, system: str) -> None:
        self.backend = backend
        self.messages = [{"role": "system", "content": system}]

    async def ask(self, text: str, max_tokens: int, deadline: float | None = None) -> Completion:
        self.messages.append({"role": "user", "content": text})
        done = await self.backend.server.chat(
            self.backend.name, self.messages, max_tokens, deadline
        )
        self.messages.append({"role": "assistant", "content": done.text})
        return done
