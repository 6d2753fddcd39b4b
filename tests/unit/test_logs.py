"""Logs: one JSON stream for Postino's events and the standard library's (aiokafka,
asyncpg...), each line with `logger`, `level`, `role`, `version` and the bound ids."""

from __future__ import annotations

import json
import subprocess
import sys

from worker.ingress.app import request_id

SCRIPT = """
import logging
from worker import logs
logs.configure("info", "json", role="deliver", version="1.2.3")
log = logs.get("postino.deliver")
logs.bind(message_id="01J0000000000000000000000A", service_id="svc-1")
log.info("message_delivered", count=1)
with logs.bound(request_id="req-1"):
    logging.getLogger("aiokafka.consumer").warning("fetch failed for RSSMRA80A01H501U")
logging.getLogger("asyncio").info("below the libraries' level: dropped")
"""


def lines() -> list[dict[str, object]]:
    done = subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=60
    )
    return [json.loads(line) for line in done.stderr.splitlines()]


def test_postino_and_library_lines_are_the_same_json_with_role_version_and_ids() -> None:
    ours, theirs = lines()
    assert ours["event"] == "message_delivered"
    assert (ours["logger"], ours["level"], ours["role"], ours["version"]) == (
        "postino.deliver",
        "info",
        "deliver",
        "1.2.3",
    )
    assert (ours["message_id"], ours["service_id"]) == ("01J0000000000000000000000A", "svc-1")
    assert theirs["logger"] == "aiokafka.consumer"
    assert theirs["level"] == "warning"
    assert theirs["role"] == "deliver"
    assert theirs["request_id"] == "req-1"
    assert theirs["event"] == "fetch failed for [redacted]"  # no personal data, ever


def test_a_request_id_is_kept_when_plain_and_replaced_when_not() -> None:
    assert request_id("req-42.a:b_c") == "req-42.a:b_c"
    for bad in (None, "", "with space", "x" * 129, 'inject"\\n{"'):
        generated = request_id(bad)
        assert len(generated) == 32
        assert generated != bad


ACCESS = """
from worker import logs
logs.configure("{level}", "json", role="ingress", version="1.2.3")
logs.bind(request_id="req-9")
logs.InfoLog("postino.access").info("http_request", method="POST", status=201, at={{1, 2}})
"""


def access_lines(level: str) -> list[dict[str, object]]:
    done = subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", ACCESS.format(level=level)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return [json.loads(line) for line in done.stderr.splitlines()]


def test_the_access_line_is_json_at_info_and_not_written_above_it() -> None:
    [line] = access_lines("info")
    assert line["event"] == "http_request"
    assert (line["method"], line["status"], line["request_id"]) == ("POST", 201, "req-9")
    assert (line["logger"], line["level"], line["role"]) == ("postino.access", "info", "ingress")
    assert line["at"] == [1, 2]  # a set: a list, not its repr
    assert access_lines("warning") == []


def test_generated_request_ids_differ() -> None:
    assert len({request_id(None) for _ in range(1000)}) == 1000


SCOPED = """
import logging
from worker import logs
logs.configure("info", "json", role="ingress", version="1.2.3")
log = logs.get("postino.ingress")
scope = logs.open_scope(request_id="req-7")
logs.bind(service_id="svc-2", message_id=None)
log.info("inside", service_id="given")
logging.getLogger("aiohttp.server").warning("library line")
logs.close_scope(scope)
log.info("after")
"""


def test_a_request_scope_puts_its_ids_on_every_line_of_the_request_and_no_later_one() -> None:
    done = subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", SCOPED], capture_output=True, text=True, check=True, timeout=60
    )
    inside, library, after = (json.loads(line) for line in done.stderr.splitlines())
    assert (inside["request_id"], inside["service_id"]) == ("req-7", "given")  # fields win
    assert "message_id" not in inside  # None is not bound
    assert (library["request_id"], library["service_id"]) == ("req-7", "svc-2")
    assert "request_id" not in after and "service_id" not in after
