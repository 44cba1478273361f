"""Request bodies are the bus's own Structs (gateway.bodies): decoded by msgspec, documented
in /openapi.json from their JSON Schema, and a bad one is a 4xx that names the field."""

from __future__ import annotations

import httpx
import msgspec
import pytest

from gateway.auth import Role
from gateway.bodies import JsonBody
from gateway.envelope import STATUS_OF_CODE
from gateway.testing import LiveGateway
from genfleet_common.errors import ErrorCode, InvalidInput, Malformed, error_from_code
from genfleet_common.messages import ActionOptions, ActionRequest, PerfRequest, ScanRequest

BODIES = {
    "/api/apps/{model}/{app}/{action}": ("ActionOptions", False),
    "/api/scans": ("ScanRequest", True),
    "/api/scans/batch": ("ScanBatchRequest", True),
    "/api/perf": ("PerfRequest", True),
    "/api/analyses": ("AnalysisRequest", True),
    "/api/tokens": ("TokenRequest", True),
}


def test_a_body_decodes_into_the_bus_struct() -> None:
    body = JsonBody(PerfRequest)
    req = body.decode(b'{"model": "m", "app": 2, "endpoints": [{"path": "/x", "weight": 3}]}')
    assert isinstance(req, PerfRequest) and req.endpoints and req.endpoints[0].weight == 3
    assert JsonBody(ActionOptions, required=False).decode(b"") == ActionOptions()
    assert JsonBody(ActionOptions, required=False).decode(b"null") == ActionOptions()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "the body (a ScanRequest) is missing"),
        (b'{"model": "m"}', "body: Object missing required field `app`"),
        (b'{"model": "m", "app": 0}', "body.app: Expected `int` >= 1"),
        (b'{"model": "m", "app": 1, "tool": ["bandit"]}', "body.tool: unknown field (known: app,"),
        (b'{"model": "m", "app": 1, "urls": [1]}', "body.urls[0]: Expected `str`, got `int`"),
        (b"[1]", "body: Expected `object`, got `array`"),
    ],
)
def test_a_bad_body_names_the_field(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=r"^invalid request: ") as caught:
        JsonBody(ScanRequest).decode(raw)
    assert message in caught.value.message


def test_unknown_fields_are_refused_at_any_depth() -> None:
    raw = b'{"model": "m", "app": 1, "endpoints": [{"path": "/", "verb": "GET"}]}'
    with pytest.raises(InvalidInput, match=r"body\.endpoints\[0\]\.verb: unknown field"):
        JsonBody(PerfRequest).decode(raw)
    free = b'{"model": "m", "app": 1, "endpoints": [{"path": "/", "body": {"any": [1]}}]}'
    assert JsonBody(PerfRequest).decode(free).endpoints  # `body` is any JSON: not checked


def test_not_json_is_malformed_or_the_wrong_type() -> None:
    with pytest.raises(Malformed):
        JsonBody(ScanRequest).decode(b"{nope", "application/json")
    with pytest.raises(InvalidInput, match="Content-Type: application/json"):
        JsonBody(ScanRequest).decode(b"model=m", "application/x-www-form-urlencoded")
    assert JsonBody(ScanRequest).decode(
        b'{"model": "m", "app": 1}', "application/json; charset=utf-8"
    )


async def test_openapi_documents_every_body(lonely: LiveGateway, http: httpx.AsyncClient) -> None:
    spec = (await http.get(f"{lonely.url}/openapi.json")).json()
    for path, (name, required) in BODIES.items():
        body = spec["paths"][path]["post"]["requestBody"]
        assert body["required"] is required, path
        ref = body["content"]["application/json"]["schema"]["$ref"]
        assert ref == f"#/components/schemas/{name}", path
        assert spec["components"]["schemas"][name]["type"] == "object"
    perf = spec["components"]["schemas"]["PerfRequest"]["properties"]
    assert perf["users"] == {"type": "integer", "minimum": 1, "maximum": 100_000, "default": 10}


async def test_a_bad_body_is_422_before_the_bus(
    lonely: LiveGateway, http: httpx.AsyncClient
) -> None:
    # no service runs behind `lonely`: a body that reached the bus would answer 503
    r = await http.post(
        f"{lonely.url}/api/scans", headers=lonely.auth(Role.OPERATOR), json={"model": "m"}
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid"
    assert r.json()["message"] == "invalid request: body: Object missing required field `app`"


def test_every_error_code_has_an_error_and_a_status() -> None:
    for code in ErrorCode:
        assert error_from_code(code, "m").code is code, code
        assert code in STATUS_OF_CODE, code
    assert STATUS_OF_CODE[ErrorCode.UNHEALTHY] == 502


def test_the_action_request_is_its_options_plus_the_target() -> None:
    opts = ActionOptions(wait_healthy=False, action_id="ui-1")
    fields = {f.name for f in msgspec.structs.fields(opts)}
    assert fields < {f.name for f in msgspec.structs.fields(ActionRequest)}
