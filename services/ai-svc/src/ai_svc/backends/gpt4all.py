"""In-process GPT4All with a local GGUF file: loaded once, one generation at a time.

Generation blocks, so it runs in a worker thread and the service keeps answering. The model
is never downloaded (allow_download=False), always on the CPU, with an explicit thread count:
without one, a model that failed to load generates '' silently. A loaded model is also asked
for one token: a load that "worked" but cannot generate is reported unavailable, not as empty
answers. Temperature 0 and top_k 1 make each answer the greedy, repeatable one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ai_svc.backends.base import BackendFailed, BackendUnavailable, Cancel, Completion
from ai_svc.context import estimate_tokens
from ai_svc.gguf import GGUFError, StringValue, context_length, read_metadata
from genfleet_common.messages import Backend

# Chat formats by a marker of the GGUF's own chat template: (system prompt, turn template).
# The turn template's {0} is the question, {1} where the answer goes (GPT4All's syntax).
FORMATS = {
    "<|im_start|>": (
        "<|im_start|>system\n{system}<|im_end|>\n",
        "<|im_start|>user\n{0}<|im_end|>\n<|im_start|>assistant\n{1}<|im_end|>\n",
    ),
    "<|start_header_id|>": (
        "<|start_header_id|>system<|end_header_id|>\n\n{system}<|eot_id|>",
        "<|start_header_id|>user<|end_header_id|>\n\n{0}<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n{1}<|eot_id|>",
    ),
}
# Deterministic decoding. No repeat penalty: JSON repeats quotes and braces by nature.
SAMPLING: dict[str, Any] = {"temp": 0.0, "top_k": 1, "top_p": 1.0, "repeat_penalty": 1.0}
N_BATCH = 128  # prompt tokens per step: the prompt is most of the work
MIN_TOKENS = 4  # generated even past a requirement's time budget: "NOT_MET" is 3 tokens


@dataclass
class ModelFile:
    path: Path
    context_window: int
    system_format: str
    turn_format: str


def inspect(path: Path, n_ctx: int) -> ModelFile:
    """The model's chat format and usable context; BackendUnavailable with the reason."""
    if not path.is_file():
        raise BackendUnavailable(f"model file {path} does not exist (scripts/setup.sh makes it)")
    try:
        meta = read_metadata(path)
        trained = context_length(path)
    except (OSError, GGUFError) as exc:
        raise BackendUnavailable(f"{path.name} is not a usable GGUF model: {exc}") from exc
    template = meta.get("tokenizer.chat_template")
    text = template.value if isinstance(template, StringValue) else ""
    for marker, (system, turn) in FORMATS.items():
        if marker in text:
            window = min(n_ctx, trained) if trained else n_ctx
            return ModelFile(path, window, system, turn)
    raise BackendUnavailable(
        f"{path.name}: its chat template is not one ai-svc can apply (ChatML or Llama 3)"
    )


class LoadedModel:
    """One GPT4All instance and the lock that keeps it to one conversation at a time."""

    def __init__(self, file: ModelFile, threads: int) -> None:
        self.file = file
        self.threads = threads
        self.lock = asyncio.Lock()
        self.llm: Any = None
        self.error = ""

    def load(self) -> None:
        """Blocking: load and probe. Sets `error` instead of raising, so it is remembered."""
        from gpt4all import GPT4All

        try:
            llm = GPT4All(
                self.file.path.name,
                model_path=str(self.file.path.parent),
                allow_download=False,
                device="cpu",
                n_threads=self.threads,
                n_ctx=self.file.context_window,
                verbose=False,
            )
        except Exception as exc:  # the bindings raise ValueError/RuntimeError/OSError
            self.error = f"GPT4All cannot load {self.file.path.name}: {exc}"
            return
        tokens: list[int] = []

        def on_token(token: int, _piece: str) -> bool:
            tokens.append(token)
            return True

        llm.generate("Hi", max_tokens=1, callback=on_token, **SAMPLING)
        if not tokens:
            llm.close()
            self.error = f"GPT4All loaded {self.file.path.name} but it generates nothing"
            return
        self.llm = llm


