"""``make bench``'s harness in miniature: the phases that need no outside tool, a few calls each.

Not a measurement (the figures are whatever a busy test machine gives); it keeps the harness working.
"""

from __future__ import annotations

import shutil

import pytest

from benchmarks.bench_scale import QUICK, memory_run, push_and_fanout, request_cost


async def test_the_push_and_fan_out_phases_time_frames_from_another_process() -> None:
    results = await push_and_fanout(QUICK)
    for run in results["idle"] + results["with_idle_terminals"]:
        assert 0 < run["push"]["p50"] <= run["push"]["max"]
        assert run["healthz_rtt"]["p50"] > 0 and run["state_rtt"]["p50"] > 0
    assert 0 < results["subscribers"]["first_frame"]["p50"] <= results["subscribers"]["last_frame"]["max"]


async def test_the_memory_phase_reads_the_servers_rss_per_connection() -> None:
    figures = await memory_run((10,), compression=False)
    assert figures["idle_rss_kib"] > 0 and figures["10"]["rss_kib"] >= figures["idle_rss_kib"] - 1024


@pytest.mark.skipif(shutil.which("wrk") is None, reason="the request-cost phase runs Debian's wrk: apt-get install wrk")
def test_the_request_cost_phase_counts_only_answers_that_did_the_work() -> None:
    """Every lifecycle and every GET state answered with code 0 (wrk's scripts check each envelope; an error
    would stop the phase), so each figure measures the work it names."""
    (run,) = request_cost(QUICK)["rounds"]
    assert run["lifecycle"]["lifecycles"] > 0 and run["lifecycle"]["failures"] == 0
    assert run["state"]["states"] > 0 and run["state"]["failures"] == 0
    assert run["cost_vs_state"] > 0 and run["healthz"]["requests_per_s"] > 0
