"""The bench's sinks: a push, a callback and an e-mail arrive and are counted, through
the same client libraries notify and callbacks use."""

from __future__ import annotations

from email.message import EmailMessage

import aiohttp
import aiosmtplib

from devkit.bench import sinks


async def test_pushes_callbacks_and_mails_are_recorded_per_message() -> None:
    arrivals = sinks.Arrivals()
    http, smtp = await sinks.start(arrivals, 0, 0)
    base = f"http://127.0.0.1:{http.sockets[0].getsockname()[1]}"
    try:
        async with aiohttp.ClientSession() as session:
            push = {"message_id": "m1", "fiscal_code": "x", "title": "t"}
            async with session.post(f"{base}{sinks.PUSH_PATH}", json=push) as answer:
                assert answer.status == 200
            event = {"message_id": "m1", "kind": "notification", "channel": "PUSH"}
            event |= {"status": "SENT", "seq": 2}
            for _ in range(2):
                async with session.post(f"{base}{sinks.CALLBACK_PATH}", json=event) as answer:
                    assert answer.status == 200
            mail = EmailMessage()
            mail["From"], mail["To"], mail["Subject"] = "a@example.org", "b@example.org", "s"
            mail.set_content("body\n.\nwith a dot line")
            port = smtp.sockets[0].getsockname()[1]
            await aiosmtplib.send(mail, hostname="127.0.0.1", port=port, start_tls=False)
            async with session.get(f"{base}{sinks.COUNTS_PATH}") as answer:
                counts = await answer.json()
            async with session.get(f"{base}{sinks.ARRIVALS_PATH}") as answer:
                everything = await answer.json()
    finally:
        http.close()
        smtp.close()
    assert counts == {"pushes": 1, "callbacks": {"notification:PUSH:SENT": 2}, "mails": 1}
    assert [p[0] for p in everything["pushes"]] == ["m1"]
    assert [c[:2] for c in everything["callbacks"]] == [["m1", "notification:PUSH:SENT"]] * 2
