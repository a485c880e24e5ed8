"""Fuzzing, the long campaign: the frame fuzzing (tests/hardening/test_fuzz.py), the answer fuzzing
(tests/hardening/test_fuzz_answers.py) and both for a 2.0.1 station (tests/hardening/test_fuzz_v201.py) with many
more examples, drawn at random from a seed (docs/reliability.md, "Frame fuzzing" and "Values from the wire").

    .venv/bin/python -m tools.fuzz [--examples N] [--seed S] [--only frames|answers|v201]

Prints Hypothesis' statistics of each test (what was generated: answer verdicts, frame kinds). Exits 1 if an
example fails: the output shows it, and the same --seed draws the same examples again.
"""

from __future__ import annotations

import argparse
import os
import random
import sys

import pytest

SUITES = {
    "frames": "tests/hardening/test_fuzz.py",
    "answers": "tests/hardening/test_fuzz_answers.py",
    "v201": "tests/hardening/test_fuzz_v201.py",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.fuzz", description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1000, help="examples per fuzzing test (default 1000)")
    parser.add_argument("--seed", type=int, default=random.randrange(1 << 32), help="the seed the examples come from")
    parser.add_argument("--only", choices=sorted(SUITES), help="one of the fuzzers (default all)")
    args = parser.parse_args(argv)
    if args.examples < 1:
        parser.error("--examples must be at least 1")
    os.environ["CHARGEBOX_FUZZ_EXAMPLES"] = str(args.examples)
    os.environ["CHARGEBOX_FUZZ_SEED"] = str(args.seed)
    print(f"seed {args.seed}, {args.examples} examples per fuzzing test", flush=True)
    files = [SUITES[args.only]] if args.only else list(SUITES.values())
    code = pytest.main([*files, "-q", "-p", "no:cacheprovider", f"--hypothesis-seed={args.seed}",
                        "--hypothesis-show-statistics"])  # fmt: skip
    print(f"{'all checks passed' if code == 0 else 'FAILED'} (seed {args.seed})")
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
