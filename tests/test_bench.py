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


def test_the_2_0_1_decode_rows_measure_valid_frames_against_their_own_floor() -> None:
    from bench import decode

    per_frame = decode.decode_worker_v201(number=5, repeat=1)  # Connection.receive raises on a rejected frame
    assert [len(results) for results in per_frame] == [4] * len(decode.V201_FRAMES)
    assert all(results[0].case.startswith("orjson") for results in per_frame)
    assert [decode.frame_text_v201(action).split(",")[2] for action in decode.V201_FRAMES] == [
        '"TransactionEvent"',
        '"MeterValues"',
    ]
