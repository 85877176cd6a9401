"""The Textual softphone: signs in, follows the push stream, and shows the screen the core implies."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen

from softphone.api import (
    CallClient,
    CallType,
    DirectoryUser,
    PushStream,
    RouteNotFound,
    SoftphoneError,
    StreamMode,
)
from softphone.tui.routing import View, ViewKind, choose_view
from softphone.tui.screens.base import PhoneScreen
from softphone.tui.screens.ended import EndedScreen
from softphone.tui.screens.home import HomeScreen
from softphone.tui.screens.in_call import InCallScreen
from softphone.tui.screens.incoming import IncomingScreen
from softphone.tui.screens.login import LoginScreen
from softphone.tui.screens.outgoing import OutgoingScreen
from softphone.tui.session import Identity, Session, describe_error

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_terminal_id() -> str:
    """Unique per run, so two windows of one user are two terminals."""
    return f"tui-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class AppConfig:
    """Everything the command line can say about how this terminal connects and who it is."""

    server_url: str
    user: str | None = None
    token: str | None = None
    user_id: int | None = None
    terminal_id: str = field(default_factory=new_terminal_id)
    dial: str | None = None
    video: bool = False
    push_mode: StreamMode = "auto"
    poll_interval: float = 2.0
    sign_in_retry_seconds: float = 2.0


class PhoneChanged(Message):
    """Something in the session's phone changed: re-route and re-render."""


_CALL_SCREENS: dict[ViewKind, Callable[[View], Screen[Any]]] = {
    ViewKind.OUTGOING: OutgoingScreen,
    ViewKind.INCOMING: IncomingScreen,
    ViewKind.IN_CALL: InCallScreen,
    ViewKind.ENDED: EndedScreen,
}


