"""The call API as Python: an async client, a stream of call changes, wire models and one error tree.

``CallClient(base_url, terminal_id=..., token=...)`` has one async method per endpoint (``login``,
``directory``, ``health``, ``start_call``, ``accept``, ``reject``, ``cancel``, ``hangup``,
``report_media``, ``call_state``, ``active_calls``, ``history``) returning the typed models of
``softphone.api.models``, and raises only ``SoftphoneError`` subclasses (tree in
``softphone.api.errors``). ``PushStream(client, mode="auto"|"push"|"poll")`` yields ``Snapshot``,
``ConnectionChanged`` and ``StreamError`` events from ``events()``, over the simulator's WebSocket
or by polling, resynchronising after every reconnect; ``track``/``untrack`` name the calls it must
follow. ``Backoff`` sets the reconnect and retry delays.
"""

from softphone.api._backoff import Backoff
from softphone.api.client import CallClient
from softphone.api.errors import (
    AnsweredElsewhere,
    ApiError,
    CallAlreadyEnded,
    CalleeBusy,
    CallError,
    CallNotFound,
    CallStateConflict,
    InternalServerError,
    InvalidParams,
    MethodNotAllowed,
    NotCallee,
    NotCaller,
    NotParticipant,
    ProtocolError,
    RequestTimedOut,
    RouteNotFound,
    ServerUnreachable,
    SoftphoneError,
    TransportError,
    Unauthorized,
)
from softphone.api.push import (
    ConnectionChanged,
    ConnectionState,
    PushStream,
    Snapshot,
    SnapshotSource,
    StreamError,
    StreamEvent,
    StreamMode,
)

__all__ = [
    "AnsweredElsewhere",
    "ApiError",
    "Backoff",
    "CallAlreadyEnded",
    "CallClient",
    "CallError",
    "CallNotFound",
    "CallStateConflict",
    "CalleeBusy",
    "ConnectionChanged",
    "ConnectionState",
    "InternalServerError",
    "InvalidParams",
    "MethodNotAllowed",
    "NotCallee",
    "NotCaller",
    "NotParticipant",
    "ProtocolError",
    "PushStream",
    "RequestTimedOut",
    "RouteNotFound",
    "ServerUnreachable",
    "Snapshot",
    "SnapshotSource",
    "SoftphoneError",
    "StreamError",
    "StreamEvent",
    "StreamMode",
    "TransportError",
    "Unauthorized",
]
