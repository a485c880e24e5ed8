"""Secrets never reach a log or transcript (T-41)."""

from __future__ import annotations

import json
import logging

import pytest
from websockets.frames import Frame, Opcode

from chargebox.redact import RedactingFilter, redact
from tests.wire import Wire


@pytest.mark.parametrize(
    "text",
    [
        '[2,"1","ChangeConfiguration",{"key":"AuthorizationKey","value":"s3cr3t-s3cr3t-s3cr3t"}]',
        '[2,"1","ChangeConfiguration",{"value":"s3cr3t-s3cr3t-s3cr3t","key":"authorizationkey"}]',
        '[2,"1","UpdateFirmware",{"location":"ftp://user:s3cr3t-s3cr3t-s3cr3t@host/fw.bin"}]',
    ],
)
def test_T_41_secrets_are_redacted(text: str) -> None:
    assert "s3cr3t" not in redact(text) and "***" in redact(text)


def test_redact_leaves_other_frames_alone() -> None:
    frame = '[2,"1","ChangeConfiguration",{"key":"HeartbeatInterval","value":"60"}]'
    assert redact(frame) == frame


async def test_T_41_authorization_key_change_is_not_logged(wired, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    logging.getLogger("chargebox.frames").setLevel(logging.DEBUG)
    wire: Wire = wired()
    await wire.connect()
    await wire.inject('[2,"1","ChangeConfiguration",{"key":"AuthorizationKey","value":"s3cr3t-s3cr3t-s3cr3t"}]')
    assert "s3cr3t" not in caplog.text
    logging.getLogger("chargebox.frames").setLevel(logging.NOTSET)


@pytest.mark.parametrize(
    "text",
    [
        r'[2,"1","ChangeConfiguration",{"key":"Authorization\u004bey","value":"s3cr3t-s3cr3t-s3cr3t"}]',
        r'[2,"1","ChangeConfiguration",{"key":"AUTHORIZATIONKEY","value":"s3cr3t-s3cr3t-s3cr3t"}]',
        '[3,"1",{"configurationKey":[{"key":"authorizationKey","readonly":false,"value":"s3cr3t-s3cr3t-s3cr3t"}]}]',
        '{"AuthorizationKey": "s3cr3t-s3cr3t-s3cr3t", "HeartbeatInterval": "60"}',
    ],
)
def test_T_41_G_1_secret_is_redacted_by_key_after_json_decoding(text: str) -> None:
    redacted = redact(text)
    assert "s3cr3t" not in redacted and "***" in redacted


def test_T_41_redacted_frame_is_still_the_same_json_apart_from_the_secret() -> None:
    frame = r'[2,"1","ChangeConfiguration",{"key":"Authorization\u004bey","value":"s3cr3t-s3cr3t-s3cr3t"}]'
    assert json.loads(redact(frame)) == [2, "1", "ChangeConfiguration", {"key": "AuthorizationKey", "value": "***"}]


@pytest.mark.parametrize(
    "text",
    [
        "> Authorization: Basic Q1AtMTpzM2NyM3QtczNjcjN0LXMzY3IzdA==",
        "< authorization: Q1AtMTpzM2NyM3QtczNjcjN0LXMzY3IzdA==",
        "cannot connect to ws://CP-1:s3cr3t-s3cr3t-s3cr3t@csms.example/CP-1",
    ],
)
def test_T_6_basic_credentials_in_plain_text_are_redacted(text: str) -> None:
    redacted = redact(text)
    assert "s3cr3t" not in redacted and "Q1AtMTpz" not in redacted and "***" in redacted


def test_T_41_websockets_frame_log_is_redacted_although_elided(caplog: pytest.LogCaptureFixture) -> None:
    value = "s3cr3t-" * 10  # long enough for websockets to show only the frame's start and end
    frame = Frame(Opcode.TEXT, f'[2,"1","ChangeConfiguration",{{"key":"AuthorizationKey","value":"{value}"}}]'.encode())
    logger = logging.getLogger("tests.redact.websockets")
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.DEBUG, logger=logger.name):
        logger.debug("< %s", frame)
    assert "s3cr3t" not in caplog.text and "TEXT" in caplog.text


async def test_T_41_escaped_authorization_key_is_not_logged(wired, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    logging.getLogger("chargebox.frames").setLevel(logging.DEBUG)
    wire: Wire = wired()
    await wire.connect()
    answer = await wire.inject(
        r'[2,"1","ChangeConfiguration",{"key":"Authorization\u004bey","value":"s3cr3t-s3cr3t-s3cr3t"}]'
    )
    logging.getLogger("chargebox.frames").setLevel(logging.NOTSET)
    assert answer == [3, "1", {"status": "Accepted"}]
    assert "s3cr3t" not in caplog.text
