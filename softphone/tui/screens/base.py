"""What the phone's screens share, full or modal, and the little they ask of the app.

Screens depend on the controller (:class:`~softphone.session.Session`) and on :class:`PhoneHost`, a
protocol for the app; the app module imports the screens, never the reverse. A screen renders when it
mounts, when the session appears, and when the app tells it that calls changed (after a
``SessionAdapter.CallsChanged`` message); only the lines that tick redraw by themselves.

While the server cannot be reached, the actions that need it (``SERVER_ACTIONS``) are shown
unavailable: their keys are disabled in the footer and their buttons (class ``needs-server``) greyed,
instead of each press failing with a notification of its own.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, ClassVar, Protocol, runtime_checkable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer

from softphone.api import CallType
from softphone.core import CallMachine
from softphone.session import Clock, Session
from softphone.tui.errors import KeepsRunning
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

    def ask_dial_by_id(self) -> None:
        """Ask for a user id, a conversation id and a call type, and dial them."""

    def ask_open_call(self) -> None:
        """Ask for a call id and show that call."""

    @property
    def reachable(self) -> bool:
        """Whether requests can reach the server now (not while it is found unreachable)."""
        ...


class PhoneScreen(KeepsRunning, Screen[None]):
    """Any screen of the phone: which call it shows, typed access to the app, rendering on changes.

    Subclasses set ``view`` and implement ``render_session``. The modal one lists ``ModalScreen``
    first, as Textual takes default CSS along the first base only. Textual runs every class's
    ``on_mount`` along the MRO, so subclasses add their own without calling this one.
    """

    # Not in the footer: the call id line names the key, and the footer keeps room for the call's own keys.
    BINDINGS = [Binding(COPY_KEY, "copy_call_id", "Copy call id", show=False)]

    view: View
    SERVER_ACTIONS: ClassVar[frozenset[str]] = frozenset()
    """Actions that send a request: unavailable while the server cannot be reached."""

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
        # Each screen redraws in its own turn (``call_later``), so a bug in one screen's drawing is
        # that screen's to report and never stops the app's handler that changed what it shows.
        self.watch(self.app, "session", lambda _: self.call_later(self.refresh_view))
        self.watch(self.app, "status", lambda _: self.call_later(self.reachability_changed))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys that need the server are shown disabled (``None``) while it cannot be reached; only a
        screen of a call offers to copy its id."""
        if action in self.SERVER_ACTIONS and not self.host.reachable:
            return None
        if action == "copy_call_id":
            return self.view.call_id is not None
        return True

    def reachability_changed(self) -> None:
        """Grey out or restore what needs the server, and redraw (the words may say it is unreachable)."""
        reachable = self.host.reachable
        self.refresh_bindings()
        for button in self.query(".needs-server").results(Button):
            button.disabled = not reachable
        if self.host.session is not None:
            self.refresh_view()

    def action_copy_call_id(self) -> None:
        """Copy the call id (so the other party can open the call by id), and say so."""
        self.app.copy_to_clipboard(str(self.call_id))
        self.notify(f"Call id {self.call_id} copied to the clipboard.", title="Copied")

    def calls_changed(self, call_ids: tuple[int, ...]) -> None:
        """Re-render if the change is about this screen's call (every change, for a screen of no call)."""
        if self.is_mounted and (self.view.call_id is None or self.view.call_id in call_ids):
            self.call_later(self.refresh_view)

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
        self.set_class(not shown, "-sidebar-hidden")

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
