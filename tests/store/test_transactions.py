"""transactions.py: each journaled change names the outbox entry it queued."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from chargebox.store import OutboxItem, Store, TransactionRecord


def start_request(ref: int) -> tuple[str, bytes]:
    return "StartTransaction", b'{"ref":%d}' % ref


async def begin(store: Store, **kwargs: Any) -> int:
    return await store.transactions.begin(
        connector_id=1,
        id_tag="TAG-1",
        parent_id_tag=None,
        reservation_id=None,
        meter_start=100,
        started_at="2025-01-01T00:00:00Z",
        start_request=start_request,
        **kwargs,
    )


async def test_begin_without_a_callback_returns_the_ref_as_before(store: Store) -> None:
    ref = await begin(store)
    assert store.transactions.get(ref) == TransactionRecord(
        ref=ref,
        connector_id=1,
        id_tag="TAG-1",
        parent_id_tag=None,
        transaction_id=None,
        reservation_id=None,
        meter_start=100,
        meter_last=100,
        meter_last_at="2025-01-01T00:00:00Z",
        started_at="2025-01-01T00:00:00Z",
        stopped_at=None,
        stop_reason=None,
        deauthorized=False,
    )


async def test_begin_reports_the_seq_of_its_start_transaction_once_committed(store: Store) -> None:
    seen: list[tuple[int, OutboxItem | None]] = []

    def queued(seq: int) -> None:
        asyncio.get_running_loop()  # raises unless called on the event loop
        assert threading.current_thread() is threading.main_thread()
        seen.append((seq, store.outbox.get(seq)))  # the event loop's connection sees only committed writes

    ref = await begin(store, queued=queued)
    [(seq, item)] = seen
    assert item == OutboxItem(
        seq=seq, action="StartTransaction", payload=b'{"ref":%d}' % ref, attempts=0, next_try_at=None, tx_ref=ref
    )


async def sample(store: Store, ref: int, *, stop_sample: bytes | None, message: tuple[str, bytes] | None) -> list[int]:
    """Record a sample of 150 Wh; the outbox seqs its ``queued`` callback heard of."""
    seqs: list[int] = []
    await store.transactions.record_sample(
        ref,
        connector_id=1,
        meter_wh=150,
        at="2026-01-01T00:00:10+00:00",
        stop_sample=stop_sample,
        message=message,
        queued=seqs.append,
    )
    return seqs


async def test_record_sample_reports_the_seq_of_its_meter_values(store: Store) -> None:
    ref = await begin(store)
    [seq] = await sample(store, ref, stop_sample=None, message=("MeterValues", b"{}"))
    assert store.outbox.seqs()[-1] == seq
    item = store.outbox.get(seq)
    assert item is not None and item.action == "MeterValues"


async def test_record_sample_without_a_message_reports_nothing(store: Store) -> None:
    ref = await begin(store)
    assert await sample(store, ref, stop_sample=b"{}", message=None) == []
    assert store.transactions.samples(ref) == [b"{}"]


async def test_finish_reports_the_seq_of_its_stop_transaction(store: Store) -> None:
    ref = await begin(store)
    seqs: list[int] = []
    await store.transactions.finish(
        ref,
        meter_stop=200,
        stopped_at="2025-01-01T01:00:00Z",
        reason="Local",
        stop_request=("StopTransaction", b"{}"),
        queued=seqs.append,
    )
    [seq] = seqs
    item = store.outbox.get(seq)
    assert item is not None and (item.action, item.tx_ref) == ("StopTransaction", ref)
    assert store.transactions.open_transactions() == []


async def test_the_callback_reports_seqs_in_a_memory_store() -> None:
    store = Store.open(None)
    seqs: list[int] = []
    await begin(store, queued=seqs.append)
    assert seqs == store.outbox.seqs()
    store.close()


async def test_X_12_record_register_keeps_the_register_and_when_it_was_read(store: Store) -> None:
    store.connectors.ensure(1)
    ref = await begin(store)
    await store.transactions.record_register(ref, connector_id=1, meter_wh=140, at="2026-01-01T00:00:05+00:00")
    await store.transactions.record_register(ref, connector_id=1, meter_wh=130, at="2026-01-01T00:00:06+00:00")
    record = store.transactions.get(ref)
    assert record is not None
    assert record.meter_last == 140  # never back
    assert record.meter_last_at == "2026-01-01T00:00:06+00:00"
    assert store.connectors.all_meter_wh()[1] == 140
