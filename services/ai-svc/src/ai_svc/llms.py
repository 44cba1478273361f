"""Which model answers an analysis, and which models there are.

gpt4all: a .gguf file of the models folder (default: the SmolLM2 file scripts/setup.sh
prepares), run in-process. openai: a model of the server at `ai_openai_url`. The server's URL
comes from the settings only, never from a request: ai-svc does not call arbitrary URLs.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from ai_svc.backends.base import BackendUnavailable, Cancel, Conversation, LlmBackend
from ai_svc.backends.gpt4all import Gpt4AllBackend, Gpt4AllModels, inspect, list_files
from ai_svc.backends.openai import OpenAIBackend, OpenAIServer
from ai_svc.modelprep import PATCHED_NAME
from genfleet_common.errors import InvalidInput
from genfleet_common.localmodel import models_dir
from genfleet_common.messages import Backend, LlmInfo
from genfleet_common.settings import Settings

SERVER_DEFAULT = "default"  # the name used when the server cannot list its models


class Llms:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.gpt4all = Gpt4AllModels(models_dir(settings), settings.ai_context, settings.ai_threads)
        self._server: OpenAIServer | None = None

    @property
    def default_backend(self) -> Backend:
        try:
            return Backend(self.settings.ai_backend)
        except ValueError:
            raise InvalidInput(
                f"setting ai_backend must be gpt4all or openai, not {self.settings.ai_backend!r}"
            ) from None

    def server(self) -> OpenAIServer:
        if not self.settings.ai_openai_url:
            raise BackendUnavailable(
                "no OpenAI-compatible server is configured (setting ai_openai_url)"
            )
        if self._server is None:
            self._server = OpenAIServer(
                self.settings.ai_openai_url,
                api_key=self.settings.ai_openai_api_key,
                timeout_s=self.settings.ai_request_timeout_s,
                seed=self.settings.ai_seed,
            )
        return self._server

    async def resolve(self, backend: Backend | None, llm: str | None) -> tuple[Backend, str]:
        """The backend and model name an analysis will use (defaults filled in).
        InvalidInput for a name that cannot be one; availability is checked by the run."""
        kind = backend or self.default_backend
        if kind == Backend.GPT4ALL:
            name = llm or self.settings.ai_model or PATCHED_NAME
            try:
                self.gpt4all.path(name)
            except BackendUnavailable as exc:
                raise InvalidInput(str(exc)) from None
            return kind, name
        name = llm or self.settings.ai_openai_model
        if not name:
            # the server's first model; a server that cannot say ends the analysis
            # "unavailable" with its reason (not a refused start)
            try:
                served = await self.server().models()
            except BackendUnavailable:
                served = []
            name = served[0] if served else SERVER_DEFAULT
        return kind, name

    def backend(self, kind: Backend, name: str) -> LlmBackend:
        if kind == Backend.GPT4ALL:
            return Gpt4AllBackend(self.gpt4all, name)
        try:
            server = self.server()
        except BackendUnavailable as exc:
            return _Unreachable(kind, name, str(exc))
        return OpenAIBackend(server, name, self.settings.ai_openai_context)

    async def list(self) -> list[LlmInfo]:
        found: list[LlmInfo] = []
        default_kind = self.default_backend
        default_file = self.settings.ai_model or PATCHED_NAME
        files = list_files(self.gpt4all.models_dir)
        for path in files:
            info = LlmInfo(
                backend=Backend.GPT4ALL,
                name=path.name,
                llm_id=f"gpt4all:{path.name}",
                available=True,
                default=default_kind == Backend.GPT4ALL and path.name == default_file,
                size_bytes=path.stat().st_size,
            )
            try:
                info.context_window = inspect(path, self.settings.ai_context).context_window
            except BackendUnavailable as exc:
                info.available, info.reason = False, str(exc)
            found.append(info)
        if not any(p.name == default_file for p in files):
            found.append(
                LlmInfo(
                    backend=Backend.GPT4ALL, name=default_file, llm_id=f"gpt4all:{default_file}",
                    available=False, default=default_kind == Backend.GPT4ALL,
                    reason=f"not in {self.gpt4all.models_dir} (scripts/setup.sh prepares it)",
                )
            )  # fmt: skip
        if self.settings.ai_openai_url:
            try:
                server = self.server()
                names = await server.models()
                for name in names:
                    found.append(
                        LlmInfo(
                            backend=Backend.OPENAI, name=name,
                            llm_id=f"openai:{name}@{server.server}", available=True,
                            default=default_kind == Backend.OPENAI
                            and name == (self.settings.ai_openai_model or names[0]),
                            context_window=self.settings.ai_openai_context,
                        )
                    )  # fmt: skip
            except BackendUnavailable as exc:
                found.append(
                    LlmInfo(
                        backend=Backend.OPENAI, name=self.settings.ai_openai_model or "?",
                        llm_id="openai:?", available=False, reason=str(exc),
                        default=default_kind == Backend.OPENAI,
                    )
                )  # fmt: skip
        return found

    async def close(self) -> None:
        self.gpt4all.close()
        if self._server is not None:
            await self._server.close()


class _Unreachable:
    """A backend that cannot be set up: every check says why."""

    def __init__(self, kind: Backend, name: str, reason: str) -> None:
        self.kind = kind
        self.name = name
        self.llm_id = f"{kind.value}:{name}"
        self.context_window = 0
        self.reason = reason

    async def check(self) -> None:
        raise BackendUnavailable(self.reason)

    @contextlib.asynccontextmanager
    async def conversation(self, system: str, cancel: Cancel) -> AsyncIterator[Conversation]:
        raise BackendUnavailable(self.reason)
        yield  # an async generator: never reached
