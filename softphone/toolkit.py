"""The tester's commands: ``call``, one request each (``accept`` ... ``state``), ``watch``, ``bot``,
``token`` and ``config show``. They parse and check options here; the work is in
:mod:`softphone.headless` and :mod:`softphone.bot`, on the call controller.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import click

from softphone.commandline import OneLineCommand, OneLineGroup, UsageProblem, json_option, sign_in_options
from softphone.exit_codes import ExitCode

if TYPE_CHECKING:
    from softphone.settings import SignIn

Main = Callable[[asyncio.Event], Coroutine[Any, Any, ExitCode]]


def finish(main: Main) -> None:
    """Run a command's coroutine and leave with its exit code."""
    from softphone.headless import run

    click.get_current_context().exit(int(run(main)))


def _expectation(_: click.Context, __: click.Parameter, text: str | None) -> Any:
    from softphone.headless import Expectation

    try:
        return Expectation() if text is None else Expectation.parse(text)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@click.command(cls=OneLineCommand)
@click.argument("target")
@click.option("--video", is_flag=True, help="A video call (default audio).")
@click.option(
    "--conversation",
    type=click.IntRange(min=1),
    metavar="ID",
    default=None,
    help="The conversation to call in: with a user id as TARGET, for a server without a directory.",
)
@click.option("--hangup-after", type=click.FloatRange(min=0), metavar="S", help="Hang up S seconds after the answer.")
@click.option("--cancel-after", type=click.FloatRange(min=0), metavar="S", help="Cancel if still ringing after S seconds.")
@click.option(
    "--expect",
    metavar="STATUS[:END_REASON]",
    callback=_expectation,
    help="The outcome that counts as success (exit 0), e.g. rejected:user_reject. Default: answered, then ended.",
)
@json_option
@sign_in_options
def call(
    sign_in: SignIn,
    target: str,
    video: bool,
    conversation: int | None,
    hangup_after: float | None,
    cancel_after: float | None,
    expect: Any,
    as_json: bool,
) -> None:
    """Call TARGET (a name, or a user id with --conversation), follow the call to its end, print its story.

    Exit 0 when it was answered and then ended (or ended as --expect says), 1 when it ended otherwise,
    3 when the server refused, 4 when it cannot be reached. Ctrl-C ends the call (cancel or hang up).
    """
    from softphone.api import CallType
    from softphone.headless import CallPlan, Output, follow_call, open_session, push_stream, target_contact

    output = Output(as_json)

    async def main(stop: asyncio.Event) -> ExitCode:
        session = await open_session(sign_in, "cli", output)
        try:
            contact = target_contact(session, target, conversation)
        except UsageProblem:
            await session.client.aclose()
            raise
        call_type = CallType.VIDEO if video else CallType.AUDIO
        plan = CallPlan(contact, call_type, hangup_after=hangup_after, cancel_after=cancel_after, expect=expect)
        return await follow_call(session, push_stream(session, sign_in), plan, output, stop)

    finish(main)


def _one_request(sign_in: SignIn, as_json: bool, action: str, call_id: int, **fields: Any) -> None:
    """Sign in, send one request (``action`` as the API names it: ``accept``, ``media-state``...), print the answer."""
    from softphone.api import Action
    from softphone.headless import Output, one_request, open_session

    output = Output(as_json)

    async def main(_: asyncio.Event) -> ExitCode:
        session = await open_session(sign_in, "cli", output)
        return await one_request(session, output, Action(action), call_id, **fields)

    finish(main)


def _call_action_command(action: str, summary: str) -> click.Command:
    """``softphone accept|reject|cancel|hangup CALL_ID``: one request, the answer printed."""

    @click.command(action, cls=OneLineCommand, help=f"{summary} One request; the server's answer is printed.")
    @click.argument("call_id", type=click.IntRange(min=1))
    @json_option
    @sign_in_options
    def command(sign_in: SignIn, call_id: int, as_json: bool, reason: str | None = None) -> None:
        _one_request(sign_in, as_json, action, call_id, reason=reason)

    if action != "accept":
        command = click.option("--reason", default=None, help="The end reason to send (default the server's).")(command)
    return command


accept = _call_action_command("accept", "Accept call CALL_ID on this terminal (no channel join).")
reject = _call_action_command("reject", "Reject ringing call CALL_ID.")
cancel = _call_action_command("cancel", "Cancel call CALL_ID before it is answered.")
hangup = _call_action_command("hangup", "Hang up call CALL_ID.")


@click.command(cls=OneLineCommand)
@click.argument("call_id", type=click.IntRange(min=1))
@click.option("--stage", required=True, help="The media stage to report, e.g. joining, joined, reconnecting, left.")
@click.option("--quality", default=None, help="The network quality to report, e.g. good, poor.")
@json_option
@sign_in_options
def media(sign_in: SignIn, call_id: int, stage: str, quality: str | None, as_json: bool) -> None:
    """Report this terminal's media stage (and network quality) for CALL_ID. One request."""
    _one_request(sign_in, as_json, "media-state", call_id, stage=stage, network_quality=quality)


@click.command(cls=OneLineCommand)
@click.argument("call_id", type=click.IntRange(min=1))
@json_option
@sign_in_options
def state(sign_in: SignIn, call_id: int, as_json: bool) -> None:
    """Print the state of CALL_ID as the server holds it. One request."""
    _one_request(sign_in, as_json, "state", call_id)


