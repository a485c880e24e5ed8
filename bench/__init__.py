"""``python -m bench``: the performance figures of DESIGN.md, measured in one run on loopback.

Every figure is measured against the same minimal central system (raw ``websockets`` + ``orjson``,
fixed answers) running in its own process, so the station side is all that a station process
spends. See ``docs/performance.md`` for the last full run and how to read it.
"""
