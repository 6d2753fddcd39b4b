"""Local sinks for `postino dev`: an SMTP server and a push gateway that keep what they get.

- e-mail: an aiosmtpd server; each message is stored as `<data_dir>/mail/<time>-<n>.eml`
  (open it with any mail client, or `cat` it);
- push: an aiohttp server accepting `POST /push`; each push is appended as one JSON
  line to `<data_dir>/push.jsonl`;
- remote content: the demo sender's systems (docs/integrators/remote-content.md) on the
  same server under `/remote`: details, a precondition and a small PDF for any third-party id, to
  callers that send `fiscal_code` and the demo service's remote content key.

Both listen on 127.0.0.1 on a free port (or the ports given) inside the running
event loop; `start()` returns their URLs, `stop()` closes both and is idempotent.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from pathlib import Path
from typing import Any

from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session

from worker import logs

log = logs.get("postino.devsinks")


class MailDirHandler:
    """aiosmtpd handler: writes every message it accepts to a .eml file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._count = itertools.count(1)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{next(self._count):05d}.eml"
        content = envelope.original_content or envelope.content or b""
        data = content if isinstance(content, bytes) else content.encode()
        (self.folder / name).write_bytes(data)
        log.info("dev_mail_stored", file=name, recipients=len(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


def demo_pdf(text: str = "Postino: allegato di prova") -> bytes:
    """A one-page PDF showing `text` (valid xref, so every viewer opens it)."""
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


class DemoSender:
    """The demo service's systems answering Postino's remote content calls."""

    ATTACHMENT = "attachments/avviso.pdf"

    def __init__(self, header: str, key: str) -> None:
        self._header, self._key = header, key
        self._pdf = demo_pdf()

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/remote/messages/{id}", self._details)
        app.router.add_get("/remote/messages/{id}/precondition", self._precondition)
        app.router.add_get("/remote/messages/{id}/attachments/avviso.pdf", self._attachment)

    def _refused(self, request: web.Request) -> web.Response | None:
        if request.headers.get(self._header) != self._key or not request.headers.get("fiscal_code"):
            return web.json_response({"title": "Unauthorized"}, status=401)
        return None

    async def _details(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        pid = request.match_info["id"]
        markdown = (
            f"Documento della pratica **{pid}**, conservato nei sistemi del Comune di Esempio"
            " e mostrato solo a lei. L'avviso completo e' allegato in PDF."
        )
        attachment = {"id": "1", "name": "avviso.pdf", "content_type": "application/pdf"}
        return web.json_response(
            {
                "details": {
                    "subject": f"Pratica {pid}: documento disponibile",
                    "markdown": markdown,
                },
                "attachments": [{**attachment, "url": self.ATTACHMENT, "category": "DOCUMENT"}],
            }
        )

    async def _precondition(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        body = {
            "title": "Contenuto riservato",
            "markdown": "Aprendo il messaggio conferma di essere il destinatario della pratica.",
        }
        return web.json_response(body)

    async def _attachment(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        return web.Response(body=self._pdf, content_type="application/pdf")


class DevSinks:
    def __init__(
        self,
        data_dir: Path,
        smtp_port: int = 0,
        push_port: int = 0,
        *,
        demo_sender: DemoSender | None = None,
    ) -> None:
        self.mail_dir = data_dir / "mail"
        self.push_file = data_dir / "push.jsonl"
        self._smtp_port = smtp_port
        self._push_port = push_port
        self._smtp: asyncio.base_events.Server | None = None
        self._sessions: list[SMTP] = []
        self._web: web.AppRunner | None = None
        self._demo_sender = demo_sender
        #: Base URL of the demo sender's remote content, once started.
        self.remote_url: str | None = None

    async def _push(self, request: web.Request) -> web.Response:
        payload: Any = await request.json()
        self.push_file.parent.mkdir(parents=True, exist_ok=True)
        with self.push_file.open("a", encoding="utf-8") as out:
            out.write(json.dumps(payload, ensure_ascii=False) + "\n")
        return web.json_response({"accepted": True})

    async def start(self) -> tuple[str, str]:
        """Start both sinks; returns (smtp url, push url)."""
        loop = asyncio.get_running_loop()
        handler = MailDirHandler(self.mail_dir)

        def session() -> SMTP:
            self._sessions = [
                s
                for s in self._sessions
                if s.transport is not None and not s.transport.is_closing()
            ]
            self._sessions.append(SMTP(handler, hostname="postino-dev", loop=loop))
            return self._sessions[-1]

        self._smtp = await loop.create_server(session, "127.0.0.1", self._smtp_port)
        smtp_port = self._smtp.sockets[0].getsockname()[1]
        app = web.Application()
        app.router.add_post("/push", self._push)
        if self._demo_sender is not None:
            self._demo_sender.routes(app)
        self._web = web.AppRunner(app, access_log=None)
        await self._web.setup()
        site = web.TCPSite(self._web, "127.0.0.1", self._push_port)
        await site.start()
        push_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        smtp_url, push_url = f"smtp://127.0.0.1:{smtp_port}", f"http://127.0.0.1:{push_port}/push"
        if self._demo_sender is not None:
            self.remote_url = f"http://127.0.0.1:{push_port}/remote"
        log.info("dev_sinks_started", smtp=smtp_url, push=push_url, mail_dir=str(self.mail_dir))
        return smtp_url, push_url

    def drop_connections(self) -> None:
        """Close every open SMTP connection from the server side (as an idle timeout does)."""
        for smtp in self._sessions:
            if smtp.transport is not None:
                smtp.transport.close()
        self._sessions.clear()

    async def stop(self) -> None:
        if self._smtp is not None:
            server, self._smtp = self._smtp, None
            server.close()
            # clients keep their connection open (notify pools one): close ours, since
            # wait_closed() waits for every connection from Python 3.12 on
            self.drop_connections()
            await server.wait_closed()
        if self._web is not None:
            runner, self._web = self._web, None
            await runner.cleanup()
