"""What documented-only mode prints at start: without a directory it is the only way to learn the
conversation ids, and the one place a simulator prints tokens in full."""

from __future__ import annotations

from collections.abc import Sequence

from softphone.server.directory import Directory, User, generated_user
from softphone.server.service import CallService

INTRODUCTION = """\
Documented-only mode: the documented call API, /healthz, /docs and the dev tools; no push channel,
no directory, no call lists and no extension fields, as a real server looks from outside.
Below, each seeded user's token (printed in full only here) and the conversation it shares with each
other user. Sign in with --token TOKEN --user-id ID; call someone with --dial ID --conversation ID."""


def credentials_sheet(service: CallService, users: Sequence[User], generated: int) -> str:
    """A fresh token for each of ``users`` and every conversation id among them, in plain words."""
    lines = [INTRODUCTION, ""]
    for user in users:
        token = service.login(user.user_id).token
        lines.append(f"{user.name} ({user.display_name}): --user-id {user.user_id} --token {token}")
        for other in users:
            if other != user:
                conversation = Directory.conversation_id(user, other)
                lines.append(f"    with {other.name} ({other.user_id}): --conversation {conversation}")
    if generated:
        first = generated_user(1).name
        lines += [
            "",
            f"The {generated} generated users ({first}…) are not listed: get a token for one with "
            f'POST /api/dev/login {{"user": "{first}"}}.',
        ]
    return "\n".join(lines)
