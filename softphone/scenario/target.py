"""The server a run talks to: who we can be there, which conversations we know, what it offers.

Scenarios name users (``alice``); a :class:`Target` turns a name into an :class:`Account` once per run,
from the credentials given (a token and its user id) or, on the simulator, its dev login. It also
learns, once, whether the server has the simulator's push channel, directory and call lists, so a
scenario that needs one is skipped with the reason rather than failed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Self

import httpx

from softphone.api import (
    ApiError,
    CallClient,
    ConnectionChanged,
    DirectoryUser,
    PushStream,
    SoftphoneError,
    TransportError,
    is_missing_route,
)
from softphone.scenario.model import Capability
from softphone.scenario.transport import RecordingTransport

PROBE_SECONDS = 10.0


class Unreachable(Exception):
    """The server could not be reached: the run stops (exit 4)."""


class SignInRefused(Exception):
    """The server refused to sign a user in: the run stops (exit 3)."""


class Unavailable(Exception):
    """Something a scenario needs is not on offer here (a third user, a conversation id): it is skipped."""


@dataclass(frozen=True)
class Credential:
    """A token for a user, as a real server issues them; ``name`` is what a profile calls the user."""

    user_id: int
    token: str
    terminal_id: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Credentials:
    """Who the run may act as, by the names scenarios use.

    ``users`` come with tokens; ``logins`` map a name to the user the simulator's dev login signs in
    (the check plays the library's alice, bob and carol with whichever users it is given); with
    ``login_others`` any other name is signed in as itself. ``conversations`` are keyed by the pair of
    names or user ids, in either order.
    """

    users: Mapping[str, Credential] = field(default_factory=dict)
    logins: Mapping[str, str] = field(default_factory=dict)
    conversations: Mapping[frozenset[str], int] = field(default_factory=dict)
    login_others: bool = True


@dataclass(frozen=True)
class Account:
    """A signed-in user: the name scenarios call it, who it is on the server, and its token."""

    alias: str
    user_id: int
    token: str
    name: str
    terminal_id: str | None = None


class Target:
    """One server for a whole run: accounts, conversations and capabilities are learnt once."""

    def __init__(self, base_url: str, credentials: Credentials, *, poll: bool = False) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.poll = poll
        self._accounts: dict[str, Account] = {}
        self._directories: dict[int, list[DirectoryUser] | None] = {}
        self._capabilities: dict[Capability, str | None] | None = None
        self._lock = asyncio.Lock()
        self._pool = httpx.AsyncHTTPTransport()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._pool.aclose()

    def transport(self) -> RecordingTransport:
        """A transport on the run's one connection pool, keeping its client's last exchange."""
        return RecordingTransport(self._pool)

    async def account(self, alias: str) -> Account:
        """The account a scenario's user name stands for, signing in on first use."""
        async with self._lock:
            if alias not in self._accounts:
                self._accounts[alias] = await self._sign_in(alias)
            return self._accounts[alias]

    async def _sign_in(self, alias: str) -> Account:
        given = self.credentials.users.get(alias)
        if given is not None:
            return Account(alias, given.user_id, given.token, given.name or alias, given.terminal_id)
        login = self.credentials.logins.get(alias)
        if login is None and not self.credentials.login_others:
            raise Unavailable(f"no user plays {alias}: give one more user")
        async with self.client("sign-in") as client:
            try:
                data = await client.login(login or alias)
            except TransportError as error:
                raise Unreachable(str(error)) from None
            except SoftphoneError as error:
                if is_missing_route(error):
                    raise SignInRefused(
                        f"signing in {login or alias}: the server has no dev login; give a token: "
                        f"--token {alias}=USER_ID:TOKEN"
                    ) from None
                said = f"{error.code} {error.message}" if isinstance(error, ApiError) else str(error)
                raise SignInRefused(f"signing in {login or alias}: {said}") from None
        return Account(alias, data.user_id, data.token, data.name)

    def client(self, terminal_id: str, token: str | None = None, transport: RecordingTransport | None = None) -> CallClient:
        """A client on the run's pool; requests that change calls are never retried, reads neither (a check
        must see the first answer)."""
        return CallClient(
            self.base_url, terminal_id=terminal_id, token=token, retries=0, transport=transport or self.transport()
        )

    async def conversation(self, caller: Account, callee: Account) -> int:
        """The conversation two users share: given, or from the caller's directory where there is one."""
        for one in (caller.alias, caller.name, str(caller.user_id)):
            for other in (callee.alias, callee.name, str(callee.user_id)):
                known = self.credentials.conversations.get(frozenset({one, other}))
                if known is not None:
                    return known
        directory = await self._directory(caller)
        conversation = next((u.conversation_id for u in directory or [] if u.user_id == callee.user_id), None)
        if conversation is None:
            where = "the server has no directory" if directory is None else "the directory does not list it"
            raise Unavailable(
                f"needs the conversation between {caller.alias} and {callee.alias} ({where}): "
                f"give --conversation {caller.alias},{callee.alias}=ID"
            )
        return conversation

    async def user_id(self, caller: Account, name: str) -> int:
        """A user a scenario dials by name rather than as a party: given, by the directory, or a number."""
        if name.isdigit():
            return int(name)
        if name in self.credentials.users:
            return self.credentials.users[name].user_id
        directory = await self._directory(caller)
        for user in directory or []:
            if name.lower() in (user.name.lower(), user.display_name.lower()):
                return user.user_id
        suffix = "" if directory is not None else " (the server has no directory)"
        raise Unavailable(f"no user named {name!r}{suffix}")

    async def _directory(self, account: Account) -> list[DirectoryUser] | None:
        """The directory as ``account`` sees it, or ``None`` on a server without one."""
        if account.user_id not in self._directories:
            async with self.client("directory", account.token) as client:
                try:
                    self._directories[account.user_id] = (await client.directory()).users
                except TransportError as error:
                    raise Unreachable(str(error)) from None
                except SoftphoneError as error:
                    if not is_missing_route(error):
                        raise SignInRefused(f"reading the directory as {account.alias}: {error}") from None
                    self._directories[account.user_id] = None
        return self._directories[account.user_id]

    async def missing(self, needs: set[Capability], account: Account) -> str | None:
        """Why the server cannot serve a scenario that ``needs`` these, or ``None`` when it can."""
        if self._capabilities is None:
            self._capabilities = {
                Capability.PUSH: await self._probe_push(account),
                Capability.LISTS: await self._probe_lists(account),
            }
        for capability in sorted(needs):
            if self._capabilities[capability] is not None:
                return self._capabilities[capability]
        return None

    async def _probe_push(self, account: Account) -> str | None:
        if self.poll:
            return "needs the push channel, and this run polls (--poll)"
        async with self.client("push-probe", account.token) as client:
            stream = PushStream(client, mode="auto")
            try:
                async with asyncio.timeout(PROBE_SECONDS):
                    async for event in stream.events():
                        if isinstance(event, ConnectionChanged) and event.state in ("connected", "polling"):
                            why = event.detail.split("; polling")[0]  # the stream adds how it goes on; that is not why
                            return None if event.state == "connected" else f"needs the push channel: {why}"
            except TimeoutError:
                return f"needs the push channel: no answer at {stream.ws_url} within {PROBE_SECONDS:.0f}s"
            finally:
                await stream.close()
        return "needs the push channel: the stream ended before connecting"

    async def _probe_lists(self, account: Account) -> str | None:
        async with self.client("lists-probe", account.token) as client:
            try:
                await client.active_calls()
            except TransportError as error:
                raise Unreachable(str(error)) from None
            except SoftphoneError as error:
                if is_missing_route(error):
                    return "needs the simulator's call lists (GET /api/calls/active: no such route)"
                return f"needs the simulator's call lists (GET /api/calls/active: {error})"
        return None