class SoftphoneApp(App[None]):
    CSS_PATH = "softphone.tcss"
    TITLE = "softphone"
    BINDINGS = [
        Binding("ctrl+b", "toggle_sidebar", "Timeline"),
        Binding("ctrl+e", "export_timeline", "Export", show=False),
    ]

    show_sidebar: reactive[bool] = reactive(True)

    def __init__(self, config: AppConfig, *, clock: Clock = utc_now) -> None:
        super().__init__()
        self.config = config
        self.clock = clock
        self.session: Session | None = None
        self.sign_in_state = "signing in"
        self._shown: set[int] = set()
        self._dismissed: set[int] = set()
        self._announced: set[int] = set()

    # ------------------------------------------------------------------ start-up

    def on_mount(self) -> None:
        self.push_screen(HomeScreen())
        self.set_interval(1.0, self.refresh_screens)
        self.sign_in()

    @work(group="sign-in", exclusive=True, exit_on_error=False)
    async def sign_in(self) -> None:
        """Log in (asking who you are if the command line did not say), load contacts, follow pushes."""
        client = CallClient(
            self.config.server_url, terminal_id=self.config.terminal_id, token=self.config.token
        )
        identity, contacts = await self._identify(client)
        self.session = Session(
            client,
            identity,
            contacts,
            clock=self.clock,
            on_change=lambda: self.post_message(PhoneChanged()),
            on_error=self.show_error,
        )
        await self.session.load_history()
        stream = PushStream(client, mode=self.config.push_mode, poll_interval=self.config.poll_interval)
        stream.start()
        self.run_worker(self.session.follow(stream), group="push", exit_on_error=False)
        self.refresh_screens()
        if self.config.dial:
            self.dial_user(self.config.dial, CallType.VIDEO if self.config.video else CallType.AUDIO)

    async def _identify(self, client: CallClient) -> tuple[Identity, list[DirectoryUser]]:
        """Retry until the server answers and accepts who we say we are."""
        user = self.config.user
        error = ""
        while True:
            if user is None and client.token is None:
                user = await self.push_screen_wait(
                    LoginScreen(self.config.server_url, error=error)
                )
            try:
                if user is not None and client.token is None:
                    login = await client.login(user)
                    user_id, name = login.user_id, login.name
                else:
                    user_id, name = self.config.user_id or 0, str(self.config.user_id or "me")
                contacts = await self._contacts(client)
            except SoftphoneError as failure:
                error = describe_error(failure)
                self.sign_in_state = f"cannot sign in: {error}"
                self.show_error(error)
                self.refresh_screens()
                if self.config.user is None:
                    user, client.token = None, self.config.token
                    continue
                await asyncio.sleep(self.config.sign_in_retry_seconds)
                continue
            me = next((c for c in contacts if c.conversation_id is None), None)
            if me is not None:
                user_id, name = me.user_id, me.name
            display = me.display_name if me is not None else name
            return Identity(user_id, name, display, self.config.terminal_id), contacts

    async def _contacts(self, client: CallClient) -> list[DirectoryUser]:
        """The simulator's directory; a real server has none, and then there are no contacts."""
        try:
            return (await client.directory()).users
        except RouteNotFound:
            return []

    # ------------------------------------------------------------------ what screens call

    def require_session(self) -> Session:
        if self.session is None:
            raise RuntimeError("not signed in yet")
        return self.session

    def status_parts(self) -> tuple[str, str, str, str, str]:
        """Who, which terminal, which server, how we hear it and why: the top line of every screen."""
        session = self.session
        if session is None:
            return ("not signed in", self.config.terminal_id, self.config.server_url, self.sign_in_state, "")
        me = session.identity
        return (
            f"{me.display_name} ({me.name} #{me.user_id})",
            me.terminal_id,
            self.config.server_url,
            session.connection,
            session.connection_detail,
        )

    def run_intent(self, intent: Coroutine[Any, Any, Any]) -> None:
        """Run a user's request in the background; a bug becomes a notification, not a traceback."""

        async def guarded() -> None:
            try:
                await intent
            except Exception as bug:  # noqa: BLE001 - the user must never see a traceback
                self.show_error(f"Unexpected error: {bug!r}")

        self.run_worker(guarded(), group="intents")

    def dial_user(self, user: str, call_type: CallType) -> None:
        session = self.session
        if session is None:
            self.show_error("Not signed in yet.")
            return
        contact = session.contact(user)
        if contact is None:
            self.show_error(f"No contact named {user!r} in the directory.")
            return
        self.run_intent(session.dial(contact, call_type))

    def dismiss_outcome(self, call_id: int) -> None:
        self._dismissed.add(call_id)
        self.post_message(PhoneChanged())

    def show_error(self, message: str) -> None:
        self.notify(message, severity="error", title="Error", timeout=8)

    # ------------------------------------------------------------------ routing and rendering

    async def on_phone_changed(self, _: PhoneChanged) -> None:
        session = self.session
        if session is None or not self.screen_stack:
            return  # not signed in yet, or shutting down
        view = choose_view(session.phone, self._shown, self._dismissed)
        if getattr(self.screen, "view", None) != view:
            await self._show(view)
        self.refresh_screens()

    async def _show(self, view: View) -> None:
        if view.kind in (ViewKind.OUTGOING, ViewKind.INCOMING, ViewKind.IN_CALL):
            assert view.call_id is not None
            self._shown.add(view.call_id)
        if view.kind is ViewKind.ENDED:
            self._announce_end(view)
        while not isinstance(self.screen, HomeScreen):
            await self.pop_screen()
        make_screen = _CALL_SCREENS.get(view.kind)
        if make_screen is not None:
            await self.push_screen(make_screen(view))

    def _announce_end(self, view: View) -> None:
        """A notification says why a call screen closed by itself (cancelled, answered elsewhere...)."""
        if view.call_id in self._announced or self.session is None:
            return
        assert view.call_id is not None
        self._announced.add(view.call_id)
        machine = self.session.phone.get(view.call_id)
        if machine is not None and not machine.ended_by_me:
            self.notify(machine.headline(), title=f"Call {view.call_id}")

    def refresh_screens(self) -> None:
        """Re-render every screen on the stack from the session (the one under a modal shows too)."""
        for screen in self.screen_stack:
            if isinstance(screen, PhoneScreen | IncomingScreen | LoginScreen) and screen.ready:
                screen.refresh_view()

    def watch_show_sidebar(self) -> None:
        self.refresh_screens()

    # ------------------------------------------------------------------ commands

    def action_toggle_sidebar(self) -> None:
        self.show_sidebar = not self.show_sidebar

    def action_export_timeline(self) -> None:
        session = self.session
        calls = session.phone.history() if session else []
        if not calls:
            self.notify("No call timeline to export yet.", severity="warning")
            return
        machine = calls[0]
        path = Path.cwd() / f"softphone-timeline-call{machine.call_id}-{self.config.terminal_id}.txt"
        path.write_text("\n".join(entry.as_text() for entry in machine.timeline) + "\n", encoding="utf-8")
        self.notify(f"Timeline of call {machine.call_id} written to {path}")

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Toggle timeline sidebar", "Show or hide the call-state timeline", self.action_toggle_sidebar)
        yield SystemCommand("Export timeline", "Write the latest call's timeline to a text file", self.action_export_timeline)
        session = self.session
        if session is None:
            return
        for contact in session.contacts:
            if contact.user_id == session.identity.user_id:
                continue
            for call_type in CallType:
                yield SystemCommand(
                    f"Dial {contact.display_name} ({call_type.value})",
                    f"Start a {call_type.value} call to {contact.name} #{contact.user_id}",
                    lambda c=contact.name, t=call_type: self.dial_user(c, t),
                )


