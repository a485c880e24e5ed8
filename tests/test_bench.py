"""``make bench`` works from a clean clone, where the optional ``fast`` extra (uvloop) is not installed."""

from __future__ import annotations

import sys

import pytest

from bench import cli


def test_round_trips_without_uvloop_say_so_instead_of_failing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop now raises ImportError
    code = cli.main(["--quick", "--only", "round trips", "--no-write"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert out.count("uvloop not installed") == 4  # raw and chargebox, for Heartbeat and MeterValues
    assert "failed" not in err
