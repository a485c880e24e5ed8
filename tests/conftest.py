from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chargebox import cli
from chargebox.clock import VirtualClock
from tests.loopback import StationLives
from tests.wire import Wire, make_csms, make_station


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
async def wired(clock: VirtualClock) -> AsyncIterator[Callable[..., Wire]]:
    """Build a station and the built-in central system joined in memory: ``wired(connectors=2)``."""
    wires: list[Wire] = []

    def build(csms_policy: dict[str, Any] | None = None, **settings: Any) -> Wire:
        wire = Wire(make_station(clock, **settings), make_csms(clock, **(csms_policy or {})), clock)
        wires.append(wire)
        return wire

    yield build
    for wire in wires:
        await wire.stop()


@pytest.fixture
def lives(tmp_path: Path) -> Iterator[StationLives]:
    """``chargebox simulate`` processes on one data dir, killed with ``await lives.kill(process)``; any still
    running are killed after the test."""
    station = StationLives(tmp_path)
    yield station
    station.close()


LOG_LINE = logging.Formatter("%(levelname)-7s %(name)s %(message)s")  # as the command's log handler writes it


@pytest.fixture
def cli_main(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> Iterator[Callable[..., tuple[int, str, str]]]:
    """``chargebox ARGS`` run by ``cli.main`` in this process, without an interpreter's start-up and imports:
    ``(exit code, stdout, stderr)``, the records logged at ERROR or above added to stderr as lines, where the
    command's own log handler would have written them. tests/test_cli.py::test_one_line_errors_of_the_real_process
    checks that a real process prints and exits the same. The loggers ``main`` configures are restored after."""
    loggers = [logging.getLogger(name) for name in ("websockets", "websockets.client", "websockets.server")]
    saved = [(logger.level, list(logger.filters)) for logger in loggers]

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        caplog.clear()
        try:
            code = cli.main(list(args))
        except SystemExit as exc:  # argparse: --help, or a usage error
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        logged = "".join(f"{LOG_LINE.format(r)}\n" for r in caplog.records if r.levelno >= logging.ERROR)
        return code, out, err + logged

    yield run
    for logger, (level, filters) in zip(loggers, saved, strict=True):
        logger.setLevel(level)
        logger.filters[:] = filters
