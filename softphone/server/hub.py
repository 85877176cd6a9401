"""The push channel's fan-out: every change of a call goes to every connected terminal of both parties.

The call service publishes synchronously, right after each commit, so frames enter every queue in
commit order, which is version order per call. A frame is encoded once per change and the same text
is queued for every subscriber. Each connection drains its own queue, so a slow terminal never
delays another.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict

from softphone.api import (
    CallState,
    CallUpdatedFrame,
    ErrorFrame,
    ErrorFrameData,
    InvalidParams,
    PongFrame,
)

Frame = str
"""A frame as the JSON text sent on the wire."""


class Subscription:
    """One WebSocket connection's outbox."""

    def __init__(self, user_id: int) -> None:
        self.user_id = user_id
        self.outbox: asyncio.Queue[Frame] = asyncio.Queue()


class Hub:
    def __init__(self) -> None:
        self._subscriptions: defaultdict[int, set[Subscription]] = defaultdict(set)

    def subscribe(self, user_id: int) -> Subscription:
        subscription = Subscription(user_id)
        self._subscriptions[user_id].add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions[subscription.user_id].discard(subscription)

    def publish(self, event_id: int, state: CallState) -> None:
        frame = CallUpdatedFrame(event_id=event_id, data=state).model_dump_json()
        for user_id in (state.caller_user_id, state.callee_user_id):
            for subscription in self._subscriptions[user_id]:
                subscription.outbox.put_nowait(frame)


def answer_client_frame(text: str | None) -> Frame:
    """A client may only ping; anything else is answered with an error frame and the connection stays open."""
    try:
        payload = json.loads(text) if text is not None else None
    except ValueError:
        payload = None
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        reason = "frame: expected a JSON text frame with a string type"
    elif payload["type"] == "ping":
        return PongFrame().model_dump_json()
    else:
        reason = f"type: unsupported frame type {payload['type']!r}"
    error = InvalidParams.because(reason)
    return ErrorFrame(data=ErrorFrameData(code=error.code, message=error.message)).model_dump_json()
