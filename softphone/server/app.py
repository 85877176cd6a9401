"""The HTTP and WebSocket face of the simulator.

Routes only parse, call the call service and wrap its answer in the envelope. The order of checks is
the documented one: route (404/405, by the router), token (the ``current_user`` dependency, which
every route lists first), path and query parameters, then the body, which is parsed by hand inside a
dependency rather than by FastAPI, because FastAPI would reject malformed JSON before any dependency
(and so before the token check) runs. Request bodies are added to the OpenAPI document by hand for
the same reason.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from softphone import __version__
from softphone.api import (
    RULES,
    TERMINAL_ID_MAX,
    AcceptData,
    AcceptRequest,
    Action,
    ApiError,
    BodyTooLarge,
    CallList,
    CallState,
    CallStatusData,
    CancelRequest,
    DirectoryData,
    Envelope,
    FaultSettings,
    HangupRequest,
    HealthData,
    InternalServerError,
    InvalidParams,
    LoginData,
    LoginRequest,
    MediaStateData,
    MediaStateRequest,
    MethodNotAllowed,
    RejectRequest,
    RouteNotFound,
    ServiceUnavailable,
    StartCallData,
    StartCallRequest,
    bearer_token,
    success,
)
from softphone.server.config import ServerConfig
from softphone.server.directory import Directory, User
from softphone.server.faults import Faults, HttpFaults
from softphone.server.guards import BodyLimit, HostCheck, error_response, refuse_websocket
from softphone.server.hub import Delivery, Hub
from softphone.server.push import run_push_connection
from softphone.server.service import ActionRequest, CallService, Clock, Credential, system_clock
from softphone.server.store import SQLiteStore
from softphone.server.timers import LoopTimers

MAX_ID = 2**63 - 1  # SQLite's INTEGER; a larger id cannot name a call and is a parameter error
RequestT = TypeVar("RequestT", bound=BaseModel)


# --------------------------------------------------------------------------- parsing


def describe(errors: Sequence[Any]) -> str:
    """``<field>: <why>`` for the first pydantic error, as the 40001 message wants."""
    first = errors[0]
    # Request models are flat: the field is the first location part; later parts name union members.
    fields = [str(part) for part in first["loc"] if part not in ("body", "path", "query")]
    return f"{fields[0] if fields else 'body'}: {first['msg']}"


async def read_body(request: Request, model: type[RequestT]) -> RequestT:
    """The JSON body as ``model``; any content type is read as JSON, as curl's ``-d`` sends a form type."""
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as error:
        raise InvalidParams.because(describe(error.errors())) from None


def json_body(model: type[RequestT]) -> Callable[[Request], Awaitable[RequestT]]:
    async def dependency(request: Request) -> RequestT:
        return await read_body(request, model)

    return dependency


@dataclass(frozen=True)
class CallRequest(Generic[RequestT]):
    call_id: int
    body: RequestT


CallId = Annotated[int, Path(gt=0, le=MAX_ID, description="The call's id.")]


def call_request(model: type[RequestT]) -> Callable[..., Awaitable[CallRequest[RequestT]]]:
    """The path's call id, then the body: FastAPI checks the path before calling this, so in that order."""

    async def dependency(call_id: CallId, request: Request) -> CallRequest[RequestT]:
        return CallRequest(call_id, await read_body(request, model))

    return dependency


def get_service(request: Request) -> CallService:
    service: CallService = request.app.state.service
    return service


ServiceDep = Annotated[CallService, Depends(get_service)]
_bearer = HTTPBearer(auto_error=False, description="A token from POST /api/dev/login.")


async def current_credential(
    service: ServiceDep, request: Request, _: Annotated[object, Depends(_bearer)]
) -> Credential:
    """The token's credential; ``_bearer`` is only there to describe the scheme in the OpenAPI document."""
    return service.authenticate(bearer_token(request.headers.get("authorization")))


async def current_user(credential: Annotated[Credential, Depends(current_credential)]) -> User:
    return credential.user


