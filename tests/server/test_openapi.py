"""The OpenAPI document describes every endpoint, and schemathesis finds no request where server and schema disagree."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, load_all_checks
from support.soak import record, scaled

from softphone.api import FaultSettings
from softphone.server.app import create_app
from softphone.server.config import ServerConfig

from .conftest import Api, envelope

DOCUMENTED = {
    ("post", "/api/calls/session"): ("StartCallRequest", "Envelope_StartCallData_"),
    ("post", "/api/calls/{call_id}/accept"): ("AcceptRequest", "Envelope_AcceptData_"),
    ("post", "/api/calls/{call_id}/reject"): ("RejectRequest", "Envelope_CallStatusData_"),
    ("post", "/api/calls/{call_id}/cancel"): ("CancelRequest", "Envelope_CallStatusData_"),
    ("post", "/api/calls/{call_id}/hangup"): ("HangupRequest", "Envelope_CallStatusData_"),
    ("post", "/api/calls/{call_id}/media-state"): ("MediaStateRequest", "Envelope_MediaStateData_"),
    ("get", "/api/calls/{call_id}/state"): (None, "Envelope_CallState_"),
    ("get", "/api/calls/active"): (None, "Envelope_CallList_"),
    ("get", "/api/calls/history"): (None, "Envelope_CallList_"),
    ("post", "/api/dev/login"): ("LoginRequest", "Envelope_LoginData_"),
    ("get", "/api/dev/directory"): (None, "Envelope_DirectoryData_"),
    ("post", "/api/dev/logout"): (None, "Envelope_NoneType_"),
    ("get", "/api/dev/faults"): (None, "Envelope_FaultSettings_"),
    ("put", "/api/dev/faults"): ("FaultSettings", "Envelope_FaultSettings_"),
    ("get", "/api/dev/simulator"): (None, "Envelope_SimulatorInfo_"),
    ("post", "/api/dev/simulator/reset"): (None, "Envelope_ResetData_"),
    ("get", "/healthz"): (None, "Envelope_HealthData_"),
}


async def test_every_endpoint_is_documented_with_its_models(api: Api) -> None:
    document: dict[str, Any] = (await api.client.get("/openapi.json")).json()
    operations = {(method, path): op for path, item in document["paths"].items() for method, op in item.items()}
    assert set(operations) == set(DOCUMENTED)
    schemas = document["components"]["schemas"]
    for key, (request_model, response_model) in DOCUMENTED.items():
        operation = operations[key]
        ok = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        assert ok == f"#/components/schemas/{response_model}", key
        assert {"400", "401", "500"} <= set(operation["responses"]), key
        if request_model is None:
            assert "requestBody" not in operation, key
        else:
            body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            assert body == f"#/components/schemas/{request_model}", key
            assert request_model in schemas
    assert schemas["AcceptRequest"]["properties"]["terminal_id"]["maxLength"] == 64
    assert schemas["MediaStateRequest"]["properties"]["stage"]["maxLength"] == 32
    assert (await api.client.get("/docs")).status_code == 200


async def test_the_login_schema_names_the_directory(api: Api) -> None:
    """An unknown user is refused (40001), so the schema lists the users there are."""
    document: dict[str, Any] = (await api.client.get("/openapi.json")).json()
    user = document["components"]["schemas"]["LoginRequest"]["properties"]["user"]
    assert user["anyOf"] == [
        {"type": "string", "enum": ["alice", "bob", "carol", "dave", "erin", "frank", "Alice", "Bob", "Carol", "Dave", "Erin", "Frank"]},
        {"type": "integer", "enum": [10001, 20002, 30003, 40004, 50005, 60006]},
    ]
    refused = await api.client.post("/api/dev/login", json={"user": "mallory"})
    assert refused.status_code == 400 and refused.json()["code"] == 40001


PROOF = "Fuzzing the API with schemathesis (every check)"
APP: FastAPI = create_app(ServerConfig())
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
load_all_checks()
EVERY_CHECK = CHECKS.get_all()


@schema.auth(refresh_interval=None)  # a fresh token per case: a generated logout revokes its own
class AliceToken:
    """Schemathesis knows where the token goes, so its negative cases can leave it out on purpose."""

    def get(self, case: schemathesis.Case, context: schemathesis.AuthContext) -> str:
        token: str = APP.state.service.login("alice").token
        return token

    def set(self, case: schemathesis.Case, data: str, context: schemathesis.AuthContext) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@pytest.mark.soak
@schema.parametrize()
@settings(max_examples=scaled(12, 100), deadline=None, suppress_health_check=list(HealthCheck))
def test_schemathesis_finds_no_disagreement(case: schemathesis.Case, request: pytest.FixtureRequest) -> None:
    """Every check: no 500, documented statuses and bodies, allowed data accepted, invalid data refused."""
    try:
        response = case.call_and_validate(checks=EVERY_CHECK)
    finally:
        APP.state.faults.update(FaultSettings())  # a generated PUT /api/dev/faults lasts one case
    envelope(response)  # type: ignore[arg-type]  # schemathesis' response has the same status_code/json()
    record(request.node.nodeid, PROOF, examples=1, notes=f"{len(EVERY_CHECK)} checks on every example")
