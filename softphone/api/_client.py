"""The async client: one method per endpoint, typed results, and every failure as a ``SoftphoneError``.

All requests go through ``CallClient._request``, the single place that turns HTTP into the exception
tree of ``softphone.api.errors``. The envelope's ``code`` decides success, whatever the HTTP status,
so the client reads a server that answers business errors with 200 and one that uses 4xx alike.
"""

from __future__ import annotations

import asyncio
import random
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from softphone.api._backoff import Backoff
from softphone.api._errors import (
    ProtocolError,
    RequestTimedOut,
    ServerUnreachable,
    SoftphoneError,
    TransportError,
    error_for,
    is_missing_route,
)
from softphone.api._models import (
    AcceptData,
    AcceptRequest,
    CallList,
    CallState,
    CallStatusData,
    CancelRequest,
    DirectoryData,
    Envelope,
    FaultSettings,
    HangupRequest,
    HealthData,
    LoginData,
    LoginRequest,
    MediaStateData,
    MediaStateRequest,
    RejectRequest,
    StartCallData,
    StartCallRequest,
    authorization,
)

ModelT = TypeVar("ModelT", bound=BaseModel)

BODY_EXCERPT_CHARS = 200
DEFAULT_RETRY_BACKOFF = Backoff(initial=0.1, maximum=1.0, factor=2.0, jitter=0.5)


def _request_body(model: type[BaseModel], **fields: Any) -> dict[str, Any]:
    """The JSON body for ``model``, values passed through as given.

    The server judges parameters (an over-long reason is its 40001, with its message), so the
    client does not validate; it uses the request model for field names and documented defaults.
    """
    given = {name: value for name, value in fields.items() if value is not None}
    return model.model_construct(**given).model_dump(mode="json", exclude_none=True, warnings=False)


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= BODY_EXCERPT_CHARS else flat[:BODY_EXCERPT_CHARS] + "…"


KEEPALIVE_EXPIRY = 4.0
"""Seconds an idle connection is kept for the next request: under the 5 s after which uvicorn (the
simulator) and many servers close one. At equal times, a request sent on a connection as the server
closes it fails unsent, and a request that changes a call is not retried (a hang up lost so)."""


