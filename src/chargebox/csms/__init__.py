"""A small central system built on chargebox's own protocol core (demo, development, tests)."""
