"""``softphone demo``: a private simulator, a simulated person for every outcome, and the phone, which says so.

For a support person alone with ``make demo``: the five other demo users are bots, each playing one
outcome, and the phone's home screen says who does what (beside each contact) and how to get a call in:

- the first answers after a couple of seconds and hangs up after a while (and calls you on request);
- the second declines;
- the third is busy: at start it calls the fourth, who answers, and they stay in that call;
- the fifth never answers, so the call rings out.

The bots run on their own event loop in a thread beside the app; the app asks one of them to call
through :class:`DemoGuide`, which is all the TUI knows of the demo.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from softphone.api import CallClient, PushStream
from softphone.bot import Bot, BotPolicy, OnRing
from softphone.launch import private_simulator
from softphone.server.directory import Directory, User
from softphone.session import Session

RING_TIMEOUT = 20
HANGUP_AFTER = 20.0


def demo_users() -> tuple[User, ...]:
    """The simulator's seeded users (its bundled directory), in the order the cast is drawn from."""
    return Directory.load().users


@dataclass(frozen=True, slots=True)
class Cast:
    """Who plays which outcome: everyone but the person at the phone."""

    answers: User
    declines: User
    busy: User
    busy_with: User
    never_answers: User

    @classmethod
    def around(cls, me: str) -> Cast:
        """The cast for the seeded user named ``me``; ``ValueError`` if there is no such user."""
        users = demo_users()
        if me not in {user.name for user in users}:
            raise ValueError(f"{me!r} is not one of the demo users: {', '.join(user.name for user in users)}")
        answers, declines, busy, busy_with, never_answers = (user for user in users if user.name != me)
        return cls(answers, declines, busy, busy_with, never_answers)

    def policies(self, answer_after: float, hangup_after: float = HANGUP_AFTER) -> dict[User, BotPolicy]:
        """Each member's part as a bot policy; the busy one calls the one it is busy with at once."""
        return {
            self.answers: BotPolicy(answer_after=answer_after, hangup_after=hangup_after),
            self.declines: BotPolicy(on_ring=OnRing.REJECT),
            self.busy: BotPolicy(on_ring=OnRing.IGNORE, call=self.busy_with.name),
            self.busy_with: BotPolicy(answer_after=0.5),
            self.never_answers: BotPolicy(on_ring=OnRing.IGNORE),
        }


@dataclass(frozen=True, slots=True)
class DemoGuide:
    """What the phone says about the demo, and the one thing it can ask of it: ``caller`` calls you now.

    ``banner`` says what the demo is and how to get a call in; ``roles`` what each simulated person
    (by user name) does, shown beside them in the contacts.
    """

    banner: str
    roles: Mapping[str, str]
    caller: str
    ring_me: Callable[[], None]


def guide_words(cast: Cast, answer_after: float) -> tuple[str, dict[str, str]]:
    """The demo's offer: a banner, and each person's part in a few words."""
    banner = f"Demo: everyone else is simulated. Press g and {cast.answers.display_name} calls you, as often as you like."
    roles = {
        cast.answers.name: f"answers in {answer_after:g}s, hangs up at {HANGUP_AFTER:g}s",
        cast.declines.name: "declines",
        cast.busy.name: f"busy (in a call with {cast.busy_with.display_name})",
        cast.busy_with.name: f"busy (in a call with {cast.busy.display_name})",
        cast.never_answers.name: f"never answers (rings {RING_TIMEOUT}s)",
    }
    return banner, roles


class DemoCast:
    """The cast as bots on one simulator: signs each in, runs them all, and has the answering one call on request."""

    def __init__(self, url: str, cast: Cast, answer_after: float, hangup_after: float = HANGUP_AFTER) -> None:
        self.url = url
        self.cast = cast
        self.policies = cast.policies(answer_after, hangup_after)
        self.bots: dict[str, Bot] = {}
        self._ready = asyncio.Event()

    async def run(self) -> None:
        """Until cancelled."""
        async with contextlib.AsyncExitStack() as stack:
            for user, policy in self.policies.items():
                client = await stack.enter_async_context(CallClient(self.url, terminal_id=f"demo-{user.name}"))
                session = await Session.sign_in(client, user=user.name)
                self.bots[user.name] = Bot(session, policy)
            self._ready.set()
            async with asyncio.TaskGroup() as group:
                for bot in self.bots.values():
                    group.create_task(bot.run(PushStream(bot.session.client)))

    async def ring(self, user: str) -> None:
        """The answering member calls ``user`` now (once everyone has signed in)."""
        await self._ready.wait()
        await self.bots[self.cast.answers.name].call(user)


def run_demo(*, user: str, answer_after: float, call_me: bool) -> None:
    """A private simulator, the cast, and the phone signed in as ``user``."""
    from softphone.tui.app import AppConfig, run_phone

    cast = Cast.around(user)
    workdir = Path(tempfile.mkdtemp(prefix="softphone-demo-"))
    with private_simulator(workdir, "--ring-timeout", str(RING_TIMEOUT)) as url:
        loop = asyncio.new_event_loop()
        demo_cast = DemoCast(url, cast, answer_after)
        task = loop.create_task(demo_cast.run())

        def run_bots() -> None:
            with contextlib.suppress(asyncio.CancelledError):
                loop.run_until_complete(task)

        def ring_me() -> None:
            asyncio.run_coroutine_threadsafe(demo_cast.ring(user), loop)

        thread = threading.Thread(target=run_bots, name="demo-cast", daemon=True)
        thread.start()
        banner, roles = guide_words(cast, answer_after)
        guide = DemoGuide(banner, roles, cast.answers.display_name, ring_me)
        if call_me:
            loop.call_soon_threadsafe(loop.call_later, 3.0, ring_me)
        try:
            run_phone(AppConfig(server_url=url, user=user, demo=guide))
        finally:
            loop.call_soon_threadsafe(task.cancel)
            thread.join(timeout=5)
