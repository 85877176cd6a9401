"""``softphone run``: scenario files against a server, on the shared sign-in options and exit codes.

The command only reads options and files and reports; the engine is ``softphone.scenario``. Heavy
imports wait until the command runs, so ``softphone --help`` stays quick. ``--server``, ``--profile``
and ``--config`` are the shared options (a profile's users and conversations sign the scenarios'
users in); ``--token NAME=USER_ID:TOKEN`` and ``--conversation A,B=ID`` give the same without a file.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from softphone.commandline import CommandFailed, OneLineCommand, UsageProblem, sign_in_options
from softphone.exit_codes import ExitCode

if TYPE_CHECKING:
    from softphone.scenario import Credential, Reporter, Scenario, ScenarioResult, StepResult
    from softphone.settings import SignIn

ResultT = TypeVar("ResultT")


def parse_tokens(_: click.Context, __: click.Parameter, values: tuple[str, ...]) -> dict[str, Credential]:
    """``NAME=USER_ID:TOKEN``: sign NAME in with this token instead of the simulator's dev login."""
    from softphone.scenario import Credential

    given: dict[str, Credential] = {}
    for value in values:
        name, equals, rest = value.partition("=")
        user_id, colon, token = rest.partition(":")
        if not (name and equals and colon and token and user_id.isdigit()):
            raise click.BadParameter(f"{value!r}: expected NAME=USER_ID:TOKEN, e.g. alice=10001:abc123")
        given[name] = Credential(int(user_id), token)
    return given


def parse_conversations(_: click.Context, __: click.Parameter, values: tuple[str, ...]) -> dict[frozenset[str], int]:
    """``A,B=ID``: the conversation users A and B share (names or user ids), for a server with no directory."""
    given: dict[frozenset[str], int] = {}
    for value in values:
        pair, equals, conversation = value.partition("=")
        one, comma, other = pair.partition(",")
        if not (equals and comma and one and other and one != other and conversation.isdigit()):
            raise click.BadParameter(f"{value!r}: expected A,B=ID, e.g. alice,bob=1001")
        given[frozenset({one.strip(), other.strip()})] = int(conversation)
    return given


def credential_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--token`` and ``--conversation``, shared by ``run`` and ``check``."""
    command = click.option(
        "--conversation",
        "conversations",
        multiple=True,
        metavar="A,B=ID",
        callback=parse_conversations,
        help="The conversation users A and B share (names or ids); needed where the server has no directory.",
    )(command)
    return click.option(
        "--token",
        "tokens",
        multiple=True,
        metavar="NAME=USER_ID:TOKEN",
        callback=parse_tokens,
        help="Sign NAME in with this token (a real server) instead of the simulator's dev login.",
    )(command)


def report_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--junit``, ``--json`` and ``--strict``, shared by ``run`` and ``check``."""
    for option in reversed(
        (
            click.option(
                "--junit",
                type=click.Path(dir_okay=False, writable=True, path_type=Path),
                default=None,
                help="Also write a JUnit XML report here.",
            ),
            click.option("--json", "as_json", is_flag=True, help="Print JSON Lines instead of sentences."),
            click.option(
                "--strict",
                is_flag=True,
                help="Fail on what SIMULATOR.md decides too (exact +1 versions, error order, ...), not only warn.",
            ),
        )
    ):
        command = option(command)
    return command


def run_engine(work: Coroutine[Any, Any, ResultT]) -> ResultT:
    """Run the engine; a server that cannot be reached or refuses to sign in ends the command with its code."""
    from softphone.scenario import SignInRefused, Unreachable

    try:
        return asyncio.run(work)
    except Unreachable as error:
        raise CommandFailed(f"cannot reach the server: {error}", ExitCode.UNREACHABLE) from None
    except SignInRefused as error:
        raise CommandFailed(f"the server refused: {error}", ExitCode.SERVER_REFUSED) from None


