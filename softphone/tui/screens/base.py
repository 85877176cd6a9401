"""What the phone's screens share, full or modal, and the little they ask of the app.

Screens depend on the controller (:class:`~softphone.session.Session`) and on :class:`PhoneHost`, a
protocol for the app; the app module imports the screens, never the reverse. A screen renders when it
mounts, when the session appears, and when the app tells it that calls changed (after a
``SessionAdapter.CallsChanged`` message); only the lines that tick redraw by themselves.

Three rules hold on every screen. A key that was pressed before the screen appeared, or within
``key_guard_seconds`` of it, does nothing there: a key meant for the screen before (Enter on Home, a
second ``h``) never answers, declines or cancels a call that has just popped up. What the footer and
the palette offer is what the server's rules allow now (``check_action``), greyed out while the
request is on its way. And while the server cannot be reached, the actions that need it
(``SERVER_ACTIONS``) are shown unavailable: their keys are disabled in the footer and their buttons
greyed, instead of each press failing with a notification of its own.
"""

from __future__ import annotations

import math
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button

from softphone.tui.compositor import KeepsWideCharacters
from softphone.tui.errors import KeepsRunning
from softphone.tui.routing import HOME, View
from softphone.tui.widgets.call_id import COPY_KEY
from softphone.tui.widgets.footer import KeyFooter
from softphone.tui.widgets.status import Status, StatusLine
from softphone.tui.widgets.timeline import TimelineSidebar
from softphone.tui.widgets.too_small import TooSmall

if TYPE_CHECKING:
    # Types only: the home screen paints before the wire models and the controller load (``run_phone``).
    from softphone.api import Action, CallType
    from softphone.core import CallMachine
    from softphone.demo import DemoGuide
    from softphone.session import Clock, Session

UNDER_MODAL_REPAINT_SECONDS = 0.1
SIDEBAR_MIN_WIDTH = 80
"""Below this many columns the main pane beside the timeline would be too narrow: the timeline collapses."""


@runtime_checkable
class PhoneHost(Protocol):
    """What screens ask of the app. ``session``, ``status`` and ``sidebar_choice`` are reactive: the app tells
    the screens on its stack when they change (``PhoneScreen.session_changed`` and the like).

    ``sidebar_choice`` is ``None`` while the width decides whether the timeline shows, else the user's
    last ctrl+b.
    """

    session: Session | None
    status: Status
    sidebar_choice: bool | None
    clock: Clock
    key_guard_seconds: float
    demo: DemoGuide | None

    def run_intent(self, intent: Coroutine[Any, Any, object]) -> None:
        """Run a request in the background, outliving the screen that asked."""

    def dial(self, user: str, call_type: CallType) -> None: ...

    def dismiss_outcome(self, call_id: int) -> None:
        """The user has read how a call ended."""

    def ring_me(self) -> None:
        """The demo: a peer calls this phone now."""

    def ask_dial_by_id(self) -> None:
        """Ask for a user id, a conversation id and a call type, and dial them."""

    def ask_open_call(self) -> None:
        """Ask for a call id and show that call."""

    @property
    def reachable(self) -> bool:
        """Whether requests can reach the server now (not while it is found unreachable)."""
        ...


