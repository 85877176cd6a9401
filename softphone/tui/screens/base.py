"""What every screen of the phone shares: the status line, the timeline sidebar and the footer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer

from softphone.core import CallMachine
from softphone.tui.routing import View
from softphone.tui.widgets.status import StatusLine
from softphone.tui.widgets.timeline import TimelineSidebar

if TYPE_CHECKING:
    from softphone.tui.app import SoftphoneApp
    from softphone.tui.session import Session


def phone_app_of(screen: Screen[Any]) -> SoftphoneApp:
    """The running softphone app, typed; imported late because the app module imports the screens."""
    from softphone.tui.app import SoftphoneApp

    return cast(SoftphoneApp, screen.app)


class PhoneScreen(Screen[None]):
    """A full screen: status line on top, content and timeline side by side, bindings at the bottom.

    Subclasses compose ``compose_main`` and fill it in ``render_main``; the app calls
    ``refresh_view`` after every change and once a second for the clocks.
    """

    view: View
    # Set once composed: the app refreshes every screen on the stack, some still being built.
    ready = False

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

    @property
    def phone_app(self) -> SoftphoneApp:
        return phone_app_of(self)

    def on_mount(self) -> None:
        self.ready = True
        self.refresh_view()

    def on_screen_resume(self) -> None:
        self.refresh_view()

    def refresh_view(self) -> None:
        app = self.phone_app
        sidebar = self.sidebar
        sidebar.display = app.show_sidebar
        self.status_line.show(*app.status_parts())
        session = app.session
        if session is None:
            sidebar.show(None)
            return
        sidebar.show(self.timeline_call(session))
        self.render_main(session)

    def timeline_call(self, session: Session) -> CallMachine | None:
        """The call whose timeline the sidebar shows: this screen's, else the newest."""
        if self.view.call_id is not None:
            return session.phone.get(self.view.call_id)
        history = session.phone.history()
        return history[0] if history else None

    def render_main(self, session: Session) -> None:
        raise NotImplementedError


class CallScreen(PhoneScreen):
    """A screen about one call."""

    def __init__(self, view: View) -> None:
        super().__init__()
        self.view = view

    @property
    def call_id(self) -> int:
        assert self.view.call_id is not None
        return self.view.call_id

    def machine(self, session: Session) -> CallMachine | None:
        return session.phone.get(self.call_id)
