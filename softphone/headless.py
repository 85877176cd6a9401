"""Headless commands on the call controller: place and follow a call, one request, watch my calls.

Each stands on :class:`~softphone.session.Session`, as the TUI does, and prints what happened either
as short sentences or as JSON Lines (:mod:`softphone.records`) through one :class:`Output`. Each
returns its :class:`~softphone.exit_codes.ExitCode`; :func:`run` runs one with Ctrl-C as a request to
finish cleanly (hang up, then stop), and a second Ctrl-C as "stop now".
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from softphone.api import (
    IN_PROGRESS_STATUSES,
    TERMINAL_STATUSES,
    AcceptData,
    Action,
    Backoff,
    CallState,
    CallType,
    ConnectionChanged,
    DirectoryUser,
    MediaStateData,
    SoftphoneError,
    StreamError,
    TransportError,
)
from softphone.commandline import CommandFailed, UsageProblem
from softphone.core import CallMachine, Marker, Role, Source
from softphone.exit_codes import ExitCode, exit_code_for
from softphone.records import ErrorRecord, EventRecord, SummaryRecord, timeline_records
from softphone.session import CallsChanged, Clock, RequestFailed, Session, describe_error, new_terminal_id, utc_now
from softphone.settings import SignIn

if TYPE_CHECKING:
    from softphone.api import PushStream

INTERRUPTED = 130  # the shell's code for a process stopped by Ctrl-C
# A cancel or hangup refused because the call moved on (answered as we cancelled) is tried again,
# after the controller's resync and a pause.
END_ATTEMPTS = 3
END_BACKOFF = Backoff(initial=0.2, maximum=1.0)
ENDING_ANSWER_WAIT = 10.0


# --------------------------------------------------------------------------- running a command


def run(main: Callable[[asyncio.Event], Coroutine[Any, Any, ExitCode]]) -> ExitCode:
    """Run ``main(stop)``: the first Ctrl-C (or SIGTERM) sets ``stop``, a second one ends it at once (130)."""

    async def guarded() -> ExitCode:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()

        def interrupted() -> None:
            if stop.is_set() and task is not None:
                task.cancel()
            stop.set()

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, interrupted)
        return await main(stop)

    try:
        return asyncio.run(guarded())
    except asyncio.CancelledError:
        raise click.exceptions.Exit(INTERRUPTED) from None


def server_url(sign_in: SignIn) -> str:
    """The server to use: the one given, or the shared local simulator (started if nothing answers)."""
    if sign_in.server is not None:
        return sign_in.server
    from softphone.launch import ensure_local_simulator

    try:
        return ensure_local_simulator()
    except click.ClickException as failure:
        raise CommandFailed(failure.format_message(), ExitCode.UNREACHABLE) from None


async def open_session(sign_in: SignIn, kind: str, output: Output) -> Session:
    """Sign in as ``sign_in`` says, on a terminal id of ``kind`` unless one was given.

    A refusal or an unreachable server is printed through ``output`` and ends the command with exit
    code 3 or 4; no identity at all is a usage error.
    """
    from softphone.api import CallClient

    if not sign_in.has_identity:
        raise UsageProblem("who are you? Give --user NAME or --token TOKEN (or SOFTPHONE_TOKEN).")
    terminal_id = sign_in.terminal_id or new_terminal_id(kind)
    client = CallClient(server_url(sign_in), terminal_id=terminal_id, token=sign_in.token)
    try:
        return await Session.sign_in(
            client,
            user=None if sign_in.token else sign_in.user,
            user_id=sign_in.user_id,
            known_contacts=sign_in.contacts(),
            clock=output.clock,
        )
    except SoftphoneError as error:
        await client.aclose()
        who = sign_in.user or "the token's user"
        record = ErrorRecord.from_error(error, output.clock(), action="sign-in")
        output.error(record, f"Signing in as {who}: {describe_error(error)}")
        raise click.exceptions.Exit(exit_code_for(error)) from None


def push_stream(session: Session, sign_in: SignIn) -> PushStream:
    """The controller's source of news: push where the server has it, or polling (every second) when asked."""
    from softphone.api import PushStream

    return PushStream(session.client, mode="poll" if sign_in.poll else "auto", poll_interval=1.0)


# --------------------------------------------------------------------------- output


