"""CustomerInformation with data (N09, N10) against the ``ocpp`` library's 2.0.1 central system: Part 6's TC_N_27,
TC_N_30 and TC_N_31 (TC_N_28 and TC_N_32, without data, are in test_certificates.py).

The station holds a customer's data by idToken: the authorization cache's entry and an EVSE where the idToken is
authorized or charging. A card presented without a cable is Part 6's "Authorized (local)" state: it is
authorized by Authorize, cached (AuthCacheCtrlr.Enabled is true by default), and waits on the EVSE for a cable.

TC_N_62_CS cannot apply: it is for a station that keeps data by customerIdentifier (Part 5's C-14), and this one
keeps none; a customerIdentifier is answered Accepted with a report that no data is held (TC_N_28_CS).
"""

from __future__ import annotations

from typing import Any

from ocpp.v201 import call

from tests.interop.conftest import OcppCsms
from tests.interop.v201.conftest import StationRunner201, wait_booted

CARD = "04A2B3C4"
TOKEN = {"id_token": CARD, "type": "ISO14443"}


async def authorized(csms: OcppCsms, station_factory: StationRunner201) -> None:
    """A one-EVSE station, booted; the card presented without a cable, authorized by the central system."""
    station = station_factory(connectors=1)
    index = await wait_booted(csms, evses=1)
    await station.id_tag_presented(CARD)
    await csms.wait_call("Authorize", start=index)
    await csms.frames.wait_for(
        lambda f: f.action == "StatusNotification" and f.payload["connectorStatus"] == "Occupied", start=index + 1
    )


async def report(csms: OcppCsms, request_id: int, **asked: Any) -> tuple[str, list[dict[str, Any]]]:
    """Send CustomerInformation: its status, and every NotifyCustomerInformation of the report (until tbc is false)."""
    start = len(csms.frames.frames)
    result = await csms.call(call.CustomerInformation(request_id=request_id, **asked))
    if result.status != "Accepted":
        return result.status, []
    parts: list[dict[str, Any]] = []
    index = start
    while not parts or parts[-1].get("tbc", False):
        index, frame = await csms.frames.wait_for(
            lambda f: f.action == "NotifyCustomerInformation" and f.payload["requestId"] == request_id, start=index
        )
        parts.append(frame.payload)
        index += 1
    assert [part["seqNo"] for part in parts] == list(range(len(parts)))  # N09.FR.06 (all parts received)
    return result.status, parts


def data(parts: list[dict[str, Any]]) -> str:
    return "".join(part["data"] for part in parts)


async def test_TC_N_27_CS_report_of_an_idToken_the_station_holds_data_of(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    await authorized(csms, station_factory)
    status, parts = await report(csms, 1, report=True, clear=False, id_token=TOKEN)
    assert status == "Accepted"  # N09.FR.02
    held = data(parts)  # N09.FR.05: not empty, what is held
    assert f"authorization cache: ISO14443 {CARD} Accepted" in held and "EVSE 1: authorized, waiting" in held


async def test_TC_N_30_CS_clear_and_report_with_data_then_the_cache_entry_is_gone(
    csms: OcppCsms, station_factory: StationRunner201
) -> None:
    await authorized(csms, station_factory)
    status, parts = await report(csms, 1, report=True, clear=True, id_token=TOKEN)
    assert status == "Accepted"  # N10.FR.01
    assert f"authorization cache: ISO14443 {CARD}" in data(parts)  # N10.FR.03: what was held, reported
    status, parts = await report(csms, 2, report=True, clear=False, id_token=TOKEN)
    assert status == "Accepted" and parts[-1].get("tbc") is not True
    assert "authorization cache" not in data(parts)  # cleared; the waiting authorization is not stored data


async def test_TC_N_31_CS_clear_and_report_without_data(csms: OcppCsms, station_factory: StationRunner201) -> None:
    station_factory(connectors=1)
    await wait_booted(csms, evses=1)
    status, parts = await report(csms, 1, report=True, clear=True, id_token=TOKEN)
    assert status == "Accepted"  # N10.FR.01
    assert data(parts) == "No data found for this customer."  # N10.FR.04
