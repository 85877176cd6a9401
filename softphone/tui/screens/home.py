"""Home: who I am, the contacts I can dial, my recent calls, and in the demo what each simulated person does."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from softphone.tui.screens.base import FullScreen
from softphone.tui.widgets.formatting import clock_text, local_day_and_time

if TYPE_CHECKING:
    from softphone.core import CallMachine
    from softphone.session import Session

RECENT_CALLS_SHOWN = 8
NO_DIRECTORY_HINT = "This server has no directory: i dials by ids, o opens a call by its id."


class ContactList(OptionList):
    """The contacts; Enter calls the highlighted one (audio), as the footer says."""

    BINDINGS = [Binding("enter", "select", "Audio call")]


def recent_line(machine: CallMachine, now: datetime) -> Text:
    """``↗ Bob     05 Jul 10:05  audio  You hung up  01:23``: one line, cut short at the end if it must be."""
    from softphone.core import Role  # loaded by then: there are calls only once signed in

    text = Text(no_wrap=True, overflow="ellipsis")
    text.append("↗ " if machine.role is Role.CALLER else "↙ ", style="bold")
    text.append(f"{machine.peer_name:<7} ", style="bold")
    placed = machine.placed_at
    text.append(f"{local_day_and_time(placed) if placed else '':<12}  ", style="dim")
    text.append(f"{machine.facts.call_type or '':<5}  ", style="dim")
    text.append(machine.headline())
    duration = machine.duration(now)
    if duration is not None:
        text.append(f"  {clock_text(duration)}", style="dim")
    return text


class HomeScreen(FullScreen):
    BINDINGS = [
        Binding("v", "dial('video')", "Video call"),
        Binding("i", "dial_by_id", "Dial by id"),
        Binding("o", "open_call", "Open call"),
        Binding("g", "ring_me", "Get a call"),
    ]
    SERVER_ACTIONS = frozenset({"dial", "dial_by_id", "open_call", "ring_me"})

    def compose_main(self) -> ComposeResult:
        self.demo_banner = Static(id="demo-banner")
        self.contacts = ContactList(id="contacts")
        self.recent = Static(id="recent")
        self.hint = Static(NO_DIRECTORY_HINT, classes="hint")
        yield self.demo_banner
        yield Static("Contacts", classes="section-title")
        yield self.contacts
        yield self.hint
        yield Static("Recent calls", classes="section-title")
        yield self.recent

    def on_mount(self) -> None:
        demo = self.host.demo
        self.demo_banner.display = demo is not None
        if demo is not None:
            self.demo_banner.update(demo.banner)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Dial only when signed in and not already in a call (greyed while the server is away);
        "get a call" only in the demo."""
        offered = super().check_action(action, parameters)
        if action in ("dial", "dial_by_id"):
            return offered if self.can_dial() else False
        if action == "ring_me":
            return offered if self.host.demo is not None and self.can_dial() else False
        return offered

    def can_dial(self) -> bool:
        """Signed in, not in a call, and not already placing one."""
        session = self.host.session
        return session is not None and session.phone.live_call() is None and not session.dialing

    def render_main(self, session: Session) -> None:
        contacts = self.contacts
        wanted = [c for c in session.contacts if c.user_id != session.identity.user_id]
        if [option.id for option in contacts.options] != [str(c.user_id) for c in wanted]:
            highlighted = contacts.highlighted
            roles = self.host.demo.roles if self.host.demo is not None else {}
            names = [c.display_name for c in wanted]
            handles = [f"{c.name} #{c.user_id}" for c in wanted]
            name_width = max(map(len, names), default=0)
            contacts.set_options(
                Option(
                    # In the demo, what each simulated person does matters more than their handle.
                    Text.assemble((name.ljust(name_width), "bold"), ("  " + roles[c.name], "italic yellow"))
                    if c.name in roles
                    else Text.assemble((name.ljust(name_width), "bold"), f"  {handle}"),
                    id=str(c.user_id),
                )
                for c, name, handle in zip(wanted, names, handles, strict=True)
            )
            contacts.highlighted = highlighted if highlighted is not None else (0 if wanted else None)
        self.contacts.display = session.offers.directory
        self.hint.display = not session.offers.directory  # else the footer names every key
        self.recent.update(self._recent(session))

    def _recent(self, session: Session) -> Text:
        calls = session.phone.history()[:RECENT_CALLS_SHOWN]
        if not calls:
            return Text("No calls yet.", style="dim")
        now = session.clock()
        return Text("\n", no_wrap=True, overflow="ellipsis").join(recent_line(machine, now) for machine in calls)

    @on(OptionList.OptionSelected, "#contacts")
    def dial_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_dial("audio")

    def action_dial(self, call_type: str) -> None:
        from softphone.api import CallType  # loaded by then: dialling is offered only once signed in

        if not self.check_action("dial", ()):
            return  # Enter on the contacts comes here without the footer's check
        contacts = self.contacts
        if contacts.highlighted is None:
            self.notify("No contact to call.", severity="warning")
            return
        option = contacts.get_option_at_index(contacts.highlighted)
        assert option.id is not None
        self.host.dial(option.id, CallType(call_type))

    def action_ring_me(self) -> None:
        self.host.ring_me()

    def action_dial_by_id(self) -> None:
        self.host.ask_dial_by_id()

    def action_open_call(self) -> None:
        self.host.ask_open_call()
