"""The status of a response, as it goes out: for the pure ASGI middlewares that record calls
(`audit`, `httpmetrics`) and must not buffer or slow the response to learn it."""

from __future__ import annotations

from starlette.types import Message, Send


class StatusRecorder:
    """A `send` that passes every message on and keeps the response's status: 500 until a
    response starts, which is what a call that raised out of the app amounts to."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status = 500

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
        await self._send(message)
