"""A revoked token is refused by every gateway, on requests and sockets, from then on; every
mutating call leaves an audit record an admin can read."""

from __future__ import annotations

import contextlib

import httpx
import websockets

from gateway.testing import LiveGateway, gateway_on
from genfleet_common.tokens import Role, token_id


async def test_a_revoked_token_is_refused_by_every_gateway(
    lonely: LiveGateway, http: httpx.AsyncClient
) -> None:
    made = await http.post(
        f"{lonely.url}/api/tokens",
        headers=lonely.auth(Role.ADMIN),
        json={"sub": "leaver", "role": "admin"},
    )
    assert made.status_code == 200, made.text
    info = made.json()["data"]
    token, tid = info["token"], info["token_id"]
    assert tid == token_id(token) and len(tid) == 16
    mine = {"Authorization": f"Bearer {token}"}
    before = await http.get(f"{lonely.url}/api/tokens/revoked", headers=mine)
    assert before.status_code == 200, before.text

    async with gateway_on(lonely.settings) as other:  # a second gateway, started before
        assert (await http.get(f"{other.url}/api/tokens/revoked", headers=mine)).is_success
        revoked = await http.post(
            f"{lonely.url}/api/tokens/{tid}/revoke", headers=lonely.auth(Role.ADMIN)
        )
        assert revoked.status_code == 200, revoked.text
        assert revoked.json()["data"]["token_id"] == tid
        assert revoked.json()["data"]["by"] == "tests"
        for live in (lonely, other):
            answer = await http.get(f"{live.url}/api/tokens/revoked", headers=mine)
            for _ in range(50):  # the other gateway hears of it through its KV watch
                if answer.status_code == 401:
                    break
                answer = await http.get(f"{live.url}/api/tokens/revoked", headers=mine)
            assert answer.status_code == 401, (live.url, answer.text)
            assert f"token {tid} was revoked" in answer.json()["message"]
            async with websockets.connect(f"{live.ws_url}/api/events?token={token}") as ws:
                with contextlib.suppress(websockets.ConnectionClosed):
                    await ws.recv()
                assert ws.close_code == 4401 and "revoked" in (ws.close_reason or "")
    async with gateway_on(lonely.settings) as later:  # a gateway started afterwards
        answer = await http.get(f"{later.url}/api/tokens/revoked", headers=mine)
        assert answer.status_code == 401
        listed = await http.get(f"{later.url}/api/tokens/revoked", headers=later.auth(Role.ADMIN))
        assert tid in {r["token_id"] for r in listed.json()["data"]}


async def test_revoking_a_malformed_id_is_a_422(
    lonely: LiveGateway, http: httpx.AsyncClient
) -> None:
    for bad in ("nothex0123456789", "abc", "0123456789abcdef0"):
        answer = await http.post(
            f"{lonely.url}/api/tokens/{bad}/revoke", headers=lonely.auth(Role.ADMIN)
        )
        assert answer.status_code == 422, (bad, answer.text)
        assert "16 hex digits" in answer.json()["message"]


async def test_mutating_calls_are_audited_with_who_what_and_outcome(
    lonely: LiveGateway, http: httpx.AsyncClient
) -> None:
    admin = lonely.token(Role.ADMIN, sub="auditor")
    headers = {"Authorization": f"Bearer {admin}"}
    made = await http.post(
        f"{lonely.url}/api/tokens", headers=headers, json={"sub": "audited", "role": "viewer"}
    )
    assert made.status_code == 200
    refused = await http.post(f"{lonely.url}/api/tokens", json={"sub": "x"})  # no token
    assert refused.status_code == 401
    viewer = lonely.token(Role.VIEWER, sub="looker")
    low = await http.post(
        f"{lonely.url}/api/tokens",
        headers={"Authorization": f"Bearer {viewer}"},
        json={"sub": "y"},
    )
    assert low.status_code == 403
    await http.get(f"{lonely.url}/api/tokens/revoked", headers=headers)  # a read: not audited

    answer = await http.get(f"{lonely.url}/api/audit?limit=50", headers=headers)
    assert answer.status_code == 200, answer.text
    records = answer.json()["data"]
    mine = [r for r in records if r["path"] == "/api/tokens" and r["at"] >= 0]
    made_record = next(r for r in mine if r["sub"] == "auditor")
    assert made_record["method"] == "POST" and made_record["status"] == 200
    assert made_record["token_id"] == token_id(admin) and made_record["role"] == "admin"
    assert made_record["client"] == "127.0.0.1" and made_record["ms"] > 0
    assert any(r["sub"] == "" and r["status"] == 401 for r in mine)
    assert any(r["sub"] == "looker" and r["status"] == 403 for r in mine)
    assert all(r["method"] != "GET" for r in records)
    assert records == sorted(records, key=lambda r: r["at"])  # oldest first

    assert (await http.get(f"{lonely.url}/api/audit?limit=0", headers=headers)).status_code == 422
    viewer_read = await http.get(
        f"{lonely.url}/api/audit", headers={"Authorization": f"Bearer {viewer}"}
    )
    assert viewer_read.status_code == 403
