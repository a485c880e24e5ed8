"""Entry point: ``python -m bench [--quick]``.

Kept import-free at module level: ``multiprocessing`` (spawn) re-imports this module in every worker,
and a worker must hold only what it measures.
"""

if __name__ == "__main__":
    from bench.cli import main

    raise SystemExit(main())
