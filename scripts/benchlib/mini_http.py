"""A bare keep-alive HTTP/1.1 client (``bench.py --client minimal``).

Only what the bench needs: one connection, GET/POST, responses with
Content-Length. It is the bench's default load generator because it is cheap
(~0.1 ms CPU per request): httpx spends ~0.85 ms of CPU per request, more than
the whole raw-SQL create transaction, and on a 2-core box that CPU is taken
from the server being measured (``--client httpx`` keeps it available).
"""

from __future__ import annotations

import asyncio
import contextlib
import json as jsonlib
from typing import Any
from urllib.parse import urlencode, urlsplit


class MiniResponse:
    __slots__ = ("content", "status_code")

    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code = status_code
        self.content = content

    @property
    def text(self) -> str:
        return self.content.decode()

    def json(self) -> Any:
        return jsonlib.loads(self.content)


class MiniClient:
    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or parts.hostname is None or parts.port is None:
            raise ValueError(f"need http://host:port, got {base_url!r}")
        self._host, self._port = parts.hostname, parts.port
        self._hostport = f"{parts.hostname}:{parts.port}".encode()
        self._timeout = timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if (
            self._reader is None
            or self._writer is None
            or self._writer.is_closing()
            or self._reader.at_eof()  # the server closed an idle keep-alive connection
        ):
            if self._writer is not None:
                self._writer.close()
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        return self._reader, self._writer

    @property
    def local_port(self) -> int | None:
        """Our port of the open connection (None when not connected)."""
        if self._writer is None or self._writer.is_closing():
            return None
        return int(self._writer.get_extra_info("sockname")[1])

    async def get(self, path: str, *, params: dict[str, str] | None = None) -> MiniResponse:
        if params:
            path = f"{path}{'&' if '?' in path else '?'}{urlencode(params)}"
        return await self._request(b"GET", path, b"", None)

    async def post(self, path: str, *, json: Any = None) -> MiniResponse:
        body = jsonlib.dumps(json).encode()
        return await self._request(b"POST", path, body, b"application/json")

    async def _request(
        self, method: bytes, path: str, body: bytes, content_type: bytes | None
    ) -> MiniResponse:
        return await asyncio.wait_for(
            self._exchange(method, path, body, content_type), self._timeout
        )

    async def _exchange(
        self, method: bytes, path: str, body: bytes, content_type: bytes | None
    ) -> MiniResponse:
        reader, writer = await self._connection()
        head = [method + b" " + path.encode() + b" HTTP/1.1", b"host: " + self._hostport]
        if content_type is not None:
            head.append(b"content-type: " + content_type)
        if body or method == b"POST":
            head.append(b"content-length: " + str(len(body)).encode())
        writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        status_line = await reader.readline()
        if not status_line:
            self._writer = None
            raise ConnectionError("server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        length: int | None = None
        close = False
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            lowered = name.strip().lower()
            if lowered == b"content-length":
                length = int(value.strip())
            elif lowered == b"connection" and value.strip().lower() == b"close":
                close = True
            elif lowered == b"transfer-encoding":
                raise ValueError("chunked responses are not supported by the minimal client")
        if length is None:
            raise ValueError("response without content-length")
        content = await reader.readexactly(length)
        if close:
            writer.close()
            self._writer = None
        return MiniResponse(status, content)

    async def aclose(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
            self._writer = None
