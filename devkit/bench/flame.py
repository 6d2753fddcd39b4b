"""`postino bench --profile`: py-spy samples of the processes under test, as flame graphs.

py-spy (a dev dependency) attaches to a running process by pid and samples its Python
stacks from outside (`--nonblocking`: the process is never paused), so the process
under test runs unmodified. Each recording is kept as collapsed stacks
(`<name>.txt`, the format flamegraph tools read) and rendered here as a
self-contained SVG flame graph (`<name>.svg`, open it in a browser); the JSON gets
the top functions by own and by total samples and the own samples per package.
"""

from __future__ import annotations

import collections
import hashlib
import html
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RATE = 100  # samples per second and process
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*)\)$")


def pyspy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(found).exists():
        raise RuntimeError("--profile needs py-spy (a dev dependency: make install)")
    return found


@dataclass
class Recorder:
    """py-spy attached to named processes for one phase; `stop()` renders and summarises."""

    out_dir: Path
    tag: str
    pids: dict[str, int]
    _running: dict[str, tuple[subprocess.Popen[bytes], Path]] = field(default_factory=dict)

    def start(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        exe = pyspy()
        for name, pid in self.pids.items():
            raw = self.out_dir / f"{self.tag}-{name}.txt"
            argv = [exe, "record", "--pid", str(pid), "--rate", str(RATE), "--nonblocking"]
            argv += ["--format", "raw", "--nolineno", "--output", str(raw)]
            proc = subprocess.Popen(  # noqa: S603 - the venv's py-spy, our own pids
                argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            self._running[name] = (proc, raw)

    def stop(self) -> dict[str, Any]:
        """Stop every recorder (SIGINT makes py-spy write its file); the summaries."""
        for proc, _ in self._running.values():
            proc.send_signal(signal.SIGINT)
        found: dict[str, Any] = {}
        for name, (proc, raw) in self._running.items():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if not raw.exists():
                found[name] = {"error": "py-spy wrote nothing"}
                continue
            stacks = parse(raw.read_text())
            svg = raw.with_suffix(".svg")
            svg.write_text(render(stacks, f"{self.tag} {name}"))
            found[name] = {"flamegraph": str(svg), "stacks": str(raw), **summary(stacks)}
        self._running.clear()
        return found


def parse(text: str) -> dict[tuple[str, ...], int]:
    """Collapsed stacks (`a;b;c 12` per line, root first) -> {frames: samples}."""
    stacks: dict[tuple[str, ...], int] = collections.Counter()
    for line in text.splitlines():
        path, _, count = line.rpartition(" ")
        if path and count.isdigit():
            stacks[tuple(_short(f) for f in path.split(";"))] += int(count)
    return stacks


def _short(frame: str) -> str:
    """`func (/long/path/site-packages/aiokafka/conn.py)` -> `func (aiokafka/conn.py)`."""
    match = _FRAME.match(frame)
    if match is None:
        return frame
    return f"{match['func']} ({_module_path(match['file'])})"


def _module_path(file: str) -> str:
    for marker in ("site-packages/", "/python3.11/", "/python3.12/", "/worker/", "/schemas/"):
        at = file.rfind(marker)
        if at >= 0:
            prefix = marker.strip("/") + "/" if marker in ("/worker/", "/schemas/") else ""
            return prefix + file[at + len(marker) :]
    return file


def package(frame: str) -> str:
    """The package a frame's code belongs to: `aiokafka`, `asyncio`, `worker.ingress`, ..."""
    match = _FRAME.match(frame)
    if match is None:
        return "(native)"
    parts = match["file"].split("/")
    if parts[0] in ("worker", "schemas") and len(parts) > 2:
        return f"{parts[0]}.{parts[1]}"
    return parts[0].removesuffix(".py")


def summary(stacks: dict[tuple[str, ...], int], limit: int = 15) -> dict[str, Any]:
    total = sum(stacks.values()) or 1
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    packages: collections.Counter[str] = collections.Counter()
    for frames, n in stacks.items():
        own[frames[-1]] += n
        packages[package(frames[-1])] += n
        for frame in set(frames):
            inclusive[frame] += n

    def ranked(counter: collections.Counter[str]) -> list[dict[str, Any]]:
        return [
            {"frame": k, "samples": v, "share": round(v / total, 3)}
            for k, v in counter.most_common(limit)
        ]

    return {
        "samples": total,
        "own": ranked(own),
        "total": ranked(inclusive),
        "own_by_package": {k: round(v / total, 3) for k, v in packages.most_common(limit)},
    }


@dataclass
class _Node:
    value: int = 0
    children: dict[str, _Node] = field(default_factory=dict)


def _tree(stacks: dict[tuple[str, ...], int]) -> _Node:
    root = _Node()
    for frames, n in stacks.items():
        node = root
        node.value += n
        for frame in frames:
            node = node.children.setdefault(frame, _Node())
            node.value += n
    return root


_WIDTH, _ROW, _CHAR = 1200.0, 16, 6.5


def _depth(node: _Node, total: int) -> int:
    wide = [c for c in node.children.values() if c.value / total * _WIDTH >= 0.5]
    return 1 + max((_depth(c, total) for c in wide), default=0)


def render(stacks: dict[tuple[str, ...], int], title: str) -> str:
    """A static SVG flame graph (root at the bottom; hover a box for its figures)."""
    root = _tree(stacks)
    total = root.value or 1
    height = (_depth(root, total) + 1) * _ROW + 24
    canvas = _Canvas(total)
    canvas.draw(root, "all", 0.0, height - _ROW)
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH:.0f}" height="{height}" '
        f'font-family="monospace" font-size="11"><rect width="100%" height="100%" fill="#fff"/>'
        f'<text x="4" y="16" font-size="13">{html.escape(title)}: {total} samples</text>'
    )
    return head + "".join(canvas.boxes) + "</svg>\n"


@dataclass
class _Canvas:
    total: int
    boxes: list[str] = field(default_factory=list)

    def draw(self, node: _Node, name: str, x: float, y: int) -> None:
        width = node.value / self.total * _WIDTH
        if width < 0.5:
            return
        label = html.escape(name)
        fits = int(width / _CHAR) - 1
        short = html.escape(name[: fits - 2]) + ".." if fits > 3 else ""
        self.boxes.append(
            f"<g><title>{label} ({node.value} samples, {node.value / self.total:.1%})</title>"
            f'<rect x="{x:.1f}" y="{y}" width="{max(width - 0.3, 0.2):.1f}" '
            f'height="{_ROW - 1}" fill="{_colour(name)}"/>'
            f'<text x="{x + 2:.1f}" y="{y + 12}">{label if len(name) <= fits else short}</text></g>'
        )
        for child_name, child in sorted(node.children.items()):
            self.draw(child, child_name, x, y - _ROW)
            x += child.value / self.total * _WIDTH


def _colour(name: str) -> str:
    digest = hashlib.blake2s(package(name).encode(), digest_size=3).digest()
    return f"rgb({205 + digest[0] % 50},{80 + digest[1] % 120},{40 + digest[2] % 50})"
