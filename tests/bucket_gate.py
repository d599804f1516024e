"""A gate in front of the court's bucket, for tests of a bucket that goes away and comes back."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable
from typing import Any

from conftest import free_port


class Gate:
    """A TCP forwarder in front of the bucket that can be shut (connections refused, those
    open cut) and opened again on the same port: the bucket going away and coming back."""

    def __init__(self, target_port: int) -> None:
        self.port = free_port()
        self.target_port = target_port
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    def _call(self, coro: Awaitable[Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)  # type: ignore[arg-type]

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(1 << 16):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self.writers -= {writer, up_writer}

    def open(self) -> None:
        async def start() -> None:
            self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self._call(start())

    def shut(self) -> None:
        async def stop() -> None:
            if self.server is not None:
                self.server.close()
                self.server = None
            for w in list(self.writers):
                w.close()
        self._call(stop())

    def close(self) -> None:
        self.shut()

        async def settle() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self._call(settle())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
