"""All calls one terminal knows about, routed to their machines; still pure and clock-free."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from softphone.api import CallState, EndReason, StartCallData
from softphone.core.machine import CallMachine, Outcome, Role, Snapshot
from softphone.core.timeline import Source

BUSY_REASON = EndReason.CALLEE_BUSY.value


class Phone:
    """The calls of one user on one terminal.

    Machines are created by the caller's own start response or by the first full state of a call
    (a push, hello, poll or resync), which is the only snapshot that says who the parties are.
    """

    def __init__(
        self,
        *,
        my_user_id: int,
        my_terminal_id: str,
        name_of: Callable[[int], str] = str,
    ) -> None:
        self.my_user_id = my_user_id
        self.my_terminal_id = my_terminal_id
        self.name_of = name_of
        self.calls: dict[int, CallMachine] = {}

    def start_call(self, response: StartCallData, peer_user_id: int, at: datetime) -> CallMachine:
        """Our own start response: the one snapshot from which the caller learns its call."""
        machine = self._machine(response.call_id, Role.CALLER, peer_user_id)
        machine.apply(response, Source.RESPONSE, at)
        return machine

    def apply(
        self, snapshot: Snapshot, source: Source, at: datetime
    ) -> tuple[CallMachine, Outcome] | None:
        """Route a snapshot to its call; ``None`` when it is about a call we cannot place."""
        machine = self.calls.get(snapshot.call_id)
        if machine is None:
            if not isinstance(snapshot, CallState):
                return None
            if self.my_user_id == snapshot.caller_user_id:
                machine = self._machine(snapshot.call_id, Role.CALLER, snapshot.callee_user_id)
            elif self.my_user_id == snapshot.callee_user_id:
                machine = self._machine(snapshot.call_id, Role.CALLEE, snapshot.caller_user_id)
            else:
                return None
        return machine, machine.apply(snapshot, source, at)

    def _machine(self, call_id: int, role: Role, peer_user_id: int) -> CallMachine:
        machine = self.calls.get(call_id)
        if machine is None:
            machine = CallMachine(
                call_id,
                my_user_id=self.my_user_id,
                my_terminal_id=self.my_terminal_id,
                role=role,
                peer_user_id=peer_user_id,
                peer_name=self.name_of(peer_user_id),
            )
            self.calls[call_id] = machine
        return machine

    def get(self, call_id: int) -> CallMachine | None:
        return self.calls.get(call_id)

    def tracked_ids(self) -> list[int]:
        """Calls still worth following: not over on the server as far as we know."""
        return [call_id for call_id, machine in self.calls.items() if not machine.is_over]

    def live_call(self) -> CallMachine | None:
        """The call this terminal is busy with: placed (or opened) here as the caller, or answered here."""
        for machine in self.calls.values():
            if machine.is_over:
                continue
            if (machine.role is Role.CALLER and machine.is_my_end) or machine.mine_in_progress:
                return machine
        return None

    def has_live_calls(self) -> bool:
        """Whether any call here is live: one this terminal is an end of, or one ringing to answer.

        While there is, the stream must come back fast after an outage (its short backoff).
        """
        return any(not machine.is_over and machine.is_my_end for machine in self.calls.values())

    def ringing_calls(self) -> list[CallMachine]:
        """Incoming calls still ringing, oldest first (by call id, as ``history``; not the order learned)."""
        ringing = [m for m in self.calls.values() if m.role is Role.CALLEE and m.is_ringing]
        return sorted(ringing, key=lambda m: m.call_id)

    def calls_to_leave(self) -> list[CallMachine]:
        """Calls this terminal would leave behind by quitting: those it can still hang up, cancel or reject."""
        return [machine for machine in self.history() if machine.ending_action() is not None]

    def busy_rejections(self) -> list[CallMachine]:
        """Incoming calls to reject with ``callee_busy`` because this terminal is already in a call."""
        live = self.live_call()
        if live is None:
            return []
        return [m for m in self.ringing_calls() if m is not live]

    def history(self) -> list[CallMachine]:
        """Every call this terminal saw, newest first."""
        return sorted(self.calls.values(), key=lambda m: m.call_id, reverse=True)
