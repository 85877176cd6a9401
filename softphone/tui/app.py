"""The Textual softphone: signs in, relays the controller's events as messages, shows the screen they imply.

The call controller (:mod:`softphone.session`) does the talking to the server. This app asks the user
who they are when it must, runs the controller's intents in workers, and handles the messages of
:class:`~softphone.tui.adapter.SessionAdapter`: a ``CallsChanged`` may move to another screen, and
tells the screens on the stack; a ``ConnectionChanged`` updates the status line every screen watches.

Signing in asks again, in a dialog, when the answer is the user's to change (an unknown user, a
refused token, a missing user id) and otherwise tries again after a backoff that grows to
``SIGN_IN_BACKOFF.maximum``, counting down on the status line; ``ctrl+r`` tries at once, there and
whenever the push stream waits to reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import logging
import os
import random
import signal
import sys
import threading
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import messages, on, work
from textual._styles_cache import StylesCache
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.reactive import var
from textual.screen import Screen
from textual.worker import Worker, WorkerState

# What the first screen needs, and no more: the error tree, Textual, the home screen. The controller,
# the wire models (pydantic), the HTTP and push clients and the call screens load while signing in,
# after the first paint (``sign_in``); the names below the ``TYPE_CHECKING`` line are types only.
from softphone.api import Backoff, SoftphoneError, Unauthorized, redact
from softphone.launch import local_url
from softphone.logs import DEFAULT_LOG_LEVEL, app_log_path, start_file_log
from softphone.terminal import Clock, new_terminal_id, utc_now
from softphone.tui.adapter import SessionAdapter
from softphone.tui.errors import KeepsRunning, report_unexpected
from softphone.tui.routing import View, ViewKind, choose_view
from softphone.tui.screens.base import SIDEBAR_MIN_WIDTH, FullScreen, PhoneScreen
from softphone.tui.screens.confirm import ConfirmScreen
from softphone.tui.screens.home import HomeScreen
from softphone.tui.screens.login import LoginScreen, TokenScreen
from softphone.tui.simulator import LocalSimulator
from softphone.tui.widgets.status import Status
from softphone.tui.widgets.too_small import MIN_HEIGHT, MIN_WIDTH

if TYPE_CHECKING:
    from softphone.api import CallType, DirectoryUser, StreamMode
    from softphone.core import CallMachine
    from softphone.demo import DemoGuide
    from softphone.session import Session

LEAVE_SECONDS = 5.0
"""How long quitting waits for the calls it ends (best effort: the server may be gone)."""
LEAVE_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
"""The terminal closed, or someone asked the process to stop: leave, then quit."""
CALL_SCREEN_MODULES = tuple(
    f"softphone.tui.screens.{name}" for name in ("by_id", "ended", "faults", "in_call", "incoming", "outgoing")
)
"""Loaded once signed in (``start_session``): the first call does not wait for them to load."""
NO_AUTOMATIC_FULL_PASSES = 1_000_000
"""The garbage collector's third threshold once signed in: the app runs the full passes (``_collect_soon``)."""
FULL_PASS_INTERVAL_SECONDS = 30.0
EXIT_GRACE_SECONDS = 3.0
"""After leaving, how long quitting may take to put the terminal back: a closed terminal can block it for ever."""
log = logging.getLogger(__name__)

SIGN_IN_BACKOFF = Backoff(initial=2.0, maximum=30.0, factor=2.0, jitter=0.25)
"""Sign-in retries when the server is away or answers badly: 2 s, 4 s, ... then twice a minute at most."""
KEY_GUARD_SECONDS = 0.4
"""Keys pressed this soon after a screen appears do nothing on it: longer than a double press, shorter
than anyone reads a new screen and decides."""


