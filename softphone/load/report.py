"""The end-of-run summary: calls by outcome, the asked and the achieved rate, latencies, errors by count.

Read from Locust's statistics (on a master: every worker's, merged), so the summary, the console table,
the web UI and the CSV files all tell the same story. The summary is what CI reads (``--json``).
"""

from __future__ import annotations

from typing import Any

from locust.stats import RequestStats, StatsEntry

from softphone.load.plan import LoadPlan

PERCENTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}


def latency(entry: StatsEntry | None) -> dict[str, float] | None:
    """Percentiles and max in ms (Locust keeps whole milliseconds), or None with no sample."""
    if entry is None or entry.num_requests == 0:
        return None
    figures = {name: float(entry.get_response_time_percentile(share)) for name, share in PERCENTILES.items()}
    return {**figures, "max": float(entry.max_response_time)}


def summarize(stats: RequestStats, plan: LoadPlan, crashes: int, signin_s: float) -> dict[str, Any]:
    """The summary as plain data; ``ok`` is false when any call or request failed, a user crashed
    (``crashes``: Locust's count of exceptions outside requests), or no call was made. ``signin_s`` is
    how long the users took to sign in before calls began."""
    rows = {(entry.method, entry.name): entry for entry in stats.entries.values()}
    outcomes = {
        load.outcome.value: {
            "asked_rate": round(load.rate, 3),
            "users": load.users,
            "completed": (entry.num_requests - entry.num_failures) if (entry := rows.get(("CALL", load.outcome.value))) else 0,
            "failed": entry.num_failures if entry else 0,
        }
        for load in plan.loads
    }
    attempted = sum(outcome["completed"] + outcome["failed"] for outcome in outcomes.values())
    failed = sum(outcome["failed"] for outcome in outcomes.values())
    requests = {
        f"{method} {name}": {"count": entry.num_requests, "failed": entry.num_failures, **(latency(entry) or {})}
        for (method, name), entry in sorted(rows.items())
        if method in ("GET", "POST")
    }
    errors: dict[str, int] = {}
    for error in stats.errors.values():
        errors[error.to_name()] = errors.get(error.to_name(), 0) + error.occurrences
    failed_requests = sum(request["failed"] for request in requests.values())
    return {
        "ok": attempted > 0 and failed == 0 and failed_requests == 0 and crashes == 0,
        "server": plan.server,
        "asked_rate": plan.rate,
        "achieved_rate": round(attempted / plan.duration_s, 3),
        "duration_s": plan.duration_s,
        "signin_s": round(signin_s, 3),
        "workers": plan.workers,
        "concurrency": plan.concurrency,
        "calls": {"attempted": attempted, "completed": attempted - failed, "failed": failed, "by_outcome": outcomes},
        "call_setup_ms": latency(rows.get(("SETUP", "answer"))),
        "push_ms": {"ring": latency(rows.get(("PUSH", "ring"))), "answer": latency(rows.get(("PUSH", "answer")))}
        if plan.push
        else None,
        "requests": requests,
        "errors": dict(sorted(errors.items(), key=lambda item: -item[1])),
        "crashes": crashes,
    }


def _figures(values: dict[str, float] | None) -> str:
    if not values:
        return "-"
    return " / ".join(f"{values[name]:.0f}" for name in ("p50", "p95", "p99", "max"))


def summary_table(summary: dict[str, Any]) -> str:
    """The summary for a person: one block of lines, latencies as p50 / p95 / p99 / max in ms."""
    calls = summary["calls"]
    lines = [
        f"softphone load against {summary['server']}: {summary['workers']} process(es), {summary['concurrency']} users",
        f"rate         asked {summary['asked_rate']:g} calls/s, achieved {summary['achieved_rate']:g} calls/s "
        f"({calls['attempted']} calls in {summary['duration_s']:g} s, after {summary['signin_s']:g} s to sign in)",
        f"calls        {calls['completed']} completed, {calls['failed']} failed",
    ]
    for outcome, counts in calls["by_outcome"].items():
        lines.append(f"  {outcome:<10} {counts['completed']} completed, {counts['failed']} failed")
    lines.append(f"call setup   {_figures(summary['call_setup_ms'])} ms (p50 / p95 / p99 / max, from the schedule)")
    if summary["push_ms"] is not None:
        for name, values in summary["push_ms"].items():
            lines.append(f"push {name:<7} {_figures(values)} ms")
    lines.append(f"{'requests':<38} count  failed  p50 / p95 / p99 / max ms")
    for name, request in summary["requests"].items():
        lines.append(f"  {name:<36} {request['count']:>6} {request['failed']:>6}  {_figures(request if request['count'] else None)}")
    for error, count in summary["errors"].items():
        lines.append(f"error        {count} x {error}")
    if summary["crashes"]:
        lines.append(f"crashes      {summary['crashes']} user error(s) outside requests: see the log")
    lines.append("result       " + ("ok: no call failed" if summary["ok"] else "FAILED: see the errors above"))
    return "\n".join(lines)
