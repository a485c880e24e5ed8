"""The outbox: transaction messages delivered in order, exactly as journaled, never lost (checklist 5.3).

StartTransaction, StopTransaction and MeterValues with a transaction are written to the store
before they are sent (Q-1) and deleted only when their CALLRESULT arrives, in the same commit as
what the answer teaches (the CSMS transactionId, X-4). Delivery is one message at a time, oldest
first (Q-2), after reconnects and restarts alike. A CALLERROR answer is a failed attempt, retried
after TransactionMessageRetryInterval times the attempt number, and the message is dropped after
TransactionMessageAttempts (Q-4); a timeout or lost connection is not an attempt: the message is
sent again. Messages of a transaction started offline carry our local reference until its
StartTransaction is answered; the transactionId is filled in when each is sent (Q-5), or -1 if the
StartTransaction could never be delivered (X-4).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any, Final

import msgspec

from chargebox.clock import Clock, sleep_or_wake
from chargebox.protocol.messages import REQUESTS, Action, Message
from chargebox.rpc import Rpc, SendOutcome, SendResult
from chargebox.station.config import Configuration
from chargebox.store import OutboxItem, Store

UNDELIVERABLE: Final = -1  # the id used when a StartTransaction could never be confirmed
# What to do with an answer: the op to commit together with the delete, and what to do after it.
AnswerHook = Callable[[OutboxItem, Any, Any], tuple[Callable[[sqlite3.Connection], object] | None,
                                                   Callable[[], Awaitable[None]] | None]]  # fmt: skip
_encoder: Final = msgspec.json.Encoder()


def encode(request: Message) -> bytes:
    return _encoder.encode(request)


class OutboxService:
    def __init__(
        self,
        *,
        rpc: Rpc,
        store: Store,
        clock: Clock,
        config: Configuration,
        log: logging.LoggerAdapter[logging.Logger] | logging.Logger,
    ) -> None:
        self._rpc = rpc
        self._store = store
        self._clock = clock
        self._config = config
        self._log = log
        self._wake = asyncio.Event()
        self._empty = asyncio.Event()
        self._transaction_ids: dict[int, int] = {}  # local ref -> the central system's id
        self._ready = False
        self._task: asyncio.Task[None] | None = None
        self.on_answer: dict[str, AnswerHook] = {}
        self.on_dropped: dict[str, Callable[[OutboxItem], Awaitable[None]]] = {}
        self.delivered = 0

    def online(self) -> None:
        """Accepted by the central system (B-2): start delivering."""
        self._ready = True
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._deliver())
        self.wake()

    def offline(self) -> None:
        self._ready = False
        self.wake()

    def wake(self) -> None:
        """Something was appended: look at the queue."""
        self._wake.set()

    def reset(self) -> None:
        self._ready = False
        self._transaction_ids.clear()
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def pending(self) -> int:
        """Messages not answered yet."""
        return self._store.outbox.count()

    async def drained(self) -> None:
        """Wait until the queue is empty and every delete is committed (tests, benchmarks)."""
        while self.pending():
            await asyncio.sleep(0.01)
        await self._store.idle()

    def remember_transaction_id(self, ref: int, transaction_id: int) -> None:
        """The answer to a StartTransaction: later messages of that transaction use its id (Q-5)."""
        self._transaction_ids[ref] = transaction_id

    async def flush(self, timeout: float) -> bool:
        """Deliver what is queued before the station goes down (C-23, C-24), for at most ``timeout``
        seconds; False if the queue could not be emptied (offline, or the central system is slow):
        what is left is delivered after the restart."""
        if not self._ready or not self.pending():
            return not self.pending()
        self._empty.clear()
        self.wake()
        return await sleep_or_wake(self._clock, timeout, self._empty) is False

    # -- delivery -----------------------------------------------------------------------------

    async def _deliver(self) -> None:
        while True:
            self._wake.clear()
            item = self._store.outbox.head() if self._ready else None
            if item is None:
                if self._ready:
                    self._empty.set()
                await self._wake.wait()
                continue
            self._empty.clear()
            wait = (item.next_try_at or 0) - self._clock.now().timestamp()
            if wait > 0:
                await self._clock.sleep(wait)  # the retry interval; the queue waits behind it
                continue
            request = self._request(item)
            result: SendResult[Any] = await self._rpc.call(request)
            if result.ok:
                await self._answered(item, request, result.response)
            elif result.outcome is SendOutcome.RESPONSE_ACCEPT_FAILED:
                await self._failed_attempt(item)  # Q-4, T-17
            elif result.outcome is SendOutcome.RESPONSE_FAILED and self._rpc.connected:
                # Timed out on a live link: not an attempt; try again after a pause.
                await sleep_or_wake(self._clock, self._rpc.call_timeout, self._wake)
            else:
                await self._wake.wait()  # offline: wait for online()

    def _request(self, item: OutboxItem) -> Message:
        request = msgspec.json.decode(item.payload, type=REQUESTS[Action(item.action)])
        if item.tx_ref is not None and hasattr(request, "transaction_id"):
            transaction_id = self._transaction_ids.get(item.tx_ref)
            if transaction_id is None:  # answered before a restart: it is in the transactions table
                record = self._store.transactions.get(item.tx_ref)
                transaction_id = record.transaction_id if record else None
                if transaction_id is not None:
                    self._transaction_ids[item.tx_ref] = transaction_id
            request = msgspec.structs.replace(
                request, transaction_id=UNDELIVERABLE if transaction_id is None else transaction_id
            )
        return request

    async def _answered(self, item: OutboxItem, request: Message, response: Any) -> None:
        hook = self.on_answer.get(item.action)
        op, after = hook(item, request, response) if hook else (None, None)
        # The delete is durable before the next message goes out. Letting it commit in the background
        # would share fsyncs and drain faster (bench/), but a crash could then resend answered
        # messages after newer ones (a MeterValues after its StopTransaction): the only duplicate
        # chargebox allows is the one message that was in flight.
        await self._store.outbox.remove(item.seq, op)
        self.delivered += 1
        if after is not None:
            await after()

    async def _failed_attempt(self, item: OutboxItem) -> None:
        attempts = item.attempts + 1
        limit = self._config.get_int("TransactionMessageAttempts", default=3)
        if attempts >= limit:
            self._log.warning("! %s #%d dropped after %d failed attempts (Q-4)", item.action, item.seq, attempts)
            await self._store.outbox.remove(item.seq)
            dropped = self.on_dropped.get(item.action)
            if dropped is not None:
                await dropped(item)
            return
        delay = self._config.get_int("TransactionMessageRetryInterval", default=60) * attempts
        self._log.info("= %s #%d failed (attempt %d); next try in %ss", item.action, item.seq, attempts, delay)
        await self._store.outbox.failed(item.seq, attempts, self._clock.now().timestamp() + delay)
