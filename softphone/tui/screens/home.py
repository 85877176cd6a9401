"""Home: who I am, the contacts I can dial, and my recent calls."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from softphone.api import CallType
from softphone.core import Role
from softphone.session import Session
from softphone.tui.screens.base import FullScreen
from softphone.tui.widgets.formatting import clock_text

RECENT_CALLS_SHOWN = 8


NO_DIRECTORY_HINT = "This server has no directory: i dials by ids, o opens a call by its id."


class HomeScreen(FullScreen):
    BINDINGS = [
        Binding("enter", "dial('audio')", "Audio call"),
        Binding("v", "dial('video')", "Video call"),
        Binding("i", "dial_by_id", "Dial by id"),
        Binding("o", "open_call", "Open call"),
    ]
    SERVER_ACTIONS = frozenset({"dial", "dial_by_id", "open_call"})

    def compose_main(self) -> ComposeResult:
        yield Static("Contacts", classes="section-title")
        self.contacts = OptionList(id="contacts")
        self.recent = Static(id="recent")
        self.hint = Static("enter audio call · v video call · i dial by id · o open a call", classes="hint")
        yield self.contacts
        yield self.hint
        yield Static("Recent calls", classes="section-title")
        yield self.recent

    def render_main(self, session: Session) -> None:
        contacts = self.contacts
        wanted = [c for c in session.contacts if c.user_id != session.identity.user_id]
        if [option.id for option in contacts.options] != [str(c.user_id) for c in wanted]:
            highlighted = contacts.highlighted
            width = max(len(c.display_name) for c in wanted) if wanted else 0
            contacts.set_options(
                Option(
                    Text.assemble((c.display_name.ljust(width), "bold"), f"  {c.name} #{c.user_id}"),
                    id=str(c.user_id),
                )
                for c in wanted
            )
            contacts.highlighted = highlighted if highlighted is not None else (0 if wanted else None)
        self.contacts.display = session.offers.directory
        if not session.offers.directory:
            self.hint.update(NO_DIRECTORY_HINT)
        self.recent.update(self._recent(session))

    def _recent(self, session: Session) -> Text:
        calls = session.phone.history()[:RECENT_CALLS_SHOWN]
        if not calls:
            return Text("No calls yet.", style="dim")
        text = Text()
        now = session.clock()
        for machine in calls:
            arrow = "↗" if machine.role is Role.CALLER else "↙"
            text.append(f"{arrow} {machine.peer_name:<10} ", style="bold")
            text.append(f"{machine.facts.call_type or ''} ", style="dim")
            text.append(machine.headline())
            duration = machine.duration(now)
            if duration is not None:
                text.append(f"  {clock_text(duration)}", style="dim")
            text.append("\n")
        return text

    @on(OptionList.OptionSelected, "#contacts")
    def dial_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_dial(CallType.AUDIO.value)

    def action_dial(self, call_type: str) -> None:
        contacts = self.contacts
        if contacts.highlighted is None:
            self.notify("No contact to call.", severity="warning")
            return
        option = contacts.get_option_at_index(contacts.highlighted)
        assert option.id is not None
        self.host.dial(option.id, CallType(call_type))

    def action_dial_by_id(self) -> None:
        self.host.ask_dial_by_id()

    def action_open_call(self) -> None:
        self.host.ask_open_call()