class Output:
    """Where a command's lines go: sentences on stdout, or JSON Lines on stdout with ``--json``.

    Errors are sentences on stderr (JSON: error lines on stdout); notes (the connection, what a bot
    decides) are for people, so with ``--json`` they go to stderr.
    """

    def __init__(self, as_json: bool, clock: Clock = utc_now) -> None:
        self.as_json = as_json
        self.clock = clock

    def event(self, record: EventRecord, words: str) -> None:
        click.echo(record.line() if self.as_json else words)

    def error(self, record: ErrorRecord, words: str) -> None:
        if self.as_json:
            click.echo(record.line())
        elif words:
            click.echo(words, err=True)

    def note(self, words: str) -> None:
        click.echo(f"{clock_text(self.clock())}  {words}", err=self.as_json)

    def summary(self, record: SummaryRecord, words: str) -> None:
        click.echo(record.line() if self.as_json else words)


def clock_text(moment: datetime) -> str:
    return moment.astimezone().strftime("%H:%M:%S")


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def talk_time(seconds: timedelta) -> str:
    whole = int(seconds.total_seconds())
    return f"{whole // 60}:{whole % 60:02d}"


_ACTION_WORDS = {
    Action.ACCEPT.value: "Answering",
    Action.REJECT.value: "Declining",
    Action.CANCEL.value: "Cancelling",
    Action.HANGUP.value: "Hanging up",
    Action.REPORT_MEDIA.value: "Reporting media",
}


def sentence(machine: CallMachine, record: EventRecord, before: str | None) -> str:
    """What an event means for this terminal, in a few words; ``before`` is the status known until then."""
    if record.source is Source.LOCAL:
        words = _ACTION_WORDS.get(record.action or "", record.action or "")
        return f"{words}: {record.detail}." if record.detail else f"{words}."
    words = _state_sentence(machine, record.status, before)
    return f"{words} (A change was missed: fetching the whole state.)" if record.marker == Marker.GAP else words


def _state_sentence(machine: CallMachine, status: str | None, before: str | None) -> str:
    peer = machine.peer_name
    if status in TERMINAL_STATUSES:
        return machine.end_description() + "."
    if status == "calling":
        return f"Calling {peer}…" if machine.role is Role.CALLER else f"{peer} is calling."
    if status == before:
        return "Media changed."  # the same status at a newer version: a media report
    if status == "accepted":
        if machine.role is Role.CALLER:
            return f"{peer} answered."
        return "You answered." if machine.accepted_here else "Answered on another terminal."
    if status == "ongoing":
        return f"In call with {peer}."
    return f"Status {status}."


def story_line(machine: CallMachine, record: EventRecord, before: str | None) -> str:
    """``10:05:03  call 17  v2 accepted  push      Bob answered.``"""
    state = f"v{record.version} {record.status}" if record.source is not Source.LOCAL else "→"
    return (
        f"{clock_text(record.at)}  call {machine.call_id}  {state:<13} {record.source.value:<8}  "
        f"{sentence(machine, record, before)}"
    )


class CallPrinter:
    """Prints each call's new timeline entries once, as story lines or event records."""

    def __init__(self, session: Session, output: Output) -> None:
        self.session = session
        self.output = output
        self.printed: dict[int, int] = {}
        self.status: dict[int, str | None] = {}
        self.count = 0

    def print_new(self, call_id: int) -> None:
        machine = self.session.phone.get(call_id)
        if machine is None:
            return
        for record in timeline_records(machine, self.printed.get(call_id, 0)):
            if isinstance(record, ErrorRecord):
                continue  # told by the RequestFailed that came with it
            quiet = record.marker in (Marker.DUPLICATE.value, Marker.STALE.value)
            before = self.status.get(call_id)
            if record.source is not Source.LOCAL and not quiet:
                self.status[call_id] = record.status
            if quiet and not self.output.as_json:
                continue
            self.count += 1
            self.output.event(record, story_line(machine, record, before))
        self.printed[call_id] = len(machine.timeline)

    def failed(self, event: RequestFailed) -> None:
        error = event.error
        action = event.action.value if event.action is not None else "start"
        record = (
            ErrorRecord.from_error(error, self.output.clock(), call_id=event.call_id, action=action)
            if error is not None
            else ErrorRecord(at=self.output.clock(), code=None, message=event.text, action=action)
        )
        self.output.error(record, f"{clock_text(record.at)}  {event.text}")

    def stream_error(self, event: StreamError) -> None:
        record = ErrorRecord.from_error(event.error, self.output.clock())
        self.output.error(record, f"{clock_text(record.at)}  {describe_error(event.error)}")

    def connection(self, event: ConnectionChanged) -> None:
        state = event.state.capitalize()
        self.output.note(f"{state}: {event.detail}." if event.detail else f"{state}.")


# --------------------------------------------------------------------------- softphone call


