"""A small OpenAI-compatible server over the GPT4All bindings, run as its own process:
`python gpt4all_openai_server.py --port P --model FILE.gguf`.

It speaks what ai-svc's openai backend uses of the API (GET /v1/models, POST
/v1/chat/completions with messages, max_tokens, temperature; usage counts in the answer),
like GPT4All's desktop API server does on :4891. The tests start it because no third-party
server can run here: GPT4All's API server is part of its desktop app (no headless package),
Ollama's server is in none of the reachable registries (PyPI's `ollama` is its client only),
and llama-cpp-python[server] comes to PyPI as source only, whose build took more than 12
minutes on the 2 cores (too slow for CI). The model answers for real; nothing is canned.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from gpt4all import GPT4All

SYSTEM = "<|im_start|>system\n{0}<|im_end|>\n"
TURN = "<|im_start|>{role}\n{content}<|im_end|>\n"
TEMPLATE = "<|im_start|>user\n{0}<|im_end|>\n<|im_start|>assistant\n{1}<|im_end|>\n"


class Model:
    def __init__(self, path: Path, threads: int, n_ctx: int) -> None:
        self.name = path.name
        self.llm = GPT4All(
            path.name, model_path=str(path.parent), allow_download=False, device="cpu",
            n_threads=threads, n_ctx=n_ctx,
        )  # fmt: skip
        self.lock = threading.Lock()

    def chat(self, messages: list[dict[str, str]], max_tokens: int, temp: float) -> dict[str, Any]:
        if not messages or messages[-1].get("role") != "user":
            raise ValueError("the last message must be the user's")
        system = next((m["content"] for m in messages if m.get("role") == "system"), "")
        # earlier turns go in as text after the system prompt (its special tokens are parsed)
        earlier = "".join(
            TURN.format(role=m["role"], content=m["content"])
            for m in messages[:-1]
            if m.get("role") in ("user", "assistant")
        )
        count = 0

        def on_token(_t: int, _s: str) -> bool:
            nonlocal count
            count += 1
            return True

        with self.lock, self.llm.chat_session(SYSTEM.format(system) + earlier, TEMPLATE):
            text = self.llm.generate(
                messages[-1]["content"], max_tokens=max_tokens, temp=temp, top_k=1,
                top_p=1.0, repeat_penalty=1.0, n_batch=128, callback=on_token,
            )  # fmt: skip
        prompt_chars = sum(len(m["content"]) for m in messages)
        return {
            "id": f"chatcmpl-{time.time_ns()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.name,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "length" if count >= max_tokens else "stop",
                }
            ],
            # the bindings count generated tokens (the callback), not the prompt's
            "usage": {
                "prompt_tokens": prompt_chars // 3,
                "completion_tokens": count,
                "total_tokens": prompt_chars // 3 + count,
            },
        }


def handler(model: Model) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path.rstrip("/") == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": model.name, "object": "model"}]})
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                if body.get("model") != model.name:
                    self._send(
                        404, {"error": {"message": f"model {body.get('model')!r} not found"}}
                    )
                    return
                answer = model.chat(
                    body["messages"], int(body.get("max_tokens") or 256),
                    float(body.get("temperature", 0.7)),
                )  # fmt: skip
            except (ValueError, KeyError, TypeError) as exc:
                self._send(400, {"error": {"message": str(exc)}})
                return
            self._send(200, answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--ctx", type=int, default=2048)
    args = parser.parse_args()
    model = Model(args.model, args.threads, args.ctx)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler(model))
    print(f"listening on {args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