@click.command(cls=OneLineCommand)
@json_option
@sign_in_options
def watch(sign_in: SignIn, as_json: bool) -> None:
    """Print every change of my calls as it arrives (push, or polling), until Ctrl-C."""
    from softphone.headless import Output, open_session, push_stream
    from softphone.headless import watch as watch_calls

    output = Output(as_json)

    async def main(stop: asyncio.Event) -> ExitCode:
        session = await open_session(sign_in, "cli", output)
        return await watch_calls(session, push_stream(session, sign_in), output, stop)

    finish(main)


def _media_script(_: click.Context, __: click.Parameter, text: str | None) -> Any:
    from softphone.bot import parse_media_script

    try:
        return () if text is None else parse_media_script(text)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@click.command(cls=OneLineCommand)
@click.option("--answer-after", type=click.FloatRange(min=0), metavar="S", help="Answer S seconds after a call rings (default 0).")
@click.option("--reject", "on_reject", is_flag=True, help="Reject every call (user_reject).")
@click.option("--ignore", "on_ignore", is_flag=True, help="Let every call ring.")
@click.option("--busy", "on_busy", is_flag=True, help="Reject every call as busy (callee_busy).")
@click.option("--hangup-after", type=click.FloatRange(min=0), metavar="S", help="Hang up S seconds after the answer.")
@click.option(
    "--media-script",
    metavar="SCRIPT",
    callback=_media_script,
    help="Media reports instead of joining at once: STAGE[:QUALITY]@S or :QUALITY@S items, S counted from "
    "the answer, e.g. joined:good@0,:poor@5,reconnecting@8,joined:good@10.",
)
@click.option("--call", "call_user", metavar="USER", default=None, help="Also place calls to USER.")
@click.option("--every", type=click.FloatRange(min=0, min_open=True), metavar="S", help="With --call: a call every S seconds (default once).")
@click.option("--calls", type=click.IntRange(min=1), metavar="N", help="Stop after N calls (default: until Ctrl-C).")
@sign_in_options
def bot(
    sign_in: SignIn,
    answer_after: float | None,
    on_reject: bool,
    on_ignore: bool,
    on_busy: bool,
    hangup_after: float | None,
    media_script: Any,
    call_user: str | None,
    every: float | None,
    calls: int | None,
) -> None:
    """A headless peer: follows a policy on every incoming call (and places calls), logging what it does."""
    from softphone.bot import Bot, BotPolicy, OnRing
    from softphone.headless import Output, open_session, plural, push_stream

    chosen = {
        OnRing.ANSWER: answer_after is not None,
        OnRing.REJECT: on_reject,
        OnRing.IGNORE: on_ignore,
        OnRing.BUSY: on_busy,
    }
    if sum(chosen.values()) > 1:
        raise UsageProblem("--answer-after, --reject, --ignore and --busy are alternatives: give one.")
    if every is not None and call_user is None:
        raise UsageProblem("--every goes with --call USER.")
    policy = BotPolicy(
        on_ring=next((ring for ring, given in chosen.items() if given), OnRing.ANSWER),
        answer_after=answer_after or 0.0,
        hangup_after=hangup_after,
        media_script=media_script,
        call=call_user,
        every=every,
        calls=calls,
    )
    output = Output(as_json=False)

    async def main(stop: asyncio.Event) -> ExitCode:
        session = await open_session(sign_in, "bot", output)
        peer = Bot(session, policy, say=output.note)
        running = asyncio.create_task(peer.run(push_stream(session, sign_in)))
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if stopping.done():
                for call_id in await session.leave():
                    output.note(f"call {call_id}: ended before leaving.")
        finally:
            for task in (running, stopping):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await session.client.aclose()
        output.note(f"Done after {plural(peer.done, 'call')}.")
        return ExitCode.OK

    finish(main)


@click.command(cls=OneLineCommand)
@click.argument("user")
@sign_in_options(identity=False)
def token(sign_in: SignIn, user: str) -> None:
    """Print a dev-login token for USER, for scripts: TOKEN=$(softphone token alice).

    The simulator's POST /api/dev/login; this is the only place softphone prints a whole token.
    """
    from softphone.api import CallClient, SoftphoneError
    from softphone.exit_codes import exit_code_for
    from softphone.headless import server_url
    from softphone.session import describe_error

    async def main(_: asyncio.Event) -> ExitCode:
        async with CallClient(server_url(sign_in), terminal_id="token") as client:
            try:
                login = await client.login(user)
            except SoftphoneError as error:
                click.echo(f"Signing in as {user}: {describe_error(error)}", err=True)
                return exit_code_for(error)
        click.echo(login.token)
        return ExitCode.OK

    finish(main)


@click.group(cls=OneLineGroup)
def config() -> None:
    """The settings: options over SOFTPHONE_* variables over a profile of the config file."""


@config.command()
@sign_in_options
def show(sign_in: SignIn) -> None:
    """Print the settings these options resolve to, where each came from; tokens redacted."""
    rows = sign_in.shown()
    width = max(len(name) for name, _, _ in rows)
    value_width = max(len(value) for _, value, _ in rows)
    for name, value, origin in rows:
        click.echo(f"{name:<{width}}  {value:<{value_width}}  from {origin}")


COMMANDS = (call, accept, reject, cancel, hangup, media, state, watch, bot, token, config)