CurrentCredential = Annotated[Credential, Depends(current_credential)]
CurrentUser = Annotated[User, Depends(current_user)]


def get_faults(request: Request) -> Faults:
    faults: Faults = request.app.state.faults
    return faults


FaultsDep = Annotated[Faults, Depends(get_faults)]


def ok(data: BaseModel | None) -> JSONResponse:
    return JSONResponse(success(data))


# --------------------------------------------------------------------------- OpenAPI

ErrorEnvelope = Envelope[None]
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorEnvelope, "description": "40001 参数错误: <field>: <why>"},
    401: {"model": ErrorEnvelope, "description": "40101 未登录或令牌无效"},
    500: {"model": ErrorEnvelope, "description": "50000 服务器内部错误"},
}
_FAULTED: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorEnvelope, "description": f"{ServiceUnavailable.CODE} {ServiceUnavailable.MESSAGE} (an injected fault)"},
}
_TOO_LARGE: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorEnvelope, "description": f"{BodyTooLarge.CODE} {BodyTooLarge.MESSAGE}"},
}
_REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    FaultSettings,
    LoginRequest,
    StartCallRequest,
    AcceptRequest,
    RejectRequest,
    CancelRequest,
    HangupRequest,
    MediaStateRequest,
)


def documented_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` naming the request model the dependency parses by hand."""
    schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def build_openapi(app: FastAPI, directory: Directory) -> dict[str, Any]:
    """The document, with the hand-parsed request bodies and the directory's users for the login."""
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for model in _REQUEST_MODELS:
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(schema.pop("$defs", {}))
            schemas[model.__name__] = schema
        # An unknown user is a 40001, so the schema names the users there are: schema and server agree.
        schemas[LoginRequest.__name__]["properties"]["user"] = {
            "title": "User",
            "description": "A directory user, by name or by id.",
            "anyOf": [
                {"type": "string", "enum": [user.name for user in directory.users]},
                {"type": "integer", "enum": [user.user_id for user in directory.users]},
            ],
        }
        app.openapi_schema = document
    return app.openapi_schema


# --------------------------------------------------------------------------- routes

router = APIRouter(responses=_ERRORS)
calls = "/api/calls"


@router.get("/healthz", response_model=Envelope[HealthData], tags=["simulator"])
async def healthz() -> JSONResponse:
    """Liveness, without a token: what test harnesses and ``make demo`` wait for."""
    return ok(HealthData(status="ok"))


@router.post(
    "/api/dev/login",
    response_model=Envelope[LoginData],
    responses=_TOO_LARGE,
    openapi_extra=documented_body(LoginRequest),
    tags=["simulator"],
)
async def login(
    service: ServiceDep, body: Annotated[LoginRequest, Depends(json_body(LoginRequest))]
) -> JSONResponse:
    """*ext* A token for a directory user, by name or id (the real service has its own login)."""
    return ok(service.login(body.user))


@router.get("/api/dev/directory", response_model=Envelope[DirectoryData], tags=["simulator"])
async def directory(user: CurrentUser, service: ServiceDep) -> JSONResponse:
    """*ext* Every user, with the conversation id the caller shares with each."""
    return ok(service.directory_for(user))


@router.post("/api/dev/logout", response_model=Envelope[None], tags=["dev tools"])
async def logout(credential: CurrentCredential, service: ServiceDep) -> JSONResponse:
    """*ext* Revoke the token this request carries; its open push connections close with 4401."""
    service.logout(credential)
    return ok(None)


@router.get("/api/dev/faults", response_model=Envelope[FaultSettings], tags=["dev tools"])
async def get_fault_settings(_: CurrentUser, faults: FaultsDep) -> JSONResponse:
    """*ext* The faults in force on ``/api/calls/*`` and the push channel, and their seed."""
    return ok(faults.settings)


@router.put(
    "/api/dev/faults",
    response_model=Envelope[FaultSettings],
    responses=_TOO_LARGE,
    openapi_extra=documented_body(FaultSettings),
    tags=["dev tools"],
)
async def put_fault_settings(
    _: CurrentUser, faults: FaultsDep, body: Annotated[FaultSettings, Depends(json_body(FaultSettings))]
) -> JSONResponse:
    """*ext* Replace the faults in force (``{}``: none) and restart their random streams from the seed."""
    return ok(faults.update(body))


@router.post(
    f"{calls}/session",
    response_model=Envelope[StartCallData],
    responses=_FAULTED | _TOO_LARGE,
    openapi_extra=documented_body(StartCallRequest),
    tags=["calls"],
)
async def start_call(
    user: CurrentUser,
    service: ServiceDep,
    body: Annotated[StartCallRequest, Depends(json_body(StartCallRequest))],
) -> JSONResponse:
    """Start a call (caller). Errors: 41010 权限或关系校验失败, 41003 对方忙线, 41002 (caller busy)."""
    return ok(service.start(user, body))


@dataclass(frozen=True)
class ActionRoute:
    """One documented action on an existing call: its body, its answer, and who takes it."""

    action: Action
    request: type[ActionRequest]
    response: type[BaseModel]
    summary: str

    def description(self) -> str:
        """What refuses it, in order, read from the transition table so the document cannot drift."""
        errors = (refusal.error() for refusal in RULES[self.action].refusals)
        return f"{self.summary} Errors, checked in this order: " + ", ".join(f"{e.code} {e.message}" for e in errors) + "."


ACTION_ROUTES = (
    ActionRoute(Action.ACCEPT, AcceptRequest, AcceptData, "Accept (callee)."),
    ActionRoute(Action.REJECT, RejectRequest, CallStatusData, "Reject (callee)."),
    ActionRoute(Action.CANCEL, CancelRequest, CallStatusData, "Cancel before the callee answers (caller)."),
    ActionRoute(Action.HANGUP, HangupRequest, CallStatusData, "Hang up a call in progress (either party)."),
    ActionRoute(Action.REPORT_MEDIA, MediaStateRequest, MediaStateData, "Report this terminal's media state (either party)."),
)


def add_action_route(route: ActionRoute) -> None:
    """The one path of every action route: token, call id, body, then the service."""

    async def endpoint(user: CurrentUser, service: ServiceDep, call: CallRequest[ActionRequest]) -> JSONResponse:
        return ok(service.act(route.action, user, call.call_id, call.body))

    # This module's annotations are strings, and this one names a local: give FastAPI the object.
    endpoint.__annotations__["call"] = Annotated[CallRequest[ActionRequest], Depends(call_request(route.request))]

    router.add_api_route(
        f"{calls}/{{call_id}}/{route.action.value}",
        endpoint,
        methods=["POST"],
        name=route.action.name.lower(),
        summary=route.summary,
        description=route.description(),
        response_model=Envelope[route.response],  # type: ignore[name-defined]
        responses=_FAULTED | _TOO_LARGE,
        openapi_extra=documented_body(route.request),
        tags=["calls"],
    )


for _route in ACTION_ROUTES:
    add_action_route(_route)


@router.get(f"{calls}/active", response_model=Envelope[CallList], responses=_FAULTED, tags=["calls"])
async def active_calls(user: CurrentUser, service: ServiceDep) -> JSONResponse:
    """*ext* The user's calls that have not ended, for clients that poll."""
    return ok(service.active(user))


@router.get(f"{calls}/history", response_model=Envelope[CallList], responses=_FAULTED, tags=["calls"])
async def call_history(
    user: CurrentUser,
    service: ServiceDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    before_id: Annotated[int | None, Query(gt=0, le=MAX_ID)] = None,
) -> JSONResponse:
    """*ext* The user's calls, newest first; page with ``before_id``."""
    return ok(service.history(user, limit, before_id))


@router.get(f"{calls}/{{call_id}}/state", response_model=Envelope[CallState], responses=_FAULTED, tags=["calls"])
async def call_state(user: CurrentUser, service: ServiceDep, call_id: CallId) -> JSONResponse:
    """The full state of a call (either party). Errors: 41001 通话不存在, 41010 非参与方."""
    return ok(service.state(user, call_id))


@router.websocket("/api/ws")
async def push_channel(websocket: WebSocket, terminal_id: str | None = None, token: str | None = None) -> None:
    """*ext* ``hello`` on connect, then ``call.updated`` for every change of the user's calls."""
    service: CallService = websocket.app.state.service
    hub: Hub = websocket.app.state.hub
    try:
        credential = service.authenticate(bearer_token(websocket.headers.get("authorization")) or token)
        if not terminal_id or len(terminal_id) > TERMINAL_ID_MAX:
            raise InvalidParams.because(f"terminal_id: required, 1 to {TERMINAL_ID_MAX} characters")
        subscription = hub.subscribe(credential.user.user_id, credential.token_hash)
    except ApiError as error:
        await refuse_websocket(websocket, error)
        return
    try:
        # Subscribed before the snapshot, with no await between: no change falls in the gap.
        subscription.put(Delivery(service.hello(credential.user, terminal_id).model_dump_json()))
        await run_push_connection(websocket, subscription, service.seconds_left(credential))
    finally:
        hub.unsubscribe(subscription)


# --------------------------------------------------------------------------- errors


async def api_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return error_response(error)


async def validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    return await api_error(request, InvalidParams.because(describe(error.errors())))


async def http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    known: dict[int, type[ApiError]] = {404: RouteNotFound, 405: MethodNotAllowed}
    response = await api_error(request, known.get(error.status_code, InternalServerError)())
    response.headers.update(error.headers or {})
    if error.status_code == 405:
        response.headers["Allow"] = ", ".join(allowed_methods(request))
    return response


def allowed_methods(request: Request) -> list[str]:
    """Every method of every route on the path: Starlette's 405 names only the first route's."""
    methods: set[str] = set()
    for route in router.routes:
        if isinstance(route, APIRoute) and route.path_regex.match(request.url.path):
            methods |= route.methods
    return sorted(methods)


async def unexpected_error(request: Request, _: Exception) -> JSONResponse:
    """The envelope, never the traceback: Starlette re-raises after this, so uvicorn logs it."""
    return await api_error(request, InternalServerError())


# --------------------------------------------------------------------------- assembly


def create_app(config: ServerConfig, clock: Clock = system_clock) -> FastAPI:
    """A ready app; its lifespan applies ring timeouts that passed while the server was down.

    The store lives as long as the app, so the app can be started more than once (as test clients do).
    ``/docs`` is Swagger UI served with its assets from this server (``fastapi-offline``), so it works
    with no internet; there is no ReDoc page.
    """
    store = SQLiteStore(config.db)
    faults = Faults(config.faults)
    hub = Hub(config, faults)
    timers = LoopTimers()
    directory = Directory.load(config.directory)
    service = CallService(config, store, directory, hub, timers.schedule, clock)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        service.resume_ringing()
        yield
        timers.cancel_all()

    app = FastAPIOffline(
        redoc_url=None,
        title="softphone call-API simulator",
        version=__version__,
        description=(
            "The documented call API of the Fengshengshou service, plus *ext* simulator endpoints. "
            "The push channel is a WebSocket at `/api/ws?terminal_id=T` (bearer token in the "
            "`Authorization` header or `?token=`): `hello`, then `call.updated` frames; send "
            '`{"type": "ping"}` for a pong.'
        ),
        lifespan=lifespan,
        # No badge fetched from the validator's site: the page makes no request beyond this server.
        swagger_ui_parameters={"validatorUrl": None},
    )
    app.state.service = service
    app.state.hub = hub
    app.state.faults = faults
    app.include_router(router)
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)
    # Outermost first: Host, then the body limit, then faults, then the routes.
    app.add_middleware(HttpFaults, faults=faults)
    app.add_middleware(BodyLimit, limit=config.max_body_bytes)
    if not config.allow_remote:
        app.add_middleware(HostCheck)
    app.openapi = lambda: build_openapi(app, directory)  # type: ignore[method-assign]
    return app
