"""The bare ``softphone`` command's own options (what the phone does once it is up), checked up front.

A bad combination is refused before the app starts, in one line on stderr with exit code 2, instead
of failing later inside the app one notification at a time. The sign-in options shared with the
other commands (``--server``, ``--user``, ``--token``...) are checked where they are defined.
"""

from __future__ import annotations

from dataclasses import dataclass

import click


class OneLineUsageError(click.ClickException):
    """A bad option: one line on stderr, exit 2 (scripts read the line, not a usage block)."""

    exit_code = 2

    def show(self, file: object = None) -> None:
        click.echo(f"softphone: {self.format_message()}", err=True)


@dataclass(frozen=True, slots=True)
class StartActions:
    """What the phone does once signed in: dial someone, or open a call by its id."""

    dial: str | None = None
    video: bool = False
    conversation_id: int | None = None
    open_call: int | None = None


def _positive(option: str, text: str) -> int:
    if not text.strip().isdecimal() or int(text) < 1:
        raise OneLineUsageError(f"{option} takes an id, a whole number above 0, not {text!r}.")
    return int(text)


def check_start_options(
    dial: str | None, video: bool, conversation: str | None, open_call: str | None
) -> StartActions:
    """``--dial`` (a name or a user id), ``--video`` only with it, ``--conversation`` only with a user id,
    ``--open-call`` alone; raises :class:`OneLineUsageError` saying what is wrong."""
    if dial is not None and not dial.strip():
        raise OneLineUsageError("--dial takes a contact's name or a user id.")
    if dial is not None and open_call is not None:
        raise OneLineUsageError("--dial and --open-call are alternatives: give one.")
    if video and dial is None:
        raise OneLineUsageError("--video goes with --dial: a video call to whom?")
    if conversation is not None:
        if dial is None:
            raise OneLineUsageError("--conversation goes with --dial USER_ID: the conversation to call that user in.")
        if not dial.strip().isdecimal():
            raise OneLineUsageError(f"--conversation needs --dial with a user id (a number), not {dial!r}.")
    return StartActions(
        dial=None if dial is None else dial.strip(),
        video=video,
        conversation_id=None if conversation is None else _positive("--conversation", conversation),
        open_call=None if open_call is None else _positive("--open-call", open_call),
    )
