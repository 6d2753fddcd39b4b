"""The fault proxy cuts one process off (`shun`): the connections it claims are reset
and refused until `heal()`, the others keep flowing."""

from __future__ import annotations

import asyncio
import contextlib

from tests.faultproxy import FaultProxy


async def _echo_server() -> tuple[asyncio.Server, int]:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(1024):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _round_trip(port: int, local_port: int | None = None) -> bytes:
    local = ("127.0.0.1", local_port) if local_port else None
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=local)
    try:
        writer.write(b"ping")
        await writer.drain()
        return await asyncio.wait_for(reader.read(4), 2.0)
    finally:
        writer.close()


async def test_a_shunned_client_is_cut_off_and_the_others_are_not() -> None:
    server, target = await _echo_server()
    proxy = FaultProxy(("127.0.0.1", target))
    await proxy.open()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"ping")
        assert await asyncio.wait_for(reader.read(4), 2.0) == b"ping"
        shunned_port = writer.get_extra_info("sockname")[1]
        proxy.shun(lambda port: port == shunned_port)
        with contextlib.suppress(ConnectionResetError):
            assert await asyncio.wait_for(reader.read(4), 2.0) == b""
        assert reader.at_eof() or reader.exception() is not None
        assert await _round_trip(proxy.port) == b"ping"
        proxy.heal()
        assert await _round_trip(proxy.port) == b"ping"
    finally:
        writer.close()
        await proxy.close()
        server.close()
