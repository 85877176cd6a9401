"""Every way a call to the API can fail, as one exception tree shared by client and simulator.

The simulator raises these to answer with the documented envelope; the client raises the same
types when it reads an error envelope, so both sides agree on codes and messages by construction::

    SoftphoneError
    ├── TransportError            the request never got an answer
    │   ├── ServerUnreachable     connection refused / DNS / reset
    │   └── RequestTimedOut       no answer within the client's timeout
    ├── ProtocolError             an answer that is not the documented envelope (non-JSON, bad shape)
    └── ApiError                  an envelope with a non-zero code; ``code`` and ``message`` as sent
        ├── InvalidParams         40001 参数错误: <field and why>
        │   └── BodyTooLarge      40001 参数错误: 请求体过大 (HTTP 413; the client sees InvalidParams)
        ├── Unauthorized          40101 未登录或令牌无效
        ├── RouteNotFound         40401 接口不存在
        ├── MethodNotAllowed      40501 方法不允许
        ├── TooManyConnections    42901 推送连接过多 (simulator: push connection cap)
        ├── InternalServerError   50000 服务器内部错误
        ├── ServiceUnavailable    50300 服务暂不可用 (simulator: an injected fault)
        └── CallError             41xxx business errors of the call API
            ├── CallNotFound           41001 通话不存在
            ├── CallStateConflict      41002 通话状态不允许此操作
            ├── CalleeBusy             41003 对方忙线
            ├── NotCallee              41004 非被叫方
            ├── NotCaller              41005 非主叫方
            ├── AnsweredElsewhere      41006 已被其他终端接听
            ├── CallAlreadyEnded       41007 通话已结束
            └── NotParticipant         41010 非参与方 / 权限或关系校验失败

An envelope code the client does not know still becomes an ``ApiError`` (or ``CallError`` for 41xxx)
carrying that code and message unchanged.
"""

from __future__ import annotations

from typing import ClassVar


class SoftphoneError(Exception):
    """Base of everything this package raises about talking to the call service."""


class TransportError(SoftphoneError):
    """The request did not reach the server or no answer came back."""


class ServerUnreachable(TransportError):
    """Connection refused, reset, or the host could not be resolved."""


class RequestTimedOut(TransportError):
    """The server did not answer within the configured timeout."""


class ProtocolError(SoftphoneError):
    """The server answered with something that is not the documented envelope.

    ``http_status`` is the answer's HTTP status when there was one: a 404 here means the path does
    not exist on this server (a real one without the simulator's extensions), not a garbled answer.
    """

    def __init__(self, message: str, *, http_status: int | None = None) -> None:
        self.http_status = http_status
        super().__init__(message)


class ApiError(SoftphoneError):
    """The server answered with an envelope whose ``code`` is not 0.

    Subclasses fix ``CODE``, ``HTTP_STATUS`` (what the simulator answers with) and the default
    message; the server's own message always wins when one was received.
    """

    CODE: ClassVar[int] = 0
    HTTP_STATUS: ClassVar[int] = 200
    MESSAGE: ClassVar[str] = ""

    def __init__(self, message: str | None = None, *, code: int | None = None) -> None:
        self.code: int = self.CODE if code is None else code
        self.message: str = self.MESSAGE if message is None else message
        super().__init__(f"{self.code} {self.message}")


class InvalidParams(ApiError):
    CODE = 40001
    HTTP_STATUS = 400
    MESSAGE = "参数错误"

    @classmethod
    def because(cls, reason: str) -> InvalidParams:
        """The simulator's message names the field and why: ``参数错误: terminal_id: ...``."""
        return cls(f"{cls.MESSAGE}: {reason}")


class BodyTooLarge(InvalidParams):
    """A request body over the simulator's limit: answered before it is read in full."""

    HTTP_STATUS = 413
    MESSAGE = f"{InvalidParams.MESSAGE}: 请求体过大"


class Unauthorized(ApiError):
    CODE = 40101
    HTTP_STATUS = 401
    MESSAGE = "未登录或令牌无效"


class RouteNotFound(ApiError):
    CODE = 40401
    HTTP_STATUS = 404
    MESSAGE = "接口不存在"


class MethodNotAllowed(ApiError):
    CODE = 40501
    HTTP_STATUS = 405
    MESSAGE = "方法不允许"


class TooManyConnections(ApiError):
    """A push connection over the per-user or per-server cap, refused at the handshake."""

    CODE = 42901
    HTTP_STATUS = 429
    MESSAGE = "推送连接过多"


class InternalServerError(ApiError):
    CODE = 50000
    HTTP_STATUS = 500
    MESSAGE = "服务器内部错误"


class ServiceUnavailable(ApiError):
    """The server could not take the request now; nothing was changed, so it is safe to try again."""

    CODE = 50300
    HTTP_STATUS = 503
    MESSAGE = "服务暂不可用"


class CallError(ApiError):
    """A documented (or undocumented 41xxx) business error of the call API."""


class CallNotFound(CallError):
    CODE = 41001
    MESSAGE = "通话不存在"


class CallStateConflict(CallError):
    CODE = 41002
    MESSAGE = "通话状态不允许此操作"


class CalleeBusy(CallError):
    CODE = 41003
    MESSAGE = "对方忙线"


class NotCallee(CallError):
    CODE = 41004
    MESSAGE = "非被叫方"


class NotCaller(CallError):
    CODE = 41005
    MESSAGE = "非主叫方"


class AnsweredElsewhere(CallError):
    CODE = 41006
    MESSAGE = "已被其他终端接听"


class CallAlreadyEnded(CallError):
    CODE = 41007
    MESSAGE = "通话已结束"


class NotParticipant(CallError):
    """41010 has two documented messages: ``非参与方`` and, on start, ``权限或关系校验失败``."""

    CODE = 41010
    MESSAGE = "非参与方"
    RELATIONSHIP_MESSAGE: ClassVar[str] = "权限或关系校验失败"

    @classmethod
    def relationship(cls) -> NotParticipant:
        return cls(cls.RELATIONSHIP_MESSAGE)


_BY_CODE: dict[int, type[ApiError]] = {
    cls.CODE: cls
    for cls in (
        InvalidParams,
        Unauthorized,
        RouteNotFound,
        MethodNotAllowed,
        TooManyConnections,
        InternalServerError,
        ServiceUnavailable,
        CallNotFound,
        CallStateConflict,
        CalleeBusy,
        NotCallee,
        NotCaller,
        AnsweredElsewhere,
        CallAlreadyEnded,
        NotParticipant,
    )
}


def is_missing_route(error: SoftphoneError) -> bool:
    """Whether an error says "this server has no such endpoint" (simulator envelope or bare 404/405)."""
    if isinstance(error, RouteNotFound | MethodNotAllowed):
        return True
    return isinstance(error, ProtocolError) and error.http_status in (404, 405)


def error_for(code: int, message: str) -> ApiError:
    """The exception for an error envelope, keeping the server's code and message unchanged."""
    cls = _BY_CODE.get(code)
    if cls is not None:
        return cls(message)
    if 41000 <= code < 42000:
        return CallError(message, code=code)
    return ApiError(message, code=code)
