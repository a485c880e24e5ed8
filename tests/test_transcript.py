"""Frame transcripts: one JSON line per frame, whatever the frame."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from chargebox.protocol import codec
from chargebox.transcript import open_transcript

frames_log = logging.getLogger("chargebox.frames")


@pytest.fixture
def transcript(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "frames.jsonl"
    level = frames_log.level
    handler = open_transcript(path)
    yield path
    frames_log.removeHandler(handler)
    handler.close()
    frames_log.setLevel(level)


def record(frame: str) -> None:
    frames_log.debug("CP-1 < %s", frame, extra={"cp": "CP-1", "direction": "<", "frame": frame})


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_frame_is_written_as_json(transcript: Path) -> None:
    record('[2,"1","Heartbeat",{}]')
    [line] = lines(transcript)
    assert (line["cp"], line["dir"], line["frame"]) == ("CP-1", "<", [2, "1", "Heartbeat", {}])


def test_text_that_is_not_json_is_written_as_a_string(transcript: Path) -> None:
    record('[2,"1",')
    assert lines(transcript)[0]["frame"] == '[2,"1",'


def test_1_4_a_frame_nesting_deeper_than_max_depth_is_written_as_a_string(transcript: Path) -> None:
    # json.loads recursed on it until RecursionError, and the line was lost
    deep = '[2,"d","DataTransfer",{"vendorId":"v","data":' + "[" * 1000 + "]" * 1000 + "}]"
    record(deep)
    record('[2,"2","Heartbeat",{}]')
    first, second = lines(transcript)
    assert first["frame"] == deep
    assert second["frame"] == [2, "2", "Heartbeat", {}]


def test_a_frame_at_max_depth_is_still_written_as_json(transcript: Path) -> None:
    frame = "[" * codec.MAX_DEPTH + "]" * codec.MAX_DEPTH
    record(frame)
    assert lines(transcript)[0]["frame"] == json.loads(frame)
