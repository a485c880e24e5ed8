"""Power cuts, standalone: SIGKILL a real ``chargebox simulate`` at random moments over N cycles of charging,
metering, a firmware update and a diagnostics upload, check what the central system received, and print the
figures (docs/reliability.md, "Power cuts"). The rig is tests/crash/power_cuts.py, as in tests/crash/test_power_cuts.py.

    .venv/bin/python -m tools.power_cuts --cycles 100 [--seed S] [--keep DIR]

Exits 1 if a check fails (the message names the seed), 0 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
from pathlib import Path

import pytest

from tests.crash.power_cuts import check, check_energy, power_cuts, seeded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.power_cuts", description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=100, help="station lives cut by a kill (default 100)")
    parser.add_argument("--seed", type=int, default=random.randrange(1 << 32), help="the schedule's seed")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="work (data dir, copies, log) here and keep it")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="power-cuts-") as scratch:
        workdir = args.keep or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        try:
            with seeded(args.seed):
                run = asyncio.run(power_cuts(args.cycles, args.seed, workdir))
                print(run.figures())
                check(run)
                check_energy(run)
        except pytest.fail.Exception as exc:
            print(f"FAILED: {exc}", file=sys.stderr)
            return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
