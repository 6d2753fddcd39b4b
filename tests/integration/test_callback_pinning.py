"""The webhook connects only to the addresses the SSRF check passed: the host is not
looked up again by the HTTP client (DNS rebinding reaches nothing), and the URL's host
still names the peer (`Host`)."""

from __future__ import annotations

from tests.integration.notify_helpers import Receiver, serving
from worker.adapters.webhook import HttpWebhookSender


async def test_the_post_goes_to_the_checked_address_under_the_urls_host() -> None:
    lookups: list[str] = []

    async def resolver(host: str, port: int) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"]

    async with serving(Receiver()) as hook:
        port = hook.url.split(":")[2].split("/")[0]
        # `rebind.invalid` resolves nowhere: only the pinned address can be reached.
        url = f"http://rebind.invalid:{port}/hook"
        sender = HttpWebhookSender(2.0, allow_loopback=True, resolver=resolver)
        try:
            await sender.post(url, b"{}", {"Content-Type": "application/json"})
        finally:
            await sender.stop()
    assert lookups == ["rebind.invalid"]
    ((headers, body),) = hook.calls
    assert headers["Host"] == f"rebind.invalid:{port}"
    assert body == b"{}"
