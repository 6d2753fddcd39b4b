"""Apache Kafka's broker as jars: the pinned version (devkit/kafka-broker/pom.xml),
fetched once with Maven into a cache outside the checkout, and whether this machine can
run it (`java_available`).

The cache is `${XDG_CACHE_HOME:-~/.cache}/postino/kafka-<version>/libs`
(`POSTINO_KAFKA_CACHE` overrides the parent folder). A fetch is done once: a marker file
holding the pom's digest says the folder is complete, a file lock keeps two processes
(two test sessions, `make run` beside `make test`) from fetching at the same time.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

from worker import logs

log = logs.get("postino.embedded")

POM = Path(__file__).parent / "kafka-broker" / "pom.xml"
#: Kafka 4.x brokers run on Java 17 or newer.
MIN_JAVA = 17
_MARKER = ".complete"


class KafkaUnavailableError(RuntimeError):
    """Java or Maven is missing, or the jars could not be fetched; says which and why."""


def kafka_version() -> str:
    found = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", POM.read_text())
    if found is None:
        raise KafkaUnavailableError(f"{POM} names no <kafka.version>")
    return found.group(1)


def cache_root() -> Path:
    explicit = os.environ.get("POSTINO_KAFKA_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "postino"


def libs_dir() -> Path:
    return cache_root() / f"kafka-{kafka_version()}" / "libs"


def _java_major(java: str) -> int | None:
    try:
        done = subprocess.run(  # noqa: S603 - the java on PATH, a fixed argument
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r'version "(\d+)(?:\.(\d+))?', done.stderr + done.stdout)
    if found is None:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major


def java_available() -> str | None:
    """None when this machine can run the embedded Kafka, else the reason it cannot."""
    java = shutil.which("java")
    if java is None:
        return f"no `java` on PATH (Apache Kafka {kafka_version()} needs Java {MIN_JAVA}+)"
    major = _java_major(java)
    if major is None or major < MIN_JAVA:
        return f"`{java}` is Java {major or '?'}; Apache Kafka {kafka_version()} needs {MIN_JAVA}+"
    if not _complete(libs_dir()) and shutil.which("mvn") is None:
        return (
            f"Apache Kafka {kafka_version()} is not in {libs_dir()} and there is no `mvn`"
            " on PATH to fetch it"
        )
    return None


def _digest() -> str:
    return hashlib.sha256(POM.read_bytes()).hexdigest()


def _complete(libs: Path) -> bool:
    marker = libs / _MARKER
    return marker.exists() and marker.read_text().strip() == _digest()


def ensure_jars() -> Path:
    """The folder of the broker's jars, fetched with Maven the first time."""
    libs = libs_dir()
    if _complete(libs):
        return libs
    reason = java_available()
    if reason is not None:
        raise KafkaUnavailableError(reason)
    libs.parent.mkdir(parents=True, exist_ok=True)
    with (libs.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not _complete(libs):
            _fetch(libs)
    return libs


def _fetch(libs: Path) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaUnavailableError("no `mvn` on PATH to fetch Apache Kafka's jars")
    shutil.rmtree(libs, ignore_errors=True)
    log.info("embedded_kafka_fetching", version=kafka_version(), into=str(libs))
    argv = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(POM),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={libs}",
    ]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-15:]
        raise KafkaUnavailableError(
            "fetching Apache Kafka's jars failed (" + " ".join(argv) + "):\n" + "\n".join(tail)
        )
    (libs / _MARKER).write_text(_digest() + "\n")
