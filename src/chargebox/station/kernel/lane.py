"""The outbound lane: every CALL the station makes, in the order of the events that caused it.

A CALL takes its place in the lane at the moment of its event. Transaction messages (and, with the
security profile, security events, Q-8) are *durable*: journaled in the store's outbox before they
are sent (Q-1) and deleted only once answered, in the same commit as what the answer teaches (the
transactionId, X-4). Every other CALL (StatusNotification, Authorize, Heartbeat, a triggered
message...) is *volatile*: held in memory only, and failed at once while there is no connection.

The order on the wire is the order of the lane, with these exceptions (the first three the standard asks for):
- durable messages wait until the central system accepted the boot, and in a retry pause (Q-4), and
  the durable ones behind them wait too (Q-2);
- a volatile message may overtake durable ones that are *backlog*: journaled while offline, or
  already sent once (Q-3, Q-5: after a reconnect the statuses go first). It never overtakes a
  durable message that is *fresh* (made while online and never sent), so a StatusNotification
  Charging never reaches the central system before the StartTransaction of its session;
- nothing waits behind an entry that can never be sent: a stored payload that no longer decodes,
  one whose attempts are exhausted (Q-4; an answer that cannot be applied is a failed attempt), or
  one the central system answers NotImplemented or NotSupported (it does not take that action: a 1.6
  central system without the security whitepaper and a SecurityEventNotification; no retry can help),
  is moved to the dead-letter table and logged;
- while the store refuses writes (a full disk, ``Store.fault``), a message still being journaled
  holds no volatile one back: its write may wait for hours, and the StatusNotification that reports
  the fault must not wait behind it. For the same reason the commit of what an answer taught (the
  delete) holds back only the next durable message, never a volatile one.

The volatile part is bounded (MAX_VOLATILE): a central system that stops answering while it floods
the station with TriggerMessage must not grow its memory without end. Past the bound, a
StatusNotification replaces the one of the same connector still waiting (only the latest status
matters), a message equal to one still waiting shares its outcome, and any other is dropped
(FAILED) with a warning. Durable messages are never dropped: they are on disk, not in memory.

An answer's effect on memory is applied the moment it arrives, before the next frame is read
(``Rpc``'s ``on_result``); the durable delete follows, and the next durable message goes out only
after it is committed, so a crash never resends an answered message after a newer one: the only
duplicate a crash can cause is the message that was in flight, with identical content.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import msgspec

from chargebox.clock import Clock, Event, TimerHandle, sleep_or_wake
from chargebox.errors import LocalProtocolError
from chargebox.log import Log
from chargebox.protocol.base import Message
from chargebox.rpc import OnResult, Rpc, SendOutcome, SendResult
from chargebox.station.kernel.config import KernelConfig
from chargebox.station.kernel.version import Version
from chargebox.store import Op, OutboxItem, Store
from chargebox.tasks import Tasks

T = TypeVar("T")
UNDELIVERABLE: Final = -1  # the id used when a StartTransaction could never be confirmed
MAX_VOLATILE: Final = 100  # volatile CALLs waiting at once; a station's own events need a handful
SETTLE_RETRY_S: Final = 1.0  # an answered message whose outcome could not be committed goes again after this
NOT_TAKEN: Final = frozenset({"NotImplemented", "NotSupported"})  # CALLERRORs no retry can turn into an answer
_encoder: Final = msgspec.json.Encoder()

# What an answer teaches, applied at once: returns the op to commit with the delete, if any.
AnswerHook = Callable[[OutboxItem, Any, Any], Op | None]
# What to do when a message is set aside for good (X-4: its transaction's id becomes -1).
DroppedHook = Callable[[OutboxItem], Awaitable[None]]
# Journals a message in the store; calls ``queued(seq)`` once the outbox row holding it is committed.
Journal = Callable[[Callable[[int], None]], Awaitable[T]]


def encode(request: msgspec.Struct) -> bytes:
    """The payload as it will be journaled, checked against its schema first: what was journaled
    must always be sendable, so an invalid payload fails here, where it is made."""
    return _checked(request)[0]


def _checked(request: T) -> tuple[bytes, T]:
    """``encode``'s payload and the request decoded back from it: what a send of the journaled bytes would read."""
    payload = _encoder.encode(request)
    try:
        decoded: T = msgspec.json.decode(payload, type=type(request))
    except msgspec.ValidationError as exc:
        raise LocalProtocolError(f"{type(request).__name__} would be invalid: {exc}") from None
    return payload, decoded


