"""The one door between the call controller and Textual: each controller event becomes one message.

The controller (:mod:`softphone.session`) knows nothing of Textual; the app runs :meth:`SessionAdapter.relay`
in a worker of its own group, and handles the messages posted here with ``@on(SessionAdapter.CallsChanged)``
and the like. One event gives one message, so a hello listing many calls is one ``CallsChanged``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, assert_never

from textual.message import Message
from textual.message_pump import MessagePump

if TYPE_CHECKING:
    # The app's handlers name these messages before the controller loads (after the first paint).
    from softphone import session as controller
    from softphone.api import Action, SoftphoneError


class SessionAdapter:
    """Reads a session's events and posts them, in order, as messages to ``target`` (the app)."""

    @dataclass
    class CallsChanged(Message):
        """These calls changed: the app may show another screen, and screens showing them re-render."""

        call_ids: tuple[int, ...]

    @dataclass
    class ConnectionChanged(Message):
        """How this terminal hears the server changed (connecting, connected, polling, unreachable...).

        ``retry_at`` (event-loop time) is when the next attempt is due while one waits.
        """

        state: str
        detail: str
        retry_at: float | None = None

    @dataclass
    class RequestFailed(Message):
        """A request was refused or never answered; ``text`` says so for the user."""

        action: Action | None
        call_id: int | None
        text: str

    @dataclass
    class StreamErrored(Message):
        """The push stream met a problem worth showing that did not stop it (a refused token, say)."""

        error: SoftphoneError
        text: str

    def __init__(self, target: MessagePump) -> None:
        self.target = target

    async def relay(self, events: AsyncIterator[controller.SessionEvent]) -> None:
        """Post one message per event until the events end; run it in a worker."""
        async for event in events:
            self.target.post_message(self.message_for(event))

    @classmethod
    def message_for(cls, event: controller.SessionEvent) -> Message:
        from softphone import session as controller  # loaded: it sent the event

        match event:
            case controller.CallsChanged():
                return cls.CallsChanged(event.call_ids)
            case controller.ConnectionChanged():
                return cls.ConnectionChanged(event.state, event.detail, event.retry_at)
            case controller.RequestFailed():
                return cls.RequestFailed(event.action, event.call_id, event.text)
            case controller.StreamError():
                return cls.StreamErrored(event.error, controller.describe_error(event.error))
            case _:
                assert_never(event)
