"""No traceback ever ends the phone: an exception in a handler, a timer or a worker is logged and shown.

Textual stops a message pump (a screen, or the app itself) at the first exception one of its handlers
raises, and then exits. The app and every phone screen mix in :class:`KeepsRunning`, so an exception
in any of their handlers (messages, keys, actions, mounts, watchers that run inside them) is reported
by :func:`report_unexpected` and the next message is handled as usual. Timers pass their callbacks
through :func:`guarded`; workers run with ``exit_on_error=False`` and the app reports the ones that
fail. What still escapes (a failure inside Textual's own layout, say) ends the app with a non-zero
exit code and one line naming the log (see ``SoftphoneApp._handle_exception``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.message import Message
from textual.message_pump import MessagePump

from softphone.api import redact

if TYPE_CHECKING:
    from textual.app import App

log = logging.getLogger("softphone.tui")


def report_unexpected(app: App[Any], error: BaseException, where: str) -> None:
    """Log ``error`` with its traceback and tell the user in one notification, without stopping."""
    log.error("unexpected error in %s", where, exc_info=error)
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
