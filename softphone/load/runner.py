"""Running a plan on Locust: in this process, as a master with workers, or as one worker.

Every mode uses Locust's own runners, statistics, console table, CSV writer and web UI; the plan
reaches workers as a custom Locust option, which Locust forwards with every spawn message, so a
worker on another machine needs only the master's address.

A worker sends its final statistics (and then ``softphone_done``) as soon as its users have finished
their last calls, so the master's figures are complete when it writes the summary.
"""

from __future__ import annotations

import csv
import json
import logging
import subprocess
import time
from typing import Any

import gevent
from locust.argument_parser import get_empty_argument_parser, setup_parser_arguments
from locust.env import Environment
from locust.log import setup_logging
from locust.rpc import Message
from locust.runners import MasterRunner, Runner
from locust.stats import (
    PERCENTILES_TO_REPORT,
    StatsCSVFileWriter,
    print_error_report,
    print_percentile_stats,
    print_stats,
    stats_history,
    stats_printer,
)

from softphone.load.lifecycle import COORDINATOR, PLAN_OPTION, USER_CLASSES
from softphone.load.plan import Launch, LoadPlan, launch_environment, load_process_command
from softphone.load.report import summarize, summary_table

log = logging.getLogger("softphone.load")
DONE_MESSAGE = "softphone_done"
WORKERS_WAIT_S = 30.0
"""How long a master waits for the worker processes it started itself to connect."""
DONE_WAIT_MARGIN_S = 30.0
SIGN_IN_BASE_S = 30.0
SIGN_IN_PER_USER_S = 0.2
"""How long calls wait for every user to sign in before they begin anyway (a user failed to start, say)."""


def options_for(plan: LoadPlan | None) -> Any:
    """Locust's options with their defaults, plus the plan as the custom option workers receive."""
    parser = get_empty_argument_parser()
    setup_parser_arguments(parser)
    options = parser.parse_args(args=[])
    options.headless = True
    if plan is not None:
        setattr(options, PLAN_OPTION, plan.model_dump_json())
    return options


def new_environment(plan: LoadPlan | None) -> Environment:
    environment = Environment(
        user_classes=list(USER_CLASSES.values()),
        host=plan.server if plan else None,
        stop_timeout=plan.stop_timeout_s if plan else None,
        parsed_options=options_for(plan),
    )
    return environment


def run(launch: Launch) -> int:
    """Run as ``launch`` says; the exit status is the command's (0: no call failed)."""
    setup_logging("INFO")
    if launch.role == "worker":
        return run_worker(launch)
    assert launch.plan is not None
    return run_load(launch, launch.plan)


def run_worker(launch: Launch) -> int:
    """Connect to the master and run whatever share it sends, until it says quit."""
    environment = new_environment(None)
    runner = environment.create_worker_runner(launch.master_host, launch.master_port)
    COORDINATOR.attach(runner)

    @environment.events.test_stop.add_listener
    def report_final(**_: Any) -> None:
        report: dict[str, Any] = {}
        environment.events.report_to_master.fire(client_id=runner.client_id, data=report)
        runner.send_message("stats", report)
        runner.send_message(DONE_MESSAGE, None)

    runner.greenlet.join()
    return 0