@dataclass(eq=False, slots=True)
class _Entry:
    """One place in the lane. A durable entry has ``seq`` once its outbox row is committed."""

    order: int  # its place: the moment of its event
    durable: bool
    fresh: bool  # made while online and never sent: nothing may overtake it
    request: Message | None = None
    on_result: OnResult | None = None
    future: asyncio.Future[SendResult[Any]] | None = None
    seq: int | None = None
    committed: bool = False
    retry_at: float = 0.0  # monotonic time before which a durable entry may not be sent
    gone: bool = False  # a durable entry delivered, set aside, or whose journal write failed
    settling: bool = False  # answered (or refused): what that taught is being committed; it may not go again yet


class Lane:
    """The station's one ordered lane of outgoing CALLs, in front of the Rpc."""

    def __init__(
        self,
        *,
        rpc: Rpc[Any],
        store: Store,
        clock: Clock,
        config: KernelConfig,
        version: Version,
        log: Log,
    ) -> None:
        """``version``: the messages the lane carries (their types and actions) and the names of the
        keys it reads (the attempts and their interval, Q-4)."""
        self._rpc = rpc
        self._store = store
        self._clock = clock
        self._config = config
        self._version = version
        self._log = log
        # Two queues, each in event order: durable entries go strictly one after the other, volatile
        # ones too, and a volatile entry may go before the durable head unless a *barrier* (a durable entry
        # fresh or still being journaled) came before it. The barriers are a heap with lazy deletion, so
        # one step costs O(log n) even behind a backlog of 10,000 messages.
        self._durable: deque[_Entry] = deque()
        self._volatile_queue: deque[_Entry] = deque()
        self._barriers: list[tuple[int, _Entry]] = []
        self._order = itertools.count()
        self._open = False  # the boot is accepted: durable messages may go
        self._empty = Event()
        self._timer: TimerHandle | None = None
        self._tasks = Tasks(log, "outbound lane")
        self._commits = Tasks(log, "outbound lane commit")  # never cancelled: see _settle
        self._pumping = False
        self._overflowing = False
        self._transaction_ids: dict[int, int] = {}  # local ref -> the central system's id
        # What ``append`` journaled, by seq, until its first send: the row and its decoded request as the store
        # holds them (only the lane changes an outbox row), so that send reads neither back (bench/: a SELECT
        # and a decode per message). A retry reads the store again.
        self._appended: dict[int, tuple[OutboxItem, Message]] = {}
        self.on_answer: dict[str, AnswerHook] = {}  # by action
        self.on_dropped: dict[str, DroppedHook] = {}  # by action
        self.delivered = 0
        self._load_backlog()

    @property
    def connected(self) -> bool:
        return self._rpc.connected

    # -- volatile messages --------------------------------------------------------------------

    def submit(self, request: Message, *, on_result: OnResult | None = None) -> asyncio.Future[SendResult[Any]]:
        """Take a place in the lane now; the future holds the outcome. Without a connection the
        outcome is FAILED at once: a volatile message is about the present, not worth keeping."""
        future: asyncio.Future[SendResult[Any]] = asyncio.get_running_loop().create_future()
        if not self._rpc.connected:
            return self._failed(request, on_result, future)
        if len(self._volatile_queue) >= MAX_VOLATILE:
            coalesced = self._coalesce(request, on_result, future)
            if coalesced is not None:
                return coalesced
            if not self._overflowing:
                self._log.warning("! outbound lane: %d messages wait for the central system; dropping %s and "
                                  "others until it answers again", len(self._volatile_queue),
                                  type(request).__name__)  # fmt: skip
                self._overflowing = True
            return self._failed(request, on_result, future)
        self._overflowing = False
        self._append_volatile(request, on_result, future)
        return future

    def _append_volatile(
        self, request: Message, on_result: OnResult | None, future: asyncio.Future[SendResult[Any]]
    ) -> None:
        entry = _Entry(next(self._order), durable=False, fresh=True, request=request, on_result=on_result,
                       future=future)  # fmt: skip
        self._volatile_queue.append(entry)
        self._kick()

    def _failed(
        self, request: Message, on_result: OnResult | None, future: asyncio.Future[SendResult[Any]]
    ) -> asyncio.Future[SendResult[Any]]:
        result: SendResult[Any] = SendResult(SendOutcome.FAILED)
        self._rpc.last_outcome[self._version.actions[type(request)]] = SendOutcome.FAILED
        if on_result is not None:
            on_result(result)
        future.set_result(result)
        return future

    def _coalesce(
        self, request: Message, on_result: OnResult | None, future: asyncio.Future[SendResult[Any]]
    ) -> asyncio.Future[SendResult[Any]] | None:
        """Past the bound: the waiting entry this request can stand in for, or share the outcome of."""
        for entry in self._volatile_queue:
            if entry.request == request and on_result is None:
                return entry.future  # the same message again: one answer serves both
            if entry.request is not None and self._version.supersedes(request, entry.request):
                self._volatile_queue.remove(entry)
                self._finish(entry, SendResult(SendOutcome.FAILED))  # superseded: only the latest status matters
                self._append_volatile(request, on_result, future)
                return future
        return None

    async def call(self, request: Message, *, on_result: OnResult | None = None) -> SendResult[Any]:
        """Send a volatile CALL in its turn and wait for its outcome (the seed's five outcomes)."""
        return await self.submit(request, on_result=on_result)

    # -- durable messages ---------------------------------------------------------------------

    def journal(self, write: Journal[T]) -> Awaitable[T]:
        """Take a place now, when called, for the message ``write`` journals; the awaitable returns what
        ``write`` returns once it is durable (a caller may take its place and await the write later).
        ``write`` receives the callback the store calls with the outbox seq (a write that queues no
        message, such as a sample with nothing to send, leaves no place behind)."""
        entry = _Entry(next(self._order), durable=True, fresh=self._open)
        self._durable.append(entry)
        heapq.heappush(self._barriers, (entry.order, entry))

        def queued(seq: int) -> None:
            entry.seq = seq
            entry.committed = True
            self._kick()

        def settled(_writing: asyncio.Future[T]) -> None:
            if not entry.committed and not entry.gone:
                self._drop(entry)

        # Once begun, a write is carried through even when its caller is cancelled (a transaction that
        # stops cancels its sampler, a reset cancels every task): the store commits it all the same, and
        # a committed message must go out in its place, not turn up after a restart behind what came later.
        writing = asyncio.ensure_future(write(queued))
        writing.add_done_callback(settled)
        return self._journaled(writing)

    async def _journaled(self, writing: asyncio.Future[T]) -> T:
        try:
            return await asyncio.shield(writing)
        except asyncio.CancelledError:
            writing.add_done_callback(self._abandoned)
            raise

    def _abandoned(self, writing: asyncio.Future[Any]) -> None:
        """A journal write whose caller was cancelled: nobody else would see it fail."""
        if not writing.cancelled() and writing.exception() is not None:
            self._log.error("! outbound lane: a message could not be journaled: %s", writing.exception())

    async def append(self, request: Message, *, tx_ref: int | None = None) -> int:
        """Journal a message of its own (a security event, Q-8), validated first; returns its seq."""
        action = self._version.actions[type(request)].value
        payload, decoded = _checked(request)

        async def write(queued: Callable[[int], None]) -> int:
            seq = await self._store.outbox.append(action, payload, tx_ref)
            self._appended[seq] = (OutboxItem(seq, action, payload, 0, None, tx_ref), decoded)
            queued(seq)
            return seq

        return await self.journal(write)

    def remember_transaction_id(self, ref: int, transaction_id: int) -> None:
        """The answer to a StartTransaction: later messages of that transaction use its id (Q-5)."""
        self._transaction_ids[ref] = transaction_id

    # -- state ----------------------------------------------------------------------------------

    def open(self) -> None:
        """The boot is accepted (B-2): durable messages may go, the backlog first."""
        self._open = True
        self._kick()

    def close(self) -> None:
        """The connection is gone: volatile messages fail, durable ones become backlog."""
        self._open = False
        for entry in self._durable:
            entry.fresh = False
        volatile, self._volatile_queue = self._volatile_queue, deque()
        for entry in volatile:
            self._finish(entry, SendResult(SendOutcome.FAILED))
        self._kick()

    def wake(self) -> None:
        """What decides the order changed outside the lane (the store began or ceased to refuse writes)."""
        self._kick()

    def reset(self) -> None:
        """Runtime state only (seed: reset globals): the journaled entries stay in their places."""
        self.close()
        self._tasks.cancel()
        self._pumping = False
        self._transaction_ids.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def pending(self) -> int:
        """Durable messages not answered yet."""
        return self._store.outbox.count()

    def backlog(self) -> list[str]:
        """The actions waiting in the lane, in order (for tests and debugging: it reads each durable one)."""
        entries = sorted([*self._durable, *self._volatile_queue], key=lambda entry: entry.order)
        return [self._action_of(entry) for entry in entries]

    async def drained(self) -> None:
        """Wait until no durable message is waiting and every delete is committed (tests, benchmarks)."""
        while self.pending() or self._durable:
            self._empty.clear()
            await self._empty.wait()
        await self._store.idle()

    async def flush(self, timeout: float) -> bool:
        """Deliver what is queued before the station goes down (C-23, C-24), for at most ``timeout``
        seconds; False if the queue could not be emptied (offline, or the central system is slow):
        what is left is delivered after the restart."""
        if not self._open or not self._durable:
            return not self._durable
        drained = asyncio.ensure_future(self.drained())
        done = asyncio.Event()
        drained.add_done_callback(lambda _task: done.set())
        try:
            return await sleep_or_wake(self._clock, timeout, done) is False
        finally:
            drained.cancel()

    # -- delivery -----------------------------------------------------------------------------

    def _load_backlog(self) -> None:
        for seq in self._store.outbox.seqs():
            self._durable.append(_Entry(next(self._order), durable=True, fresh=False, seq=seq, committed=True))

    def _kick(self) -> None:
        if not self._pumping:
            self._pumping = True
            self._tasks.spawn(self._pump())

    def _next(self) -> _Entry | None:
        """The entry to send now, by the rules of the module docstring; None if none may go."""
        head = self._durable[0] if self._durable else None
        if self._volatile_queue:
            barrier = self._first_barrier()
            if barrier is None or barrier.order > self._volatile_queue[0].order:
                return self._volatile_queue.popleft()
        if (
            head is not None
            and head.committed
            and not head.settling
            and self._open
            and head.retry_at <= self._clock.monotonic()
        ):
            return head
        return None

    def _first_barrier(self) -> _Entry | None:
        """The oldest durable entry nothing may overtake: fresh, or still being journaled (but while the
        store refuses writes: only a fresh one, already journaled)."""
        self._prune_barriers()
        if self._store.fault is None or not self._barriers:
            return self._barriers[0][1] if self._barriers else None
        held = [entry for _, entry in self._barriers if entry.fresh and entry.committed and not entry.gone]
        return min(held, key=lambda entry: entry.order, default=None)

    def _prune_barriers(self) -> None:
        """Lazy deletion: entries that no longer hold anything back leave the top of the heap (called on
        every delivery too, so the heap stays as small as the lane even when no volatile entry asks)."""
        while self._barriers:
            entry = self._barriers[0][1]
            if (entry.fresh or not entry.committed) and not entry.gone:
                return
            heapq.heappop(self._barriers)

    def _drop(self, entry: _Entry) -> None:
        """A durable entry leaves the lane."""
        entry.gone = True
        if self._durable and self._durable[0] is entry:
            self._durable.popleft()
        else:
            self._durable.remove(entry)
        self._prune_barriers()

    async def _pump(self) -> None:
        """The one task that feeds the Rpc; it ends when nothing can be sent, and a new entry or
        state change starts it again (so an idle station has no task waiting). It is supervised by
        itself: an unexpected error is logged with its traceback and delivery goes on after a pause
        that grows while the error persists, so the lane is never left without its pump."""
        pause = 1.0
        while True:
            entry = self._next()
            if entry is None:
                self._pumping = False
                if not self._durable:
                    self._empty.set()
                self._arm_retry()
                return
            try:
                if entry.durable and not await self._send_durable(entry):
                    self._pumping = False  # offline: open() starts the pump again
                    return
                if not entry.durable:
                    assert entry.request is not None
                    self._finish(entry, await self._rpc.call(entry.request, on_result=entry.on_result))
                pause = 1.0
            except asyncio.CancelledError:
                self._pumping = False
                raise
            except Exception:
                self._log.exception("! outbound lane: delivery failed; going on in %ss", pause)
                if not entry.durable:
                    self._finish(entry, SendResult(SendOutcome.FAILED))
                await self._clock.sleep(pause)
                pause = min(pause * 2, 60.0)

    def _arm_retry(self) -> None:
        """Wake when the earliest retry pause ends (Q-4)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        wait = self._durable[0].retry_at - self._clock.monotonic() if self._durable else 0.0
        if self._open and wait > 0:  # only the head may be waiting: nothing passes it
            self._timer = self._clock.call_later(wait, self._kick)

    def _finish(self, entry: _Entry, result: SendResult[Any]) -> None:
        if entry.future is not None and not entry.future.done():
            entry.future.set_result(result)

    async def _send_durable(self, entry: _Entry) -> bool:
        """Send the entry and act on the outcome; False if there is no connection to send it on."""
        assert entry.seq is not None
        appended = self._appended.pop(entry.seq, None)
        item = self._store.outbox.get(entry.seq) if appended is None else appended[0]
        if item is None:  # answered before a reboot reloaded the lane
            self._drop(entry)
            return True
        if item.next_try_at is not None and entry.retry_at == 0.0:
            # a retry pause journaled before a restart goes on for what is left of it by the wall clock, never
            # longer than the pause itself: a clock set back (by years even, B-4) cannot stretch it
            left = min(item.next_try_at - self._clock.now().timestamp(), self._retry_pause(item.attempts))
            if left > 0:
                entry.retry_at = self._clock.monotonic() + left
                return True
        try:
            request = self._request(item, None if appended is None else appended[1])
        except (msgspec.ValidationError, msgspec.DecodeError, ValueError, LocalProtocolError) as exc:
            await self._settle(entry, self._dead_letter(entry, item, f"cannot be sent: {exc}"))
            return True
        entry.fresh = False
        applied: list[Op | None] = []
        unusable: list[Exception] = []

        def on_result(result: SendResult[Any]) -> None:
            if result.ok:
                hook = self.on_answer.get(item.action)
                try:
                    applied.append(hook(item, request, result.response) if hook else None)
                except Exception as exc:  # never counted delivered with what it taught lost
                    unusable.append(exc)

        result: SendResult[Any] = await self._rpc.call(request, on_result=on_result)
        if unusable:
            self._cannot_apply(item, unusable[0])
            await self._settle(entry, self._failed_attempt(entry, item))
        elif result.ok:
            # The delete is durable before the next durable message goes out (``settling``). Letting
            # that one go sooner would share fsyncs and drain faster (bench/), but a crash could then
            # resend answered messages after newer ones (a MeterValues after its StopTransaction).
            await self._settle(entry, self._delivered(entry, item, applied[0] if applied else None))
        elif result.outcome is SendOutcome.RESPONSE_ACCEPT_FAILED and result.error_code in NOT_TAKEN:
            reason = f"the central system answered {result.error_code}: it does not take {item.action}"
            await self._settle(entry, self._dead_letter(entry, item, reason, level=logging.WARNING))
        elif result.outcome is SendOutcome.RESPONSE_ACCEPT_FAILED:
            await self._settle(entry, self._failed_attempt(entry, item))  # Q-4, T-17
        elif result.outcome is SendOutcome.RESPONSE_FAILED and self._rpc.connected and self._attempt_on_timeout(item):
            await self._settle(entry, self._failed_attempt(entry, item))  # E13.FR.02: no answer within MessageTimeout
        elif result.outcome is SendOutcome.RESPONSE_FAILED and self._rpc.connected:
            # Timed out on a live link: not an attempt; try again after a pause.
            entry.retry_at = self._clock.monotonic() + self._rpc.call_timeout
        else:
            return False  # not sent, or the link dropped: it waits for the next open()
        return True

    def _attempt_on_timeout(self, item: OutboxItem) -> bool:
        return item.action in self._version.attempt_on_timeout

    async def _settle(self, entry: _Entry, commit: Coroutine[Any, Any, None]) -> None:
        """Commit what an answer taught without holding up the volatile messages behind it; the entry is
        not sent again meanwhile, nor is any durable one behind it (Q-2). Once begun the commit is carried
        through, even across a reset (its write is in the store's batch all the same). A commit that fails
        is logged and the entry is sent again after a pause.

        An in-memory store commits on the spot, so there the commit is awaited here (it never suspends, so it
        holds nothing up) and the pump goes on with the next message: no task for the commit and none for a
        pump started again by it (bench/: the offline drain in memory)."""
        entry.settling = True
        if self._store.immediate:
            try:
                await commit
            except Exception:
                self._log.exception("! outbound lane commit failed")
                self._unsettled(entry)
            entry.settling = False
            return

        def settled(task: asyncio.Future[None]) -> None:
            entry.settling = False
            if task.cancelled():
                return  # the store closed before it took the write: the station is going away, nothing goes on
            if task.exception() is not None:  # its traceback is logged by Tasks
                self._unsettled(entry)
            self._kick()

        self._commits.spawn(commit).add_done_callback(settled)

    def _unsettled(self, entry: _Entry) -> None:
        self._log.error("! outbound lane: the outcome of a message could not be committed; sending it again in %ss",
                        SETTLE_RETRY_S)  # fmt: skip
        entry.retry_at = self._clock.monotonic() + SETTLE_RETRY_S

    async def _delivered(self, entry: _Entry, item: OutboxItem, taught: Op | None) -> None:
        try:
            await self._store.outbox.remove(item.seq, taught)
        except (OverflowError, ValueError) as exc:  # what the answer taught is a value the store cannot hold
            self._cannot_apply(item, exc)
            await self._failed_attempt(entry, item)
            return
        self._drop(entry)
        self.delivered += 1

    def _cannot_apply(self, item: OutboxItem, exc: Exception) -> None:
        """An answer that cannot be applied is one failed attempt (Q-4), then a dead letter: never counted
        delivered with what it taught lost, never a resend storm, never a blocked lane."""
        self._log.error("! %s #%d: its answer cannot be applied", item.action, item.seq, exc_info=exc)

    def _request(self, item: OutboxItem, decoded: Message | None = None) -> Message:
        """The request ``item`` holds (``decoded``, if it was read from its payload already), with the central
        system's transaction id in place of the local ref."""
        request = (
            msgspec.json.decode(item.payload, type=self._version.requests[item.action]) if decoded is None else decoded
        )
        if self._version.csms_transaction_ids and item.tx_ref is not None and hasattr(request, "transaction_id"):
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

    async def _failed_attempt(self, entry: _Entry, item: OutboxItem) -> None:
        attempts = item.attempts + 1
        keys = self._version.keys
        limit = self._config.get_int(keys.message_attempts, default=3)
        if attempts >= limit:
            await self._dead_letter(entry, item, f"no attempt of {attempts} was accepted (Q-4)")
            return
        delay = self._retry_pause(attempts)
        self._log.info("= %s #%d failed (attempt %d); next try in %ss", item.action, item.seq, attempts, delay)
        # the pause runs on the monotonic clock, which no time sync moves; the wall-clock end is journaled for
        # a restart, which the monotonic clock does not survive
        await self._store.outbox.failed(item.seq, attempts, self._clock.now().timestamp() + delay)
        entry.retry_at = self._clock.monotonic() + delay

    def _retry_pause(self, attempts: int) -> int:
        """Q-4: TransactionMessageRetryInterval times n seconds before the n-th retransmission."""
        return self._config.get_int(self._version.keys.message_retry_interval, default=60) * attempts

    async def _dead_letter(self, entry: _Entry, item: OutboxItem, reason: str, level: int = logging.ERROR) -> None:
        """Set aside for good, content kept: delivery goes on with the next message."""
        self._log.log(level, "! %s #%d moved to the dead letters: %s", item.action, item.seq, reason)
        await self._store.outbox.dead_letter(item.seq, reason, self._clock.now().isoformat())
        self._drop(entry)
        dropped = self.on_dropped.get(item.action)
        if dropped is not None:
            await dropped(item)

    def _action_of(self, entry: _Entry) -> str:
        if entry.request is not None:
            return self._version.actions[type(entry.request)].value
        item = self._store.outbox.get(entry.seq) if entry.seq is not None else None
        return item.action if item is not None else "(being journaled)"
