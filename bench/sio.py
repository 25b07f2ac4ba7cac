"""A minimal Socket.IO (engine.io v4, websocket transport) client on aiohttp.

Deliberately small so thousands fit in one harness process and the client adds as little
as possible to the latencies measured: connect to "/", emit with an ack, receive events,
answer pings.
"""

import asyncio
import itertools
import json
from collections.abc import Callable

import aiohttp


class SocketError(RuntimeError):
    pass


class Sock:
    def __init__(self, http: aiohttp.ClientSession, base_url: str, cookie: str | None = None):
        self.http = http
        self.url = base_url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.cookie = cookie
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.handlers: dict[str, Callable[[object], None]] = {}
        self._acks: dict[int, asyncio.Future] = {}
        self._ids = itertools.count(1)
        self._reader: asyncio.Task | None = None
        self.connected = False

    def on(self, event: str, handler: Callable[[object], None]) -> None:
        self.handlers[event] = handler

    async def connect(self, timeout: float = 20.0) -> None:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        self.ws = await self.http.ws_connect(
            self.url, headers=headers, autoping=True, timeout=aiohttp.ClientWSTimeout(ws_close=5)
        )
        opened = await asyncio.wait_for(self.ws.receive(), timeout)
        if opened.type != aiohttp.WSMsgType.TEXT or not opened.data.startswith("0"):
            raise SocketError(f"no engine.io open packet: {opened!r}")
        await self.ws.send_str("40")
        while True:
            reply = await asyncio.wait_for(self.ws.receive(), timeout)
            if reply.type != aiohttp.WSMsgType.TEXT:
                raise SocketError(f"connection closed: {reply!r}")
            if reply.data == "2":
                await self.ws.send_str("3")
                continue
            if reply.data.startswith("40"):
                break
            raise SocketError(f"connect refused: {reply.data[:200]}")
        self.connected = True
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for msg in self.ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                data = msg.data
                if data == "2":
                    await self.ws.send_str("3")
                elif data.startswith("42"):
                    name, *args = json.loads(data[2:])
                    handler = self.handlers.get(name)
                    if handler is not None:
                        handler(args[0] if args else None)
                elif data.startswith("43"):
                    i = 2
                    while data[i].isdigit():
                        i += 1
                    future = self._acks.pop(int(data[2:i]), None)
                    if future is not None and not future.done():
                        args = json.loads(data[i:])
                        future.set_result(args[0] if args else None)
                elif data.startswith("41") or data.startswith("1"):
                    break
        finally:
            self.connected = False
            for future in self._acks.values():
                if not future.done():
                    future.set_exception(SocketError("disconnected"))
            self._acks.clear()

    def emit(self, event: str, data: object) -> asyncio.Future:
        """Send now; the returned future resolves with the ack's first argument."""
        assert self.ws is not None
        ack_id = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._acks[ack_id] = future
        packet = f"42{ack_id}" + json.dumps([event, data], separators=(",", ":"))
        asyncio.ensure_future(self.ws.send_str(packet))
        return future

    async def close(self) -> None:
        if self.ws is not None and not self.ws.closed:
            try:
                await self.ws.send_str("41")
            except Exception:  # noqa: S110 (already gone)
                pass
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
        self.connected = False


async def open_socket(
    http: aiohttp.ClientSession, base_url: str, cookie: str | None, sem: asyncio.Semaphore
) -> Sock:
    """A connected Sock, at most as many connecting at once as `sem` allows."""
    async with sem:
        sock = Sock(http, base_url, cookie)
        await sock.connect()
        return sock