class PhoneScreen(KeepsWideCharacters, KeepsRunning, Screen[None]):
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
    keys_open_at = math.inf
    """When keys start to count here (Textual's event clock): the moment shown, plus the guard."""

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
        self.session_changed()
        self.status_changed()

    def take_size_classes(self) -> None:
        """Take the classes of the terminal's size now, in ``compose``, before any widget is styled.

        Textual gives a screen its breakpoint classes (``-narrow``, ``-tall``...) when the screen first
        gets its size, after every widget has mounted, and then styles them all again; a tenth of the
        CPU of showing a call screen. Given here, the same classes are found already there then.
        """
        app = self.app
        width, height = app.size
        horizontal = app.HORIZONTAL_BREAKPOINTS if self.HORIZONTAL_BREAKPOINTS is None else self.HORIZONTAL_BREAKPOINTS
        vertical = app.VERTICAL_BREAKPOINTS if self.VERTICAL_BREAKPOINTS is None else self.VERTICAL_BREAKPOINTS
        for breakpoints, dimension in ((horizontal, width), (vertical, height)):
            self.add_class(*self._get_breakpoint_classes(dimension, breakpoints or []), update=False)

    # The app tells the screens on its stack when its reactive ``session``, ``status`` and
    # ``sidebar_choice`` change. Screens do not watch the app: Textual forgets a watcher on another
    # object only when that attribute next changes, so every screen ever shown stayed in memory,
    # widgets and drawn lines with it, and the garbage collector's full passes grew to 200 ms.
    # Each screen redraws in its own turn (``call_later``), so a bug in one screen's drawing is that
    # screen's to report and never stops the app's handler that changed what it shows.

    def session_changed(self) -> None:
        self.call_later(self.refresh_view)

    def status_changed(self) -> None:
        self.call_later(self.reachability_changed)

    def sidebar_choice_changed(self) -> None:
        """Only full screens have a sidebar."""

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        """Shown (pushed, switched to, or uncovered by a modal): keys from before, or too soon after, do nothing."""
        self.keys_open_at = event.time + self.host.key_guard_seconds
        self.refresh_bindings()  # what changed while another screen was on top

    def on_key(self, event: events.Key) -> None:
        if event.time < self.keys_open_at:
            event.prevent_default()
            event.stop()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys that need the server are shown disabled (``None``) while it cannot be reached; only a
        screen of a call offers to copy its id."""
        if action in self.SERVER_ACTIONS and not self.host.reachable:
            return None
        if action == "copy_call_id":
            return self.view.call_id is not None
        return True

    def offers(self, action: Action) -> bool | None:
        """``check_action``'s answer for a request about this screen's call.

        ``True`` when the server's rules allow it from this terminal now (and the server can be
        reached), ``None`` (shown, greyed) while that request is on its way or the server is away,
        ``False`` (not offered) otherwise.
        """
        session = self.host.session
        machine = session.phone.get(self.call_id) if session is not None else None
        if session is None or machine is None or action not in machine.allowed_actions():
            return False
        if session.in_flight(self.call_id, action) or not self.host.reachable:
            return None
        return True

    def reachability_changed(self) -> None:
        """Offer or grey out what needs the server, and redraw (the words may say it is unreachable)."""
        if self.host.session is not None:
            self.refresh_view()
        elif self.app.screen is self:
            self.refresh_bindings()

    def action_copy_call_id(self) -> None:
        """Copy the call id (so the other party can open the call by id), and say so."""
        self.app.copy_to_clipboard(str(self.call_id))
        self.notify(f"Call id {self.call_id} copied to the clipboard.", title="Copied")

    def calls_changed(self, call_ids: tuple[int, ...]) -> None:
        """Re-render if the change is about this screen's call (every change, for a screen of no call)."""
        if self.is_mounted and (self.view.call_id is None or self.view.call_id in call_ids):
            self.call_later(self.refresh_view)

    def refresh_view(self) -> None:
        """Draw what the session holds now, and offer the keys it allows now (on top; see ``on_screen_resume``)."""
        self.render_session(self.host.session)
        if self.app.screen is self:
            self.refresh_bindings()
        else:
            self.repaint_under_modal()

    def repaint_under_modal(self) -> None:
        """Under a modal, Textual paints this screen's changes when it next falls idle, but not if that
        happened during one of its batched updates: a message a moment later makes sure."""
        self.set_timer(UNDER_MODAL_REPAINT_SECONDS, self.check_idle)

    def render_session(self, session: Session | None) -> None:
        raise NotImplementedError

    def show_offered(self, buttons: dict[str, Button]) -> None:
        """Grey out each button whose action (its key) is not offered now."""
        for action, button in buttons.items():
            button.disabled = not self.check_action(action, ())


class FullScreen(PhoneScreen):
    """A full screen: status line on top, content and timeline side by side, bindings at the bottom.

    Subclasses compose ``compose_main`` and fill it in ``render_main``, which runs once signed in. The
    main pane scrolls, so at the smallest sizes nothing is lost, only further down.
    """

    def __init__(self, view: View = HOME) -> None:
        super().__init__()
        self.view = view

    def compose(self) -> ComposeResult:
        self.take_size_classes()
        self.set_class(self.sidebar_shown, "-with-sidebar", update=False)  # as place_sidebar will
        self.status_line = StatusLine(id="status")
        self.sidebar = TimelineSidebar(id="sidebar")
        main = VerticalScroll(id="main")
        main.can_focus = False  # focus goes to what the screen offers (the contacts), not to the pane
        yield self.status_line
        with Horizontal(id="body"):
            with main:
                yield from self.compose_main()
            yield self.sidebar
        yield KeyFooter()
        yield TooSmall()

    def compose_main(self) -> ComposeResult:
        raise NotImplementedError

    def on_mount(self) -> None:
        self.status_line.show(self.host.status)
        self.place_sidebar()

    def status_changed(self) -> None:
        super().status_changed()
        self.status_line.show(self.host.status)

    def sidebar_choice_changed(self) -> None:
        self.place_sidebar()

    def on_resize(self) -> None:
        self.place_sidebar()

    @property
    def sidebar_shown(self) -> bool:
        """The user's choice (ctrl+b) if any, else whether the width leaves the main pane room for it."""
        choice = self.host.sidebar_choice
        width = self.size.width or self.app.size.width  # before its first layout, the terminal's
        return choice if choice is not None else width >= SIDEBAR_MIN_WIDTH

    def place_sidebar(self) -> None:
        """Show or hide the timeline; on a narrow terminal a shown timeline takes the whole width."""
        self.set_class(self.sidebar_shown, "-with-sidebar")
        if self.is_mounted and self.app.screen is not self:
            self.repaint_under_modal()

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
