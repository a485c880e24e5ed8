"""What the dashboard of one simulated station is pushed: its state and its last frames.

A ``StationFeed`` listens to the station's frames (``Rpc.frame_listeners``) and keeps the last
``FRAME_RING`` of them, so a page opened late still shows what just happened, and memory stays bounded
however long the station runs. Each open page (one server-sent-event stream) is a subscriber with a
bounded queue: a page that stops reading loses old notifications, never the process's memory.

A frame in or out is the signal that the state may have changed (a StatusNotification, a
StartTransaction answer); the control API's actions say so too (``changed``). The meter and power
move without a frame, so the stream also sends the state when it differs after ``STATE_EVERY``
seconds: the server looks, the browser never polls.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import deque
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from chargebox.sim.simulator import Simulator

FRAME_RING: Final = 50
SUBSCRIBER_QUEUE: Final = 100
STATE_EVERY: Final = 1.0
FRAME_TEXT_LIMIT: Final = 2000  # a frame shown on the page is cut here (a frame may be 64 KiB)

_feeds: weakref.WeakKeyDictionary[Simulator, StationFeed] = weakref.WeakKeyDictionary()


def feed_of(sim: Simulator) -> StationFeed:
    """The one feed of a simulator, made (and its frame listener attached) on first use."""
    feed = _feeds.get(sim)
    if feed is None:
        feed = _feeds[sim] = StationFeed(sim)
    return feed


class StationFeed:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.frames: deque[dict[str, Any]] = deque(maxlen=FRAME_RING)
        self._subscribers: set[asyncio.Queue[dict[str, Any] | None]] = set()
        sim.station.rpc.frame_listeners.append(self._on_frame)

    def subscribe(self) -> asyncio.Queue[dict[str, Any] | None]:
        """A queue of frames (dicts) and ``None`` for "the state changed"."""
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(maxsize=SUBSCRIBER_QUEUE)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        self._subscribers.discard(queue)

    def changed(self) -> None:
        self._publish(None)

    def _on_frame(self, direction: str, text: str) -> None:
        frame = {"time": time.time(), "dir": "in" if direction == "<" else "out", "frame": text[:FRAME_TEXT_LIMIT]}
        self.frames.append(frame)
        self._publish(frame)

    def _publish(self, item: dict[str, Any] | None) -> None:
        for queue in self._subscribers:
            if queue.full():
                queue.get_nowait()  # the oldest makes room: a slow page misses history, not the present
            queue.put_nowait(item)


def state_json(sim: Simulator) -> dict[str, Any]:
    """The station's snapshot, with what only the simulation knows of each connector: the current
    offered to the EV, the power it takes (W, a whole number) and the parts it has broken."""
    snapshot = sim.station.snapshot()
    for connector in snapshot["connectors"]:
        simulated = sim.hardware.connectors[connector["id"]]
        connector["offeredA"] = float(simulated.offered_a)
        connector["powerW"] = round(simulated.power())
        connector["hardwareFaults"] = sorted(simulated.faults)
    return snapshot
