"""What every model backend offers: a conversation (system prompt, then questions, each
answered with its text, token counts and time), deterministic settings, honest errors."""

from __future__ import annotations

import threading
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Protocol

from genfleet_common.messages import Backend


@dataclass
class Completion:
    text: str
    prompt_tokens: int  # counted by the server, or estimated (in-process)
    completion_tokens: int
    seconds: float  # the model call alone
    out_of_time: bool = False  # ended by the time budget (its deadline), not by the model


class BackendUnavailable(Exception):
    """No model can answer: the file is missing or does not load, the server is not there."""


class BackendFailed(Exception):
    """This call failed (timeout, an error answer); the next one may work."""


@dataclass
class Cancel:
    """Set by a stop; a generation running in a thread checks it at every token."""

    event: threading.Event = field(default_factory=threading.Event)

    def set(self) -> None:
        self.event.set()

    @property
    def is_set(self) -> bool:
        return self.event.is_set()


class Conversation(Protocol):
    async def ask(self, text: str, max_tokens: int, deadline: float | None = None) -> Completion:
        """The answer to `text`; `deadline` (time.monotonic()) ends the generation at its next
        token (in-process) or the call (a server: BackendFailed) once passed."""


class LlmBackend(Protocol):
    kind: Backend
    name: str  # the model: a GGUF file name, or the server's model name
    llm_id: str  # kind + name (+ server): what verdicts are cached under
    context_window: int  # tokens the model reads (prompt + answer)

    async def check(self) -> None:
        """Raise BackendUnavailable (with the reason) when the model cannot answer."""

    def conversation(
        self, system: str, cancel: Cancel
    ) -> AbstractAsyncContextManager[Conversation]: ...
