"""What every ``softphone`` command shares: the sign-in options, one-line usage errors, exit codes.

A command that signs in takes the shared options with one decorator and receives them resolved
(options over ``SOFTPHONE_*`` over the profile) and checked, before anything runs::

    @main.command()
    @sign_in_options
    def state(sign_in: SignIn, ...) -> None: ...

A bad option or setting is one line on stderr (``softphone call: --server 'ftp://x' is not ...``) and
exit code 2 (:class:`UsageProblem`); a command that ran and failed says why in one line and exits
with its :class:`~softphone.exit_codes.ExitCode` (:class:`CommandFailed`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from softphone.exit_codes import ExitCode

if TYPE_CHECKING:
    from softphone.settings import SignIn, SignInOptions

F = TypeVar("F", bound=Callable[..., Any])

JSON_HELP = "JSON Lines on stdout: one object a line, each with kind (event, error, summary) and at."


class UsageProblem(click.UsageError):
    """A bad option, argument or setting: one line on stderr naming the command, and exit code 2."""

    exit_code = ExitCode.USAGE

    def __init__(self, message: str, ctx: click.Context | None = None) -> None:
        super().__init__(message, ctx or click.get_current_context(silent=True))

    def show(self, file: Any = None) -> None:
        where = self.ctx.command_path if self.ctx is not None else "softphone"
        click.echo(f"{where}: {self.format_message()}", err=True)


class CommandFailed(click.ClickException):
    """The command could not do its work: why, in one line on stderr, and the matching exit code."""

    def __init__(self, message: str, exit_code: ExitCode) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file: Any = None) -> None:
        click.echo(self.format_message(), err=True)


class OneLineCommand(click.Command):
    """Click's own option errors (no such option, a bad number) as one line too."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as error:
            raise UsageProblem(error.format_message(), ctx) from None


class OneLineGroup(click.Group):
    """A group whose commands and subgroups report usage errors in one line."""

    command_class = OneLineCommand
    group_class = type  # subgroups are OneLineGroups as well

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as error:
            raise UsageProblem(error.format_message(), ctx) from None

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as error:
            raise UsageProblem(error.format_message(), ctx) from None


def resolve(options: SignInOptions) -> SignIn:
    """The options resolved over the environment and the profile; a problem is a one-line usage error."""
    from softphone.settings import SettingsProblem, resolve_sign_in

    try:
        return resolve_sign_in(options)
    except SettingsProblem as problem:
        raise UsageProblem(str(problem)) from None


def _identity_options(command: F) -> F:
    for option in reversed(
        [
            click.option("--user", default=None, metavar="NAME", help="Sign in as this user: a profile's user, or the simulator's dev login."),
            click.option("--token", default=None, metavar="TOKEN", help="Sign in with this bearer token (instead of --user)."),
            click.option(
                "--user-id",
                type=click.IntRange(min=1),
                default=None,
                metavar="ID",
                help="With --token, on a server without a directory: whose token it is.",
            ),
            click.option("--terminal-id", default=None, metavar="ID", help="This terminal's id (at most 64 characters). Default: new per run."),
            click.option(
                "--poll/--no-poll",
                default=None,
                help="Poll for changes instead of using the push channel (--no-poll overrides a profile's poll).",
            ),
        ]
    ):
        command = option(command)
    return command


def _place_options(command: F) -> F:
    for option in reversed(
        [
            click.option("--server", default=None, metavar="URL", help="Call API base URL. Default: the local simulator, started if needed."),
            click.option("--profile", default=None, metavar="NAME", help="Use [profiles.NAME] of the config file."),
            click.option(
                "--config",
                type=click.Path(dir_okay=False, path_type=Path),
                default=None,
                metavar="FILE",
                help="The TOML config file. Default: config.toml in the user config directory.",
            ),
        ]
    ):
        command = option(command)
    return command


PLACE_NAMES = ("server", "profile", "config")
IDENTITY_NAMES = ("user", "token", "user_id", "terminal_id", "poll")


def sign_in_options(
    command: F | None = None, *, identity: bool = True, resolve_now: bool = True
) -> F | Callable[[F], F]:
    """Add the shared options; the command gets them as ``sign_in``.

    ``sign_in`` is a checked :class:`~softphone.settings.SignIn` (a problem is a one-line usage error,
    exit 2, before the command body runs), or with ``resolve_now=False`` the raw
    :class:`~softphone.settings.SignInOptions` for the command to resolve when it needs to (the bare
    ``softphone``, whose options apply only when no subcommand runs). ``identity=False`` leaves out
    who signs in (``--user``, ``--token``, ``--user-id``, ``--terminal-id``, ``--poll``): for
    commands that only need a server, as ``softphone token USER``.
    """

    names = PLACE_NAMES + (IDENTITY_NAMES if identity else ())

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            from softphone.settings import SignInOptions

            options = SignInOptions(**{name: kwargs.pop(name) for name in names})
            return function(*args, sign_in=resolve(options) if resolve_now else options, **kwargs)

        decorated = _identity_options(wrapper) if identity else wrapper
        return _place_options(decorated)  # type: ignore[return-value]

    return decorate if command is None else decorate(command)


def json_option(command: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help=JSON_HELP)(command)  # type: ignore[return-value]
