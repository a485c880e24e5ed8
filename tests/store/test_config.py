"""config.py: configuration values and station facts."""

from __future__ import annotations

from chargebox.store import Store


def test_K_13_config_keys_are_case_insensitive_in_the_store(store: Store) -> None:
    store.config.save("HeartbeatInterval", "1")
    store.config.save("heartbeatinterval", "2")
    assert store.config.load() == {"HeartbeatInterval": "2"}


def test_a_missing_station_fact_is_none(store: Store) -> None:
    assert store.state.get("firmware") is None
    store.state.set("firmware", "1.0")
    assert store.state.get("firmware") == "1.0"
