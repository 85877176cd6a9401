"""Running a scenario against a server: each party on its own client, steps in order, races together.

Every party is a user on one terminal with its own :class:`~softphone.api.CallClient`; a party that
waits for a status also follows its calls on a :class:`~softphone.api.PushStream` (pushed where the
server has the channel, polled where not), so waits end when the state arrives, never after a fixed
sleep. Every answer is judged twice: by the step's own expectations and by the contract
(``softphone.scenario.contract``). The run stops at the first step that fails; whatever calls it
started are then ended (cancelled while ringing, hung up once answered) so the next scenario finds
everyone free.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from softphone.api import (
    LIVE_STATUSES,
    ApiError,
    CallClient,
    CallStatus,
    SoftphoneError,
    TransportError,
)
from softphone.core import Source
from softphone.scenario.contract import (
    Answer,
    Finding,
    read_answer,
    review,
    review_version,
)
from softphone.scenario.judge import judge, judge_group
from softphone.scenario.model import (
    AnyStep,
    Basis,
    CallStep,
    Capability,
    DialStep,
    Expect,
    ListStep,
    MediaStep,
    Scenario,
    TogetherStep,
    WaitStep,
)
from softphone.scenario.target import Account, Target, Unavailable, Unreachable
from softphone.scenario.transport import Exchange, RecordingTransport
from softphone.scenario.watch import Watcher

BOGUS_TOKEN = "softphone-check-not-a-token"


class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class StepResult:
    """What one step did and what was wrong with it; a ``together`` group gets one of its own too."""

    number: str
    party: str | None
    action: str
    text: str
    """The step in words: ``dial bob as c``, ``wait c calling``."""
    elapsed: float
    """Seconds from the scenario's start to the moment the step acted (after its pause)."""
    at: datetime
    answer: Answer | None
    source: Source | None
    call_id: int | None
    status_before: str | None
    """The call's status as known when the step was sent: which row of the table it exercised."""
    failures: tuple[Finding, ...] = ()
    warnings: tuple[Finding, ...] = ()


