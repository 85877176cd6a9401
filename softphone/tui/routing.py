"""Which screen the phone should show, decided from the core's state alone."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from softphone.core import Phone


class ViewKind(StrEnum):
    HOME = "home"
    OUTGOING = "outgoing"
    INCOMING = "incoming"
    IN_CALL = "in_call"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class View:
    kind: ViewKind
    call_id: int | None = None


HOME = View(ViewKind.HOME)


def choose_view(phone: Phone, shown: set[int], dismissed: set[int]) -> View:
    """The call this terminal is busy with wins; then a ringing call; then an outcome not yet read.

    ``shown`` are calls that had a call screen here (only those get an outcome screen), and
    ``dismissed`` are outcomes the user has read.
    """
    live = phone.live_call()
    if live is not None:
        kind = ViewKind.OUTGOING if live.is_ringing else ViewKind.IN_CALL
        return View(kind, live.call_id)
    ringing = phone.ringing_calls()
    if ringing:
        return View(ViewKind.INCOMING, ringing[0].call_id)
    for machine in phone.history():
        if machine.call_id in dismissed or machine.call_id not in shown:
            continue
        if machine.is_over or machine.answered_elsewhere:
            return View(ViewKind.ENDED, machine.call_id)
    return HOME
