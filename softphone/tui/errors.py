"""No traceback ever ends the phone: an exception in a handler, a timer or a worker is logged and shown.

Textual stops a message pump (a screen, or the app itself) at the first exception one of its handlers
raises, and then exits. The app and every phone screen mix in :class:`KeepsRunning`, so an exception
in any of their handlers (messages, keys, actions, mounts, callbacks, watchers that run inside them)
is reported by :func:`report_unexpected` and the next message is handled as usual. Timers pass their
callbacks through :func:`guarded`; workers run with ``exit_on_error=False`` and the app reports the
ones that fail. Drawing is Textual's own: a widget that cannot be drawn would fail again at every
frame, so that (and whatever else escapes) ends the app with exit code 1 and one line naming the log
(see ``SoftphoneApp._handle_exception`` and ``run_phone``).
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual import messages
from textual.message import Message
from textual.message_pump import MessagePump

from softphone.api import redact

if TYPE_CHECKING:
    from textual.app import App

log = logging.getLogger("softphone.tui")

_DRAWING = (messages.Update, messages.Layout, messages.UpdateScroll)
"""Textual's own drawing: not guarded (see above)."""
_told: weakref.WeakKeyDictionary[App[Any], set[str]] = weakref.WeakKeyDictionary()


def report_unexpected(app: App[Any], error: BaseException, where: str) -> None:
    """Log ``error`` with its traceback and tell the user, once per place and error, without stopping."""
    log.error("unexpected error in %s", where, exc_info=error)
    told = _told.setdefault(app, set())
    if f"{where}: {error!r}" in told:
        return
    told.add(f"{where}: {error!r}")
    app.notify(
        redact(f"Unexpected error in {where}: {error!r}. The phone keeps running; details are in its log."),
        severity="error",
        title="Unexpected error",
        timeout=10,
    )


class KeepsRunning(MessagePump):
    """Mixed into the app and the screens: their handlers' exceptions are reported, never fatal."""

    async def _dispatch_message(self, message: Message) -> None:
        # Textual's one door for every message and event a pump handles; on an exception its loop
        # would stop this pump for good, so the exception never reaches it.
        if isinstance(message, _DRAWING):
            await super()._dispatch_message(message)
            return
        try:
            await super()._dispatch_message(message)
        except Exception as error:  # noqa: BLE001 - every bug becomes a notification, none a crash
            report_unexpected(self.app, error, f"{type(self).__name__} handling {type(message).__name__}")


def guarded(app: Callable[[], App[Any]], callback: Callable[[], object], where: str) -> Callable[[], None]:
    """``callback`` for a timer: an exception is reported (see ``report_unexpected``), and it ticks on."""

    def run() -> None:
        try:
            callback()
        except Exception as error:  # noqa: BLE001 - a timer's bug must not end the app
            report_unexpected(app(), error, where)

    return run