@dataclass(frozen=True)
class Expectation:
    """How a call must end: ``STATUS[:END_REASON]``, or by default answered and then ended."""

    status: str | None = None
    end_reason: str | None = None

    @classmethod
    def parse(cls, text: str) -> Expectation:
        status, _, reason = text.partition(":")
        known = sorted(TERMINAL_STATUSES)
        if status not in known:
            raise ValueError(f"{text!r}: expected STATUS[:END_REASON] with STATUS one of {', '.join(known)}")
        return cls(status, reason or None)

    def met_by(self, machine: CallMachine) -> bool:
        if self.status is None:
            return answered(machine) and machine.status == "ended"
        return machine.status == self.status and self.end_reason in (None, machine.facts.end_reason)

    def __str__(self) -> str:
        if self.status is None:
            return "answered, then ended"
        return self.status + (f":{self.end_reason}" if self.end_reason else "")


def answered(machine: CallMachine) -> bool:
    """The call was accepted at some point (its state said so, or a status this terminal saw did)."""
    seen = any(entry.status in IN_PROGRESS_STATUSES for entry in machine.timeline if entry.source is not Source.LOCAL)
    return machine.facts.accepted_at is not None or seen


@dataclass(frozen=True)
class CallPlan:
    """What ``softphone call`` was asked to do."""

    target: DirectoryUser
    call_type: CallType = CallType.AUDIO
    hangup_after: float | None = None
    cancel_after: float | None = None
    expect: Expectation = Expectation()


def target_contact(session: Session, target: str, conversation: int | None) -> DirectoryUser:
    """Whom to call: a contact by name (directory or profile), or a user id in ``conversation``."""
    known = session.contact(target)
    if conversation is None:
        if known is None:
            raise UsageProblem(
                f"no contact named {target!r}: on a server without a directory, give a user id and --conversation ID"
            )
        return known
    if known is not None:
        return known.model_copy(update={"conversation_id": conversation})
    if not target.isdigit() or int(target) <= 0:
        raise UsageProblem(f"{target!r} is neither a known name nor a user id")
    user_id = int(target)
    return DirectoryUser(
        user_id=user_id, name=target, display_name=session.display_name_of(user_id), conversation_id=conversation
    )


async def follow_call(
    session: Session, stream: PushStream, plan: CallPlan, output: Output, stop: asyncio.Event
) -> ExitCode:
    """Place the call, print its story as it unfolds, end it as planned; the exit code of its outcome.

    ``stop`` (Ctrl-C) ends the call as the user would (cancel while ringing, else hang up) and the
    outcome decides the exit code as usual.
    """
    printer = CallPrinter(session, output)
    tasks: set[asyncio.Task[None]] = set()
    endings: set[asyncio.Task[None]] = set()

    def spawn(work: Coroutine[Any, Any, None], into: set[asyncio.Task[None]] = tasks) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        into.add(task)
        task.add_done_callback(into.discard)
        return task

    async def place() -> None:
        machine = await session.dial_contact(plan.target, plan.call_type)
        if machine is None:
            return
        if plan.cancel_after is not None:
            spawn(end_after(machine, plan.cancel_after, only_ringing=True))
        await stop.wait()
        await spawn(end_call(session, machine), endings)

    async def end_after(machine: CallMachine, seconds: float, *, only_ringing: bool = False) -> None:
        await asyncio.sleep(seconds)
        if not only_ringing or machine.is_ringing:
            await spawn(end_call(session, machine), endings)

    hangup_armed = False
    try:
        spawn(place())
        async with contextlib.aclosing(session.events(stream)) as events:
            async for event in events:
                if isinstance(event, RequestFailed):
                    printer.failed(event)
                    if event.action is None:
                        return ExitCode.USAGE if event.error is None else exit_code_for(event.error)
                    if isinstance(event.error, TransportError):
                        return ExitCode.UNREACHABLE
                elif isinstance(event, StreamError):
                    printer.stream_error(event)
                elif isinstance(event, ConnectionChanged):
                    printer.connection(event)
                elif isinstance(event, CallsChanged):
                    for machine in (session.phone.get(call_id) for call_id in event.call_ids):
                        if machine is None or not machine.placed_here:
                            continue
                        if machine.is_over and endings:
                            # Our own cancel or hangup is still being answered: its answer says who ended it.
                            await asyncio.wait(set(endings), timeout=ENDING_ANSWER_WAIT)
                        printer.print_new(machine.call_id)
                        if plan.hangup_after is not None and not hangup_armed and machine.is_in_progress:
                            hangup_armed = True
                            spawn(end_after(machine, plan.hangup_after))
                        if machine.is_over:
                            return summarise(machine, plan.expect, output)
        return ExitCode.UNREACHABLE
    finally:
        for task in tasks | endings:
            task.cancel()
        await session.client.aclose()