class CallClient:
    """Async client for the call API and the simulator's extensions.

    ``token`` may be given, or set by ``login`` (simulator) or assigned later. ``terminal_id``
    identifies this terminal in every request body that needs one. Reads (state, active, history,
    directory, health) and ``accept`` (idempotent for the same terminal) are retried on transport
    errors up to ``retries`` times; requests that change a call are never retried, because a lost
    answer does not mean the change did not happen.
    """

    def __init__(
        self,
        base_url: str,
        *,
        terminal_id: str,
        token: str | None = None,
        timeout: float = 10.0,
        retries: int = 2,
        retry_backoff: Backoff = DEFAULT_RETRY_BACKOFF,
        rng: random.Random | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.terminal_id = terminal_id
        self.token = token
        self.retries = retries
        self.retry_backoff = retry_backoff
        self._rng = rng or random.Random()
        self._ext_available: bool | None = None
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=KEEPALIVE_EXPIRY),
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # ------------------------------------------------------------------ simulator (ext) and health

    async def login(self, user: str | int) -> LoginData:
        """*ext* dev login by user name or id; keeps the token for every later request."""
        data = await self._request(
            "POST", "/api/dev/login", LoginData, json=_request_body(LoginRequest, user=user)
        )
        self.token = data.token
        return data

    async def directory(self) -> DirectoryData:
        """*ext* every user, with the conversation id shared with the logged-in user."""
        return await self._request("GET", "/api/dev/directory", DirectoryData, retry=True)

    async def faults(self) -> FaultSettings:
        """*ext* The faults the simulator applies now, with their seed."""
        return await self._request("GET", "/api/dev/faults", FaultSettings, retry=True)

    async def set_faults(self, settings: FaultSettings) -> FaultSettings:
        """*ext* Replace the simulator's faults (``FaultSettings()`` turns them off); answers those in force.

        Only the kinds that are on are sent, as the option would name them (``{}`` for none).
        """
        body = settings.model_dump(mode="json", exclude_defaults=True)
        return await self._request("PUT", "/api/dev/faults", FaultSettings, json=body)

    async def health(self, *, retry: bool = True) -> HealthData:
        """``/healthz``; ``retry=False`` for a probe that must answer at once whether the server is up."""
        return await self._request("GET", "/healthz", HealthData, retry=retry)

    # ------------------------------------------------------------------ documented call API

    async def start_call(
        self,
        conversation_id: int,
        target_user_id: int,
        call_type: str,
        biz_type: str = "single",
    ) -> StartCallData:
        body = _request_body(
            StartCallRequest,
            conversation_id=conversation_id,
            target_user_id=target_user_id,
            call_type=call_type,
            biz_type=biz_type,
            terminal_id=self.terminal_id,
        )
        return await self._request("POST", "/api/calls/session", StartCallData, json=body)

    async def accept(self, call_id: int) -> AcceptData:
        body = _request_body(AcceptRequest, terminal_id=self.terminal_id)
        return await self._request(
            "POST", f"/api/calls/{call_id}/accept", AcceptData, json=body, retry=True
        )

    async def reject(self, call_id: int, reason: str | None = None) -> CallStatusData:
        body = _request_body(RejectRequest, terminal_id=self.terminal_id, reason=reason)
        return await self._request("POST", f"/api/calls/{call_id}/reject", CallStatusData, json=body)

    async def cancel(self, call_id: int, reason: str | None = None) -> CallStatusData:
        body = _request_body(CancelRequest, terminal_id=self.terminal_id, reason=reason)
        return await self._request("POST", f"/api/calls/{call_id}/cancel", CallStatusData, json=body)

    async def hangup(self, call_id: int, reason: str | None = None) -> CallStatusData:
        body = _request_body(HangupRequest, terminal_id=self.terminal_id, reason=reason)
        return await self._request("POST", f"/api/calls/{call_id}/hangup", CallStatusData, json=body)

    async def report_media(
        self, call_id: int, stage: str, network_quality: str | None = None
    ) -> MediaStateData:
        body = _request_body(
            MediaStateRequest,
            terminal_id=self.terminal_id,
            stage=stage,
            network_quality=network_quality,
        )
        return await self._request(
            "POST", f"/api/calls/{call_id}/media-state", MediaStateData, json=body
        )

    async def call_state(self, call_id: int) -> CallState:
        return await self._request("GET", f"/api/calls/{call_id}/state", CallState, retry=True)

    # ------------------------------------------------------------------ call lists (ext)

    async def active_calls(self) -> list[CallState]:
        """*ext* the user's calls that have not ended; a real server may answer ``RouteNotFound``."""
        listing = await self._ext_request("/api/calls/active", params=None)
        return listing.calls

    async def history(self, limit: int = 20, before_id: int | None = None) -> list[CallState]:
        """*ext* the user's calls, newest first; page with ``before_id`` = the last call id seen."""
        params: dict[str, int] = {"limit": limit}
        if before_id is not None:
            params["before_id"] = before_id
        listing = await self._ext_request("/api/calls/history", params=params)
        return listing.calls

    async def offers_ext(self) -> bool:
        """Whether the server has the simulator's call lists (and so, likely, its push channel).

        Learned from the first ``active_calls``/``history`` answer, probing with ``active_calls``
        if neither gave one yet. Any other error propagates: it says nothing either way.
        """
        if self._ext_available is None:
            try:
                await self.active_calls()
            except SoftphoneError:
                if self._ext_available is None:
                    raise
        return self._ext_available is True

    async def _ext_request(self, path: str, params: dict[str, int] | None) -> CallList:
        try:
            listing = await self._request("GET", path, CallList, params=params, retry=True)
        except SoftphoneError as error:
            if is_missing_route(error):
                self._ext_available = False
            raise
        self._ext_available = True
        return listing

    # ------------------------------------------------------------------ the one request path

    async def _request(
        self,
        method: str,
        path: str,
        model: type[ModelT],
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, int] | None = None,
        retry: bool = False,
    ) -> ModelT:
        for attempt in range(self.retries if retry else 0):
            try:
                response = await self._send(method, path, json=json, params=params)
            except TransportError:
                await asyncio.sleep(self.retry_backoff.delay(attempt, self._rng))
            else:
                return self._read(method, path, response, model)
        response = await self._send(method, path, json=json, params=params)
        return self._read(method, path, response, model)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None,
        params: dict[str, int] | None,
    ) -> httpx.Response:
        headers = authorization(self.token)
        where = f"{method} {self.base_url}{path}"
        try:
            return await self._http.request(method, path, json=json, params=params, headers=headers)
        except httpx.TimeoutException as error:
            raise RequestTimedOut(f"{where}: no answer within the timeout ({error!r})") from error
        except httpx.TransportError as error:
            raise ServerUnreachable(f"{where}: cannot reach the server ({error!r})") from error

    @staticmethod
    def _read(method: str, path: str, response: httpx.Response, model: type[ModelT]) -> ModelT:
        status = response.status_code
        where = f"{method} {path}: HTTP {status}"
        try:
            body = response.json()
        except ValueError:
            raise ProtocolError(
                f"{where}, not JSON: {_excerpt(response.text)!r}", http_status=status
            ) from None
        try:
            envelope = Envelope[Any].model_validate(body)
        except ValidationError:
            raise ProtocolError(
                f"{where}, JSON that is not the {{code, message, data}} envelope: "
                f"{_excerpt(response.text)!r}",
                http_status=status,
            ) from None
        if envelope.code != 0:
            raise error_for(envelope.code, envelope.message)
        try:
            return model.model_validate(envelope.data)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(map(str, issue['loc'])) or 'data'}: {issue['msg']}"
                for issue in error.errors()[:3]
            )
            raise ProtocolError(
                f"{where}, data is not a {model.__name__} ({problems}): {_excerpt(response.text)!r}",
                http_status=status,
            ) from None
