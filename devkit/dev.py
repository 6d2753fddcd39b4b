"""`postino dev`: the whole system in one process on embedded PostgreSQL and Kafka.

Starts what is not given (`POSTINO_DATABASE_URL`, `POSTINO_KAFKA_BOOTSTRAP`), applies
migrations, creates topics, seeds a demo service and demo citizens, runs every role,
prints a curl to try, and on Ctrl-C or SIGTERM stops everything it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from devkit.brokers import choose, make_broker
from devkit.embedded import EmbeddedPostgres
from devkit.sinks import DemoSender, DevSinks
from schemas.patterns import SANDBOX_FISCAL_CODE
from worker import eventloop, logs
from worker.adapters.backoffice_repo import SNAPSHOT_IF_NONE
from worker.bootstrap import Runtime, Stopped
from worker.cli import endpoints
from worker.lifecycle import install_signal_handlers, operated, prepare, run_roles
from worker.roles.registry import ROLES
from worker.services.directory import hash_key
from worker.settings import ConfigError, Settings

log = logs.get("postino.dev")

DEMO_SERVICE_ID = "demo-service"
DEMO_API_KEY = "postino-demo-key"
#: The demo public body's manage key (IO's CMS API), dev only.
DEMO_MANAGE_KEY = "postino-demo-manage-key"
#: How Postino authenticates to the demo sender's remote content (the dev sink).
DEMO_REMOTE_HEADER = "X-Demo-Key"
DEMO_REMOTE_KEY = "postino-demo-remote-content-key"
DEMO_CITIZENS = {
    # fiscal code: (email, inbox enabled)
    SANDBOX_FISCAL_CODE: ("sandbox@example.org", True),
    "RSSMRA80A01H501U": ("mario.rossi@example.org", True),
    "VRDGPP80A01H501X": ("giuseppe.verdi@example.org", True),
}


@contextlib.contextmanager
def embedded_if_needed(settings: Settings) -> Iterator[Settings]:
    """Fill in the database and broker with embedded ones where none is given."""
    data_dir = Path(settings.data_dir)
    with contextlib.ExitStack() as stack:
        if not settings.database.url:
            pg = EmbeddedPostgres(data_dir)
            url = pg.start()
            stack.callback(pg.stop)
            settings = replace(settings, database=replace(settings.database, url=url))
        if not settings.kafka.bootstrap:
            choice = choose(settings.embedded_broker)
            if choice.kafka_skipped is not None:
                log.warning("embedded_kafka_skipped", reason=choice.kafka_skipped)
            broker = make_broker(choice.kind, data_dir)
            bootstrap = broker.start()
            log.info("embedded_broker", broker=choice.label, bootstrap=bootstrap)
            stack.callback(broker.stop)
            kafka = replace(settings.kafka, bootstrap=bootstrap)
            if kafka.fetch_max_wait_ms is None:  # the poll the embedded broker wants
                kafka = replace(kafka, fetch_max_wait_ms=broker.fetch_max_wait_ms)
            settings = replace(settings, kafka=kafka)
        yield settings


async def seed_demo(runtime: Runtime, remote_url: str | None = None) -> None:
    """Idempotent: the demo service (published, premium, payments, limits high enough for
    `make load`, remote content at `remote_url` when given) and demo citizens."""
    async with runtime.pool.acquire() as conn, conn.transaction():
        await conn.execute(
            """
            INSERT INTO services (id, name, organization_name, organization_fiscal_code, state,
                                  published, api_key_hash, premium, payments,
                                  rate_per_second, daily_quota, description, privacy_url,
                                  scope, email)
            VALUES ($1, 'Servizio demo', 'Comune di Esempio', '01234567891', 'approved',
                    true, $2, true, true, 20000, 1000000000,
                    'Il servizio di prova di Postino: avvisi, pagamenti e documenti.',
                    'https://comune.example.org/privacy', 'LOCAL', 'demo@comune.example.org')
            ON CONFLICT (id) DO UPDATE SET api_key_hash = EXCLUDED.api_key_hash,
                rate_per_second = EXCLUDED.rate_per_second, daily_quota = EXCLUDED.daily_quota
            """,
            DEMO_SERVICE_ID,
            hash_key(DEMO_API_KEY),
        )
        # Its published copy (the approved version), unless it has one already.
        await conn.execute(SNAPSHOT_IF_NONE, DEMO_SERVICE_ID)
        # Its public body, with a manage key for IO's CMS API.
        await conn.execute(
            "INSERT INTO organizations (fiscal_code, name, email) VALUES"
            " ('01234567891', 'Comune di Esempio', 'urp@comune.example.org')"
            " ON CONFLICT (fiscal_code) DO NOTHING"
        )
        await conn.execute(
            "INSERT INTO manage_keys (id, organization_fiscal_code, key_hash)"
            " VALUES ('demo-manage-key', '01234567891', $1) ON CONFLICT (id) DO NOTHING",
            hash_key(DEMO_MANAGE_KEY),
        )
        if remote_url is not None:  # operational: the sink's port changes every run
            await conn.execute(
                "UPDATE services SET remote_content_base_url = $2,"
                " remote_content_header_key_name = $3, remote_content_key = $4 WHERE id = $1",
                DEMO_SERVICE_ID,
                remote_url,
                DEMO_REMOTE_HEADER,
                DEMO_REMOTE_KEY,
            )
        for fiscal_code, (email, inbox) in DEMO_CITIZENS.items():
            await conn.execute(
                """
                INSERT INTO profiles (fiscal_code, inbox_enabled, email, email_validated)
                VALUES ($1, $2, $3, true) ON CONFLICT (fiscal_code) DO NOTHING
                """,
                fiscal_code,
                inbox,
                email,
            )


def banner(settings: Settings) -> str:
    base = f"http://{settings.http.host}:{settings.http.port}"
    body = (
        '{"fiscal_code": "RSSMRA80A01H501U", "content": {"subject": "Promemoria TARI 2026",'
        ' "markdown": "Gentile cittadino, la informiamo che la rata della TARI per il 2026 '
        'scade il 30 novembre. Grazie per la collaborazione."}}'
    )
    return "\n".join(
        [
            "",
            "Postino is running (Ctrl-C stops everything).",
            f"  API:         {base}/api/v1",
            f"  console:     {base}/status#token={settings.admin_token}",
            f"  admin token: {settings.admin_token}",
            f"  demo key:    {DEMO_API_KEY}   (service {DEMO_SERVICE_ID})",
            f"  manage key:  {DEMO_MANAGE_KEY}   (IO's CMS API, {base}/api/v1/manage/services)",
            f"  data dir:    {Path(settings.data_dir).resolve()}",
            f"  e-mails:     {(Path(settings.data_dir) / 'mail').resolve()}/*.eml",
            f"  pushes:      {(Path(settings.data_dir) / 'push.jsonl').resolve()}",
            "",
            "Send a message to the demo service's citizen:",
            f"  curl -i -X POST {base}/api/v1/messages \\",
            f"    -H 'Ocp-Apim-Subscription-Key: {DEMO_API_KEY}' \\",
            "    -H 'Content-Type: application/json' \\",
            f"    -d '{body}'",
            "Then read its status (use the Location header of the answer):",
            f"  curl -s {base}/api/v1/messages/RSSMRA80A01H501U/<id> "
            f"-H 'Ocp-Apim-Subscription-Key: {DEMO_API_KEY}'",
            "Remote content and a PDF attachment: docs/integrators/remote-content.md.",
            "",
        ]
    )


async def with_dev_sinks(settings: Settings, sinks: DevSinks) -> Settings:
    """Start the local SMTP and push sinks and point notify at them (unless set)."""
    smtp_url, push_url = await sinks.start()
    notify = replace(
        settings.notify,
        smtp_url=settings.notify.smtp_url or smtp_url,
        push_url=settings.notify.push_url or push_url,
    )
    callbacks = replace(settings.callbacks, allow_loopback=True)
    return replace(settings, notify=notify, callbacks=callbacks)


async def _serve(settings: Settings) -> int:
    stop = asyncio.Event()
    install_signal_handlers(stop)
    await prepare(settings)
    sinks = DevSinks(
        Path(settings.data_dir), demo_sender=DemoSender(DEMO_REMOTE_HEADER, DEMO_REMOTE_KEY)
    )
    try:
        settings = await with_dev_sinks(settings, sinks)
        async with operated(settings, "dev", stop) as runtime:
            await seed_demo(runtime, sinks.remote_url)
            print(banner(settings), flush=True)
            return await run_roles(runtime, list(ROLES), stop)
    except Stopped:
        return 0
    finally:
        await sinks.stop()


def refuse_unsafe(settings: Settings, *, allow_external: bool) -> None:
    """`postino dev` seeds a fixed demo key: only into its own embedded database, and
    never on the production profile, unless told `--allow-external`."""
    if allow_external:
        return
    if settings.profile == "production":
        raise ConfigError(
            "POSTINO_PROFILE=production: `postino dev` is for development"
            " (pass --allow-external to run it anyway)"
        )
    if settings.database.url:
        raise ConfigError(
            "POSTINO_DATABASE_URL is set: `postino dev` seeds a demo service with a fixed key"
            " into its database; it uses its embedded one unless given --allow-external"
        )


def run_dev(settings: Settings, *, allow_external: bool = False) -> int:
    refuse_unsafe(settings, allow_external=allow_external)
    if not settings.admin_token:
        settings = replace(settings, admin_token=secrets.token_urlsafe(24))
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    with embedded_if_needed(settings) as ready, endpoints.published(ready):
        return eventloop.run(_serve(ready), ready)
