"""The softphone's controller: user actions go to the API, every answer and push goes into the core.

This is the only place where the TUI awaits the network. It never decides what a call's state is:
it hands each snapshot to :class:`~softphone.core.Phone` with its source and the time, then tells the
app that something changed. Screens read the phone; they never see JSON.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from softphone.api import (
    Action,
    ApiError,
    CallClient,
    CallType,
    ConnectionChanged,
    DirectoryUser,
    MediaStage,
    NetworkQuality,
    PushStream,
    SoftphoneError,
    StatesReceived,
    StreamError,
)
from softphone.core import BUSY_REASON, CallMachine, Phone, Source
from softphone.core.machine import Snapshot

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class Identity:
    """Who this terminal is: the logged-in user on one terminal id."""

    user_id: int
    name: str
    display_name: str
    terminal_id: str


_PUSH_SOURCES = {"push": Source.PUSH, "poll": Source.POLL, "resync": Source.RESYNC, "hello": Source.RESYNC}


class Session:
    """One logged-in terminal: its client, its push stream, its phone and the user's intents."""

    def __init__(
        self,
        client: CallClient,
        identity: Identity,
        contacts: list[DirectoryUser],
        *,
        clock: Clock,
        on_change: Callable[[], None],
        on_error: Callable[[str], None],
    ) -> None:
        self.client = client
        self.identity = identity
        self.contacts = contacts
        self.clock = clock
        self.on_change = on_change
        self.on_error = on_error
        self.connection = "connecting"
        self.connection_detail = ""
        self.phone = Phone(
            my_user_id=identity.user_id,
            my_terminal_id=identity.terminal_id,
            name_of=self.display_name_of,
        )
        self._busy_rejected: set[int] = set()
        self._stream: PushStream | None = None

    def display_name_of(self, user_id: int) -> str:
        for contact in self.contacts:
            if contact.user_id == user_id:
                return contact.display_name
        return f"user {user_id}"

    def contact(self, user: str) -> DirectoryUser | None:
        """A contact by name, display name or id, as typed on the command line or palette."""
        wanted = user.strip().lower()
        for contact in self.contacts:
            if wanted in (contact.name.lower(), contact.display_name.lower(), str(contact.user_id)):
                return contact
        return None

    # ------------------------------------------------------------------ the push stream

    async def follow(self, stream: PushStream) -> None:
        """Feed every event of the push stream (or its polling fallback) into the phone."""
        self._stream = stream
        async for event in stream.events():
            if isinstance(event, StatesReceived):
                for state in event.states:
                    self._take(state, _PUSH_SOURCES.get(event.source, Source.PUSH))
            elif isinstance(event, ConnectionChanged):
                self.connection = event.state
                self.connection_detail = event.detail
            elif isinstance(event, StreamError):
                self.on_error(describe_error(event.error))
            await self._after_change()

    async def load_history(self, limit: int = 20) -> None:
        """Recent calls from before this run, where the server keeps a history (the simulator does)."""
        try:
            calls = await self.client.history(limit=limit)
        except SoftphoneError:
            return  # a real server has no history endpoint; recent calls then start empty
        for state in calls:
            self._take(state, Source.RESYNC)
        await self._after_change()

    # ------------------------------------------------------------------ user intents

    async def dial(self, contact: DirectoryUser, call_type: CallType) -> CallMachine | None:
        """Start a call and join its RTC channel right away, as the caller does."""
        if contact.conversation_id is None:
            self.on_error(f"{contact.display_name} is you: pick someone else to call")
            return None
        try:
            response = await self.client.start_call(
                contact.conversation_id, contact.user_id, call_type.value
            )
        except SoftphoneError as error:
            self.on_error(f"Calling {contact.display_name}: {describe_error(error)}")
            return None
        machine = self.phone.start_call(response, contact.user_id, self.clock())
        await self._after_change()
        await self._join_channel(machine)
        return machine

    async def accept(self, call_id: int) -> None:
        if await self._act(call_id, Action.ACCEPT, self.client.accept):
            machine = self.phone.get(call_id)
            if machine is not None:
                await self._join_channel(machine)

    async def reject(self, call_id: int, reason: str | None = None) -> None:
        await self._act(call_id, Action.REJECT, lambda cid: self.client.reject(cid, reason), ends=True)

    async def cancel(self, call_id: int) -> None:
        await self._act(call_id, Action.CANCEL, self.client.cancel, ends=True)

    async def hangup(self, call_id: int) -> None:
        await self._act(call_id, Action.HANGUP, self.client.hangup, ends=True)

    async def report_media(
        self, call_id: int, stage: str, network_quality: str | None = None
    ) -> bool:
        """Report this terminal's media stage and quality; the core remembers what was accepted."""
        machine = self.phone.get(call_id)
        if machine is None:
            return False
        detail = stage if network_quality is None else f"{stage}, {network_quality}"
        ok = await self._act(
            call_id,
            Action.REPORT_MEDIA,
            lambda cid: self.client.report_media(cid, stage, network_quality),
            detail=detail,
        )
        if ok:
            machine.record_media(stage, network_quality)
            self.on_change()
        return ok

    async def resync(self, call_id: int) -> None:
        """Fetch the full state of a call, after a gap or a refused request."""
        try:
            state = await self.client.call_state(call_id)
        except SoftphoneError as error:
            self.on_error(f"Refreshing call {call_id}: {describe_error(error)}")
            return
        self._take(state, Source.RESYNC)
        self.on_change()

    # ------------------------------------------------------------------ internals

    async def _act(
        self,
        call_id: int,
        action: Action,
        request: Callable[[int], Awaitable[Snapshot]],
        *,
        ends: bool = False,
        detail: str = "",
    ) -> bool:
        machine = self.phone.get(call_id)
        if machine is None:
            return False
        machine.record_action(action, self.clock(), detail)
        self.on_change()
        try:
            response = await request(call_id)
        except SoftphoneError as error:
            code = error.code if isinstance(error, ApiError) else None
            message = error.message if isinstance(error, ApiError) else str(error)
            machine.record_error(action, code, message, self.clock())
            self.on_error(f"{action.value}: {describe_error(error)}")
            if isinstance(error, ApiError):
                # The server disagreed with what we believed: learn what it holds now.
                await self.resync(call_id)
            else:
                self.on_change()
            return False
        if ends:
            machine.record_ended_by_me()
        self._take(response, Source.RESPONSE)
        await self._after_change()
        return True

    async def _join_channel(self, machine: CallMachine) -> None:
        """There is no real RTC here: joining succeeds at once, and is reported like a real one."""
        for stage in (MediaStage.JOINING, MediaStage.JOINED):
            quality = NetworkQuality.GOOD.value if stage is MediaStage.JOINED else None
            if Action.REPORT_MEDIA not in machine.allowed_actions():
                return
            if not await self.report_media(machine.call_id, stage.value, quality):
                return

    def _take(self, snapshot: Snapshot, source: Source) -> None:
        self.phone.apply(snapshot, source, self.clock())

    async def _after_change(self) -> None:
        """Tell the app, then act on what the change implies: tracking, busy rejections, resyncs."""
        self.on_change()
        if self._stream is not None:
            tracked = set(self.phone.tracked_ids())
            for call_id in tracked - self._stream.tracked:
                self._stream.track(call_id)
            for call_id in self._stream.tracked - tracked:
                self._stream.untrack(call_id)
        for machine in self.phone.busy_rejections():
            if machine.call_id not in self._busy_rejected:
                self._busy_rejected.add(machine.call_id)
                await self.reject(machine.call_id, BUSY_REASON)
        for machine in list(self.phone.calls.values()):
            if machine.needs_resync:
                machine.resynced()
                await self.resync(machine.call_id)


def describe_error(error: SoftphoneError) -> str:
    """The server's code and message as given, or the transport problem in words."""
    if isinstance(error, ApiError):
        return f"{error.code} {error.message}"
    return str(error)
