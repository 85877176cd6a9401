"""What the phone's screens share, full or modal, and the little they ask of the app.

Screens depend on the controller (:class:`~softphone.session.Session`) and on :class:`PhoneHost`, a
protocol for the app; the app module imports the screens, never the reverse. A screen renders when it
mounts, when the session appears, and when the app tells it that calls changed (after a
``SessionAdapter.CallsChanged`` message); only the lines that tick redraw by themselves.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, Protocol, runtime_checkable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer

from softphone.api import CallType
from softphone.core import CallMachine
from softphone.session import Clock, Session
from softphone.tui.routing import HOME, View
from softphone.tui.widgets.call_id import COPY_KEY
from softphone.tui.widgets.status import Status, StatusLine
from softphone.tui.widgets.timeline import TimelineSidebar


@runtime_checkable
class PhoneHost(Protocol):
    """What screens ask of the app. ``session``, ``status`` and ``show_sidebar`` are reactive: screens watch them."""

    session: Session | None
    status: Status
    show_sidebar: bool
    clock: Clock

    def run_intent(self, intent: Coroutine[Any, Any, object]) -> None:
        """Run a request in the background, outliving the screen that asked."""

    def dial(self, user: str, call_type: CallType) -> None: ...

    def dismiss_outcome(self, call_id: int) -> None:
        """The user has read how a call ended."""


class PhoneScreen(Screen[None]):
    """Any screen of the phone: which call it shows, typed access to the app, rendering on changes.

    Subclasses set ``view`` and implement ``render_session``. The modal one lists ``ModalScreen``
    first, as Textual takes default CSS along the first base only. Textual runs every class's
    ``on_mount`` along the MRO, so subclasses add their own without calling this one.
    """

    # Not in the footer: the call id line names the key, and the footer keeps room for the call's own keys.
    BINDINGS = [Binding(COPY_KEY, "copy_call_id", "Copy call id", show=False)]

    view: View

    @property
    def host(self) -> PhoneHost:
        app = self.app
        assert isinstance(app, PhoneHost), f"{type(app).__name__} is not a PhoneHost"
        return app

    @property
    def call_id(self) -> int:
        assert self.view.call_id is not None, "only call screens have a call"
        return self.view.call_id

    @property
    def session(self) -> Session:
        """The signed-in session; call screens are shown only once there is one."""
        session = self.host.session
        assert session is not None, "not signed in yet"
        return session

    def machine(self) -> CallMachine | None:
        return self.session.phone.get(self.call_id)

    def on_mount(self) -> None:
        self.watch(self.app, "session", self.refresh_view)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Only a screen of a call offers to copy its id."""
        if action == "copy_call_id":
            return self.view.call_id is not None
        return True

    def action_copy_call_id(self) -> None:
        """Copy the call id (so the other party can open the call by id), and say so."""
        self.app.copy_to_clipboard(str(self.call_id))
        self.notify(f"Call id {self.call_id} copied to the clipboard.", title="Copied")

    def calls_changed(self, call_ids: tuple[int, ...]) -> None:
        """Re-render if the change is about this screen's call (every change, for a screen of no call)."""
        if self.is_mounted and (self.view.call_id is None or self.view.call_id in call_ids):
            self.refresh_view()

    def refresh_view(self) -> None:
        self.render_session(self.host.session)

    def render_session(self, session: Session | None) -> None:
        raise NotImplementedError


class FullScreen(PhoneScreen):
    """A full screen: status line on top, content and timeline side by side, bindings at the bottom.

    Subclasses compose ``compose_main`` and fill it in ``render_main``, which runs once signed in.
    """

    def __init__(self, view: View = HOME) -> None:
        super().__init__()
        self.view = view

    def compose(self) -> ComposeResult:
        self.status_line = StatusLine(id="status")
        self.sidebar = TimelineSidebar(id="sidebar")
        yield self.status_line
        with Horizontal(id="body"):
            with Vertical(id="main"):
                yield from self.compose_main()
            yield self.sidebar
        yield Footer()

    def compose_main(self) -> ComposeResult:
        raise NotImplementedError

    def on_mount(self) -> None:
        self.watch(self.app, "status", self.status_line.show)
        self.watch(self.app, "show_sidebar", self._show_sidebar)

    def _show_sidebar(self, shown: bool) -> None:
        self.sidebar.display = shown

    def render_session(self, session: Session | None) -> None:
        if session is None:
            self.sidebar.show(None)
            return
        self.sidebar.show(self.timeline_call(session))
        self.render_main(session)

    def timeline_call(self, session: Session) -> CallMachine | None:
        """The call whose timeline the sidebar shows: this screen's, else the newest."""
        if self.view.call_id is not None:
            return session.phone.get(self.view.call_id)
        history = session.phone.history()
        return history[0] if history else None

    def render_main(self, session: Session) -> None:
        raise NotImplementedError
