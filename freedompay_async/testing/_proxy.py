"""``OutageProxy``: a TCP proxy in front of the emulator that can refuse connections.

A real outage is not an HTTP error: the gateway's port refuses connections for a while (a
redeploy, a load balancer draining). While :meth:`OutageProxy.refuse` is in force the proxy
does not listen at all, so a client's connect fails with "connection refused" - the case in
which a request certainly was not sent - and connections already open are cut (a request
written on one has an unknown outcome). Loopback only.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from types import TracebackType
from typing import Any

__all__ = ["OutageProxy"]

_CHUNK = 1 << 16


class OutageProxy:
    """Forwards ``host:port`` (0 = a free port) to ``target_host:target_port``.

    ::

        async with Emulator(...) as emu, OutageProxy(emu.host, emu.port) as proxy:
            async with emu.client(base_url=proxy.url) as client:
                async with proxy.outage():  # connections refused until the block ends
                    ...

    ``refused`` counts the windows; ``connections`` the connections forwarded.
    """

    def __init__(
        self, target_host: str, target_port: int, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.host = host
        self.port = port
        self.refused = 0
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def refusing(self) -> bool:
        return self._server is None

    async def start(self) -> None:
        """Listen (again) on the proxy's port."""
        if self._server is not None:
            return
        self._server = await asyncio.start_server(
            self._forward, self.host, self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def refuse(self) -> None:
        """Stop listening (connects are refused) and cut every open connection."""
        server, self._server = self._server, None
        if server is None:
            return
        self.refused += 1
        server.close()
        for writer in list(self._pipes):
            writer.transport.abort()
        self._pipes.clear()
        await server.wait_closed()

    @contextlib.asynccontextmanager
    async def outage(self) -> AsyncIterator[None]:
        """Connections are refused inside the block."""
        await self.refuse()
        try:
            yield
        finally:
            await self.start()

    async def outages(self, windows: Iterable[tuple[float, float]]) -> None:
        """Run ``(start, duration)`` refusal windows, seconds from now, in order."""
        loop = asyncio.get_running_loop()
        began = loop.time()
        for start, duration in sorted(windows):
            await asyncio.sleep(max(0.0, began + start - loop.time()))
            async with self.outage():
                await asyncio.sleep(duration)

    async def close(self) -> None:
        """Stop listening; the connections, cut, end their forwarding tasks."""
        await self.refuse()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=2)

    async def __aenter__(self) -> OutageProxy:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                self.target_host, self.target_port
            )
        except OSError:
            writer.transport.abort()
            return
        self._pipes.update((writer, upstream_writer))
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
        finally:
            self._tasks.discard(task)
            for end in (writer, upstream_writer):
                self._pipes.discard(end)
                end.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until EOF or a cut; a cut on one side ends both (the caller aborts them)."""
    try:
        while chunk := await reader.read(_CHUNK):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(ConnectionError, OSError, RuntimeError):
            if not writer.transport.is_closing():
                writer.write_eof()
