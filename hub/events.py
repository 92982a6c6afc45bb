"""Live events for the control room: one bus, many WebSocket subscribers.

Each subscriber has a bounded queue; a browser that cannot keep up loses the
oldest events (the page re-reads state on reconnect) instead of growing the
hub's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any


class Subscription:
    def __init__(self, bus: EventBus, maxsize: int) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize)
        self._bus = bus

    def close(self) -> None:
        self._bus._subscribers.discard(self)


class EventBus:
    def __init__(self, queue_size: int = 1000) -> None:
        self._subscribers: set[Subscription] = set()
        self._queue_size = queue_size

    def subscribe(self) -> Subscription:
        sub = Subscription(self, self._queue_size)
        self._subscribers.add(sub)
        return sub

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        """Queue one event for every subscriber; never blocks the publisher."""
        if not self._subscribers:
            return
        frame = json.dumps({"kind": kind, "at": time.time(), "data": data}, default=str)
        for sub in list(self._subscribers):
            if sub.queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    sub.queue.get_nowait()
            sub.queue.put_nowait(frame)