class Gpt4AllModels:
    """The service's loaded models by file, each loaded once, on first use."""

    def __init__(self, models_dir: Path, n_ctx: int, threads: int) -> None:
        self.models_dir = models_dir
        self.n_ctx = n_ctx
        self.threads = threads or os.cpu_count() or 1
        self._loaded: dict[str, LoadedModel] = {}
        self._loading = asyncio.Lock()

    def path(self, name: str) -> Path:
        if "/" in name or "\\" in name or name.startswith(".") or not name.endswith(".gguf"):
            raise BackendUnavailable(f"{name!r} is not a .gguf file name in {self.models_dir}")
        return self.models_dir / name

    async def get(self, name: str) -> LoadedModel:
        async with self._loading:
            loaded = self._loaded.get(name)
            if loaded is None:
                file = await asyncio.to_thread(inspect, self.path(name), self.n_ctx)
                loaded = LoadedModel(file, self.threads)
                await asyncio.to_thread(loaded.load)
                if loaded.error:  # not kept: a fixed file is picked up by the next analysis
                    raise BackendUnavailable(loaded.error)
                self._loaded[name] = loaded
            return loaded

    def close(self) -> None:
        for loaded in self._loaded.values():
            if loaded.llm is not None:
                with contextlib.suppress(Exception):
                    loaded.llm.close()
        self._loaded.clear()


class Gpt4AllBackend:
    kind = Backend.GPT4ALL

    def __init__(self, models: Gpt4AllModels, name: str) -> None:
        self.models = models
        self.name = name
        self.llm_id = f"gpt4all:{name}"
        self.context_window = models.n_ctx
        self._model: LoadedModel | None = None

    async def check(self) -> None:
        self._model = await self.models.get(self.name)
        self.context_window = self._model.file.context_window

    @contextlib.asynccontextmanager
    async def conversation(self, system: str, cancel: Cancel) -> AsyncIterator[_Chat]:
        if self._model is None:
            await self.check()
        assert self._model is not None
        model = self._model
        async with model.lock:
            session = model.llm.chat_session(
                system_prompt=model.file.system_format.format(system=system),
                prompt_template=model.file.turn_format,
            )
            session.__enter__()  # history in the instance; left only under the lock
            try:
                yield _Chat(model, cancel)
            finally:
                session.__exit__(None, None, None)


class _Chat:
    def __init__(self, model: LoadedModel, cancel: Cancel) -> None:
        self.model = model
        self.cancel = cancel
        self.first = True

    def _generate(self, text: str, max_tokens: int, deadline: float | None) -> Completion:
        count = 0
        out_of_time = False

        def on_token(_token: int, _piece: str) -> bool:
            nonlocal count, out_of_time
            count += 1
            # past the deadline, the first few tokens still come: the verdict is one word
            if count >= MIN_TOKENS and deadline is not None and time.monotonic() >= deadline:
                out_of_time = True
                return False
            return not self.cancel.is_set

        started = time.monotonic()
        try:
            answer: str = self.model.llm.generate(
                text, max_tokens=max_tokens, n_batch=N_BATCH, callback=on_token, **SAMPLING
            )
        except Exception as exc:
            raise BackendFailed(f"GPT4All failed: {type(exc).__name__}: {exc}") from exc
        seconds = time.monotonic() - started
        return Completion(answer, estimate_tokens(text), count, seconds, out_of_time)

    async def ask(self, text: str, max_tokens: int, deadline: float | None = None) -> Completion:
        # the thread cannot be interrupted; a stop sets `cancel`, which ends it at the next token
        task = asyncio.ensure_future(asyncio.to_thread(self._generate, text, max_tokens, deadline))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            self.cancel.set()
            # the lock is released only once the thread has let go of the model, even through
            # a second cancellation (a shutdown just after a stop): closing the model under a
            # running generation crashes the process
            while not task.done():
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.shield(task)
            raise


def list_files(models_dir: Path) -> list[Path]:
    try:
        return sorted(p for p in models_dir.glob("*.gguf") if p.is_file())
    except OSError:
        return []
