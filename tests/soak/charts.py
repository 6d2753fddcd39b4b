"""One PNG per trend of a soak: RSS, open descriptors, consumer lag, p99 latencies,
and the database (connections and size)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from tests.soak.sample import Sample

Series = Callable[[Sample], dict[str, float | None]]


def _chart(
    samples: Sequence[Sample],
    series: Series,
    *,
    title: str,
    unit: str,
    path: Path,
    warmup: float,
    log: bool = False,
) -> Path:
    minutes = [s.t / 60 for s in samples]
    names = sorted({name for s in samples for name in series(s)})
    fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
    for name in names:
        values = [series(s).get(name) for s in samples]
        ax.plot(minutes, [float("nan") if v is None else v for v in values], label=name)
    ax.axvline(warmup / 60, color="grey", linestyle="--", linewidth=1, label="end of warm-up")
    ax.set_title(title)
    ax.set_xlabel("minutes")
    ax.set_ylabel(unit)
    if log:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", ncol=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def draw(samples: Sequence[Sample], folder: Path, warmup: float) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)

    def rss(s: Sample) -> dict[str, float | None]:
        return dict(s.rss_mb)

    def fds(s: Sample) -> dict[str, float | None]:
        return {k: float(v) for k, v in s.fds.items()}

    def lag(s: Sample) -> dict[str, float | None]:
        return {k: float(v) for k, v in s.lag.items()}

    def latency(s: Sample) -> dict[str, float | None]:
        return {"accept -> processed": s.processed_p99, "accept -> push": s.push_p99}

    def database(s: Sample) -> dict[str, float | None]:
        return {"connections": float(s.pg_connections), "size MiB / 10": s.db_mb / 10}

    return [
        _chart(
            samples,
            rss,
            title="RSS per process",
            unit="MiB",
            path=folder / "rss.png",
            warmup=warmup,
        ),
        _chart(
            samples,
            fds,
            title="Open file descriptors",
            unit="fds",
            path=folder / "fds.png",
            warmup=warmup,
        ),
        _chart(
            samples,
            lag,
            title="Consumer lag per group",
            unit="records",
            path=folder / "lag.png",
            warmup=warmup,
        ),
        _chart(
            samples,
            latency,
            title="p99 per 10 s",
            unit="seconds (log scale)",
            path=folder / "latency.png",
            warmup=warmup,
            log=True,
        ),
        _chart(
            samples,
            database,
            title="PostgreSQL",
            unit="count",
            path=folder / "database.png",
            warmup=warmup,
        ),
    ]
