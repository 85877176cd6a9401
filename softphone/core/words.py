"""Failures in words for people: one sentence per error and request, the server's code and message after it.

The one place that turns an error into a sentence, so the TUI, headless output and bots say the same
thing: ``Bob is busy on another call (41003 对方忙线)``. The server's code and message are always kept
as given (a tester compares them with the documentation); the sentence before them says what it means
for the request at hand and the person on the other end.
"""

from __future__ import annotations

from softphone.api import (
    Action,
    AnsweredElsewhere,
    ApiError,
    CallAlreadyEnded,
    CalleeBusy,
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
    ServiceUnavailable,
    SoftphoneError,
    TooManyConnections,
    Unauthorized,
)

# What each request tries to do, to say what could not be done: "Could not hang up".
_DOING: dict[Action | None, str] = {
    None: "call {peer}",
    Action.ACCEPT: "answer",
    Action.REJECT: "decline",
    Action.CANCEL: "cancel the call",
    Action.HANGUP: "hang up",
    Action.REPORT_MEDIA: "report the media state",
    Action.STATE: "refresh the call",
}

# 41002 means "not now": what to do instead depends on what was asked.
_NOT_NOW: dict[Action | None, str] = {
    None: "You are already in a call",
    Action.ACCEPT: "This call can no longer be answered",
    Action.REJECT: "You answered this call: hang up instead",
    Action.CANCEL: "{peer} already answered: hang up instead",
    Action.HANGUP: "The call has not been answered yet: cancel or decline it instead",
}

_SENTENCES: dict[type[SoftphoneError], str] = {
    CallNotFound: "The server has no such call",
    CalleeBusy: "{peer} is busy on another call",
    NotCallee: "Only the person called can answer or decline this call",
    NotCaller: "Only the caller can cancel this call",
    AnsweredElsewhere: "This call was answered on another terminal",
    CallAlreadyEnded: "This call is already over",
    InvalidParams: "The server refused the request as malformed",
    Unauthorized: "The server refused this terminal's sign-in token",
    RouteNotFound: "This server does not offer that",
    MethodNotAllowed: "This server does not offer that",
    TooManyConnections: "The server has too many push connections open",
    InternalServerError: "The server failed on this request",
    ServiceUnavailable: "The server is unavailable for a moment: nothing was changed, try again",
    ServerUnreachable: "the server cannot be reached",
    RequestTimedOut: "the server did not answer in time",
    ProtocolError: "the server's answer was not understood",
}


def failure_sentence(error: SoftphoneError, action: Action | None, peer: str, *, crossing: bool = False) -> str:
    """The sentence for ``error`` answering ``action`` (``None``: placing a call) with ``peer`` on the other end.

    ``crossing``: the peer is calling me at this very moment, so a busy answer to my call is glare.
    """
    if isinstance(error, CalleeBusy) and crossing:
        return f"{peer} is calling you at the same time"
    if isinstance(error, NotParticipant):
        words = f"You cannot call {peer}: no shared conversation, or not allowed" if action is None else (
            "You are not a participant of this call"
        )
    elif isinstance(error, CallStateConflict):
        words = _NOT_NOW.get(action, "The call's state does not allow this now")
    else:
        words = next((text for kind, text in _SENTENCES.items() if isinstance(error, kind)), "")
        if not isinstance(error, ApiError) and words:
            # A transport problem says nothing about the call: say what could not be done.
            words = f"Could not {_DOING[action]}: {words}"
        elif not words:
            words = f"Could not {_DOING[action]}"
    return words.format(peer=peer)


def failure_text(error: SoftphoneError, action: Action | None, peer: str, *, crossing: bool = False) -> str:
    """The sentence, then the server's code and message as given: ``Bob is busy on another call (41003 对方忙线)``."""
    sentence = failure_sentence(error, action, peer, crossing=crossing)
    if isinstance(error, ApiError):
        return f"{sentence} ({error.code} {error.message})"
    return sentence