async def end_call(session: Session, machine: CallMachine) -> None:
    """End the call as the core allows (cancel while it rings, hang up once answered); again, after a
    pause, if the call moved on meanwhile (answered as we cancelled)."""
    for attempt in range(END_ATTEMPTS):
        done = await session.end(machine)
        if done is None or done or machine.is_over:
            return
        await asyncio.sleep(END_BACKOFF.delay(attempt, random.Random()))


def summarise(machine: CallMachine, expect: Expectation, output: Output) -> ExitCode:
    met = expect.met_by(machine)
    code = ExitCode.OK if met else ExitCode.EXPECTATION_FAILED
    talked = machine.duration(output.clock())
    record = SummaryRecord(
        at=output.clock(),
        call_id=machine.call_id,
        status=machine.status,
        end_reason=machine.facts.end_reason,
        version=machine.version,
        answered=answered(machine),
        talk_seconds=round(talked.total_seconds(), 3) if talked is not None else None,
        expected=str(expect),
        met=met,
        exit_code=int(code),
    )
    reason = f" ({machine.facts.end_reason})" if machine.facts.end_reason else ""
    words = f"Call {machine.call_id} {machine.status}{reason}: {machine.end_description()}."
    if talked is not None:
        words += f" Talk time {talk_time(talked)}."
    words += " As expected." if met else f" Expected {expect}."
    output.summary(record, words)
    return code


# --------------------------------------------------------------------------- one request


def describe_answer(session: Session, action: Action, answer: object) -> str:
    """The server's answer to one request, in a sentence or two."""
    if isinstance(answer, CallState):
        name = session.display_name_of
        words = (
            f"Call {answer.call_id}: {answer.status}, v{answer.version}, {answer.call_type} call from "
            f"{name(answer.caller_user_id)} to {name(answer.callee_user_id)}."
        )
        moments = [("accepted", answer.accepted_at), ("started", answer.started_at), ("ended", answer.ended_at)]
        told = [f"{label} {clock_text(moment)}" for label, moment in moments if moment is not None]
        if told:
            words += " " + ", ".join(told).capitalize() + "."
        if answer.end_reason:
            words += f" End reason: {answer.end_reason}."
        return words
    call_id, status, version = (getattr(answer, name) for name in ("call_id", "status", "version"))
    words = f"Call {call_id}: {status}, v{version}."
    if isinstance(answer, AcceptData):
        words += f" Channel {answer.channel_name}, uid {answer.callee_uid}."
    elif isinstance(answer, MediaStateData) and answer.started_at is not None:
        words += f" Started {clock_text(answer.started_at)}."
    elif getattr(answer, "end_reason", None):
        words += f" End reason: {answer.end_reason}."
    return words


async def one_request(
    session: Session,
    output: Output,
    action: Action,
    call_id: int,
    *,
    reason: str | None = None,
    stage: str = "",
    network_quality: str | None = None,
) -> ExitCode:
    """Send exactly one request; print the server's answer, or its refusal (exit 3) or silence (exit 4)."""
    try:
        answer = await session.send(
            action, call_id, reason=reason, stage=stage, network_quality=network_quality
        )
    except SoftphoneError as error:
        record = ErrorRecord.from_error(error, output.clock(), call_id=call_id, action=action.value)
        output.error(record, f"{action.value} {call_id}: {describe_error(error)}")
        return exit_code_for(error)
    finally:
        await session.client.aclose()
    output.event(EventRecord.from_data(answer, output.clock()), describe_answer(session, action, answer))
    return ExitCode.OK


# --------------------------------------------------------------------------- softphone watch


async def watch(session: Session, stream: PushStream, output: Output, stop: asyncio.Event) -> ExitCode:
    """Print every change of my calls as it arrives, until ``stop``; then a summary."""
    printer = CallPrinter(session, output)
    me = session.identity
    output.note(f"Watching the calls of {me.display_name} (#{me.user_id}) as terminal {me.terminal_id}.")

    async def relay() -> None:
        async with contextlib.aclosing(session.events(stream)) as events:
            async for event in events:
                if isinstance(event, CallsChanged):
                    for call_id in event.call_ids:
                        printer.print_new(call_id)
                elif isinstance(event, RequestFailed):
                    printer.failed(event)
                elif isinstance(event, StreamError):
                    printer.stream_error(event)
                elif isinstance(event, ConnectionChanged):
                    printer.connection(event)

    relaying = asyncio.create_task(relay())
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({relaying, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (relaying, stopping):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task  # a bug that stopped the stream is raised here
        await session.client.aclose()
    words = f"Watched {plural(len(printer.printed), 'call')}, {plural(printer.count, 'event')}."
    output.summary(SummaryRecord(at=output.clock(), calls=len(printer.printed), events=printer.count), words)
    return ExitCode.OK
