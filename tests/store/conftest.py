from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chargebox.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A file store: the group commit, WAL and the lock, as a station runs them."""
    store = Store.open(tmp_path / "station")
    yield store
    store.close()
