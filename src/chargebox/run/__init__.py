"""``chargebox run --config station.toml``: one real station, its ports built from the file's ``[hardware]``
section by the reference drivers (Modbus meter and IO module, Linux firmware slots, a line-oriented card
reader) or the simulated ones for a bench. ``docs/howto/integrate.md`` is the guide."""
