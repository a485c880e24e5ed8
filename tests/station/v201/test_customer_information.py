"""CustomerInformation of a 2.0.1 station (station/v201/customer_information.py): what it holds about an idToken
reported in NotifyCustomerInformation after the answer, cleared with clear=true, and the requests it refuses."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from chargebox.protocol.v201 import messages as m
from chargebox.station.v201.authorization import AuthorizationService
from chargebox.station.v201.customer_information import CustomerInformationService, _chunks
from tests.wire import Wire

CARD = {"idToken": "04A2B3C4", "type": "ISO14443"}
TOKEN = m.IdTokenType(id_token="04A2B3C4", type=m.IdTokenEnumType.ISO14443)


async def booted(wired: Callable[..., Wire]) -> Wire:
    wire = wired(ocpp="2.0.1")
    await wire.connect()
    await wire.until(lambda: len(wire.calls("StatusNotification")) >= 1)
    return wire


async def ask(wire: Wire, **payload: Any) -> Any:
    body = {"requestId": 7, "report": True, "clear": False, **payload}
    frame = await wire.inject(json.dumps([2, f"ci-{len(wire.sent_actions())}", "CustomerInformation", body]))
    assert frame[0] == 3, frame
    return frame[2]


async def notifications(wire: Wire, count: int) -> list[dict[str, Any]]:
    await wire.until(lambda: len(wire.calls("NotifyCustomerInformation")) >= count)
    return wire.calls("NotifyCustomerInformation")


def cache(wire: Wire) -> None:
    """The central system accepted the card once: the authorization cache holds it."""
    accepted = m.IdTokenInfoType(status=m.AuthorizationStatusEnumType.ACCEPTED)
    wire.station.features.need(AuthorizationService).learn(TOKEN, accepted)


async def test_N09_FR_05_what_the_cache_holds_is_reported_after_the_answer(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired)
    cache(wire)
    assert await ask(wire, idToken=CARD) == {"status": "Accepted"}
    (note,) = await notifications(wire, 1)
    assert note["requestId"] == 7 and note["seqNo"] == 0 and not note.get("tbc")
    assert "authorization cache: ISO14443 04A2B3C4 Accepted" in note["data"]
    assert wire.sent_actions().index("NotifyCustomerInformation") > 0


async def test_N09_FR_06_a_customer_without_data_gets_one_notification_saying_so(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired)
    assert await ask(wire, customerIdentifier="customer-1") == {"status": "Accepted"}
    (note,) = await notifications(wire, 1)
    assert note["data"] == "No data found for this customer."


async def test_N10_FR_03_clear_and_report_deletes_the_cache_entry_and_reports_it(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired)
    cache(wire)
    assert await ask(wire, idToken=CARD, clear=True) == {"status": "Accepted"}
    (note,) = await notifications(wire, 1)
    assert "04A2B3C4" in note["data"]
    service = wire.station.features.need(CustomerInformationService)
    assert service.held(TOKEN) == []


async def test_N10_FR_06_clear_without_report_says_it_was_cleared(wired: Callable[..., Wire]) -> None:
    wire = await booted(wired)
    cache(wire)
    assert await ask(wire, idToken=CARD, clear=True, report=False) == {"status": "Accepted"}
    (note,) = await notifications(wire, 1)
    assert note["data"] == "The customer's data was cleared."
    service = wire.station.features.need(CustomerInformationService)
    assert service.held(TOKEN) == []


async def test_N09_FR_09_none_or_two_customers_named_is_Invalid_and_N09_FR_07_neither_flag_Rejected(
    wired: Callable[..., Wire],
) -> None:
    wire = await booted(wired)
    assert await ask(wire) == {"status": "Invalid"}
    assert await ask(wire, idToken=CARD, customerIdentifier="c") == {"status": "Invalid"}
    assert await ask(wire, idToken=CARD, report=False) == {"status": "Rejected"}
    await wire.clock.advance(1)
    assert wire.calls("NotifyCustomerInformation") == []


def test_a_long_report_is_cut_into_pieces_of_512_characters_at_most() -> None:
    pieces = _chunks(["a" * 300, "b" * 300, "c" * 1100])
    assert [len(p) for p in pieces] == [300, 300, 512, 512, 76]
    assert "".join(pieces).replace("\n", "") == "a" * 300 + "b" * 300 + "c" * 1100
