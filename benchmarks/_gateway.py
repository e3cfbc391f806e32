"""A minimal, fast payout gateway for benchmarks, run in its own process.

Not the emulator: no state, no validation, no notifications. It answers just enough for the
client to accept each answer - signed, echoing the request's ``pg_order_id`` and
``pg_merchant_id`` - on a bare asyncio HTTP/1.1 keep-alive server, so that the CPU measured in
the benchmark process is the client's. Orders whose id starts with ``P-`` stay ``process``.

    python benchmarks/_gateway.py --port 0   # prints "listening on http://127.0.0.1:PORT"
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qsl

MERCHANT = "552893"
KEY = "bench-payout-key"

# Answer fields per script, in document order; "{order}" / "{merchant}" are filled in.
_ANSWERS: dict[str, tuple[tuple[str, str], ...]] = {
    "p2p2nonreg": (
        ("pg_status", "{state}"),
        ("pg_payment_id", "7999007876"),
        ("pg_merchant_id", "{merchant}"),
        ("pg_order_id", "{order}"),
        ("pg_balance", "982500.00"),
        ("pg_payment_amount", "1.00"),
        ("pg_payment_date", "2026-11-21 12:00:00"),
        ("pg_salt", "0123456789abcdef"),
    ),
    "payout_status2": (
        ("pg_status", "ok"),
        ("pg_payment_id", "7999007876"),
        ("pg_merchant_id", "{merchant}"),
        ("pg_order_id", "{order}"),
        ("pg_payment_status", "{status}"),
        ("pg_payment_amount", "1.00"),
        ("pg_payment_date", "2026-11-21 12:00:00"),
        ("pg_salt", "0123456789abcdef"),
    ),
    "balance_status": (
        ("pg_status", "ok"),
        ("pg_merchant_id", "{merchant}"),
        ("pg_balance", "982500.00"),
        ("pg_currency", "KZT"),
        ("pg_salt", "0123456789abcdef"),
    ),
}


def answer(script: str, order: str, merchant: str) -> bytes:
    """The signed XML answer of ``script`` for ``order`` (flat, as the gateway signs it)."""
    process = order.startswith("P-")
    values = {
        "state": "process" if process else "ok",
        "status": "process" if process else "success",
        "order": order,
        "merchant": merchant,
    }
    fields = [(name, value.format(**values)) for name, value in _ANSWERS[script]]
    # The reference signer's XML names: tag + position, then a second position suffix.
    named = sorted((f"{name}{i:03d}{i:03d}", value) for i, (name, value) in enumerate(fields, 1))
    text = ";".join([script, *(value for _, value in named), KEY])
    fields.append(("pg_sig", hashlib.md5(text.encode()).hexdigest()))
    inner = "".join(f"<{name}>{value}</{name}>" for name, value in fields)
    return f'<?xml version="1.0" encoding="utf-8"?>\n<response>{inner}</response>'.encode()


class _Http(asyncio.Protocol):
    """HTTP/1.1 keep-alive, Content-Length bodies only (what aiohttp and httpx send here)."""

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            end = head_end + 4 + length
            if len(self.buffer) < end:
                return
            body, self.buffer = self.buffer[head_end + 4 : end], self.buffer[end:]
            path = head.split(" ", 2)[1]
            self.respond(path.rpartition("/")[2], body)

    def respond(self, script: str, body: bytes) -> None:
        assert self.transport is not None
        if script not in _ANSWERS:
            self.transport.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            return
        form = dict(parse_qsl(body.decode()))
        xml = answer(script, form.get("pg_order_id", ""), form.get("pg_merchant_id", ""))
        self.transport.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/xml; charset=utf-8\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(xml), xml)
        )


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Http, "127.0.0.1", port, backlog=4096)
    bound = server.sockets[0].getsockname()[1]
    print(f"listening on http://127.0.0.1:{bound}", flush=True)
    async with server:
        await server.serve_forever()


@contextmanager
def gateway_process() -> Iterator[tuple[str, int]]:
    """Yield (base URL, pid) of this gateway running in a child process."""
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__)), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        yield line.rsplit(" ", 1)[1].strip(), process.pid
    finally:
        process.terminate()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    # Many sockets for the 10,000-connection memory figure.
    try:
        import resource

        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, ValueError, OSError):
        pass
    asyncio.run(serve(args.port))


if __name__ == "__main__":
    main()
