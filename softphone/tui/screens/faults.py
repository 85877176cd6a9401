"""Network faults: turn a bad network on and off mid-demo, through the simulator's ``/api/dev/faults``.

Everyone watching then sees the timeline show the duplicates, the gaps, the resyncs and the recovery.
The dialog reads the faults in force when it opens and replaces them with a preset or a spec typed in
the option's syntax (``push-drop=0.3,push-delay=50ms``); every answer and refusal is shown in words.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from softphone.api import CallClient, FaultSettings, SoftphoneError, is_missing_route
from softphone.session import describe_error
from softphone.tui.compositor import KeepsWideCharacters
from softphone.tui.widgets.footer import KeyFooter


@dataclass(frozen=True)
class Preset:
    label: str
    spec: str


PRESETS = (
    Preset("Bad network: 30% drop/dup/reorder", "push-drop=0.3,push-dup=0.3,push-reorder=0.3"),
    Preset("Slow network: 300ms pushes, 200ms requests", "push-delay=300ms,http-latency=200ms"),
    Preset("Off", ""),
)


def faults_words(settings: FaultSettings) -> str:
    """``push-drop=0.3,push-dup=0.3 (seed 7)``, or ``none`` when the network behaves."""
    return f"{settings.spec() or 'none'} (seed {settings.seed})"


def refusal_words(error: SoftphoneError) -> str:
    if is_missing_route(error):
        return "This server has no network faults to set: only the softphone simulator has them."
    return f"The simulator did not take it: {describe_error(error)}"


class FaultsScreen(KeepsWideCharacters, ModalScreen[None]):
    """Shows the faults in force and replaces them; ``client`` is the signed-in session's."""

    DEFAULT_CSS = """
    FaultsScreen { align: center middle; }
    #faults-dialog { width: 72; height: auto; border: thick $accent; background: $surface; padding: 1 2; }
    #faults-title { text-style: bold; margin-bottom: 1; }
    #faults-now { margin-bottom: 1; }
    #faults-presets { height: auto; }
    #faults-presets Button { width: 100%; margin-bottom: 1; }
    #faults-error { color: $error; margin-top: 1; }
    """

    BINDINGS = [Binding("escape", "dismiss", "Close")]

    @dataclass
    class Answered(Message):
        """The simulator said which faults are in force (after a read or a change)."""

        settings: FaultSettings
        changed: bool

    @dataclass
    class Refused(Message):
        """A read or a change failed; ``text`` says why, for the user."""

        text: str

    def __init__(self, client: CallClient) -> None:
        super().__init__()
        self.client = client

    def compose(self) -> ComposeResult:
        with Vertical(id="faults-dialog"):
            yield Static("Network faults", id="faults-title")
            yield Static("Now: asking the simulator…", id="faults-now")
            with Vertical(id="faults-presets"):
                for index, preset in enumerate(PRESETS):
                    yield Button(preset.label, id=f"preset-{index}", compact=True)
            yield Input(placeholder="or type them: push-drop=0.1,push-delay=100ms (enter)", id="faults-spec")
            yield Static("", id="faults-error")
        yield KeyFooter()

    @property
    def now_line(self) -> Static:
        return self.query_one("#faults-now", Static)

    @property
    def error_line(self) -> Static:
        return self.query_one("#faults-error", Static)

    def on_mount(self) -> None:
        self.query_one("#preset-0", Button).focus()
        self.read_faults()

    @on(Button.Pressed, "#faults-presets Button")
    def preset_pressed(self, event: Button.Pressed) -> None:
        assert event.button.id is not None
        self.apply(PRESETS[int(event.button.id.removeprefix("preset-"))].spec)

    @on(Input.Submitted, "#faults-spec")
    def spec_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.apply(event.value)

    def apply(self, spec: str) -> None:
        """Check the spec here (its error names the bad item), then send it."""
        try:
            settings = FaultSettings.from_spec(spec)
        except ValueError as error:
            self.error_line.update(f"Not a fault spec: {error}")
            return
        self.error_line.update("")
        self.write_faults(settings)

    @work(group="faults", exclusive=True, exit_on_error=False)
    async def read_faults(self) -> None:
        try:
            settings = await self.client.faults()
        except SoftphoneError as error:
            self.post_message(self.Refused(refusal_words(error)))
            return
        self.post_message(self.Answered(settings, changed=False))

    @work(group="faults", exclusive=True, exit_on_error=False)
    async def write_faults(self, settings: FaultSettings) -> None:
        try:
            answer = await self.client.set_faults(settings)
        except SoftphoneError as error:
            self.post_message(self.Refused(refusal_words(error)))
            return
        self.post_message(self.Answered(answer, changed=True))

    @on(Answered)
    def show_faults(self, message: Answered) -> None:
        self.now_line.update(f"Now: {faults_words(message.settings)}")
        if message.changed:
            self.notify(f"Network faults now: {faults_words(message.settings)}", title="Network faults")

    @on(Refused)
    def show_refusal(self, message: Refused) -> None:
        self.error_line.update(message.text)
