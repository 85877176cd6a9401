"""The HTTP and WebSocket face of the simulator.

Routes only parse, call the call service and wrap its answer in the envelope. The order of checks is
the documented one: route (404/405, by the router), token (the ``current_user`` dependency, which
every route lists first), path and query parameters, then the body, which is parsed by hand inside a
dependency rather than by FastAPI, because FastAPI would reject malformed JSON before any dependency
(and so before the token check) runs. Request bodies are added to the OpenAPI document by hand for
the same reason.

Every route carries one ``Tag``; in documented-only mode (``ServerConfig.documented_only``) only the
routes tagged with one of ``DOCUMENTED_ONLY_TAGS`` are served, answers leave out every *ext* field,
and the OpenAPI document is pruned to match, all read from the one ext mark on the wire models.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, WebSocket
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import request_params_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from softphone import __version__
from softphone.api import (
    EXT_MARK,
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
    ResetData,
    RouteNotFound,
    ServiceUnavailable,
    SimulatorInfo,
    StartCallData,
    StartCallRequest,
    bearer_token,
    success_body,
)
from softphone.server.config import ServerConfig
from softphone.server.directory import Directory, User
from softphone.server.faults import Faults
from softphone.server.guards import Gate, Traffic, error_response, is_loopback, refuse_websocket
from softphone.server.hub import Delivery, Hub, PushFrame
from softphone.server.push import run_push_connection
from softphone.server.service import ActionRequest, CallService, Clock, Credential, system_clock
from softphone.server.store import CHECKPOINT_SECONDS, SQLiteStore
from softphone.server.timers import LoopTimers

MAX_ID = 2**63 - 1  # SQLite's INTEGER; a larger id cannot name a call and is a parameter error
RequestT = TypeVar("RequestT", bound=BaseModel)


class Tag(StrEnum):
    """What a route is, as grouped in ``/docs``; documented-only mode serves by tag."""

    CALLS = "calls"
    """Documented by the real service."""
    DEV_TOOLS = "dev tools"
    """What a tester needs to use the documented routes at all (a token, faults): kept in every mode."""
    HEALTH = "health"
    EXTENSIONS = "simulator extensions"
    """The simulator's own additions (directory, lists, its controls): what a real server does not have."""


DOCUMENTED_ONLY_TAGS = frozenset({Tag.CALLS, Tag.DEV_TOOLS, Tag.HEALTH})
"""Routes served in documented-only mode; an untagged route (the push channel) is not."""


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
        return model.model_validate_json(await whole_body(request))
    except ValidationError as error:
        raise InvalidParams.because(describe(error.errors())) from None


async def whole_body(request: Request) -> bytes:
    """The body, read once from ASGI's ``receive``: ``Request.body`` takes an async generator and a closing
    context for it (about 5 us of every call request), to keep a copy nothing here reads again."""
    chunks: list[bytes] = []
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


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


async def get_service(request: Request) -> CallService:
    service: CallService = request.app.state.service
    return service


ServiceDep = Annotated[CallService, Depends(get_service)]
BEARER_SCHEME = "HTTPBearer"
"""The OpenAPI security scheme of every route that takes a token (``build_openapi`` describes it)."""


# The token dependencies take the request only: each dependency FastAPI solves costs a request about
# 15 us, and these two are on nearly every request (a route needs one of them, never both).
async def current_credential(request: Request) -> Credential:
    """The token's credential."""
    service: CallService = request.app.state.service
    return service.authenticate(bearer_token(request.headers.get("authorization")))


async def current_user(request: Request) -> User:
    """The token's user."""
    return (await current_credential(request)).user


TOKEN_DEPENDENCIES = frozenset({current_credential, current_user})


CurrentCredential = Annotated[Credential, Depends(current_credential)]
CurrentUser = Annotated[User, Depends(current_user)]


async def get_faults(request: Request) -> Faults:
    faults: Faults = request.app.state.faults
    return faults


FaultsDep = Annotated[Faults, Depends(get_faults)]


@dataclass(frozen=True)
class Replies:
    """How this app writes a success: with every field, or as the real service would (no *ext* field)."""

    documented_only: bool

    def ok(self, data: BaseModel | None) -> Response:
        return Response(success_body(data, documented_only=self.documented_only), media_type="application/json")


