"""A bug report of one call that a developer can act on: who, where, the whole timeline, the errors, the server's state.

Written side by side as Markdown (to read, or paste into an issue) and JSON (to process): the same
header, the timeline as the rows a person reads (one per version, every source that delivered it,
what changed) and as every raw delivery (the JSON Lines event objects of :mod:`softphone.records`),
the errors with the server's code and message, and the call's state as the server gave it when the
report was written. No token appears in it: the state object carries none, and neither does the header.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from softphone.api import redact
from softphone.core import CallMachine, RowKind, TimelineRow, timeline_rows
from softphone.records import iso_moment, timeline_records


def app_version() -> str:
    try:
        return version("softphone")
    except PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True, slots=True)
class ReportHeader:
    """Where the report comes from; ``written_at`` is local time with its zone, as the reader's clock said."""

    user: str
    terminal_id: str
    server: str
    peer: str
    role: str
    call_type: str
    call_id: int
    app_version: str
    written_at: datetime


@dataclass(frozen=True, slots=True)
class ServerState:
    """The call's state fetched when the report was written, or why it could not be."""

    state: dict[str, Any] | None
    error: str | None = None


def report_name(header: ReportHeader) -> str:
    """``softphone-call7-tui-3f2a-20260705-100500``: one call, one terminal, one moment."""
    return f"softphone-call{header.call_id}-{header.terminal_id}-{header.written_at.strftime('%Y%m%d-%H%M%S')}"


def write_report(directory: Path, header: ReportHeader, machine: CallMachine, server: ServerState) -> tuple[Path, Path]:
    """Write ``NAME.md`` and ``NAME.json`` into ``directory``; their paths."""
    base = directory / report_name(header)
    markdown, document = base.with_suffix(".md"), base.with_suffix(".json")
    markdown.write_text(report_markdown(header, machine, server), encoding="utf-8")
    document.write_text(json.dumps(report_json(header, machine, server), ensure_ascii=False, indent=2) + "\n",
                        encoding="utf-8")
    return markdown, document


def _written(header: ReportHeader) -> str:
    """``2026-07-05 12:05:00 CEST (UTC+02:00)``."""
    moment = header.written_at
    offset = moment.strftime("%z")
    return f"{moment.strftime('%Y-%m-%d %H:%M:%S %Z')} (UTC{offset[:3]}:{offset[3:]})"


def _row_cells(row: TimelineRow) -> list[str]:
    """time, version, status, sources, what happened: one Markdown table row."""
    at = row.at.astimezone().strftime("%H:%M:%S.%f")[:-3]
    if row.kind is RowKind.ACTION:
        return [at, "", "", "you", f"→ {row.note}"]
    if row.kind is RowKind.ERROR:
        return [at, f"v{row.version}" if row.version else "", row.status or "", "", f"✕ {row.error_code} {row.note}"]
    words = " · ".join(row.changes)
    if row.kind is RowKind.STALE:
        words = f"stale: {row.note}"
    elif row.note:
        words = f"{words} · {row.note}" if words else row.note
    return [at, f"v{row.version}", row.status or "", row.sources_text, words]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def report_markdown(header: ReportHeader, machine: CallMachine, server: ServerState) -> str:
    lines = [f"# softphone bug report: call {header.call_id}", "", "| | |", "|---|---|"]
    for name, value in (
        ("user", header.user),
        ("terminal", header.terminal_id),
        ("server", header.server),
        ("peer", header.peer),
        ("role", header.role),
        ("call type", header.call_type),
        ("call id", str(header.call_id)),
        ("app version", header.app_version),
        ("written", _written(header)),
        ("outcome", machine.headline()),
    ):
        lines.append(f"| {name} | {_cell(value)} |")
    lines += ["", "## Timeline", "", "One row per version, with every source that delivered it and what changed.", "",
              "| time | version | status | sources | what happened |", "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(_cell(cell) for cell in _row_cells(row)) + " |" for row in timeline_rows(machine.timeline)]
    errors = [row for row in timeline_rows(machine.timeline) if row.kind is RowKind.ERROR]
    lines += ["", "## Errors", ""]
    lines += [f"- {row.at.astimezone().strftime('%H:%M:%S')} {row.error_code or 'no answer'}: {row.note}" for row in errors]
    if not errors:
        lines.append("None.")
    lines += ["", "## Every delivery", "", "```"] + [redact(entry.as_text()) for entry in machine.timeline] + ["```"]
    lines += ["", "## Server state when written", ""]
    if server.state is not None:
        lines += ["```json", json.dumps(server.state, ensure_ascii=False, indent=2), "```"]
    else:
        lines.append(f"Not available: {server.error}")
    return "\n".join(lines) + "\n"


def report_json(header: ReportHeader, machine: CallMachine, server: ServerState) -> dict[str, Any]:
    head = asdict(header) | {"written_at": header.written_at.isoformat(timespec="seconds")}
    records = [record.data() for record in timeline_records(machine)]
    return {
        "report": head,
        "outcome": machine.headline(),
        "events": records,
        "errors": [record for record in records if record["kind"] == "error"],
        "server_state": server.state,
        "server_state_error": server.error,
        "exported_at": iso_moment(header.written_at),
    }