@dataclass
class ScenarioResult:
    scenario: Scenario
    source: str
    outcome: Outcome = Outcome.PASS
    reason: str = ""
    """Why it was skipped, or its first failure in words."""
    steps: list[StepResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def warnings(self) -> list[tuple[StepResult, Finding]]:
        return [(step, warning) for step in self.steps for warning in step.warnings]

    @property
    def failures(self) -> list[tuple[StepResult, Finding]]:
        return [(step, failure) for step in self.steps for failure in step.failures]


class Reporter(Protocol):
    """Told about each scenario and step as it happens, so output keeps pace with the run."""

    def scenario_started(self, scenario: Scenario, source: str) -> None: ...

    def step_done(self, scenario: Scenario, step: StepResult) -> None: ...

    def scenario_done(self, result: ScenarioResult) -> None: ...


class _Skip(Exception):
    """The scenario cannot run here; the message says why."""


@dataclass
class CallTrack:
    """What the run knows of one call it started: its id, parties, and the newest version seen."""

    name: str
    call_id: int | None
    caller: str
    version: int | None = None
    status: str | None = None

    def observe(self, data: dict[str, Any] | None) -> None:
        """Keep the newest version's status; the same version again is the same state (an accept's
        repeat answers "accepted" whatever the status, as documented, and must not move it back)."""
        version, status = (data or {}).get("version"), (data or {}).get("status")
        if isinstance(version, int) and (self.version is None or version > self.version):
            self.version = version
            self.status = status if isinstance(status, str) else self.status


@dataclass
class PartyRuntime:
    name: str
    account: Account
    terminal_id: str
    client: CallClient
    recorder: RecordingTransport
    watcher: Watcher | None = None


class ScenarioRun:
    """One run of one scenario on a target; ``run()`` once."""

    def __init__(self, scenario: Scenario, target: Target, *, source: str, strict: bool, reporter: Reporter) -> None:
        self.scenario = scenario
        self.target = target
        self.strict = strict
        self.reporter = reporter
        self.result = ScenarioResult(scenario, source)
        self.parties: dict[str, PartyRuntime] = {}
        self.calls: dict[str, CallTrack] = {}
        self._started = 0.0

    async def run(self) -> ScenarioResult:
        loop = asyncio.get_running_loop()
        began = self._started = loop.time()
        self.reporter.scenario_started(self.scenario, self.result.source)
        try:
            await self._prepare()
            self._started = loop.time()  # step times count from the first step, not from signing in
            for number, step in enumerate(self.scenario.steps, start=1):
                if isinstance(step, TogetherStep):
                    failed = await self._together(str(number), step)
                else:
                    failed = bool((await self._action(str(number), step, start=None)).failures)
                if failed:
                    first_step, first = self.result.failures[0]
                    self.result.outcome = Outcome.FAIL
                    self.result.reason = f"step {first_step.number} ({first_step.party} {first_step.text}): {first.words()}"
                    break
        except (_Skip, Unavailable) as skip:
            self.result.outcome, self.result.reason = Outcome.SKIP, str(skip)
        finally:
            await self._clean_up()
            self.result.seconds = loop.time() - began
        self.reporter.scenario_done(self.result)
        return self.result

    # ------------------------------------------------------------------ setting up

    async def _prepare(self) -> None:
        accounts = {name: await self.target.account(party.user) for name, party in self.scenario.parties.items()}
        needs = set(self.scenario.requires)
        for _, step in self.scenario.numbered():
            if isinstance(step, WaitStep) and step.via == "push":
                needs.add(Capability.PUSH)
            if isinstance(step, ListStep):
                needs.add(Capability.LISTS)
        missing = await self.target.missing(needs, next(iter(accounts.values()))) if needs else None
        if missing is not None:
            raise _Skip(missing)
        waiting = {step.party for _, step in self.scenario.numbered() if isinstance(step, WaitStep)}
        for name, party in self.scenario.parties.items():
            account = accounts[name]
            terminal = party.terminal or account.terminal_id or f"{name}-{secrets.token_hex(3)}"
            recorder = self.target.transport()
            client = self.target.client(terminal, account.token, recorder)
            runtime = self.parties[name] = PartyRuntime(name, account, terminal, client, recorder)
            if name in waiting:
                runtime.watcher = Watcher(self.target.client(terminal, account.token), poll=self.target.poll)
                await runtime.watcher.start()

    # ------------------------------------------------------------------ steps

    async def _together(self, number: str, group: TogetherStep) -> bool:
        await asyncio.sleep(group.after)
        elapsed, at = self._now()
        start = asyncio.Barrier(len(group.together))

        async def member(index: int, step: AnyStep) -> StepResult:
            try:
                return await self._action(f"{number}.{index}", step, start=start)
            except BaseException:
                await start.abort()  # the others must not wait at the barrier for one that will never come
                raise

        outcomes = await asyncio.gather(
            *(member(index, step) for index, step in enumerate(group.together, 1)), return_exceptions=True
        )
        problems = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        if problems:
            raise next((p for p in problems if not isinstance(p, asyncio.BrokenBarrierError)), problems[0])
        members = [outcome for outcome in outcomes if isinstance(outcome, StepResult)]
        codes = [member.answer.code if member.answer else None for member in members]
        findings = judge_group(group.expect, Basis.DOCUMENTED, codes) + judge_group(group.simulator, Basis.SIMULATOR, codes)
        words = ", ".join(f"{member.party} {member.text}" for member in members)
        result = self._record(
            StepResult(number, None, "together", f"together: {words}", elapsed, at, None, None, None, None),
            findings,
        )
        return bool(result.failures) or any(member.failures for member in members)

    async def _action(self, number: str, step: AnyStep, *, start: asyncio.Barrier | None) -> StepResult:
        """One step; ``start`` is the barrier of its ``together`` group, which it passes once ready to send."""
        party = self.parties[step.party]
        if isinstance(step, DialStep):
            return await self._dial(number, step, party, start=start)
        await self._go(step, start)
        if isinstance(step, WaitStep):
            return await self._wait(number, step, party)
        in_group = start is not None
        track = None if isinstance(step, ListStep) or step.call is None else self.calls[step.call]
        call_id = track.call_id if track is not None else getattr(step, "call_id", None)
        text = _words(step)
        elapsed, at = self._now()
        if not isinstance(step, ListStep) and call_id is None:
            finding = Finding(Basis.DOCUMENTED, f"call {step.call!r} was never started (its dial failed)")
            return self._record(StepResult(number, step.party, step.action, text, elapsed, at, None, None, None, None), [finding])
        seen, seen_status = (track.version, track.status) if track else (None, None)
        async with self._client_for(party, step) as (client, recorder):
            exchange = await self._send(recorder, self._request(client, step, call_id))
        answer, shape = read_answer(exchange)
        # The step's own expectations first: they say best what a case is about.
        findings = self._judge(step, answer, before=seen, default_code=not in_group) + shape
        findings += review(step.action, answer, call_id=call_id, sent=exchange.sent)
        findings += review_version(step.action, answer, seen=seen, seen_status=seen_status)
        if track is not None and answer.ok:
            track.observe(answer.data)
        result = StepResult(number, step.party, step.action, text, elapsed, at, answer, Source.RESPONSE, call_id, seen_status)
        return self._record(result, findings)

    @staticmethod
    async def _go(step: AnyStep, start: asyncio.Barrier | None) -> None:
        """Wait for the rest of the group (a race starts at one instant), then for the step's own pause."""
        if start is not None:
            await start.wait()
        await asyncio.sleep(step.after)

    async def _dial(self, number: str, step: DialStep, party: PartyRuntime, *, start: asyncio.Barrier | None) -> StepResult:
        callee = self.parties.get(step.target)
        if callee is not None:
            callee_id, callee_account = callee.account.user_id, callee.account
        else:
            callee_id = await self.target.user_id(party.account, step.target)
            callee_account = Account(step.target, callee_id, "", step.target)
        conversation = step.conversation or await self.target.conversation(party.account, callee_account)
        await self._go(step, start)
        in_group = start is not None
        elapsed, at = self._now()
        async with self._client_for(party, step) as (client, recorder):
            request = client.start_call(conversation, callee_id, step.call_type, step.biz_type)
            exchange = await self._send(recorder, request)
        answer, shape = read_answer(exchange)
        findings = self._judge(step, answer, before=None, default_code=not in_group) + shape
        findings += review("dial", answer, call_id=None, sent=exchange.sent)
        call_id = answer.field("call_id") if answer.ok else None
        track = self.calls[step.call] = CallTrack(step.call, call_id if isinstance(call_id, int) else None, step.party)
        track.observe(answer.data if answer.ok else None)
        result = StepResult(number, step.party, "dial", _words(step), elapsed, at, answer, Source.RESPONSE, track.call_id, None)
        result = self._record(result, findings)
        ring = answer.field("timeout_seconds")
        if self.scenario.ring_timeout is not None and isinstance(ring, int) and ring > self.scenario.ring_timeout:
            raise _Skip(
                f"needs a ring timeout of at most {self.scenario.ring_timeout}s and the server rings {ring}s "
                f"(the simulator: serve --ring-timeout {self.scenario.ring_timeout})"
            )
        return result

    async def _wait(self, number: str, step: WaitStep, party: PartyRuntime) -> StepResult:
        track = self.calls[step.call]
        text = _words(step)
        elapsed, at = self._now()
        base = StepResult(number, step.party, "wait", text, elapsed, at, None, None, track.call_id, track.status)
        if track.call_id is None:
            return self._record(base, [Finding(Basis.DOCUMENTED, f"call {step.call!r} was never started (its dial failed)")])
        assert party.watcher is not None
        seen = track.version
        try:
            state, source = await party.watcher.until(track.call_id, step.status, step.timeout, pushed=step.via == "push")
        except TimeoutError as timeout:
            return self._record(base, [Finding(Basis.DOCUMENTED, f"waited for {timeout}")])
        except TransportError as error:
            raise Unreachable(str(error)) from None
        except ApiError as error:
            answer = Answer(error.code, error.message, None, error.HTTP_STATUS)
            findings = self._judge(step, answer, before=seen, default_code=True)
            return self._record(_with(base, answer=answer, source=Source.POLL), findings)
        except SoftphoneError as error:
            return self._record(base, [Finding(Basis.DOCUMENTED, f"reading the call's state: {error}")])
        data = state.model_dump(mode="json")
        track.observe(data)
        answer = Answer(0, "success", data, 200)
        findings = self._judge(step, answer, before=seen, default_code=True)
        pushed = party.watcher.pushed.get(track.call_id, [])
        if any(later < earlier for earlier, later in zip(pushed, pushed[1:], strict=False)):
            order = ", ".join(f"v{version}" for version in pushed)
            findings.append(Finding(Basis.SIMULATOR, f"pushes of call {step.call} arrived out of version order: {order}"))
        return self._record(_with(base, answer=answer, source=source), findings)

    @staticmethod
    def _request(client: CallClient, step: CallStep | MediaStep | ListStep, call_id: int | None) -> Awaitable[object]:
        if isinstance(step, ListStep):
            return client.active_calls() if step.action == "active" else client.history()
        assert call_id is not None
        if isinstance(step, MediaStep):
            return client.report_media(call_id, step.stage, step.quality)
        match step.action:
            case "accept":
                return client.accept(call_id)
            case "reject":
                return client.reject(call_id, step.reason)
            case "cancel":
                return client.cancel(call_id, step.reason)
            case "hangup":
                return client.hangup(call_id, step.reason)
        return client.call_state(call_id)  # "state"

    @asynccontextmanager
    async def _client_for(
        self, party: PartyRuntime, step: DialStep | CallStep | MediaStep | ListStep
    ) -> AsyncIterator[tuple[CallClient, RecordingTransport]]:
        """The party's own client, or a one-off one for a step that sends another terminal id or token."""
        terminal = getattr(step, "terminal", None)
        auth = getattr(step, "auth", "token")
        if terminal is None and auth == "token":
            yield party.client, party.recorder
            return
        token = {"token": party.account.token, "none": None, "bogus": BOGUS_TOKEN}[auth]
        recorder = self.target.transport()
        async with self.target.client(terminal or party.terminal_id, token, recorder) as client:
            yield client, recorder

    @staticmethod
    async def _send(recorder: RecordingTransport, request: Awaitable[object]) -> Exchange:
        """Send, and return the exchange as it went, whatever the client made of it."""
        recorder.take()
        try:
            await request
        except TransportError as error:
            raise Unreachable(str(error)) from None
        except SoftphoneError:
            pass  # judged from the exchange below, byte for byte
        exchange = recorder.take()
        assert exchange is not None, "every answer that is not a transport error is recorded"
        return exchange

    # ------------------------------------------------------------------ judging

    def _judge(self, step: AnyStep, answer: Answer, *, before: int | None, default_code: bool) -> list[Finding]:
        gives_code = any(table is not None and table.code is not None for table in (step.expect, step.simulator))
        documented = step.expect or Expect()
        if default_code and not gives_code:
            documented = documented.model_copy(update={"code": [0]})
        return [
            *judge(documented, Basis.DOCUMENTED, step.action, answer, before, self._call_ids),
            *judge(step.simulator, Basis.SIMULATOR, step.action, answer, before, self._call_ids),
        ]

    def _call_ids(self, names: list[str]) -> set[int]:
        return {track.call_id for name in names if (track := self.calls.get(name)) and track.call_id is not None}

    def _record(self, result: StepResult, findings: list[Finding]) -> StepResult:
        failing = [f for f in findings if f.basis is Basis.DOCUMENTED or self.strict]
        warning = [f for f in findings if f not in failing]
        result = _with(result, failures=tuple(failing), warnings=tuple(warning))
        self.result.steps.append(result)
        self.reporter.step_done(self.scenario, result)
        return result

    def _now(self) -> tuple[float, datetime]:
        return asyncio.get_running_loop().time() - self._started, datetime.now(UTC)

    # ------------------------------------------------------------------ cleaning up

    async def _clean_up(self) -> None:
        """End every call this run left live, then close every client and stream."""
        for track in self.calls.values():
            party = self.parties.get(track.caller)
            if track.call_id is None or party is None:
                continue
            try:
                state = await party.client.call_state(track.call_id)
                if state.status == CallStatus.CALLING:
                    await party.client.cancel(track.call_id)
                elif state.status in LIVE_STATUSES:
                    await party.client.hangup(track.call_id)
            except SoftphoneError:
                pass  # best effort: a call we cannot end now ends by its ring timeout or abandonment
        for party in self.parties.values():
            if party.watcher is not None:
                await party.watcher.close()
            await party.client.aclose()


def _with(result: StepResult, **changes: Any) -> StepResult:
    return replace(result, **changes)


def _words(step: AnyStep) -> str:
    """A step as a short phrase for the log."""
    match step:
        case DialStep():
            kind = "" if step.call_type == "audio" else f" ({step.call_type})"
            return f"dial {step.target}{kind} as {step.call}"
        case WaitStep():
            how = " by push" if step.via == "push" else ""
            return f"wait {step.call} {'|'.join(step.status)}{how}"
        case ListStep():
            return step.action
        case MediaStep():
            quality = f":{step.quality}" if step.quality else ""
            return f"media {step.call or step.call_id} {step.stage}{quality}"
        case CallStep():
            reason = f" ({step.reason})" if step.reason else ""
            return f"{step.action} {step.call or step.call_id}{reason}"
    return step.action


async def run_scenarios(
    scenarios: Sequence[tuple[Scenario, str]], target: Target, *, strict: bool, reporter: Reporter
) -> list[ScenarioResult]:
    """Each scenario in turn on one target (they share its users, so never at once); closes the target."""
    async with target:
        return [
            await ScenarioRun(scenario, target, source=source, strict=strict, reporter=reporter).run()
            for scenario, source in scenarios
        ]
