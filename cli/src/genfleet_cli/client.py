"""A small, quick HTTP client for the gateway (stdlib http.client: the CLI starts fast).

Every answer is the gateway's envelope; errors become ApiError with the HTTP status, the
error code and the message the gateway gave.
"""

from __future__ import annotations

import http.client
import json
import urllib.parse
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import msgspec


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.data = data


class Api:
    def __init__(self, url: str, token: str, timeout_s: float = 30.0) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ApiError(0, "invalid", f"not an http(s) URL: {url!r}")
        self.url = url.rstrip("/")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.token = token
        self.timeout_s = timeout_s

    @staticmethod
    def path(*segments: str | int) -> str:
        """A URL path from segments, each quoted (model names may hold dots and worse)."""
        return "/" + "/".join(urllib.parse.quote(str(s), safe="") for s in segments)

    def request(
        self,
        method: str,
        path: str,
        body: msgspec.Struct | dict[str, Any] | None = None,
        query: dict[str, Any] | None = None,
        timeout_s: float | None = None,
    ) -> Any:
        """`body`: the Struct the gateway decodes it into (genfleet_common.messages); a dict
        only for a body that has none."""
        headers = {"Accept": "application/json"}
        payload = None
        if body is not None:
            import msgspec  # only calls with a body need it

            payload = msgspec.json.encode(body)
            headers["Content-Type"] = "application/json"
        status, raw = self._send(method, path, query, payload, headers, timeout_s)
        try:
            envelope = json.loads(raw)
        except ValueError as exc:
            raise ApiError(status, "internal", f"not JSON from {path}: {raw[:200]!r}") from exc
        if not envelope.get("success"):
            error = envelope.get("error") or {}
            raise ApiError(
                status,
                str(error.get("code", "error")),
                str(envelope.get("message") or error.get("detail") or "request failed"),
                envelope.get("data"),
            )
        return envelope.get("data")

    def download(self, path: str, timeout_s: float | None = None, **query: Any) -> bytes:
        """A file (not an envelope), e.g. a scan report; errors still come as envelopes."""
        status, raw = self._send("GET", path, query, None, {}, timeout_s)
        if status == 200:
            return raw
        try:
            envelope = json.loads(raw)
        except ValueError:
            envelope = {}
        error = envelope.get("error") or {}
        raise ApiError(
            status,
            str(error.get("code", "error")),
            str(envelope.get("message") or f"HTTP {status}"),
        )

    def _send(
        self,
        method: str,
        path: str,
        query: dict[str, Any] | None,
        payload: bytes | None,
        headers: dict[str, str],
        timeout_s: float | None,
    ) -> tuple[int, bytes]:
        """One HTTP exchange with the token: the status and the body as bytes."""
        if query:
            path += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        conn = cls(self.host, self.port, timeout=timeout_s or self.timeout_s)
        try:
            conn.request(
                method,
                path,
                body=payload,
                headers={"Authorization": f"Bearer {self.token}", **headers},
            )
            response = conn.getresponse()
            return response.status, response.read()
        except OSError as exc:
            raise ApiError(0, "unavailable", f"cannot reach GenFleet at {self.url}: {exc}") from exc
        finally:
            conn.close()

    def get(self, path: str, **query: Any) -> Any:
        return self.request("GET", path, query=query)

    def post(
        self,
        path: str,
        body: msgspec.Struct | dict[str, Any] | None = None,
        timeout_s: float = 3600,
    ) -> Any:
        return self.request("POST", path, body={} if body is None else body, timeout_s=timeout_s)

    # --- WebSockets ------------------------------------------------------------------------
    def ws_url(self, path: str, **query: Any) -> str:
        scheme = "wss" if self.scheme == "https" else "ws"
        params = {"token": self.token, **{k: v for k, v in query.items() if v is not None}}
        return f"{scheme}://{self.host}:{self.port}{path}?{urllib.parse.urlencode(params)}"

    def websocket(self, path: str, **query: Any) -> Socket:
        return Socket(self.ws_url(path, **query), self.timeout_s)


# the states a job (scan, load test, analysis, batch) ends in: genfleet_common's JobState.done,
# spelled here so that the CLI's start-up needs no import of the message types
DONE = ("COMPLETE", "UNAVAILABLE", "FAILED", "ERROR", "STOPPED")


class Socket:
    """A WebSocket of JSON frames. A close with code 4000+N (the gateway's way of saying
    HTTP N, e.g. 4401) raises ApiError; a normal close ends `recv` with None."""

    def __init__(self, url: str, open_timeout_s: float) -> None:
        from websockets.sync.client import connect

        self._ws = connect(url, open_timeout=open_timeout_s)
        self.closed = False

    def recv(self, timeout_s: float | None = None) -> Any | None:
        """The next frame, or None on timeout or when the socket closed (see `closed`)."""
        from websockets.exceptions import ConnectionClosed

        try:
            return json.loads(self._ws.recv(timeout=timeout_s))
        except TimeoutError:
            return None
        except ConnectionClosed as exc:
            self.closed = True
            if exc.rcvd is not None and exc.rcvd.code >= 4000:
                raise ApiError(exc.rcvd.code - 4000, "closed", exc.rcvd.reason) from exc
            return None

    def events(self, wait_s: float = 5) -> Iterator[dict[str, Any]]:
        """Each frame's event, until the socket closes (a quiet socket is waited on)."""
        while not self.closed:
            frame = self.recv(timeout_s=wait_s)
            if frame is not None:
                yield frame["event"]

    def close(self) -> None:
        self._ws.close()

    def __enter__(self) -> Socket:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
