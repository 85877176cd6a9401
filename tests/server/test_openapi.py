"""The OpenAPI document describes every endpoint, and generated requests never break the envelope."""

from __future__ import annotations

from typing import Any

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings

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


APP: FastAPI = create_app(ServerConfig())
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_requests_get_the_envelope_and_never_a_500(case: schemathesis.Case) -> None:
    token = APP.state.service.login("alice").token
    response = case.call(headers={"Authorization": f"Bearer {token}"})
    assert response.status_code < 500, response.text
    envelope(response)  # type: ignore[arg-type]  # schemathesis' response has the same status_code/json()
