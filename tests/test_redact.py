"""Secrets never reach a log or transcript (T-41)."""

from __future__ import annotations

import logging

import pytest

from chargebox.redact import redact
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
