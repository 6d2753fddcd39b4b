"""Ready probes for the embedded Kafka: real request/response round trips in Kafka's
wire protocol (non-flexible versions, a few bytes each), no client library needed."""

from __future__ import annotations

import contextlib
import socket
import struct


def _request(api_key: int, version: int, body: bytes, correlation: int = 1) -> bytes:
    client = b"postino-probe"
    header = struct.pack(">hhih", api_key, version, correlation, len(client)) + client
    return struct.pack(">i", len(header) + len(body)) + header + body


def _read_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise OSError("connection closed")
        data += chunk
    return data


def _round_trip(port: int, request: bytes, timeout: float) -> bytes | None:
    """The response body (after the correlation id), None on any failure."""
    address = ("127.0.0.1", port)
    with contextlib.suppress(OSError), socket.create_connection(address, timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(request)
        (size,) = struct.unpack(">i", _read_exact(sock, 4))
        return _read_exact(sock, size)[4:]
    return None


def metadata_brokers(port: int, timeout: float = 2.0) -> int:
    """How many brokers a Metadata (v4, no topics) round trip lists; 0 on any failure.
    A node lists itself once it has registered with the controller and is unfenced."""
    body = _round_trip(port, _request(3, 4, struct.pack(">i?", 0, False)), timeout)
    if body is None:
        return 0
    _throttle, brokers = struct.unpack(">ii", body[:8])
    return int(brokers)


def group_coordinator_ready(port: int, timeout: float = 2.0) -> bool:
    """Whether FindCoordinator (v2, a group) answers without error. The first asks
    create __consumer_offsets; until it has a leader, consumers of a group would log
    GROUP_COORDINATOR_NOT_AVAILABLE at every try."""
    group = b"postino-probe"
    request = _request(10, 2, struct.pack(">h", len(group)) + group + b"\x00")
    body = _round_trip(port, request, timeout)
    if body is None:
        return False
    _throttle, error = struct.unpack(">ih", body[:6])
    return bool(error == 0)
