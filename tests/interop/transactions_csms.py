"""A central system that also answers the transaction messages, on the ``ocpp`` library (checklist 5.1-5.3).

``OcppCsms`` (conftest) answers BootNotification, Heartbeat and StatusNotification only; anything else the
``ocpp`` library answers NotImplemented. ``TransactionsCsms`` adds:

- Authorize: the idTagInfo set for that idTag in ``id_tags`` (``Accepted`` when none is set);
- StartTransaction: transactionIds 1, 2, 3, ... and the idTagInfo of ``start_id_tags``, else of ``id_tags``
  (so a test can accept a card at Authorize and refuse it at StartTransaction, X-5);
- StopTransaction: the idTagInfo of the idTag when the request has one, else nothing;
- MeterValues: ``{}``.

The helpers below drive a booted station the way a driver would, through ``Simulator``, and read what the
central system received. chargebox runs with the real clock here, so every wait is a poll with a timeout.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ocpp.routing import on
from ocpp.v16 import call_result
from ocpp.v16.datatypes import IdTagInfo
from ocpp.v16.enums import Action, AuthorizationStatus

from chargebox.sim.simulator import Simulator
from chargebox.station.station import Station
from tests.interop.conftest import WAIT, CsmsChargePoint, Frame, OcppCsms, StationRunner, Tap
from tests.loopback import until

ACCEPTED = IdTagInfo(status=AuthorizationStatus.accepted)
QUIET = 0.4  # how long "nothing more arrives" is watched for; a poll timeout, not a sleep


class TransactionsChargePoint(CsmsChargePoint):
    """``CsmsChargePoint`` plus the transaction messages a charge point sends."""

    def __init__(self, id: str, connection: Tap, csms: TransactionsCsms) -> None:
        super().__init__(id, connection, csms)
        self._answers = csms

    @on(Action.authorize)
    def on_authorize(self, id_tag: str) -> call_result.Authorize:
        return call_result.Authorize(id_tag_info=self._answers.id_tag_info(id_tag))

    @on(Action.start_transaction)
    def on_start_transaction(self, id_tag: str, **_payload: Any) -> call_result.StartTransaction:
        transaction_id = self._answers.next_transaction_id
        self._answers.next_transaction_id += 1
        info = self._answers.start_id_tags.get(id_tag) or self._answers.id_tag_info(id_tag)
        return call_result.StartTransaction(transaction_id=transaction_id, id_tag_info=info)

    @on(Action.stop_transaction)
    def on_stop_transaction(self, id_tag: str | None = None, **_payload: Any) -> call_result.StopTransaction:
        return call_result.StopTransaction(id_tag_info=None if id_tag is None else self._answers.id_tag_info(id_tag))

    @on(Action.meter_values)
    def on_meter_values(self, **_payload: Any) -> call_result.MeterValues:
        return call_result.MeterValues()


@dataclass
class TransactionsCsms(OcppCsms):
    """``OcppCsms`` answering Authorize, StartTransaction, StopTransaction and MeterValues too."""

    id_tags: dict[str, IdTagInfo] = field(default_factory=dict)  # Authorize (and default Start/Stop) answers
    start_id_tags: dict[str, IdTagInfo] = field(default_factory=dict)  # StartTransaction answers, where different
    next_transaction_id: int = 1
    charge_point_class: type[CsmsChargePoint] = TransactionsChargePoint

    def id_tag_info(self, id_tag: str) -> IdTagInfo:
        return self.id_tags.get(id_tag, ACCEPTED)


# -- driving a station -------------------------------------------------------------------------


async def boot(csms: TransactionsCsms, station_factory: StationRunner, **settings: Any) -> tuple[Station, Simulator]:
    """A station (2 connectors) accepted by ``csms``, with its boot StatusNotifications received."""
    station = station_factory(**settings)
    await csms.wait_booted(connectors=2)
    return station, Simulator(station)


async def start_charging(
    csms: TransactionsCsms, station: Station, sim: Simulator, id_tag: str = "TAG-1", connector_id: int = 1
) -> int:
    """Plug in, present ``id_tag`` (X-1), and wait until StartTransaction is answered; the transactionId."""
    start = len(csms.frames.frames)
    await sim.plug(connector_id)
    await sim.swipe(id_tag, connector_id)
    await csms.frames.wait_for(
        lambda f: f.action == "StartTransaction" and f.payload["connectorId"] == connector_id, start=start
    )
    await until(lambda: station.connectors[connector_id].transaction_id is not None)
    # the StatusNotification Charging follows its StartTransaction in the lane: under load it may still be on its way
    await until(lambda: station.lane.pending() == 0)
    transaction_id = station.connectors[connector_id].transaction_id
    assert transaction_id is not None
    return transaction_id


async def charge_once(
    csms: TransactionsCsms, station: Station, sim: Simulator, id_tag: str = "TAG-1", connector_id: int = 1
) -> None:
    """A whole session (plug, card, card again, unplug), delivered to the central system."""
    await start_charging(csms, station, sim, id_tag, connector_id)
    start = len(csms.frames.frames)
    await sim.swipe(id_tag, connector_id)
    await csms.wait_call("StopTransaction", start=start)
    await sim.unplug(connector_id)
    await until(lambda: station.lane.pending() == 0)


async def go_offline(csms: TransactionsCsms, station: Station) -> None:
    """The central system goes away; returns once the station knows it."""
    await csms.stop()
    await until(lambda: not station.transport.connected and not station.rpc.connected)


# -- reading what the central system received ----------------------------------------------------


def statuses(csms: OcppCsms, connector_id: int, *, start: int = 0) -> list[str]:
    """The statuses reported for the connector from frame ``start`` on, in order."""
    return [
        f.payload["status"]
        for f in csms.frames.calls("StatusNotification", start=start)
        if f.payload["connectorId"] == connector_id
    ]


async def wait_status(
    csms: OcppCsms, connector_id: int, status: str, *, start: int = 0, timeout: float = WAIT
) -> tuple[int, Frame]:
    """The first StatusNotification from ``start`` on reporting ``status`` for the connector."""
    return await csms.frames.wait_for(
        lambda f: (
            f.action == "StatusNotification"
            and f.payload["connectorId"] == connector_id
            and f.payload["status"] == status
        ),
        start=start,
        timeout=timeout,
    )


async def nothing_more(csms: OcppCsms, action: str, *, start: int = 0, within: float = QUIET) -> None:
    """No ``action`` CALL arrives from ``start`` on, watched for ``within`` seconds."""
    with contextlib.suppress(TimeoutError):
        _, frame = await csms.wait_call(action, start=start, timeout=within)
        raise AssertionError(f"unexpected {action}: {frame.data!r}")


def call_result_index(csms: OcppCsms, payload: dict[str, Any], *, start: int = 0) -> int:
    """The index of the first CALLRESULT from ``start`` on carrying ``payload`` (an answer to the CSMS)."""
    for index in range(start, len(csms.frames.frames)):
        data = csms.frames.frames[index].data
        if isinstance(data, list) and data[:1] == [3] and data[2] == payload:
            return index
    raise AssertionError(f"no CALLRESULT {payload!r} from frame {start} on")


def timestamp(value: str) -> datetime:
    return datetime.fromisoformat(value)
