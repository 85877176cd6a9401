"""The ``softphone`` command: the TUI by default, ``serve`` for the simulator, ``demo`` for one person,
and the tester's toolkit (:mod:`softphone.toolkit`)."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from softphone import exit_codes
from softphone.check.command import check as check_command
from softphone.commandline import OneLineGroup, UsageProblem, resolve, sign_in_options
from softphone.launch import DEFAULT_HOST, DEFAULT_PORT, free_port, local_url
from softphone.load import DEFAULT_MIX, LOCUST_MASTER_PORT
from softphone.logs import DEFAULT_LOG_LEVEL, LOG_LEVELS
from softphone.scenario.command import run as run_command
from softphone.server.config import ServerConfig
from softphone.toolkit import COMMANDS

if TYPE_CHECKING:
    from softphone.api import FaultSettings
    from softphone.background import RunningSimulator
    from softphone.load.plan import ProfileUsers
    from softphone.settings import SignIn, SignInOptions

IDLE_TIMEOUT_HELP = "Stop by itself after this many seconds with no request and no push connection."


@click.group(cls=OneLineGroup, invoke_without_command=True)
@click.option("--dial", default=None, metavar="USER", help="Call this user (name or id) as soon as the app is up.")
@click.option("--video", is_flag=True, help="With --dial: a video call.")
@click.option("--conversation", default=None, metavar="ID", help="With --dial USER_ID: the conversation id to call in.")
@click.option("--open-call", default=None, metavar="ID", help="Show this call (by id) as soon as the app is up.")
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    default=DEFAULT_LOG_LEVEL,
    show_default=True,
    help="How much the phone writes to its log (softphone.log in the user log directory).",
)
@click.option("--no-bell", is_flag=True, help="Do not ring the terminal bell when a call comes in.")
@sign_in_options(resolve_now=False)
@click.pass_context
def main(
    ctx: click.Context,
    sign_in: SignInOptions,
    dial: str | None,
    video: bool,
    conversation: str | None,
    open_call: str | None,
    log_level: str,
    no_bell: bool,
) -> None:
    """A terminal softphone for the Fengshengshou call API, with a bundled simulator and a tester's toolkit.

    With no command it opens the phone; `softphone --user alice` and `softphone --user bob` in two
    terminals call each other through a simulator started on first use. The commands below share
    the sign-in options, given after the command name: `softphone call bob --user alice`.
    """
    if ctx.invoked_subcommand is not None:
        misplaced = sign_in.given()
        if misplaced:
            raise UsageProblem(
                f"{misplaced[0]} goes after the command name: softphone {ctx.invoked_subcommand} {misplaced[0]} ..."
            )
        return
    with _collector_paused():
        signed = resolve(sign_in)
        from softphone.launch import ensure_local_simulator
        from softphone.tui.app import AppConfig, run_phone
        from softphone.tui.options import check_start_options

        start = check_start_options(dial, video, conversation, open_call)
        server_url, background_port = signed.server, None
        if server_url is None:
            server_url, background_port = ensure_local_simulator(), DEFAULT_PORT
        config = AppConfig(
            server_url=server_url,
            user=None if signed.token else signed.user,
            token=signed.token,
            user_id=signed.user_id,
            contacts=tuple(signed.contacts()),
            dial=start.dial,
            video=start.video,
            conversation_id=start.conversation_id,
            open_call=start.open_call,
            push_mode="poll" if signed.poll else "auto",
            bell=not no_bell,
            background_port=background_port,
            **({"terminal_id": signed.terminal_id} if signed.terminal_id else {}),
        )
        run_phone(config, log_level)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Start-up allocates much and frees little: the garbage collector waits until the phone has painted
    its first screen (the app turns it back on then), instead of going through all that start-up builds
    on the way (about 40 ms of the first paint)."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


for _command in COMMANDS:
    main.add_command(_command)


def _fault_settings(_: click.Context, __: click.Parameter, spec: str | None) -> FaultSettings | None:
    from softphone.api import FaultSettings

    try:
        return None if spec is None else FaultSettings.from_spec(spec)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def _token_ttl(_: click.Context, __: click.Parameter, text: str) -> timedelta:
    from softphone.api import duration_seconds

    try:
        seconds = duration_seconds(text)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    if seconds <= 0:
        raise click.BadParameter(f"{text!r}: must be longer than zero")
    return timedelta(seconds=seconds)


REMOTE_WARNING = (
    "WARNING: listening on {host}, beyond this machine: anyone who can reach it can sign in as anyone "
    "(POST /api/dev/login needs no password). Use it only on a network you trust."
)


@main.command()
@click.option(
    "--host", default=DEFAULT_HOST, show_default=True, help="Interface to listen on; one beyond loopback needs --allow-remote."
)
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int, help="TCP port.")
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Allow a --host beyond loopback and any Host header: anyone who reaches the server can sign in as anyone.",
)
@click.option(
    "--db",
    "db",
    default=None,
    help="SQLite file, or ':memory:' for none. Default: softphone.db in the user data directory.",
)
@click.option(
    "--ring-timeout",
    default=ServerConfig.ring_timeout,
    show_default=True,
    type=click.IntRange(min=1),
    help="Seconds a call rings before it ends with no_answer_timeout.",
)
@click.option("--idle-timeout", type=click.FloatRange(min=0, min_open=True), default=None, help=IDLE_TIMEOUT_HELP)
@click.option(
    "--directory",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="TOML file of [[users]] (user_id, name, display_name) instead of the demo users.",
)
@click.option(
    "--token-ttl",
    default="1d",
    show_default=True,
    metavar="DURATION",
    callback=_token_ttl,
    help="How long a login token stays valid: 90s, 30m, 12h, 1d, or a number of seconds.",
)
@click.option(
    "--faults",
    "fault_settings",
    metavar="SPEC",
    default=None,
    callback=_fault_settings,
    help="Misbehave on purpose on /api/calls/* and pushes, e.g. push-drop=0.3,push-dup=0.2,push-reorder=0.2,"
    "push-disconnect=0.05,http-error=0.05 (probabilities 0..1), push-delay=50ms,http-latency=20ms "
    "(whole ms up to 10000ms, whole seconds up to 10s, or a number of ms). Change at run time: PUT /api/dev/faults.",
)
@click.option(
    "--fault-seed",
    type=click.IntRange(min=0, max=2**63 - 1),
    default=None,
    help="Seed of the faults' random streams: the same seed and requests give the same faults. Default: random, logged.",
)
@click.option(
    "--max-push-per-user",
    type=click.IntRange(min=1),
    default=ServerConfig.max_push_per_user,
    show_default=True,
    help="Push connections one user may hold; more are refused at the handshake (42901).",
)
@click.option(
    "--max-push-per-server",
    type=click.IntRange(min=1),
    default=ServerConfig.max_push_per_server,
    show_default=True,
    help="Push connections the server holds in all; more are refused at the handshake (42901).",
)
@click.option(
    "--users",
    "generated_users",
    default=0,
    type=click.IntRange(min=0),
    help="Also serve this many generated users u0001… (ids from 100001), each pair with a conversation.",
)
@click.option(
    "--abandon-timeout",
    default=ServerConfig.abandon_timeout,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds after which an answered call ends as abandoned when neither party has a push "
    "connection open or has made a request.",
)
@click.option(
    "--documented-only",
    is_flag=True,
    help="Serve only the documented routes, /healthz, /docs and the dev tools, with no extension "
    "fields, as a real server looks; prints each seeded user's token and conversation ids at start.",
)
def serve(
    host: str,
    port: int,
    allow_remote: bool,
    db: str | None,
    ring_timeout: int,
    idle_timeout: float | None,
    directory: Path | None,
    token_ttl: timedelta,
    fault_settings: FaultSettings | None,
    fault_seed: int | None,
    max_push_per_user: int,
    max_push_per_server: int,
    generated_users: int,
    abandon_timeout: float,
    documented_only: bool,
) -> None:
    """Run the call-API simulator (on loopback unless --allow-remote)."""
    from softphone.api import FaultSettings
    from softphone.server.config import default_db_path
    from softphone.server.directory import BUNDLED_DIRECTORY
    from softphone.server.guards import is_loopback
    from softphone.server.runner import run_server
    from softphone.server.store import SchemaTooNew

    if not is_loopback(host):
        if not allow_remote:
            raise UsageProblem(f"--host {host} is beyond loopback: add --allow-remote to serve other machines.")
        click.echo(REMOTE_WARNING.format(host=host), err=True)
    config = ServerConfig(
        db=db or str(default_db_path()),
        ring_timeout=ring_timeout,
        directory=directory or BUNDLED_DIRECTORY,
        token_ttl=token_ttl,
        allow_remote=allow_remote,
        max_push_per_user=max_push_per_user,
        max_push_per_server=max_push_per_server,
        faults=(fault_settings or FaultSettings()).model_copy(update={"seed": fault_seed}),
        abandon_timeout=abandon_timeout,
        generated_users=generated_users,
        documented_only=documented_only,
    )
    try:
        run_server(config, host=host, port=port, idle_timeout=idle_timeout)
    except SchemaTooNew as refusal:
        raise click.ClickException(str(refusal)) from None


@main.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Interface to listen on; one beyond loopback needs --allow-remote.")
@click.option("--port", default=8000, show_default=True, type=int, help="TCP port of the page.")
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Allow a --host beyond loopback and pages of other sites: anyone who reaches it gets a phone.",
)
@click.option("--no-bell", is_flag=True, help="Do not ring the bell when a call comes in.")
@sign_in_options(resolve_now=False)
def web(host: str, port: int, allow_remote: bool, sign_in: SignInOptions, no_bell: bool) -> None:
    """The phone in a browser: each tab at http://HOST:PORT is a phone of its own (its own terminal id).

    It needs nothing from the internet. Closing a tab hangs up that phone's call, as quitting does.
    The sign-in options are checked here, once, and given to every tab's phone as they were typed.
    """
    from softphone.server.guards import is_loopback
    from softphone.web import serve as serve_web

    if sign_in.terminal_id is not None:
        raise UsageProblem("--terminal-id: every tab is a terminal of its own, with an id of its own.")
    signed = resolve(sign_in)
    if not is_loopback(host):
        if not allow_remote:
            raise UsageProblem(f"--host {host} is beyond loopback: add --allow-remote to serve other machines.")
        click.echo(WEB_REMOTE_WARNING.format(host=host), err=True)
    if signed.server is None:
        from softphone.launch import ensure_local_simulator

        ensure_local_simulator()  # once here, so that the tabs find it up; each tab then uses it as its own
    serve_web(sign_in.arguments() + ["--no-bell"] * no_bell, host=host, port=port, allow_remote=allow_remote)


WEB_REMOTE_WARNING = (
    "WARNING: serving the phone on {host}, beyond this machine: anyone who can reach it can open a phone "
    "signed in as you, and pages of other sites may too. Use it only on a network you trust."
)


@main.group()
def sim() -> None:
    """See and manage the background simulator the phone starts (127.0.0.1:8765 unless --port)."""


port_option = click.option(
    "--port", default=DEFAULT_PORT, show_default=True, type=int, help="The local port the simulator listens on."
)


def running_or_exit(port: int) -> RunningSimulator:
    """The simulator on ``port``, or say that none runs there and exit with ``NOT_RUNNING``."""
    from softphone import background

    running = background.find(local_url(port), port)
    if running is None:
        click.echo(f"No simulator is running at {local_url(port)}.")
        raise click.exceptions.Exit(exit_codes.NOT_RUNNING)
    return running


@sim.command()
@port_option
def status(port: int) -> None:
    """Is a simulator running; where, its pid, database, log and live calls."""
    from softphone import background

    click.echo(background.describe(running_or_exit(port)))


@sim.command()
@port_option
def stop(port: int) -> None:
    """Stop the simulator (its calls stay in the database)."""
    from softphone import background

    running = running_or_exit(port)
    background.stop(running)
    click.echo(f"Stopped the simulator at {running.url} (pid {running.info.pid}).")


@sim.command()
@port_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--wipe", is_flag=True, help="Stop the simulator and delete its database instead.")
def reset(port: int, yes: bool, wipe: bool) -> None:
    """End every live call as abandoned (pushed to the phones), or with --wipe delete the database."""
    from softphone import background
    from softphone.server.config import default_db_path

    if wipe:
        running = background.find(local_url(port), port)
        record = background.read_record(port)
        db = running.info.database if running else record.db if record else str(default_db_path())
        where = f"Stop the simulator at {running.url} and delete" if running else "Delete"
        if not yes and not click.confirm(f"{where} {db}?"):
            click.echo("Nothing changed.")
            raise click.exceptions.Exit(exit_codes.NOT_RUNNING)
        if running:
            background.stop(running)
        deleted = background.wipe(db)
        click.echo(f"Deleted {db}." if deleted else f"Nothing to delete: {db} does not exist.")
        return
    running = running_or_exit(port)
    if not running.live_calls:
        click.echo("No live calls.")
        return
    if not yes and not click.confirm(f"End {running.live_calls} live call(s) as abandoned?"):
        click.echo("Nothing changed.")
        raise click.exceptions.Exit(exit_codes.NOT_RUNNING)
    answer = background.reset(running)
    if answer is None:
        raise click.ClickException(f"The simulator at {running.url} did not reset its calls.")
    click.echo(f"Ended {answer.ended} live call(s) as abandoned.")


@main.command()
@click.option("--user", default="alice", show_default=True, help="Who you are in the demo: one of the seeded users.")
@click.option("--answer-after", default=2.0, show_default=True, type=click.FloatRange(min=0), help="Seconds the peers let your call ring before they answer or decline.")
@click.option("--incoming", is_flag=True, help="A peer also calls you once, shortly after start.")
def demo(user: str, answer_after: float, incoming: bool) -> None:
    """Everything for one person: a private simulator, a simulated person for every outcome, and the phone."""
    from softphone.demo import Cast, run_demo

    try:
        Cast.around(user)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--user") from None
    run_demo(user=user, answer_after=answer_after, call_me=incoming)


@main.command()
@click.option("--rate", type=float, default=10.0, show_default=True, help="Calls started per second (open loop).")
@click.option("--duration", type=float, default=10.0, show_default=True, help="Seconds during which calls start.")
@click.option("--concurrency", type=int, default=None, help="Caller/callee pairs in all. Default: what the rate needs.")
@click.option(
    "--users",
    default=None,
    help="N: the users u0001..uN that `serve --users N` seeds; or NAME,NAME,... Default: the profile's users.",
)
@click.option("--mix", default=DEFAULT_MIX, show_default=True, help="How calls end, as weights.")
@click.option("--ring-timeout", type=float, default=30.0, show_default=True, help="The server's: a timeout call lasts this long.")
@click.option("--push", is_flag=True, help="A push connection per terminal; measures push latency.")
@click.option("--csv", "csv_prefix", default=None, metavar="PREFIX", help="Locust's CSV files PREFIX_stats.csv etc.")
@click.option("--json", "json_summary", is_flag=True, help="The summary as JSON on stdout (the live table is on stderr).")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Local Locust worker processes (with --master: workers to wait for).")
@click.option("--master", is_flag=True, help="Be the Locust master of workers started elsewhere.")
@click.option("--worker", is_flag=True, help="Be a Locust worker of the master at --master-host (it sends the plan and the tokens).")
@click.option("--master-host", default="127.0.0.1", show_default=True, help="With --worker: where the master runs.")
@click.option(
    "--master-port",
    type=click.IntRange(1, 65535),
    default=None,
    help=f"The master's port for workers. Default: {LOCUST_MASTER_PORT}, or a free one for local --workers.",
)
@click.option("--web-port", type=click.IntRange(1, 65535), default=None, help="Locust's web UI on 127.0.0.1:PORT.")
@sign_in_options(identity=False)
def load(
    sign_in: SignIn,
    rate: float,
    duration: float,
    concurrency: int | None,
    users: str | None,
    mix: str,
    ring_timeout: float,
    push: bool,
    csv_prefix: str | None,
    json_summary: bool,
    workers: int | None,
    master: bool,
    worker: bool,
    master_host: str,
    master_port: int | None,
    web_port: int | None,
) -> None:
    """Whole call lifecycles at a fixed rate against a server, on Locust; exit 1 if any call failed.

    Each caller/callee pair places calls that end as the mix says. Users sign in with the simulator's
    dev login (it needs enough of them: `softphone serve --users N`), or with the tokens of a profile
    (`--profile NAME`, `--config FILE`): its users, in order, make the pairs, and its conversations are
    the ones they call in, so a server without a directory (a real one, `serve --documented-only`)
    can be loaded. `--workers N` runs the pairs in N Locust worker processes; `--master --workers N`
    and `--worker --master-host HOST` spread one load over several machines.
    """
    from softphone.load.plan import Launch, PlanError, make_plan

    if master and worker:
        raise UsageProblem("--master and --worker are alternatives: give one.")
    if master and workers is None:
        raise UsageProblem("--master needs --workers N: how many workers to wait for.")
    if master_port is None:
        master_port = free_port() if workers and not (master or worker) else LOCUST_MASTER_PORT
    if worker:
        launch = Launch(role="worker", master_host=master_host, master_port=master_port)
    else:
        try:
            plan = make_plan(
                server=sign_in.server or local_url(),
                rate=rate,
                duration_s=duration,
                mix=mix,
                ring_timeout_s=ring_timeout,
                concurrency=concurrency,
                users=users,
                push=push,
                workers=workers or 1,
                profile=_profile_users(sign_in),
            )
        except PlanError as error:
            raise UsageProblem(str(error)) from None
        if sign_in.server is None:  # the shared local simulator, started only once the options are good
            from softphone.launch import ensure_local_simulator

            ensure_local_simulator()
        launch = Launch(
            role="local" if workers is None else "master",
            plan=plan,
            master_port=master_port,
            local_workers=0 if master else workers or 0,
            web_port=web_port,
            csv_prefix=csv_prefix,
            json_summary=json_summary,
        )
    # Locust patches the standard library with gevent on import: it runs in a process of its own.
    from softphone.load.plan import become_load_process

    sys.stdout.flush()
    become_load_process(launch)


def _profile_users(sign_in: SignIn) -> ProfileUsers | None:
    """The profile's users, tokens and conversations, read as ``softphone run`` and ``check`` read them."""
    from softphone.load.plan import ProfileUsers, UserToken
    from softphone.scenario.command import profile_conversations, profile_credentials

    if sign_in.profile is None:
        return None
    tokens = {
        name: UserToken(user_id=given.user_id, token=given.token, terminal_id=given.terminal_id)
        for name, given in profile_credentials(sign_in).items()
    }
    return ProfileUsers(
        profile=sign_in.profile,
        users=tuple(sign_in.users),
        tokens=tokens,
        conversations=profile_conversations(sign_in),
    )


# Tester's toolkit: scenario files and the conformance check, each in its own module.
main.add_command(run_command)
main.add_command(check_command)

if __name__ == "__main__":
    main()
