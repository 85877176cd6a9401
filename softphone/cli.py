"""The ``softphone`` command: the TUI by default, ``serve`` for the bundled simulator."""

from __future__ import annotations

from pathlib import Path

import click

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


@click.group(invoke_without_command=True)
@click.pass_context
def main(ctx: click.Context) -> None:
    """A terminal softphone for the Fengshengshou call API, with a bundled simulator."""
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


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
def serve(host: str, port: int, db: str | None, ring_timeout: int) -> None:
    """Run the call-API simulator."""
    from softphone.server.runner import run_server

    run_server(host=host, port=port, db=db, ring_timeout=ring_timeout)


if __name__ == "__main__":
    main()
