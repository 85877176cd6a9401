"""A headless peer that follows a policy on every call: the demo's peers and ``softphone bot``.

It stands on the same call controller as the TUI (:class:`~softphone.session.Session`), so it behaves
like any other terminal: it answers (after a while), rejects, lets ring, or says it is busy; it joins
the channel of a call it answers or places, or reports media on a script instead; it hangs up after a
while; and it turns away a second call with ``callee_busy`` while it is in one. With ``call`` it also
places calls, once or every few seconds, and with ``calls`` it stops after that many calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from softphone.api import NETWORK_QUALITY_MAX, STAGE_MAX, CallType, MediaStage, NetworkQuality, StreamError
from softphone.core import BUSY_REASON, CallMachine, Role
from softphone.session import CallsChanged, CallStream, RequestFailed, Session, describe_error

log = logging.getLogger(__name__)

Say = Callable[[str], None]


class OnRing(StrEnum):
    """What the bot does when a call rings it."""

    ANSWER = "answer"
    REJECT = "reject"
    IGNORE = "ignore"
    BUSY = "busy"


@dataclass(frozen=True)
class MediaStep:
    """Report ``stage`` (and ``network_quality``) ``after`` seconds from the moment the call was accepted."""

    after: float
    stage: str
    network_quality: str | None = None

    def __str__(self) -> str:
        quality = f":{self.network_quality}" if self.network_quality else ""
        return f"{self.stage}{quality}@{self.after:g}"


def parse_media_script(text: str) -> tuple[MediaStep, ...]:
    """``joined:good@0,:poor@5,reconnecting@8,joined:good@10``; a ``ValueError`` names the bad item.

    Items are ``STAGE[:QUALITY]@SECONDS`` or ``:QUALITY@SECONDS`` (the last stage, another quality),
    in time order. A bare word that is a network quality (``poor@5``) is refused with a hint: as a
    stage it would be sent as one, which is rarely what was meant.
    """
    steps: list[MediaStep] = []
    for item in (part.strip() for part in text.split(",")):
        what, at, seconds = item.rpartition("@")
        try:
            after = float(seconds)
        except ValueError:
            after = -1.0
        if not at or after < 0:
            raise ValueError(f"{item!r}: expected STAGE[:QUALITY]@SECONDS or :QUALITY@SECONDS")
        stage, colon, quality = what.partition(":")
        if not stage:
            if not steps:
                raise ValueError(f"{item!r}: the first item names a stage (joined:good@0)")
            stage = steps[-1].stage
        elif not colon and stage in set(NetworkQuality) - set(MediaStage):
            raise ValueError(f"{item!r}: {stage} is a network quality; write :{stage}@{seconds} to change only that")
        if colon and not quality:
            raise ValueError(f"{item!r}: a ':' is followed by a network quality")
        if len(stage) > STAGE_MAX or len(quality) > NETWORK_QUALITY_MAX:
            raise ValueError(f"{item!r}: a stage has at most {STAGE_MAX} characters, a quality {NETWORK_QUALITY_MAX}")
        if steps and after < steps[-1].after:
            raise ValueError(f"{item!r}: items go in time order")
        steps.append(MediaStep(after, stage, quality or None))
    return tuple(steps)


@dataclass(frozen=True)
class BotPolicy:
    """How the bot behaves; the defaults answer at once and stay in the call until the peer hangs up."""

    on_ring: OnRing = OnRing.ANSWER
    answer_after: float = 0.0
    hangup_after: float | None = None
    media_script: tuple[MediaStep, ...] = ()
    call: str | None = None
    every: float | None = None
    first_call_after: float = 0.0
    calls: int | None = None

    def describe(self) -> str:
        words = {
            OnRing.ANSWER: f"answers after {self.answer_after:g}s",
            OnRing.REJECT: "rejects",
            OnRing.IGNORE: "lets every call ring",
            OnRing.BUSY: "says it is busy",
        }[self.on_ring]
        if self.hangup_after is not None:
            words += f", hangs up {self.hangup_after:g}s after the answer"
        if self.media_script:
            words += ", media " + ",".join(map(str, self.media_script))
        if self.call is not None:
            words += f", calls {self.call}" + (f" every {self.every:g}s" if self.every else " once")
        if self.calls is not None:
            words += f", stops after {self.calls} call" + ("" if self.calls == 1 else "s")
        return words


class Bot:
    """Follows ``policy`` on ``session``'s calls until ``policy.calls`` calls are over (or it is cancelled)."""

    def __init__(self, session: Session, policy: BotPolicy, *, say: Say = log.info) -> None:
        self.session = session
        self.policy = policy
        self.say = say
        self.done = 0
        self._involved: set[int] = set()
        self._in_call: set[int] = set()
        self._over: set[int] = set()
        self._endings: dict[int, asyncio.Task[bool]] = {}
        self._changed = asyncio.Event()
        self._finished = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, stream: CallStream) -> int:
        """Follow ``stream`` until enough calls are over; the number of calls handled."""
        me = self.session.identity
        self.say(f"{me.display_name} (#{me.user_id}) on terminal {me.terminal_id}: {self.policy.describe()}.")
        if self.policy.call is not None:
            self._spawn(self._place_calls(self.policy.call))
        relaying = asyncio.create_task(self._relay(stream))
        finishing = asyncio.create_task(self._finished.wait())
        try:
            await asyncio.wait({relaying, finishing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in {relaying, finishing} | self._tasks | set(self._endings.values()):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await relaying  # a bug that stopped the stream is raised here
        return self.done

    async def _relay(self, stream: CallStream) -> None:
        async with contextlib.aclosing(self.session.events(stream)) as events:
            async for event in events:
                if isinstance(event, CallsChanged):
                    for call_id in event.call_ids:
                        self._consider(call_id)
                    self._changed.set()
                elif isinstance(event, RequestFailed):
                    self.say(event.text)
                elif isinstance(event, StreamError):
                    self.say(describe_error(event.error))

    # ------------------------------------------------------------------ what a change means

    def _consider(self, call_id: int) -> None:
        machine = self.session.phone.get(call_id)
        if machine is None:
            return
        if call_id not in self._involved and machine.role is Role.CALLEE and machine.is_ringing:
            self._involved.add(call_id)
            self._spawn(self._ringing(machine))
        if call_id in self._involved and call_id not in self._in_call and machine.mine_in_progress:
            self._in_call.add(call_id)
            self.say(f"call {call_id} with {machine.peer_name}: answered.")
            self._spawn(self._talk(machine))
        if call_id in self._involved and call_id not in self._over and machine.is_over:
            self._over.add(call_id)
            self._spawn(self._report_over(machine))

    async def _report_over(self, machine: CallMachine) -> None:
        """Count a call that is over, once this bot's own reject or hangup of it has its answer (who ended it)."""
        ending = self._endings.get(machine.call_id)
        if ending is not None:
            await asyncio.wait({ending})
        self._count(f"call {machine.call_id} is over: {machine.end_description()}")

    def _ending(self, call_id: int, work: Coroutine[Any, Any, bool]) -> asyncio.Task[bool]:
        """Run an intent that ends a call, so that its end is reported after its answer."""
        task = asyncio.create_task(work)
        self._endings[call_id] = task
        return task

    def _count(self, words: str) -> None:
        self.done += 1
        of = f" ({self.done} of {self.policy.calls})" if self.policy.calls is not None else ""
        self.say(words + of + ".")
        if self.policy.calls is not None and self.done >= self.policy.calls:
            self._finished.set()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ the policy

    async def _ringing(self, machine: CallMachine) -> None:
        call_id, peer = machine.call_id, machine.peer_name
        live = self.session.phone.live_call()
        if live is not None and live is not machine:
            self.say(f"call {call_id} from {peer} rings while in call {live.call_id}: turned away as busy.")
            return  # the controller rejects it with callee_busy
        policy = self.policy
        if policy.on_ring is OnRing.IGNORE:
            self.say(f"call {call_id} from {peer} rings: letting it ring.")
        elif policy.on_ring is OnRing.REJECT:
            self.say(f"call {call_id} from {peer} rings: rejecting.")
            await self._ending(call_id, self.session.reject(call_id))
        elif policy.on_ring is OnRing.BUSY:
            self.say(f"call {call_id} from {peer} rings: rejecting as busy.")
            await self._ending(call_id, self.session.reject(call_id, BUSY_REASON))
        else:
            self.say(f"call {call_id} from {peer} rings: answering in {policy.answer_after:g}s.")
            await asyncio.sleep(policy.answer_after)
            if machine.is_ringing:
                await self.session.accept(call_id, join=not policy.media_script)

    async def _talk(self, machine: CallMachine) -> None:
        """The media script, then (or meanwhile) the hangup, counted from the moment of the answer."""
        if self.policy.hangup_after is not None:
            self._spawn(self._hang_up_later(machine, self.policy.hangup_after))
        clock = asyncio.get_running_loop()
        answered_at = clock.time()
        for step in self.policy.media_script:
            await asyncio.sleep(max(0.0, answered_at + step.after - clock.time()))
            if machine.is_over:
                return
            self.say(f"call {machine.call_id}: reporting {step.stage}" + (
                f", {step.network_quality}." if step.network_quality else "."
            ))
            await self.session.report_media(machine.call_id, step.stage, step.network_quality)

    async def _hang_up_later(self, machine: CallMachine, seconds: float) -> None:
        await asyncio.sleep(seconds)
        if machine.is_in_progress:
            self.say(f"call {machine.call_id}: hanging up after {seconds:g}s.")
            await self._ending(machine.call_id, self.session.hangup(machine.call_id))

    async def call(self, user: str) -> None:
        """Call ``user`` now; the policy (hang-up, media script) applies to this call as to any other.

        The demo's "a peer calls you now" uses it, as often as asked; a policy's ``call`` uses it on its schedule.
        """
        self.say(f"calling {user}.")
        machine = await self.session.dial(user, CallType.AUDIO, join=not self.policy.media_script)
        if machine is None:
            self._count(f"the call to {user} did not start")
        else:
            self._involved.add(machine.call_id)
            self._consider(machine.call_id)

    async def _place_calls(self, user: str) -> None:
        """Call ``user`` (once, or every ``every`` seconds), never while already in a call."""
        policy = self.policy
        clock = asyncio.get_running_loop()
        await asyncio.sleep(policy.first_call_after)
        while True:
            while self.session.phone.live_call() is not None:
                self._changed.clear()
                await self._changed.wait()
            started = clock.time()
            await self.call(user)
            if policy.every is None:
                return
            await asyncio.sleep(max(0.0, started + policy.every - clock.time()))


async def run_bot(base_url: str, user: str, policy: BotPolicy, *, terminal_id: str, say: Say = log.info) -> int:
    """Sign in as ``user`` on ``base_url`` (the simulator's dev login) and run a bot until it is done."""
    from softphone.api import CallClient, PushStream

    async with CallClient(base_url, terminal_id=terminal_id) as client:
        session = await Session.sign_in(client, user=user)
        return await Bot(session, policy, say=say).run(PushStream(client))
