"""The bench's own parts: the load generator counts what it gets, the report judges."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from devkit.bench import ab, loadgen, procs, report, workload
from devkit.bench.stats import Latencies
from schemas.enums import Channel


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    async def created(request: web.Request) -> web.Response:
        body = await request.read()
        status = 201 if body == b"ok" else 400
        return web.json_response({"id": "x"}, status=status)

    app = web.Application()
    app.router.add_post("/api/v1/messages", created)
    async with TestServer(app) as srv:
        yield srv


def _requests(srv: TestServer, *bodies: bytes) -> list[bytes]:
    host = f"{srv.host}:{srv.port}"
    return [loadgen.encode_request("POST", host, "/api/v1/messages", {}, b) for b in bodies]


async def test_closed_loop_counts_every_answer_by_status(server: TestServer) -> None:
    gen = loadgen.LoadGenerator(server.host, server.port, _requests(server, b"ok", b"bad"))
    result = await gen.run_closed(concurrency=4, seconds=0.3)
    assert result.statuses[201] > 0
    assert result.statuses[400] > 0
    assert sum(result.statuses.values()) == len(result.latencies)
    assert result.rate == result.ok / result.seconds


async def test_open_loop_sends_the_offered_number_and_keeps_bodies(server: TestServer) -> None:
    gen = loadgen.LoadGenerator(
        server.host, server.port, _requests(server, b"ok"), keep_bodies=True
    )
    result = await gen.run_open(rate=200, seconds=0.5)
    assert result.ok == 100
    assert result.bodies[-1] == b'{"id": "x"}'


def test_percentiles_are_nearest_rank() -> None:
    lat = Latencies()
    for n in range(1, 101):
        lat.add(n / 1000)
    assert lat.summary_ms() == {"p50_ms": 50.0, "p95_ms": 95.0, "p99_ms": 99.0, "max_ms": 100.0}


def _results(ours_rps: float, deliver_mps: float) -> dict[str, object]:
    side = {
        "p50_ms": 5.0,
        "p99_ms": 9.0,
        "server_cpu_seconds": 4.0,
        "server_cpu_us_per_request": 200.0,
        "generator_cpu_seconds": 1.0,
        "rss_peak_mb": 50.0,
    }
    phase = {
        "offered_per_second": 1000.0,
        "processed_per_second": 1000.0,
        "accept_to_processed": {"p50_ms": 10.0, "p99_ms": 50.0, "max_ms": 80.0},
        "submit_latency": {"p99_ms": 20.0},
        "sut_cpu_seconds": {"ingress": 3.0, "deliver": 2.0},
        "generator_cpu_seconds": 1.0,
    }
    return {
        "ingress": {
            "ceiling": {**side, "requests_per_second": 1000.0},
            "ours": {**side, "requests_per_second": ours_rps},
        },
        "pipeline": {
            "ceiling": {"messages_per_second": 10000.0, "cpu_us_per_message": 50.0},
            "ours": {"messages_per_second": deliver_mps, "cpu_us_per_message": 150.0},
        },
        "e2e": {
            "fixed_rate": phase,
            "saturation": {**phase, "processed_per_second": 3500.0},
            "rss_peak_mb": {"ingress": 60.0, "deliver": 250.0},
        },
    }


def test_report_judges_each_target_against_its_ceiling() -> None:
    verdicts = {r.figure: r.met for r in report.rows(_results(650.0, 3500.0))}
    assert verdicts["ingress (ours)"] is False
    assert verdicts["deliver (ours)"] is True
    assert verdicts["e2e p99 accept->processed"] is True
    assert verdicts["e2e sustained (saturation)"] is True
    assert verdicts["deliver RSS peak (e2e)"] is False


def test_report_table_shows_ratios_and_missed_targets() -> None:
    text = report.table(report.rows(_results(800.0, 2000.0)))
    assert "0.80" in text
    assert "MISSED" in text


def _full_pipeline(push_p99: float) -> dict[str, object]:
    latency = {"messages": 90, "missing": 0, "p50_ms": 40.0, "p99_ms": push_p99, "max_ms": 400.0}
    return {
        "offered_per_second": 500,
        "accept_to_push_sent": latency,
        "accept_to_callback_push_sent": {**latency, "p99_ms": push_p99 + 50},
        "accept_to_callback_processed": latency,
        "accept_to_processed": {"p99_ms": 30.0},
        "submit_latency": {"p99_ms": 20.0},
        "cpu_us_per_message_total": 900.0,
        "cpu_us_per_message": {"notify": 300.0},
        "kafka_requests_per_message": {"notify": {"produce": 0.25, "fetch": 0.5, "other": 0.0}},
        "rss_peak_mb": {"notify": 70.0},
    }


def test_report_judges_the_full_pipeline_and_lists_costs_per_process() -> None:
    results = {**_results(800.0, 4000.0), "full_pipeline": _full_pipeline(180.0)}
    found = {r.figure: r for r in report.rows(results)}
    assert found["full p99 accept->push sent"].met is True
    assert found["full CPU/msg notify"].value == 300.0
    assert found["full produce req/msg notify"].value == 0.25
    assert found["notify RSS peak (full)"].met is True
    slow = {**_results(800.0, 4000.0), "full_pipeline": _full_pipeline(400.0)}
    assert {r.figure: r.met for r in report.rows(slow)}["full p99 accept->push sent"] is False


def test_the_full_pipeline_is_judged_by_its_cpu_per_message_against_its_ceiling() -> None:
    ceiling = {
        **_full_pipeline(50.0),
        "cpu_us_per_message_total": 500.0,
        "postgres_transactions_per_message": 0.5,
    }
    ours = {
        **_full_pipeline(180.0),
        "callback_attempts_by_topic": {"messages.status": 90},
        "postgres_transactions_per_message": 2.0,
        "postgres_rows_written_per_message": {"delivery_attempts": 4.3},
    }
    results = {**_results(800.0, 4000.0), "full_pipeline": ours, "full_pipeline_ceiling": ceiling}
    found = {r.figure: r for r in report.rows(results)}
    ratio = found["full CPU/msg vs ceiling (CPU ratio)"]
    assert (ratio.ratio, ratio.met) == (1.8, True)
    assert found["full CPU/msg notify vs ceiling"].ratio == 1.0
    assert found["full callback attempts from messages.status"].value == 90
    assert found["full PostgreSQL transactions/msg"].ratio == 4.0
    assert found["full rows written/msg, delivery_attempts"].value == 4.3
    assert found["full max accept->callback (sent)"].met is True
    costly = {**results, "full_pipeline": {**ours, "cpu_us_per_message_total": 1100.0}}
    assert {r.figure: r.met for r in report.rows(costly)}[ratio.figure] is False


def test_the_ceiling_notifies_the_channels_our_rules_pick_for_the_workload() -> None:
    channels = workload.channels(30)
    assert channels[workload.fiscal_code(0)] == (Channel.PUSH,)  # e-mail blocked
    assert channels[workload.fiscal_code(1)] == (Channel.PUSH, Channel.EMAIL)
    assert workload.fiscal_code(2) not in channels  # inbox off: rejected
    assert channels[workload.fiscal_code(5)] == (Channel.PUSH, Channel.EMAIL)


def test_report_shows_the_previous_run_next_to_each_figure(tmp_path: Path) -> None:
    first = report.document(_results(800.0, 2000.0), options={}, seconds=1.0)
    report.write(first, tmp_path)
    previous = report.load_previous(tmp_path)
    assert previous is not None
    assert previous["ingress (ours)"] == 800.0
    second = report.document(_results(900.0, 2000.0), options={}, seconds=1.0, previous=previous)
    line = next(x for x in second["text"].splitlines() if x.startswith("ingress (ours)"))
    assert line.split()[2] == "900.0" and line.endswith("800.0")
    assert report.load_previous(tmp_path / "nowhere") is None


def test_ab_compares_medians_and_per_round_ratios() -> None:
    a_runs = [{"p99_ms": 100.0, "rate": 1000.0}, {"p99_ms": 300.0, "rate": 900.0}]
    b_runs = [{"p99_ms": 50.0, "rate": 1100.0}, {"p99_ms": 240.0, "rate": 990.0}]
    figures = ab.compare(a_runs, b_runs)
    assert figures["p99_ms"]["a_median"] == 200.0
    assert figures["p99_ms"]["b_median"] == 145.0
    assert figures["p99_ms"]["ratio_median"] == 0.65  # median of 0.5 and 0.8
    assert figures["rate"]["ratio_median"] == 1.1


def test_ab_flattens_numeric_figures_without_profiles_or_statuses() -> None:
    doc = {"fixed": {"p99_ms": 9.5, "statuses": {"201": 10}, "profile": {"x": 1}}, "ok": True}
    assert ab.flatten(doc) == {"fixed.p99_ms": 9.5}


def test_ab_side_runs_its_tree_first_on_the_path(tmp_path: Path) -> None:
    side = ab.Side("B", {"POSTINO_KAFKA_LINGER_MS": "5"}, tmp_path)
    assert side.process_env() == {
        "POSTINO_KAFKA_LINGER_MS": "5",
        "PYTHONPATH": str(tmp_path),
        "PYTHONSAFEPATH": "1",  # not the working directory's checkout before it
    }
    assert side.describe() == f"POSTINO_KAFKA_LINGER_MS=5, tree {tmp_path}"


def test_a_side_started_from_a_checkout_imports_its_tree(tmp_path: Path) -> None:
    """`python -m` puts the working directory first on `sys.path`; a bench started
    from a checkout must still run the side's tree (`PYTHONSAFEPATH`)."""
    tree = tmp_path / "tree"
    (tree / "worker").mkdir(parents=True)
    (tree / "worker" / "__init__.py").write_text("")
    (tree / "worker" / "probe.py").write_text(
        "import pathlib, worker\n"
        "pathlib.Path(__import__('sys').argv[1]).write_text(worker.__file__)\n"
    )
    out = tmp_path / "imported"
    side = ab.Side("A", {}, tree)
    service = procs.Service(
        "probe",
        [sys.executable, "-m", "worker.probe", str(out)],
        side.process_env(),
        tmp_path / "logs",
    )
    checkout = Path(__file__).resolve().parents[2]
    with contextlib.chdir(checkout):  # as `make bench` runs: from the checkout
        service.start()
    assert service.proc is not None
    code = service.proc.wait(timeout=30)
    service.stop()
    assert code == 0, service.log_tail()
    assert out.read_text() == str(tree / "worker" / "__init__.py")


def test_report_lists_the_broker_probe_and_the_p99_of_each_third() -> None:
    results = _results(800.0, 4000.0)
    fixed = results["e2e"]["fixed_rate"]  # type: ignore[index]
    fixed["accept_to_processed"]["p99_ms_by_third"] = [40.0, 90.0, 250.0]
    results["broker"] = {"fetch_ms_by_batches": {"10": 0.2, "3000": 3.3}, "us_per_batch": 1.04}
    found = {r.figure: r for r in report.rows(results)}
    assert [found[f"e2e p99 accept->processed, {n}/3"].value for n in (1, 2, 3)] == [
        40.0,
        90.0,
        250.0,
    ]
    assert found["broker CPU per fetch, 3000 batches"].value == 3.3
    fixed["cpu_us_per_message"] = {"ingress": 400.0, "deliver": 250.0, "broker": 700.0}
    found = {r.figure: r for r in report.rows(results)}
    assert found["e2e CPU/msg, all but the broker"].value == 650.0
    assert found["broker CPU per fetch, per batch held"].value == 1.04