def profile_credentials(sign_in: SignIn) -> dict[str, Credential]:
    """The profile's users that have a token, by their names; one without a user id cannot say who it is."""
    from softphone.scenario import Credential

    known: dict[str, Credential] = {}
    for alias, user in sign_in.users.items():
        if user.token is None:
            continue  # signed in by the simulator's dev login, as the profile means
        if user.user_id is None:
            raise UsageProblem(f"profile {sign_in.profile}, user {alias}: a token needs its user_id here")
        known[alias] = Credential(user.user_id, user.token, user.terminal_id, alias)
    return known


def profile_conversations(sign_in: SignIn) -> dict[frozenset[str], int]:
    from softphone.settings import pair_of

    return {pair_of(key): conversation for key, conversation in sign_in.conversations.items()}


class Collected:
    """A reporter that keeps every result and passes each event on to the reporters that print."""

    def __init__(self, *reporters: Reporter) -> None:
        self.reporters = reporters
        self.results: list[ScenarioResult] = []

    def scenario_started(self, scenario: Scenario, source: str) -> None:
        for reporter in self.reporters:
            reporter.scenario_started(scenario, source)

    def step_done(self, scenario: Scenario, step: StepResult) -> None:
        for reporter in self.reporters:
            reporter.step_done(scenario, step)

    def scenario_done(self, result: ScenarioResult) -> None:
        self.results.append(result)
        for reporter in self.reporters:
            reporter.scenario_done(result)


@click.command("run", cls=OneLineCommand)
@click.argument("scenarios", nargs=-1, metavar="SCENARIO...")
@click.option("--list", "list_library", is_flag=True, help="List the bundled scenarios and exit.")
@click.option(
    "--poll/--no-poll", default=None, help="Follow calls by polling instead of the push channel (default: the profile's)."
)
@credential_options
@report_options
@sign_in_options(identity=False)
def run(
    scenarios: tuple[str, ...],
    sign_in: SignIn,
    list_library: bool,
    poll: bool | None,
    tokens: dict[str, Credential],
    conversations: dict[frozenset[str], int],
    junit: Path | None,
    as_json: bool,
    strict: bool,
) -> None:
    """Run scenario files: parties, their steps and what each step expects (see the README).

    SCENARIO is a TOML file, or the name of a bundled one (softphone run --list). The scenarios' users
    sign in with the profile's tokens, --token, or the simulator's dev login. Exit 0 when every
    expectation held, 1 when one failed, 2 for a bad option or file, 3 when the server refused to
    sign a user in, 4 when it cannot be reached.
    """
    from softphone.records import SummaryRecord
    from softphone.scenario import (
        Credentials,
        HumanReport,
        JsonLinesReport,
        ScenarioFileError,
        Target,
        library,
        load_all,
        load_scenario,
        run_scenarios,
        totals,
        totals_words,
        write_junit,
    )

    if list_library:
        for path in library():
            click.echo(f"{path.stem:<32} {load_scenario(path).description}")
        return
    if not scenarios:
        raise UsageProblem("name at least one scenario file (or a bundled scenario: softphone run --list)")
    try:
        loaded = load_all(list(scenarios))
    except ScenarioFileError as error:
        raise UsageProblem(str(error)) from None
    credentials = Credentials(
        users={**profile_credentials(sign_in), **tokens},
        conversations={**profile_conversations(sign_in), **conversations},
    )
    if sign_in.server is None:
        from softphone.launch import ensure_local_simulator

        server = ensure_local_simulator()
    else:
        server = sign_in.server
    target = Target(server, credentials, poll=sign_in.poll if poll is None else poll)
    json_report = JsonLinesReport(sys.stdout) if as_json else None
    collected = Collected(json_report or HumanReport(click.echo))
    try:
        run_engine(run_scenarios(loaded, target, strict=strict, reporter=collected))
    finally:
        if junit is not None:
            write_junit(junit, "softphone run", collected.results, classname=lambda _: "softphone.run")
    results = collected.results
    if json_report is not None:
        json_report.emit(SummaryRecord(at=datetime.now(UTC), scope="run", **totals(results)))
    else:
        click.echo(totals_words(results))
    click.get_current_context().exit(ExitCode.EXPECTATION_FAILED if totals(results)["fail"] else ExitCode.OK)