@dataclass(frozen=True)
class AppConfig:
    """Everything the command line can say about how this terminal connects and who it is."""

    server_url: str
    user: str | None = None
    token: str | None = None
    user_id: int | None = None
    # Whom a server without a directory lets us call: a profile's users (see softphone.settings).
    contacts: tuple[DirectoryUser, ...] = ()
    terminal_id: str = field(default_factory=lambda: new_terminal_id("tui"))
    dial: str | None = None
    """A contact's name or id, or with ``conversation_id`` a user id, to call once signed in."""
    video: bool = False
    conversation_id: int | None = None
    open_call: int | None = None
    """A call to show once signed in, by its id."""
    push_mode: StreamMode = "auto"
    poll_interval: float = 2.0
    check_interval: float = 5.0
    """While the push channel is up, how often the calls are checked for pushes lost on the way."""
    sign_in_backoff: Backoff = SIGN_IN_BACKOFF
    bell: bool = True
    """Ring the terminal bell when a call comes in."""
    background_port: int | None = None
    """The port of the local background simulator when that is the server (``softphone sim`` territory)."""
    key_guard_seconds: float = KEY_GUARD_SECONDS
    demo: DemoGuide | None = None
    """What ``softphone demo`` says and does for the phone (see ``softphone.demo``)."""


def server_label(config: AppConfig) -> str:
    """What the status line calls the server: the local background simulator, or another server's URL."""
    if config.background_port is not None:
        return f"background simulator {local_url(config.background_port).removeprefix('http://')}"
    return config.server_url


def leaving_line(machine: CallMachine) -> str:
    """``Quitting hangs up call 7 with Bob (ongoing).``: what quitting will do to one call."""
    from softphone.api import Action  # loaded: there is a call

    words = {Action.HANGUP: "hangs up", Action.CANCEL: "cancels", Action.REJECT: "rejects"}
    action = machine.ending_action()
    assert action is not None, "only calls to leave are described"
    return f"Quitting {words[action]} call {machine.call_id} with {machine.peer_name} ({machine.status})."



def release_removed_widgets() -> None:
    """Let the widgets of the screens that went go: Textual 8.2.8's ``StylesCache.get_inner_outer`` is an
    ``lru_cache`` on a method, so it keeps up to 1,024 widgets' caches of drawn lines (each screen has
    dozens of widgets), and the garbage collector's full passes grew with them to 200-300 ms."""
    StylesCache.get_inner_outer.cache_clear()


class StoppedOnError(Exception):
    """What the app exits with after an error nothing could handle: one line, not a traceback.

    The traceback is in the log, and ``run_phone`` says where that is on the very last line.
    """

    def __init__(self, error: BaseException) -> None:
        super().__init__(redact(f"softphone stopped on an unexpected error: {error!r}"))
        self.__cause__ = error

    def __rich__(self) -> Text:
        return Text(str(self), style="bold red")


def full_call_screen(kind: ViewKind) -> Callable[[View], FullScreen] | None:
    """The full screen of a call in this view, ``None`` for Home (and for the ringing modal)."""
    from softphone.tui.screens.ended import EndedScreen
    from softphone.tui.screens.in_call import InCallScreen
    from softphone.tui.screens.outgoing import OutgoingScreen

    screens: dict[ViewKind, Callable[[View], FullScreen]] = {
        ViewKind.OUTGOING: OutgoingScreen,
        ViewKind.IN_CALL: InCallScreen,
        ViewKind.ENDED: EndedScreen,
    }
    return screens.get(kind)


