"""``make bench``'s harness in miniature: the phases that need no outside tool, a few calls each.

Not a measurement (the figures are whatever a busy test machine gives); it keeps the harness working.
"""

from __future__ import annotations

from benchmarks.bench_scale import QUICK, memory_run, push_and_fanout


async def test_the_push_and_fan_out_phases_time_frames_from_another_process() -> None:
    results = await push_and_fanout(QUICK)
    for run in results["idle"] + results["with_idle_terminals"]:
        assert 0 < run["push"]["p50"] <= run["push"]["max"]
        assert run["healthz_rtt"]["p50"] > 0 and run["state_rtt"]["p50"] > 0
    assert 0 < results["subscribers"]["first_frame"]["p50"] <= results["subscribers"]["last_frame"]["max"]


async def test_the_memory_phase_reads_the_servers_rss_per_connection() -> None:
    figures = await memory_run((10,), compression=False)
    assert figures["idle_rss_kib"] > 0 and figures["10"]["rss_kib"] >= figures["idle_rss_kib"] - 1024
