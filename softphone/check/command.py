"""``softphone check``: options, the private simulator when no server is named, the table and exit code."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING

import click

from softphone.commandline import OneLineCommand, UsageProblem, sign_in_options
from softphone.exit_codes import ExitCode
from softphone.scenario.command import (
    Collected,
    credential_options,
    profile_conversations,
    profile_credentials,
    report_options,
    run_engine,
)

if TYPE_CHECKING:
    from softphone.scenario import Credential, Scenario, ScenarioResult, StepResult
    from softphone.settings import SignIn


class CheckTable:
    """One row per case as it finishes: verdict, name, and what differed."""

    def __init__(self, out: Callable[[str], None]) -> None:
        self.out = out

    def scenario_started(self, scenario: Scenario, source: str) -> None:
        """Nothing: a case's row is printed once it has a verdict."""

    def step_done(self, scenario: Scenario, step: StepResult) -> None:
        """Nothing: steps show in --json and --junit, the table keeps to one row a case."""

    def scenario_done(self, result: ScenarioResult) -> None:
        from softphone.check import detail, verdict

        self.out(f"{verdict(result).value.upper():<5} {result.scenario.name:<28} {detail(result)}".rstrip())


class CheckJson:
    """One JSON line per case, with every failure and warning."""

    def __init__(self) -> None:
        from softphone.scenario import JsonLinesReport

        self.lines = JsonLinesReport(sys.stdout)

    def scenario_started(self, scenario: Scenario, source: str) -> None:
        """Nothing: the case's line comes with its verdict."""

    def step_done(self, scenario: Scenario, step: StepResult) -> None:
        """Nothing: one line a case."""

    def scenario_done(self, result: ScenarioResult) -> None:
        from softphone.check import verdict
        from softphone.scenario import scenario_record

        self.lines.emit(scenario_record(result, scope="case", verdict=verdict(result).value))


@click.command("check", cls=OneLineCommand)
@click.option(
    "--user",
    "users",
    multiple=True,
    metavar="NAME",
    help="Up to three users, playing the caller (alice), the callee (bob) and a stranger (carol) in that "
    "order: a profile's user, or one the simulator's dev login signs in. Default: the profile's first "
    "three users, or alice, bob and carol.",
)
@credential_options
@click.option(
    "--case",
    "patterns",
    multiple=True,
    metavar="GLOB",
    help="Run only the cases whose names match (e.g. 'accept-*'); repeatable. Default: every case.",
)
@report_options
@sign_in_options(identity=False)
def check(
    sign_in: SignIn,
    users: tuple[str, ...],
    tokens: dict[str, Credential],
    conversations: dict[frozenset[str], int],
    patterns: tuple[str, ...],
    junit: Path | None,
    as_json: bool,
    strict: bool,
) -> None:
    """Check a server against the documented call API: every endpoint, transition and error code.

    A difference from REFERENCE.md fails; a difference from a SIMULATOR.md decision (exact +1
    versions, which error comes first, idempotency, extension routes) warns, and fails with --strict.
    Cases that need what the server lacks (push, directory, a third user) are skipped, saying why.
    Without --server (or a profile's server) it checks a private simulator of its own. For a real
    server, a profile names the users and conversations; or give --token alice=USER_ID:TOKEN
    --token bob=... [--token carol=...] and --conversation alice,bob=ID (and alice,carol, bob,carol).
    Exit 0 when every case passed, 1 when one failed.
    """
    from softphone.check import PRIVATE_RING_TIMEOUT, ROLES, check_cases, role_credentials, verdict
    from softphone.launch import private_simulator
    from softphone.records import SummaryRecord
    from softphone.scenario import Credentials, Target, run_scenarios, totals, write_junit

    strangers = sorted(set(tokens) - set(ROLES))
    if strangers:
        raise UsageProblem(f"--token {strangers[0]}=...: the check's users are {', '.join(ROLES)}")
    if len(users) + len(tokens) > len(ROLES):
        raise UsageProblem(f"--user and --token name more than {len(ROLES)} users (a caller, a callee and a stranger)")
    cases = [case for case in check_cases() if not patterns or any(fnmatch(case[0].name, p) for p in patterns)]
    if not cases:
        raise UsageProblem(f"--case: no case matches {', '.join(patterns)}")
    known = profile_credentials(sign_in)
    names = list(users) or ([] if tokens else list(sign_in.users)[: len(ROLES)] or list(ROLES))
    given = Credentials(users=tokens, conversations={**profile_conversations(sign_in), **conversations})
    credentials = role_credentials(names, known, given)
    json_report = CheckJson() if as_json else None
    collected = Collected(json_report or CheckTable(click.echo))

    def check_at(url: str, what: str) -> list[ScenarioResult]:
        if json_report is None:
            click.echo(f"Checking {what} against REFERENCE.md{' (strict: SIMULATOR.md too)' if strict else ''}")
        try:
            run_engine(run_scenarios(cases, Target(url, credentials), strict=strict, reporter=collected))
        finally:
            if junit is not None:
                write_junit(junit, "softphone check", collected.results, classname=_classname)
        return collected.results

    if sign_in.server is None:
        with (
            tempfile.TemporaryDirectory(prefix="softphone-check-") as workdir,
            private_simulator(Path(workdir), "--ring-timeout", str(PRIVATE_RING_TIMEOUT)) as server,
        ):
            results = check_at(server, f"a private simulator at {server}")
    else:
        server = sign_in.server
        results = check_at(server, server)
    count = totals(results)
    warned = sum(verdict(result).value == "warn" for result in results)
    if json_report is not None:
        summary = SummaryRecord(at=datetime.now(UTC), scope="check", server=server, strict=strict, **count)
        json_report.lines.emit(summary)
    else:
        click.echo(
            f"{count['total']} cases: {count['pass'] - warned} passed, {warned} passed with warnings, "
            f"{count['fail']} failed, {count['skip']} skipped"
        )
    click.get_current_context().exit(ExitCode.EXPECTATION_FAILED if count["fail"] else ExitCode.OK)


def _classname(result: ScenarioResult) -> str:
    return "softphone.check.own" if result.source == "softphone check" else "softphone.check.library"