class SoftphoneApp(KeepsRunning, App[None]):
    CSS_PATH = "softphone.tcss"
    TITLE = "softphone"
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("ctrl+b", "toggle_sidebar", "Timeline"),
        Binding("ctrl+e", "export_timeline", "Export"),
        Binding("ctrl+r", "retry_now", "Retry now"),
    ]
    # Every screen carries the class of its size; the stylesheet lays each out for it, and below
    # the minimum says the terminal is too small instead of drawing half a screen.
    HORIZONTAL_BREAKPOINTS = [(0, "-too-narrow"), (MIN_WIDTH, "-narrow"), (SIDEBAR_MIN_WIDTH, "-medium"), (120, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-too-short"), (MIN_HEIGHT, "-short"), (20, "-tall")]

    # What screens show (see PhoneHost): they redraw when these change, never on a timer.
    session: var[Session | None] = var(None)
    status: var[Status] = var(Status("not signed in", "", "", "signing in"))
    sidebar_choice: var[bool | None] = var(None)

    @dataclass
    class SignedIn(Message):
        """The server accepted who we are: the session is ready to follow the push stream."""

        session: Session

    @dataclass
    class SignInFailed(Message):
        """The server could not be reached or refused who we said we are; ``text`` says which.

        ``retry_at`` (event-loop time) is when sign-in tries again by itself; ``None`` when it asks.
        """

        text: str
        retry_at: float | None

    def __init__(self, config: AppConfig, *, clock: Clock = utc_now) -> None:
        super().__init__()
        self.config = config
        self.clock = clock
        self.set_reactive(
            SoftphoneApp.status, replace(self.status, terminal_id=config.terminal_id, server=server_label(config))
        )
        self._shown: set[int] = set()
        self._dismissed: set[int] = set()
        self._announced: set[int] = set()
        self._leaving = False
        self._left = False
        self.simulator = LocalSimulator(config.background_port) if config.background_port is not None else None
        self._retry_sign_in = asyncio.Event()
        self._rng = random.Random()
        self._token_refusal_told = False

    @property
    def key_guard_seconds(self) -> float:
        return self.config.key_guard_seconds

    @property
    def demo(self) -> DemoGuide | None:
        return self.config.demo

    # ------------------------------------------------------------------ start-up

    def on_mount(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in LEAVE_SIGNALS:
            loop.add_signal_handler(signum, self.stop_on_signal, signum)
        self.push_screen(HomeScreen())
        # Painted first, then signed in: signing in loads the HTTP client and waits for the server.
        self.call_after_refresh(self.after_first_paint)

    def after_first_paint(self) -> None:
        """The garbage collector back on (the ``softphone`` command holds it off while start-up builds
        the first screen), then sign in."""
        gc.enable()
        self.sign_in()

    def on_unmount(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in LEAVE_SIGNALS:
            loop.remove_signal_handler(signum)

    @work(group="sign-in", exclusive=True, exit_on_error=False)
    async def sign_in(self) -> None:
        """Sign in as the command line says, asking whatever it did not say or the server refused.

        Asking waits for the user; a server that is away or answers badly is tried again after the
        backoff (``config.sign_in_backoff``), so it never gets more than a few requests a minute.
        """
        # Loaded here, after the first paint: the controller, the wire models and the HTTP client.
        from softphone.api import CallClient
        from softphone.session import Session, SignInProblem, describe_sign_in_failure, sign_in_problem

        config = self.config
        client = CallClient(config.server_url, terminal_id=config.terminal_id, token=config.token)
        user, user_id = config.user, config.user_id
        ask = SignInProblem.USER_UNKNOWN if user is None and config.token is None else None
        error, shown_error, attempt = "", "", 0
        while True:
            if ask is SignInProblem.USER_UNKNOWN:
                user = await self.push_screen_wait(LoginScreen(config.server_url, error=error, user=user or ""))
            elif ask is not None:
                client.token, user_id = await self.push_screen_wait(
                    TokenScreen(config.server_url, error=error, user_id=user_id)
                )
                user = None
            try:
                session = await Session.sign_in(
                    client, user=user, user_id=user_id, known_contacts=config.contacts, clock=self.clock
                )
            except SoftphoneError as failure:
                problem, error = sign_in_problem(failure), describe_sign_in_failure(failure)
                log.warning("sign-in failed: %s", redact(error))
                if problem is not SignInProblem.UNAVAILABLE:
                    ask = problem  # the user's to answer: "who are you?" or "which token?"
                    self.post_message(self.SignInFailed(error, None))
                    continue
                ask = None
                delay = config.sign_in_backoff.delay(attempt, self._rng)
                attempt += 1
                retry_at = asyncio.get_running_loop().time() + delay
                self.post_message(self.SignInFailed(error, retry_at))
                if error != shown_error:  # once per kind of failure, not once per try
                    shown_error = error
                    self.show_error(f"Cannot sign in: {error}")
                await self._wait_to_retry_sign_in(delay)
                continue
            await session.load_history()
            self.post_message(self.SignedIn(session))
            return

    async def _wait_to_retry_sign_in(self, delay: float) -> None:
        """Sleep ``delay`` seconds, or less if the user asks to retry now (``ctrl+r``)."""
        self._retry_sign_in.clear()
        try:
            async with asyncio.timeout(delay):
                await self._retry_sign_in.wait()
        except TimeoutError:
            pass

    @on(SignInFailed)
    def show_sign_in_failure(self, message: SignInFailed) -> None:
        self.status = replace(
            self.status, connection="cannot sign in", detail=message.text, retry_at=message.retry_at
        )

    @on(SignedIn)
    def start_session(self, message: SignedIn) -> None:
        from softphone.api import CallType, PushStream

        session = message.session
        me = session.identity
        # Without a directory the id is all there is to say (the name would repeat it).
        who = f"{me.display_name} ({me.name} #{me.user_id})" if session.offers.directory else me.name
        self.status = Status(
            who,
            me.terminal_id,
            server_label(self.config),
            session.connection,
            session.connection_detail,
            missing=session.offers.missing(),
        )
        self.session = session
        for module in CALL_SCREEN_MODULES:  # now, not when the first call shows
            importlib.import_module(module)
        # A server without the call lists has no push channel either: poll it from the start.
        mode = self.config.push_mode if session.offers.call_lists else "poll"
        stream = PushStream(
            session.client, mode=mode, poll_interval=self.config.poll_interval, check_interval=self.config.check_interval
        )
        adapter = SessionAdapter(self)
        self.run_worker(adapter.relay(session.events(stream)), group="session-events", exit_on_error=False)
        if self.owns_process:
            # What exists once signed in (modules, styles, the home screen) lives as long as the app:
            # the garbage collector's full passes, each a pause of the screen, no longer go through it.
            gc.collect()
            gc.freeze()
            # And they run when the app chooses (``_collect_soon``), not in the middle of showing a call;
            # also every half minute, so a phone that stays on one screen for hours frees its cycles too.
            young, middle, _ = gc.get_threshold()
            gc.set_threshold(young, middle, NO_AUTOMATIC_FULL_PASSES)
            self.set_interval(FULL_PASS_INTERVAL_SECONDS, self.collect_garbage, name="garbage collection")
        config = self.config
        call_type = CallType.VIDEO if config.video else CallType.AUDIO
        if config.open_call is not None:
            self.open_call(config.open_call)
        elif config.dial is not None and config.conversation_id is not None:
            self.run_intent(session.dial_ids(int(config.dial), config.conversation_id, call_type))
        elif config.dial is not None:
            self.dial(config.dial, call_type)

    # ------------------------------------------------------------------ the controller's events

    @on(SessionAdapter.CallsChanged)
    async def show_calls(self, message: SessionAdapter.CallsChanged) -> None:
        """The screens on the stack redraw what changed first, then the app shows the screen it implies.

        In this order a modal pushed now paints the screen under it as it is after the change.
        """
        for screen in self.screen_stack:
            if isinstance(screen, PhoneScreen):
                screen.calls_changed(message.call_ids)
        await self._route()

    @on(SessionAdapter.ConnectionChanged)
    def show_connection(self, message: SessionAdapter.ConnectionChanged) -> None:
        if message.state == "connected":
            self._token_refusal_told = False
        self.status = replace(
            self.status, connection=message.state, detail=message.detail, retry_at=message.retry_at
        )

    @on(SessionAdapter.RequestFailed)
    def show_request_failure(self, message: SessionAdapter.RequestFailed) -> None:
        self.show_error(message.text)

    @on(SessionAdapter.StreamErrored)
    def show_stream_error(self, message: SessionAdapter.StreamErrored) -> None:
        if isinstance(message.error, Unauthorized):
            self.token_refused(message.error)
            return
        self.show_error(message.text)

    def token_refused(self, error: Unauthorized) -> None:
        """Mid-session, the server stopped taking the token: say so once, and offer to enter another.

        The stream keeps asking, on its long backoff, so a token renewed elsewhere is picked up.
        """
        if self._token_refusal_told:
            return
        self._token_refusal_told = True
        from softphone.session import describe_error

        text = f"The server refused this token ({describe_error(error)})."
        self.show_error(text)
        session = self.session
        if session is None or self.config.token is None:
            return  # a dev-login token is the simulator's to renew: signing in again is up to the user

        def use(answer: tuple[str, int | None] | None) -> None:
            if answer is not None:
                session.client.token = answer[0]
                session.reconnect_now()

        self.push_screen(TokenScreen(self.config.server_url, error=text, user_id=session.identity.user_id), use)

    @on(Worker.StateChanged)
    def report_failed_worker(self, event: Worker.StateChanged) -> None:
        """A worker that raised (they run with ``exit_on_error=False``) is reported, and the app goes on."""
        worker = event.worker
        if event.state is WorkerState.ERROR and worker.error is not None:
            report_unexpected(self, worker.error, f"the {worker.group or worker.name} worker")

    def _handle_exception(self, error: Exception) -> None:
        """What nothing could handle (inside Textual itself) ends the app: logged, exit code 1, one line."""
        log.critical("the app stopped on an error", exc_info=error)
        super()._handle_exception(StoppedOnError(error))

    # ------------------------------------------------------------------ what screens ask (PhoneHost)

    def run_intent(self, intent: Coroutine[Any, Any, object]) -> None:
        """Run a user's request in the background; a bug is reported (``report_failed_worker``), not fatal."""
        self.run_worker(intent, group="intents", exit_on_error=False)

    @property
    def reachable(self) -> bool:
        return self.status.connection != "unreachable"

    def dial(self, user: str, call_type: CallType) -> None:
        if self.session is None:
            self.show_error("Not signed in yet.")
            return
        self.run_intent(self.session.dial(user, call_type))

    def open_call(self, call_id: int) -> None:
        """Show a call by its id; the app then routes to the screen for this terminal's role in it."""
        session = self.session
        if session is None:
            self.show_error("Not signed in yet.")
            return

        async def open_and_show() -> None:
            machine = await session.open_call(call_id)
            if machine is not None:
                self._shown.add(call_id)  # so that an ended call still gets its outcome screen
                self._dismissed.discard(call_id)
                await self._route()

        self.run_intent(open_and_show())

    def ask_dial_by_id(self) -> None:
        from softphone.tui.screens.by_id import DialByIds, DialByIdScreen

        def dial(answer: DialByIds | None) -> None:
            if answer is not None and self.session is not None:
                self.run_intent(self.session.dial_ids(answer.user_id, answer.conversation_id, answer.call_type))

        self.push_screen(DialByIdScreen(), dial)

    def ask_open_call(self) -> None:
        from softphone.tui.screens.by_id import OpenCallScreen

        def open_it(call_id: int | None) -> None:
            if call_id is not None:
                self.open_call(call_id)

        self.push_screen(OpenCallScreen(), open_it)

    def dismiss_outcome(self, call_id: int) -> None:
        self._dismissed.add(call_id)
        self.call_later(self._route)

    def ring_me(self) -> None:
        """The demo: a peer calls this phone now."""
        demo = self.config.demo
        if demo is None:
            return
        demo.ring_me()
        self.notify(f"{demo.caller} is calling you…", timeout=3)

    def show_error(self, message: str) -> None:
        self.notify(message, severity="error", title="Error", timeout=8)

    # ------------------------------------------------------------------ routing

    async def _route(self) -> None:
        """Show the screen the core implies, unless it is showing already."""
        session = self.session
        if session is None or not self.screen_stack:
            return  # not signed in yet, or shutting down
        view = choose_view(session.phone, self._shown, self._dismissed)
        # The phone's own top screen: a dialog over it (a question, the palette) stays while it is right.
        current = next((screen for screen in reversed(self.screen_stack) if isinstance(screen, PhoneScreen)), None)
        if current is not None and current.view == view:
            return
        if view.kind in (ViewKind.OUTGOING, ViewKind.INCOMING, ViewKind.IN_CALL):
            assert view.call_id is not None
            if view.kind is ViewKind.INCOMING and view.call_id not in self._shown and self.config.bell:
                self.bell()
            self._shown.add(view.call_id)
        if view.kind is ViewKind.ENDED:
            self._announce_end(session, view)
        await self._show(view)
        release_removed_widgets()
        self._collect_soon()

    def _collect_soon(self) -> None:
        """A full garbage-collection pass once the new screen has painted, while its keys still do nothing.

        The collector's own full passes (10-50 ms each) came every few screens, at whatever moment: in
        the middle of showing a call that rings, or of the screen a key press brings. Once signed in the
        app turns them off (``start_session``) and runs one here after each change of screen, at a
        moment no key of this phone can be waiting for. Young objects are collected as before.
        """
        if not self.owns_process:
            return
        delay = self.config.key_guard_seconds / 2
        if delay > 0:
            self.set_timer(delay, self.collect_garbage, name="garbage collection")
        else:  # no key guard: once the new screen has painted (Textual's timers take no zero delay)
            self.call_after_refresh(self.collect_garbage)

    def collect_garbage(self) -> None:
        """A full pass of the garbage collector (Textual's timers cannot call ``gc.collect`` itself)."""
        gc.collect()

    @property
    def owns_process(self) -> bool:
        """Whether the process is this phone's: only then does it tune the garbage collector (a test
        process runs many headless apps)."""
        return not self.is_headless

    async def _show(self, view: View) -> None:
        """Make ``view`` the top screen in one step: a call screen replaces the one before it, never via Home.

        Stack: Home, then at most one full call screen, then at most the ringing modal. Dialogs that
        are not the phone's (the palette, a question) give way to the call's news.
        """
        from softphone.tui.screens.incoming import IncomingScreen

        while not isinstance(self.screen, PhoneScreen) and len(self.screen_stack) > 1:
            await self.pop_screen()
        if view.kind is ViewKind.INCOMING:
            incoming = IncomingScreen(view)
            if isinstance(self.screen, IncomingScreen):
                await self.switch_screen(incoming)
            else:
                await self._painted(self.screen)
                await self.push_screen(incoming)
            return
        while isinstance(self.screen, IncomingScreen):
            await self.pop_screen()
        make_screen = full_call_screen(view.kind)
        if make_screen is None:
            while not isinstance(self.screen, HomeScreen):
                await self.pop_screen()
        elif isinstance(self.screen, HomeScreen):
            await self.push_screen(make_screen(view))
        else:
            await self.switch_screen(make_screen(view))

    @staticmethod
    async def _painted(screen: Screen[Any], timeout: float = 1.0) -> None:
        """Wait until ``screen`` has drawn its latest changes: a modal pushed over it shows them, not an older picture.

        A screen under a modal is not laid out again until it is uncovered, so a call that rings
        while Home is redrawing would otherwise leave Home's older picture under the modal.
        """
        drawn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        screen.call_after_refresh(lambda: drawn.done() or drawn.set_result(None))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(drawn, timeout)

    def _announce_end(self, session: Session, view: View) -> None:
        """A notification says why a call screen closed by itself (cancelled, answered elsewhere...)."""
        if view.call_id is None or view.call_id in self._announced:
            return
        self._announced.add(view.call_id)
        machine = session.phone.get(view.call_id)
        if machine is not None and not machine.ended_by_me:
            self.notify(machine.headline(), title=f"Call {view.call_id}")

    # ------------------------------------------------------------------ quitting

    async def action_quit(self) -> None:
        """ctrl+q and the palette's Quit: with a call to leave, ask first; quitting then ends it."""
        session = self.session
        calls = session.phone.calls_to_leave() if session is not None else []
        if not calls:
            self.exit()
            return
        details = "\n".join(leaving_line(machine) for machine in calls)
        question = ConfirmScreen("Hang up and quit?", details, yes="Hang up and quit", no="Stay")
        self.push_screen(question, self._quit_if_confirmed)

    def stop_on_signal(self, signum: int) -> None:
        """SIGTERM or SIGHUP: leave the calls and quit, and end the process even if that gets stuck.

        Once a terminal has closed, Textual's writes to it fail and its shutdown waits for ever; the calls
        are left by then, so a watchdog ends the process as a signal would have.
        """
        watchdog = threading.Timer(LEAVE_SECONDS + EXIT_GRACE_SECONDS, os._exit, args=(128 + signum,))
        watchdog.daemon = True
        watchdog.start()
        self.exit()

    def _quit_if_confirmed(self, yes: bool | None) -> None:
        if yes:
            self.exit()

    @on(messages.ExitApp)
    def leave_before_exit(self, message: messages.ExitApp) -> None:
        """Every way out (quit, SIGTERM, SIGHUP, a closed web tab) ends this terminal's calls first.

        The first ``ExitApp`` with calls to leave is held back while they end; the leaving worker then
        posts it again, so whatever ``exit()`` was given (result, return code) stands.
        """
        session = self.session
        if self._left or session is None or not session.phone.calls_to_leave():
            return
        message.prevent_default()
        if not self._leaving:
            self._leaving = True
            self.notify("Ending your call before quitting…", title="Quitting")
            self.leave_then_exit(session)

    @work(group="leave", exclusive=True, exit_on_error=False)
    async def leave_then_exit(self, session: Session) -> None:
        try:
            await asyncio.wait_for(session.leave(), LEAVE_SECONDS)
        except TimeoutError:
            pass  # best effort: the server did not answer in time, and quitting must not hang
        finally:
            self._left = True
            self.post_message(messages.ExitApp())

    # ------------------------------------------------------------------ commands

    def action_toggle_sidebar(self) -> None:
        """Show the timeline if the screen shows none now (also where it collapsed by itself), else hide it."""
        screen = next((s for s in reversed(self.screen_stack) if isinstance(s, FullScreen)), None)
        self.sidebar_choice = not (screen.sidebar_shown if screen is not None else True)

    def action_retry_now(self) -> None:
        """Try at once what waits for its retry: signing in, or reconnecting to the server."""
        if self.session is None:
            self._retry_sign_in.set()
        else:
            self.session.reconnect_now()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """``ctrl+r`` is offered only while something waits to retry; export once there is a call to export."""
        if action == "retry_now":
            return self.status.retry_at is not None
        if action == "export_timeline":
            return self._call_to_export() is not None
        return True

    def watch_session(self) -> None:
        for screen in self._phone_screens():
            screen.session_changed()

    def watch_status(self) -> None:
        self.refresh_bindings()
        for screen in self._phone_screens():
            screen.status_changed()

    def watch_sidebar_choice(self) -> None:
        for screen in self._phone_screens():
            screen.sidebar_choice_changed()

    def _phone_screens(self) -> list[PhoneScreen]:
        """The phone's screens on the stack that have drawn themselves once (mounting draws the others)."""
        return [screen for screen in self.screen_stack if isinstance(screen, PhoneScreen) and screen.is_mounted]

    def _call_to_export(self) -> int | None:
        """The call on screen, else the newest one this terminal knows."""
        session = self.session
        if session is None:
            return None
        for screen in reversed(self.screen_stack):
            if isinstance(screen, PhoneScreen) and screen.view.call_id is not None:
                return screen.view.call_id
        history = session.phone.history()
        return history[0].call_id if history else None

    def action_export_timeline(self) -> None:
        call_id = self._call_to_export()
        if call_id is None:
            self.notify("No call to export yet.", severity="warning")
            return
        self.export_report(call_id)

    @work(group="export", exit_on_error=False)
    async def export_report(self, call_id: int) -> None:
        """Write the bug report of a call beside where the app was started, with the server's state as of now."""
        from softphone.report import ReportHeader, ServerState, app_version, write_report
        from softphone.session import describe_error

        session = self.session
        machine = session.phone.get(call_id) if session is not None else None
        if session is None or machine is None:
            return
        try:
            server = ServerState((await session.client.call_state(call_id)).model_dump(mode="json"))
        except SoftphoneError as error:
            server = ServerState(None, describe_error(error))
        me = session.identity
        header = ReportHeader(
            user=f"{me.display_name} ({me.name} #{me.user_id})",
            terminal_id=me.terminal_id,
            server=redact(self.config.server_url),
            peer=f"{machine.peer_name} (#{machine.peer_user_id})",
            role=machine.role.value,
            call_type=machine.facts.call_type or "unknown",
            call_id=call_id,
            app_version=app_version(),
            written_at=datetime.now().astimezone(),
        )
        try:
            markdown, document = write_report(Path.cwd(), header, machine, server)
        except OSError as error:
            self.show_error(f"Could not write the bug report: {error}")
            return
        self.notify(f"Bug report of call {call_id}: {markdown} and {document.name}", title="Exported", timeout=10)

    def action_network_faults(self) -> None:
        if self.session is None:
            self.show_error("Not signed in yet.")
            return
        from softphone.tui.screens.faults import FaultsScreen

        self.push_screen(FaultsScreen(self.session.client))

    def action_sim_status(self) -> None:
        assert self.simulator is not None
        self.ask_simulator(self.simulator.status)

    def action_sim_stop(self) -> None:
        assert self.simulator is not None
        question = ConfirmScreen(
            "Stop the background simulator?",
            "Every phone on it loses its connection until a phone started without --server starts it again. "
            "Its calls stay in its database.",
            yes="Stop it",
            no="Keep it",
        )
        self._confirm_then_ask(question, self.simulator.stop)

    def action_sim_reset(self) -> None:
        assert self.simulator is not None
        question = ConfirmScreen(
            "End every live call on the simulator?",
            "Each call still ringing or going on ends as abandoned, pushed to every phone (this one too).",
            yes="End them",
            no="Keep them",
        )
        self._confirm_then_ask(question, self.simulator.reset)

    def _confirm_then_ask(self, question: ConfirmScreen, action: Callable[[], str]) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self.ask_simulator(action)

        self.push_screen(question, answered)

    @work(thread=True, group="simulator", exit_on_error=False)
    def ask_simulator(self, question: Callable[[], str]) -> None:
        """``softphone sim`` blocks on HTTP, so it runs in a thread; the answer comes back as a notification."""
        self.call_from_thread(self.notify, question(), title="Background simulator", timeout=15)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's own commands, then only what this phone can do now: no dialling in the middle of a call."""
        yield from super().get_system_commands(screen)
        yield SystemCommand("Toggle timeline sidebar", "Show or hide the call-state timeline", self.action_toggle_sidebar)
        if self._call_to_export() is not None:
            yield SystemCommand(
                "Export bug report", "Write the call's timeline, errors and server state (Markdown and JSON)",
                self.action_export_timeline,
            )
        if isinstance(screen, PhoneScreen) and screen.view.call_id is not None:
            yield SystemCommand(
                "Copy call id", f"Copy {screen.view.call_id}, so the other party can open it", screen.action_copy_call_id
            )
        if self.simulator is not None:
            yield SystemCommand("Simulator: status", "Where it runs, pid, database, log, live calls", self.action_sim_status)
            yield SystemCommand("Simulator: stop", "Stop the background simulator (calls stay stored)", self.action_sim_stop)
            yield SystemCommand("Simulator: reset", "End every live call on it as abandoned", self.action_sim_reset)
        if self.status.retry_at is not None:
            yield SystemCommand("Retry now", "Sign in or reconnect at once instead of waiting (ctrl+r)", self.action_retry_now)
        session = self.session
        if session is None:
            return
        from softphone.api import CallType

        yield SystemCommand("Network faults…", "Turn a bad network on or off on the simulator", self.action_network_faults)
        yield SystemCommand("Open a call by id", "Show a call by its id, to answer, cancel or hang up", self.ask_open_call)
        if not self.reachable or session.phone.live_call() is not None or session.phone.ringing_calls():
            return  # no dialling while the server cannot be reached, nor in the middle of a call
        yield SystemCommand("Dial by id", "Call a user id in a conversation id (servers without a directory)", self.ask_dial_by_id)
        demo = self.config.demo
        if demo is not None:
            yield SystemCommand(f"Demo: {demo.caller} calls you now", "Get an incoming call, as often as you like", self.ring_me)
        for contact in session.contacts:
            if contact.user_id == session.identity.user_id:
                continue
            for call_type in CallType:
                article = "an" if call_type.value[0] in "aeiou" else "a"
                yield SystemCommand(
                    f"Dial {contact.display_name} ({call_type.value})",
                    f"Start {article} {call_type.value} call to {contact.name} #{contact.user_id}",
                    lambda c=contact.name, t=call_type: self.dial(c, t),
                )


def run_phone(config: AppConfig, log_level: str = DEFAULT_LOG_LEVEL) -> None:
    """Run the phone with its log written to the user log directory.

    After an error that ended it, exit with its non-zero code; the last line says where the log is.
    """
    log_path = app_log_path()
    start_file_log(log_path, log_level)
    app = SoftphoneApp(config)
    app.run()
    if app.return_code:
        print(f"softphone: the log is {log_path}", file=sys.stderr)
        raise SystemExit(app.return_code)
