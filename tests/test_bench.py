"""``make bench`` works from a clean clone, where the optional ``fast`` extra (uvloop) is not installed."""

from __future__ import annotations

import sys
from pathlib import Path

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


def test_a_rewrite_of_the_performance_page_keeps_its_hand_written_part(tmp_path: Path) -> None:
    from bench.report import KEPT, Report, Row, write_markdown

    page = tmp_path / "performance.md"
    report = Report(command="python -m bench", quick=False)
    report.rows.append(Row(figure="a figure", case="first run", result="1 µs"))
    write_markdown(report, page)
    page.write_text(page.read_text(encoding="utf-8") + f"\n{KEPT}\n\nBefore and after.\n", encoding="utf-8")
    report.rows[0] = Row(figure="a figure", case="second run", result="2 µs")
    write_markdown(report, page)
    text = page.read_text(encoding="utf-8")
    assert "second run" in text and "first run" not in text
    assert text.endswith(f"\n{KEPT}\n\nBefore and after.\n")
    assert text.count(KEPT) == 1
