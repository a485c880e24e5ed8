"""Power cuts, standalone: SIGKILL a real ``chargebox simulate`` at random moments over N cycles of charging,
metering, a firmware update and a diagnostics upload, check what the central system received, and print the
figures (docs/reliability.md, "Power cuts"). The rig is tests/crash/power_cuts.py, as in tests/crash/test_power_cuts.py.

    .venv/bin/python -m tools.power_cuts --cycles 100 [--seed S] [--keep DIR] [--ocpp 2.0.1]

``--ocpp 2.0.1`` cuts a 2.0.1 station (TransactionEvents; without the firmware and diagnostics jobs, the disk-full
spells and the energy figures, which are 1.6's).

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
    parser.add_argument("--ocpp", choices=("1.6", "2.0.1"), default="1.6", help="the station's version (default 1.6)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="power-cuts-") as scratch:
        workdir = args.keep or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        try:
            with seeded(args.seed):
                if args.ocpp == "2.0.1":
                    run = asyncio.run(power_cuts(args.cycles, args.seed, workdir, spells=0.0, jobs=False, ocpp="2.0.1"))
                else:
                    run = asyncio.run(power_cuts(args.cycles, args.seed, workdir))
                print(run.figures())
                check(run)
                if not run.v201:
                    check_energy(run)
        except pytest.fail.Exception as exc:
            print(f"FAILED: {exc}", file=sys.stderr)
            return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