async def get_replies(request: Request) -> Replies:
    replies: Replies = request.app.state.replies
    return replies


Reply = Annotated[Replies, Depends(get_replies)]


async def loopback_only(request: Request) -> None:
    """The simulator's own controls answer its own machine only; to anyone else the route does not exist."""
    if not is_loopback(request.client.host if request.client else ""):
        raise RouteNotFound()


# --------------------------------------------------------------------------- solving a route


class DirectRoute(APIRoute):
    """A route FastAPI documents from its endpoint's signature, but whose request this module solves.

    FastAPI's solver handles everything FastAPI supports (caches keyed by scopes, exit stacks, sync
    functions in threads, bodies and forms): about 15 us for each dependency, a third of the time of a
    call request. Our routes use a sliver of it: async dependencies of the request and of path and query
    parameters. ``solver`` checks, when the route is built, that its endpoint stays within that, and
    solves in FastAPI's order: each dependency in turn (its own dependencies, its path parameters, its
    query parameters, then the call itself), then the endpoint the same way; the parameters are checked
    by FastAPI's own function, so they pass and fail as they did.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        solve = solver(self.dependant, self.path_format)

        async def handle(request: Request) -> Response:
            response: Response = await solve(request, {})
            return response

        return handle


Solved = dict[Callable[..., Any], Any]
"""What each dependency gave within one request: FastAPI calls a dependency once per request, too."""


def solver(dependant: Dependant, where: str) -> Callable[[Request, Solved], Awaitable[Any]]:
    """How to call ``dependant.call`` for a request; ``TypeError`` for what ``DirectRoute`` does not solve."""
    call = dependant.call
    unsupported = (
        dependant.header_params or dependant.cookie_params or dependant.body_params
        or dependant.websocket_param_name or dependant.http_connection_param_name
        or dependant.response_param_name or dependant.background_tasks_param_name
        or dependant.security_scopes_param_name or not dependant.use_cache
    )  # fmt: skip
    if call is None or unsupported or not inspect.iscoroutinefunction(call):
        raise TypeError(f"{where}: {getattr(call, '__name__', call)} is not an async function of the request and its parameters")
    needs = [(sub.name, solver(sub, where)) for sub in dependant.dependencies]
    path_params, query_params, request_name = dependant.path_params, dependant.query_params, dependant.request_param_name

    def parameters(request: Request) -> Iterator[tuple[Any, Any]]:
        """Each kind of parameter the call takes, with what the request has of it (most take none)."""
        if path_params:
            yield path_params, request.path_params
        if query_params:
            yield query_params, request.query_params

    async def solve(request: Request, solved: Solved) -> Any:
        if call in solved:
            return solved[call]
        arguments: dict[str, Any] = {}
        for name, need in needs:
            value = await need(request, solved)
            if name is not None:  # a route's ``dependencies=[...]`` are called for what they refuse only
                arguments[name] = value
        for params, received in parameters(request):
            values, errors = request_params_to_args(params, received)
            if errors:
                raise InvalidParams.because(describe(errors))
            arguments.update(values)
        if request_name is not None:
            arguments[request_name] = request
        solved[call] = result = await call(**arguments)
        return result

    return solve


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
_LOOPBACK_ONLY: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorEnvelope, "description": f"{RouteNotFound.CODE} {RouteNotFound.MESSAGE} (asked from another machine)"},
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
            "description": "A directory user, by name, display name or id.",
            "anyOf": [
                {"type": "string", "enum": directory.login_names()},
                {"type": "integer", "enum": [user.user_id for user in directory.users]},
            ],
        }
        describe_bearer_tokens(document, [route for route in router.routes if isinstance(route, APIRoute)])
        if app.state.replies.documented_only:
            without_ext(document)
        app.openapi_schema = document
    return app.openapi_schema


def describe_bearer_tokens(document: dict[str, Any], routes: Sequence[APIRoute]) -> None:
    """The bearer scheme, and on each operation that takes a token, that it does (read from its dependencies)."""
    document["components"]["securitySchemes"] = {
        BEARER_SCHEME: {"type": "http", "description": "A token from POST /api/dev/login.", "scheme": "bearer"}
    }
    for route in routes:
        operations = document["paths"].get(route.path_format, {})
        if needs_token(route):
            for method in route.methods:
                if method.lower() in operations:
                    operations[method.lower()]["security"] = [{BEARER_SCHEME: []}]


def needs_token(route: APIRoute) -> bool:
    pending = list(route.dependant.dependencies)
    while pending:
        dependant = pending.pop()
        if dependant.call in TOKEN_DEPENDENCIES:
            return True
        pending.extend(dependant.dependencies)
    return False


def without_ext(document: dict[str, Any]) -> None:
    """Drop every property marked *ext*, then every schema no served path refers to any more."""
    schemas: dict[str, Any] = document["components"]["schemas"]
    for schema in schemas.values():
        properties = schema.get("properties", {})
        hidden = {name for name, value in properties.items() if value.get(EXT_MARK)}
        for name in hidden:
            del properties[name]
        if "required" in schema:
            schema["required"] = [name for name in schema["required"] if name not in hidden]
    reachable: set[str] = set()
    pending = list(_schema_refs(document["paths"]))
    while pending:
        name = pending.pop()
        if name not in reachable:
            reachable.add(name)
            pending.extend(_schema_refs(schemas[name]))
    document["components"]["schemas"] = {name: schema for name, schema in schemas.items() if name in reachable}


def _schema_refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value.rsplit("/", 1)[-1]
            else:
                yield from _schema_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _schema_refs(item)


# --------------------------------------------------------------------------- routes

router = APIRouter(responses=_ERRORS, route_class=DirectRoute)
calls = "/api/calls"


@router.get("/healthz", response_model=Envelope[HealthData], tags=[Tag.HEALTH])
async def healthz(reply: Reply) -> Response:
    """Liveness, without a token: what test harnesses and ``make demo`` wait for."""
    return reply.ok(HealthData(status="ok"))


@router.post(
    "/api/dev/login",
    response_model=Envelope[LoginData],
    responses=_TOO_LARGE,
    openapi_extra=documented_body(LoginRequest),
    tags=[Tag.DEV_TOOLS],
)
async def login(
    service: ServiceDep, reply: Reply, body: Annotated[LoginRequest, Depends(json_body(LoginRequest))]
) -> Response:
    """*ext* A token for a directory user, by name or id (the real service has its own login)."""
    return reply.ok(service.login(body.user))


@router.get("/api/dev/directory", response_model=Envelope[DirectoryData], tags=[Tag.EXTENSIONS])
async def directory(user: CurrentUser, service: ServiceDep, reply: Reply) -> Response:
    """*ext* Every user, with the conversation id the caller shares with each."""
    return reply.ok(service.directory_for(user))


# Not dev tools: documented-only mode must not have them, and they need no token, only the machine.
@router.get(
    "/api/dev/simulator",
    response_model=Envelope[SimulatorInfo],
    responses=_LOOPBACK_ONLY,
    tags=[Tag.EXTENSIONS],
    dependencies=[Depends(loopback_only)],
)
async def simulator_info(service: ServiceDep, faults: FaultsDep, reply: Reply) -> Response:
    """*ext*, loopback only: the process, its database, its live calls (``softphone sim status``) and the
    faults it injected."""
    return reply.ok(service.simulator_info(faults.injected()))


@router.post(
    "/api/dev/simulator/reset",
    response_model=Envelope[ResetData],
    responses=_LOOPBACK_ONLY,
    tags=[Tag.EXTENSIONS],
    dependencies=[Depends(loopback_only)],
)
async def simulator_reset(service: ServiceDep, reply: Reply) -> Response:
    """*ext*, loopback only: end every live call as ``abandoned``, pushed (``softphone sim reset``)."""
    return reply.ok(service.abandon_live_calls())


@router.post("/api/dev/logout", response_model=Envelope[None], tags=[Tag.DEV_TOOLS])
async def logout(credential: CurrentCredential, service: ServiceDep, reply: Reply) -> Response:
    """*ext* Revoke the token this request carries; its open push connections close with 4401."""
    service.logout(credential)
    return reply.ok(None)


@router.get("/api/dev/faults", response_model=Envelope[FaultSettings], tags=[Tag.DEV_TOOLS])
async def get_fault_settings(_: CurrentUser, faults: FaultsDep, reply: Reply) -> Response:
    """*ext* The faults in force on ``/api/calls/*`` and the push channel, and their seed."""
    return reply.ok(faults.settings)


@router.put(
    "/api/dev/faults",
    response_model=Envelope[FaultSettings],
    responses=_TOO_LARGE,
    openapi_extra=documented_body(FaultSettings),
    tags=[Tag.DEV_TOOLS],
)
async def put_fault_settings(
    _: CurrentUser, faults: FaultsDep, reply: Reply, body: Annotated[FaultSettings, Depends(json_body(FaultSettings))]
) -> Response:
    """*ext* Replace the faults in force (``{}``: none) and restart their random streams from the seed."""
    return reply.ok(faults.update(body))


@router.post(
    f"{calls}/session",
    response_model=Envelope[StartCallData],
    responses=_FAULTED | _TOO_LARGE,
    openapi_extra=documented_body(StartCallRequest),
    tags=[Tag.CALLS],
)
async def start_call(
    user: CurrentUser,
    service: ServiceDep,
    reply: Reply,
    body: Annotated[StartCallRequest, Depends(json_body(StartCallRequest))],
) -> Response:
    """Start a call (caller). Errors: 41010 权限或关系校验失败, 41003 对方忙线, 41002 (caller busy)."""
    return reply.ok(service.start(user, body))


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

    async def endpoint(
        user: CurrentUser, service: ServiceDep, reply: Reply, call: CallRequest[ActionRequest]
    ) -> Response:
        return reply.ok(service.act(route.action, user, call.call_id, call.body))

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
        tags=[Tag.CALLS],
    )


for _route in ACTION_ROUTES:
    add_action_route(_route)


@router.get(f"{calls}/active", response_model=Envelope[CallList], responses=_FAULTED, tags=[Tag.EXTENSIONS])
async def active_calls(user: CurrentUser, service: ServiceDep, reply: Reply) -> Response:
    """*ext* The user's calls that have not ended, for clients that poll."""
    return reply.ok(service.active(user))


@router.get(f"{calls}/history", response_model=Envelope[CallList], responses=_FAULTED, tags=[Tag.EXTENSIONS])
async def call_history(
    user: CurrentUser,
    service: ServiceDep,
    reply: Reply,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    before_id: Annotated[int | None, Query(gt=0, le=MAX_ID)] = None,
) -> Response:
    """*ext* The user's calls, newest first; page with ``before_id``."""
    return reply.ok(service.history(user, limit, before_id))


@router.get(f"{calls}/{{call_id}}/state", response_model=Envelope[CallState], responses=_FAULTED, tags=[Tag.CALLS])
async def call_state(user: CurrentUser, service: ServiceDep, reply: Reply, call_id: CallId) -> Response:
    """The full state of a call (either party). Errors: 41001 通话不存在, 41010 非参与方."""
    return reply.ok(service.state(user, call_id))


async def push_channel(websocket: WebSocket) -> None:
    """*ext* ``hello`` on connect, then ``call.updated`` for every change of the user's calls.

    ``?terminal_id=`` names the terminal, ``?token=`` may carry the token. A plain Starlette route, not
    FastAPI's: what FastAPI's dependency machinery keeps on the stack stays there for as long as the
    connection is open, about 5 KiB for each of thousands of connections.
    """
    terminal_id = websocket.query_params.get("terminal_id")
    token = websocket.query_params.get("token")
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
        with service.connected(credential.user):
            # Subscribed before the snapshot, with no await between: no change falls in the gap.
            subscription.put(Delivery(PushFrame(service.hello(credential.user, terminal_id).model_dump_json())))
            await run_push_connection(websocket, subscription, service.seconds_left(credential))
    finally:
        hub.unsubscribe(subscription)


router.routes.append(WebSocketRoute("/api/ws", push_channel, name="push_channel"))


def websocket_not_found(default: ASGIApp) -> ASGIApp:
    """The router's fallback, refusing an unknown WebSocket path with the 404 envelope (Starlette says 403)."""

    async def not_found(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await refuse_websocket(WebSocket(scope, receive, send), RouteNotFound())
        else:
            await default(scope, receive, send)

    return not_found


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
    """Every method of every route served on the path: Starlette's 405 names only the first route's."""
    methods: set[str] = set()
    for route in request.app.routes:
        if isinstance(route, APIRoute) and route.path_regex.match(request.url.path):
            methods |= route.methods
    return sorted(methods)


async def unexpected_error(request: Request, _: Exception) -> JSONResponse:
    """The envelope, never the traceback: Starlette re-raises after this, so uvicorn logs it."""
    return await api_error(request, InternalServerError())


# --------------------------------------------------------------------------- assembly


def served(route: BaseRoute, config: ServerConfig) -> bool:
    """Every route, or in documented-only mode those tagged with one of ``DOCUMENTED_ONLY_TAGS``."""
    if not config.documented_only:
        return True
    return isinstance(route, APIRoute) and not DOCUMENTED_ONLY_TAGS.isdisjoint(route.tags)


def match_order(route: BaseRoute) -> int:
    """Where a route is tried: every request is matched against the routes in turn (a regular expression
    and some bookkeeping each), so the health check and the documented call routes, what monitors and
    loads ask most, come first."""
    return 0 if isinstance(route, APIRoute) and {Tag.HEALTH, Tag.CALLS} & set(route.tags) else 1


DESCRIPTION = (
    "The documented call API of the Fengshengshou service, plus *ext* simulator endpoints and fields. "
    "The push channel is a WebSocket at `/api/ws?terminal_id=T` (bearer token in the "
    "`Authorization` header or `?token=`): `hello`, then `call.updated` frames; send "
    '`{"type": "ping"}` for a pong.'
)
DOCUMENTED_ONLY_DESCRIPTION = (
    "The documented call API of the Fengshengshou service as the real service shows it: no push "
    "channel, no directory, no call lists, no extension fields; tokens from `POST /api/dev/login`."
)


async def keep_checkpointing(store: SQLiteStore) -> None:
    """The database's checkpoints, in a worker thread every ``CHECKPOINT_SECONDS``: never in a request."""
    while True:
        await asyncio.sleep(CHECKPOINT_SECONDS)
        await asyncio.to_thread(store.checkpoint)


def create_app(config: ServerConfig, clock: Clock = system_clock) -> FastAPI:
    """A ready app; its lifespan applies ring timeouts that passed while the server was down and starts
    watching for abandoned calls.

    The store lives as long as the app, so the app can be started more than once (as test clients do).
    ``/docs`` is Swagger UI served with its assets from this server (``fastapi-offline``), so it works
    with no internet; there is no ReDoc page.
    """
    store = SQLiteStore(config.db)
    faults = Faults(config.faults)
    hub = Hub(config, faults)
    timers = LoopTimers()
    directory = Directory.load(config.directory).with_generated(config.generated_users)
    service = CallService(config, store, directory, hub, timers.schedule, clock)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        service.resume_ringing()
        service.sweep_abandoned()
        checkpoints = asyncio.create_task(keep_checkpointing(store))
        yield
        checkpoints.cancel()
        timers.cancel_all()

    app = FastAPIOffline(
        redoc_url=None,
        title="softphone call-API simulator",
        version=__version__,
        description=DOCUMENTED_ONLY_DESCRIPTION if config.documented_only else DESCRIPTION,
        lifespan=lifespan,
        # No badge fetched from the validator's site: the page makes no request beyond this server.
        swagger_ui_parameters={"validatorUrl": None},
    )
    app.state.service = service
    app.state.hub = hub
    app.state.faults = faults
    app.state.replies = Replies(documented_only=config.documented_only)
    # Our routes first, before the docs' pages (see match_order), and straight in the app's own list:
    # an included router is matched through two more layers of FastAPI's on every request.
    app.router.routes[:0] = sorted((route for route in router.routes if served(route, config)), key=match_order)
    app.router.default = websocket_not_found(app.router.default)
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)
    app.state.traffic = Traffic()
    app.add_middleware(
        Gate,
        check_host=not config.allow_remote,
        limit=config.max_body_bytes,
        faults=faults,
        traffic=app.state.traffic,
    )
    app.openapi = lambda: build_openapi(app, directory)  # type: ignore[method-assign]
    return app