def run_load(launch: Launch, plan: LoadPlan) -> int:
    """The load in this process (``local``) or on workers (``master``); then the summary."""
    environment = new_environment(plan)
    classes = [USER_CLASSES[load.outcome] for load in plan.loads]
    for load in plan.loads:
        USER_CLASSES[load.outcome].fixed_count = load.users
    workers: list[subprocess.Popen[bytes]] = []
    done: set[str] = set()
    runner: Runner
    if launch.role == "local":
        runner = environment.create_local_runner()
    else:
        runner = master = environment.create_master_runner(
            "127.0.0.1" if launch.local_workers else "*", launch.master_port
        )
        master.register_message(DONE_MESSAGE, lambda msg, **_: done.add(msg.node_id))
        COORDINATOR.serve(master)
        workers = [start_worker(launch) for _ in range(launch.local_workers)]
    if launch.web_port is not None:
        environment.create_web_ui("127.0.0.1", launch.web_port)
        log.info("web UI on http://127.0.0.1:%d", launch.web_port)
    csv_writer = (
        StatsCSVFileWriter(environment, PERCENTILES_TO_REPORT, launch.csv_prefix, full_history=True)
        if launch.csv_prefix
        else None
    )
    live_csv = gevent.spawn(csv_writer.stats_writer) if csv_writer is not None else None
    gevent.spawn(stats_history, runner)
    printer = gevent.spawn(stats_printer(environment.stats))
    try:
        if isinstance(runner, MasterRunner):
            wait_for_workers(runner, plan.workers, WORKERS_WAIT_S if workers else None)
        started = time.perf_counter()
        runner.start(plan.concurrency, spawn_rate=plan.concurrency, user_classes=classes)
        sign_in_wait = SIGN_IN_BASE_S + SIGN_IN_PER_USER_S * plan.concurrency
        if not COORDINATOR.wait(sign_in_wait):
            log.warning("not every user signed in within %.0f s: calls begin anyway", sign_in_wait)
            COORDINATOR.begin(environment)
        signin_s = COORDINATOR.calls_begin - started
        gevent.sleep(plan.duration_s)  # calls run for the duration; Locust's users do the work meanwhile
        if isinstance(runner, MasterRunner):
            stop_workers(runner, done, plan)
        else:
            runner.stop()
    finally:
        printer.kill()
        for process in workers:
            stop_process(process)
    print_stats(environment.stats, current=False)
    print_percentile_stats(environment.stats)
    print_error_report(environment.stats)
    crashes = sum(row["count"] for row in runner.exceptions.values())
    summary = summarize(environment.stats, plan, crashes, signin_s)
    if live_csv is not None:
        live_csv.kill()
    if csv_writer is not None:
        write_final_csv(csv_writer)
    runner.quit()
    if launch.json_summary:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        print(summary_table(summary))
    return 0 if summary["ok"] else 1


def write_final_csv(writer: StatsCSVFileWriter) -> None:
    """Locust rewrites its CSV files every second while the load runs; the last calls end after that."""
    for handle, write in (
        (writer.requests_csv_filehandle, writer.requests_csv),
        (writer.failures_csv_filehandle, writer.failures_csv),
        (writer.exceptions_csv_filehandle, writer.exceptions_csv),
    ):
        handle.seek(0)
        handle.truncate()
        write(csv.writer(handle))
    writer.close_files()


def start_worker(launch: Launch) -> subprocess.Popen[bytes]:
    worker = Launch(role="worker", master_host="127.0.0.1", master_port=launch.master_port)
    return subprocess.Popen(load_process_command(), env=launch_environment(worker))


def wait_for_workers(master: MasterRunner, count: int, timeout: float | None) -> None:
    """Until ``count`` workers are ready; remote ones may take their time (``timeout`` None)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while len(master.clients.ready) < count:
        if deadline is not None and time.monotonic() > deadline:
            raise SystemExit(f"softphone load: {len(master.clients.ready)} of {count} workers connected")
        log.info("waiting for workers: %d of %d connected", len(master.clients.ready), count)
        gevent.sleep(0.5)


def stop_workers(master: MasterRunner, done: set[str], plan: LoadPlan) -> None:
    """Tell every worker to quit (finishing its calls first) and wait for each one's final report."""
    expected = {client.id for client in master.clients.all}
    for client_id in expected:
        master.server.send_to_client(Message("quit", None, client_id))
    deadline = time.monotonic() + plan.stop_timeout_s + DONE_WAIT_MARGIN_S
    while not expected <= done and time.monotonic() < deadline:
        gevent.sleep(0.1)
    if not expected <= done:
        log.error("%d workers sent no final report: the figures miss their last seconds", len(expected - done))


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """A worker this master started: it exits after quit; make sure of it."""
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.terminate()
        process.wait(timeout=10)

