"""`<data_dir>/endpoints.json`: where a running `postino dev` can be reached.

The embedded broker and database listen on random ports; `postino dev` writes them
here while it runs (and removes the file on exit), so the operator tools started
next to `make run` find them when `POSTINO_KAFKA_BOOTSTRAP` is unset.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from worker.settings import ConfigError, Settings

FILE_NAME = "endpoints.json"


def path(settings: Settings) -> Path:
    return Path(settings.data_dir) / FILE_NAME


@contextlib.contextmanager
def published(settings: Settings) -> Iterator[Path]:
    """Write the endpoints of `settings` for the duration of the block (owner only)."""
    target = path(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.touch(mode=0o600)
    body = {
        "kafka_bootstrap": settings.kafka.bootstrap,
        "database_url": settings.database.url,
        "topic_prefix": settings.kafka.topic_prefix,
        "http": f"http://{settings.http.host}:{settings.http.port}",
    }
    target.write_text(json.dumps(body, indent=2) + "\n")
    try:
        yield target
    finally:
        target.unlink(missing_ok=True)


def resolve(settings: Settings) -> Settings:
    """`settings` with the broker (and database) of a running `postino dev` filled in."""
    if settings.kafka.bootstrap:
        return settings
    source = path(settings)
    if not source.is_file():
        raise ConfigError(
            f"POSTINO_KAFKA_BOOTSTRAP is unset and {source} does not exist:"
            " start `make run` first, or set POSTINO_KAFKA_BOOTSTRAP"
        )
    found = json.loads(source.read_text())
    return replace(
        settings,
        kafka=replace(settings.kafka, bootstrap=found["kafka_bootstrap"]),
        database=replace(settings.database, url=settings.database.url or found["database_url"]),
    )
