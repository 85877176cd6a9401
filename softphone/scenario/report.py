"""How a run is told: short lines for people, JSON Lines for scripts, JUnit XML for CI.

JSON Lines are the records every softphone command prints (``softphone.records``): an ``event`` for an
answer or a state (``call_id``, ``version``, ``status``, ``source``, ``end_reason``), an ``error`` for a
refusal (``code``, ``message``), a ``summary`` for a group, a scenario or the run; each step's line adds
the scenario, the step, its party and action, and what was wrong with it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from softphone.core import Source
from softphone.records import ErrorRecord, EventRecord, Record, SummaryRecord, iso_moment
from softphone.scenario.contract import Finding
from softphone.scenario.model import Scenario
from softphone.scenario.runner import Outcome, ScenarioResult, StepResult


class HumanReport:
    """Each step on one line with its time, what was wrong under it, and a verdict per scenario."""

    def __init__(self, out: Callable[[str], None], *, steps: bool = True) -> None:
        self.out = out
        self.steps = steps

    def replay(self, result: ScenarioResult) -> None:
        """Tell a finished scenario again (the JUnit report keeps its steps as output)."""
        self.scenario_started(result.scenario, result.source)
        for step in result.steps:
            self.step_done(result.scenario, step)
        self.scenario_done(result)

    def scenario_started(self, scenario: Scenario, source: str) -> None:
        if self.steps:
            self.out(f"{scenario.name}  ({source})")

    def step_done(self, scenario: Scenario, step: StepResult) -> None:
        if not self.steps:
            return
        if step.party is None:
            line = f"  +{step.elapsed:7.3f}s  {step.number:<5} {step.text}"
        else:
            got = step.answer.summary() if step.answer else "no answer"
            via = f" ({step.source})" if step.source and step.source != "response" else ""
            line = f"  +{step.elapsed:7.3f}s  {step.number:<5} {step.party:<8} {step.text:<30} → {got}{via}"
        self.out(line)
        for failure in step.failures:
            self.out(f"             FAIL {failure.words()}")
        for warning in step.warnings:
            self.out(f"             WARN {warning.words()}")

    def scenario_done(self, result: ScenarioResult) -> None:
        verdict = result.outcome.value.upper()
        if result.outcome is Outcome.PASS:
            warned = f", {len(result.warnings)} warnings" if result.warnings else ""
            detail = f"{len(result.steps)} steps, {result.seconds:.2f}s{warned}"
        else:
            detail = result.reason
        self.out(f"{verdict}  {result.scenario.name}: {detail}")
        if self.steps:
            self.out("")


class JsonLinesReport:
    """One JSON object a line for every step and every scenario, as it happens."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def emit(self, record: Record) -> None:
        self.stream.write(record.line() + "\n")
        self.stream.flush()

    def scenario_started(self, scenario: Scenario, source: str) -> None:
        """Nothing: the scenario's summary line names it, with its result."""

    def step_done(self, scenario: Scenario, step: StepResult) -> None:
        self.emit(step_record(scenario.name, step))

    def scenario_done(self, result: ScenarioResult) -> None:
        self.emit(scenario_record(result))


def _findings(findings: Sequence[Finding]) -> list[dict[str, str]]:
    return [{"basis": finding.basis.value, "text": finding.text} for finding in findings]


def step_record(scenario: str, step: StepResult) -> Record:
    """An ``event`` for an answer or a state, an ``error`` for a refusal, a ``summary`` for a group or a list."""
    common: dict[str, Any] = {
        "scenario": scenario,
        "step": step.number,
        "party": step.party,
        "action": step.action,
        "text": step.text,
        "elapsed": round(step.elapsed, 3),
        "ok": not step.failures,
        "failures": _findings(step.failures),
        "warnings": _findings(step.warnings),
    }
    answer = step.answer
    if answer is None or not answer.ok:
        if step.party is None:
            return SummaryRecord(at=step.at, scope="together", **common)
        code, message = (answer.code, answer.message) if answer else (None, step.failures[0].text if step.failures else "")
        return ErrorRecord(at=step.at, code=code, message=message, call_id=step.call_id, **common)
    call_id = answer.field("call_id") or step.call_id
    if call_id is None:
        calls = [call.get("call_id") for call in answer.field("calls") or [] if isinstance(call, dict)]
        return SummaryRecord(at=step.at, scope="step", calls=calls, **common)
    return EventRecord(
        at=step.at,
        call_id=call_id,
        version=answer.field("version"),
        status=answer.field("status"),
        end_reason=answer.field("end_reason"),
        source=step.source or Source.RESPONSE,
        **common,
    )


def scenario_record(result: ScenarioResult, *, scope: str = "scenario", verdict: str | None = None) -> SummaryRecord:
    """A scenario's summary line; the check calls it a ``case`` and has verdicts of its own (``warn``)."""
    return SummaryRecord(
        at=datetime.now(UTC),
        scope=scope,
        scenario=result.scenario.name,
        file=result.source,
        result=verdict or result.outcome.value,
        reason=result.reason,
        steps=len(result.steps),
        seconds=round(result.seconds, 3),
        failures=[{"step": step.number, "basis": f.basis.value, "text": f.text} for step, f in result.failures],
        warnings=[{"step": step.number, "basis": f.basis.value, "text": f.text} for step, f in result.warnings],
    )


def totals(results: Sequence[ScenarioResult]) -> dict[str, int]:
    counted = {outcome.value: sum(r.outcome is outcome for r in results) for outcome in Outcome}
    return {"total": len(results), **counted, "warnings": sum(len(r.warnings) for r in results)}


def totals_words(results: Sequence[ScenarioResult], noun: str = "scenarios") -> str:
    count = totals(results)
    return (
        f"{count['total']} {noun}: {count['pass']} passed, {count['fail']} failed, {count['skip']} skipped, "
        f"{count['warnings']} warnings"
    )


def write_junit(
    path: Path, suite: str, results: Sequence[ScenarioResult], classname: Callable[[ScenarioResult], str]
) -> None:
    """A JUnit XML report: one testcase per scenario, failures and skips with their reasons, steps as output."""
    count = totals(results)
    seconds = f"{sum(r.seconds for r in results):.3f}"
    root = ET.Element("testsuites", name=suite, tests=str(count["total"]), failures=str(count["fail"]), time=seconds)
    suite_element = ET.SubElement(
        root,
        "testsuite",
        name=suite,
        tests=str(count["total"]),
        failures=str(count["fail"]),
        errors="0",
        skipped=str(count["skip"]),
        time=seconds,
        timestamp=iso_moment(datetime.now(UTC)),
    )
    for result in results:
        case = ET.SubElement(
            suite_element, "testcase", classname=classname(result), name=result.scenario.name, time=f"{result.seconds:.3f}"
        )
        case.set("file", result.source)
        if result.outcome is Outcome.FAIL:
            failure = ET.SubElement(case, "failure", message=result.reason, type="expectation")
            failure.text = "\n".join(f"step {step.number}: {f.words()}" for step, f in result.failures)
        elif result.outcome is Outcome.SKIP:
            ET.SubElement(case, "skipped", message=result.reason)
        lines: list[str] = []
        HumanReport(lines.append).replay(result)
        ET.SubElement(case, "system-out").text = "\n".join(lines)
    ET.indent(root)
    path.write_text(ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n", encoding="utf-8")
