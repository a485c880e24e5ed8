"""outbox.py: the queue of transaction messages, and the dead letters it gives up on."""

from __future__ import annotations

from pathlib import Path

import pytest

from chargebox.store import DeadLetter, OutboxItem, Store


async def test_get_returns_one_pending_entry_by_its_seq(store: Store) -> None:
    seq = await store.outbox.append("StartTransaction", b'{"a":1}', 7)
    await store.outbox.failed(seq, 2, 30.0)
    assert store.outbox.get(seq) == OutboxItem(
        seq=seq, action="StartTransaction", payload=b'{"a":1}', attempts=2, next_try_at=30.0, tx_ref=7
    )
    assert store.outbox.get(seq + 1) is None


async def test_Q_2_seqs_lists_every_pending_entry_oldest_first(store: Store) -> None:
    first = await store.outbox.append("StartTransaction", b"{}", 1)
    second = await store.outbox.append("MeterValues", b"{}", 1)
    third = await store.outbox.append("StopTransaction", b"{}", 1)
    await store.outbox.remove(second)
    assert store.outbox.seqs() == [first, third]


async def test_dead_letter_moves_the_entry_with_its_content(store: Store) -> None:
    seq = await store.outbox.append("StopTransaction", b'{"meterStop":5}', 3)
    await store.outbox.failed(seq, 4, 10.0)
    await store.outbox.dead_letter(seq, "FormationViolation from the central system", "2025-01-01T00:00:00Z")
    assert store.outbox.seqs() == []
    assert store.dead_letters.count() == 1
    assert store.dead_letters.all() == [
        DeadLetter(
            seq=seq,
            action="StopTransaction",
            payload=b'{"meterStop":5}',
            tx_ref=3,
            attempts=4,
            reason="FormationViolation from the central system",
            moved_at="2025-01-01T00:00:00Z",
        )
    ]


async def test_dead_letter_is_one_group_commit(store: Store) -> None:
    seq = await store.outbox.append("MeterValues", b"{}", None)
    commits = store.commits
    await store.outbox.dead_letter(seq, "never answered", "2025-01-01T00:00:00Z")
    assert store.commits == commits + 1


async def test_dead_letter_goes_through_store_write(store: Store) -> None:
    """The crash tests cut the power by replacing ``Store.write``: a dead letter must not slip past it."""
    seq = await store.outbox.append("MeterValues", b"{}", None)
    seen: list[object] = []
    write = store.write

    async def spy(op: object) -> object:
        seen.append(op)
        return await write(op)  # type: ignore[arg-type]

    store.write = spy  # type: ignore[assignment]
    await store.outbox.dead_letter(seq, "never answered", "2025-01-01T00:00:00Z")
    assert len(seen) == 1


async def test_dead_letter_of_an_unknown_seq_raises_and_changes_nothing(store: Store) -> None:
    seq = await store.outbox.append("MeterValues", b"{}", None)
    with pytest.raises(LookupError, match=str(seq + 1)):
        await store.outbox.dead_letter(seq + 1, "gone", "2025-01-01T00:00:00Z")
    assert store.outbox.seqs() == [seq]
    assert store.dead_letters.count() == 0


async def test_dead_letters_survive_a_restart_and_their_seq_is_never_reused(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    seq = await store.outbox.append("MeterValues", b"{}", None)
    await store.outbox.dead_letter(seq, "never answered", "2025-01-01T00:00:00Z")
    store.close()
    again = Store.open(tmp_path)
    assert [letter.seq for letter in again.dead_letters.all()] == [seq]
    assert await again.outbox.append("MeterValues", b"{}", None) > seq
    again.close()


async def test_dead_letters_work_in_a_memory_store() -> None:
    store = Store.open(None)
    seq = await store.outbox.append("MeterValues", b"{}", None)
    await store.outbox.dead_letter(seq, "never answered", "2025-01-01T00:00:00Z")
    assert store.dead_letters.count() == 1
    assert store.outbox.count() == 0
    store.close()
