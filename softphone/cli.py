"""The ``softphone`` command: the TUI by default, ``serve`` for the simulator, ``demo`` for one person."""

from __future__ import annotations

from pathlib import Path

import click

from softphone.launch import DEFAULT_HOST, DEFAULT_PORT

IDLE_TIMEOUT_HELP = "Stop by itself after this many seconds with no request and no push connection."


@click.group(invoke_without_command=True)
@click.option("--server", "server_url", default=None, help="Call API base URL. Default: the local simulator, started if needed.")
@click.option("--user", default=None, help="Sign in to the simulator as this user (name or id).")
@click.option("--token", default=None, help="Use this bearer token instead of the simulator's dev login.")
@click.option("--user-id", type=int, default=None, help="With --token on a server without a directory: who the token is.")
@click.option("--terminal-id", default=None, help="This terminal's id. Default: unique per run.")
@click.option("--dial", default=None, help="Call this user (name or id) as soon as the app is up.")
@click.option("--video", is_flag=True, help="With --dial: a video call.")
@click.option("--poll", is_flag=True, help="Poll for changes instead of using the push channel.")
@click.pass_context
def main(
    ctx: click.Context,
    server_url: str | None,
    user: str | None,
    token: str | None,
    user_id: int | None,
    terminal_id: str | None,
    dial: str | None,
    video: bool,
    poll: bool,
) -> None:
    """A terminal softphone for the Fengshengshou call API, with a bundled simulator.

    With no command it opens the phone; `softphone --user alice` and `softphone --user bob` in two
    terminals call each other through a simulator started on first use.
    """
    if ctx.invoked_subcommand is not None:
        return
    from softphone.launch import ensure_local_simulator
    from softphone.tui.app import AppConfig, SoftphoneApp

    if user is not None and token is not None:
        raise click.UsageError("--user and --token are alternatives: give one.")
    if server_url is None:
        server_url = ensure_local_simulator()
    config = AppConfig(
        server_url=server_url,
        user=user,
        token=token,
        user_id=user_id,
        dial=dial,
        video=video,
        push_mode="poll" if poll else "auto",
        **({"terminal_id": terminal_id} if terminal_id else {}),
    )
    SoftphoneApp(config).run()


@main.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Interface to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int, help="TCP port.")
@click.option(
    "--db",
    "db",
    default=None,
    help="SQLite file, or ':memory:' for none. Default: softphone.db in the user data directory.",
)
@click.option(
    "--ring-timeout",
    default=30,
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
def serve(
    host: str, port: int, db: str | None, ring_timeout: int, idle_timeout: float | None, directory: Path | None
) -> None:
    """Run the call-API simulator."""
    from softphone.server.runner import run_server
    from softphone.server.store import SchemaTooNew

    try:
        run_server(
            host=host, port=port, db=db, ring_timeout=ring_timeout, idle_timeout=idle_timeout, directory=directory
        )
    except SchemaTooNew as refusal:
        raise click.ClickException(str(refusal)) from None


@main.command()
@click.option("--user", default="alice", show_default=True, help="Who you are in the demo.")
@click.option("--peer", default="bob", show_default=True, help="The simulated person who answers.")
@click.option("--answer-after", default=2.0, show_default=True, type=click.FloatRange(min=0), help="Seconds the peer lets your call ring.")
@click.option("--incoming", is_flag=True, help="The peer also calls you once, shortly after start.")
def demo(user: str, peer: str, answer_after: float, incoming: bool) -> None:
    """Everything for one person: a private simulator, a peer that answers, and the phone."""
    from softphone.launch import run_demo

    run_demo(user=user, peer=peer, answer_after=answer_after, call_me=incoming)

if __name__ == "__main__":
    main()
