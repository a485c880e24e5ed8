"""What the central system knows of each station it has served, for its control API and page: whether it is
connected and how (its security profile), its BootNotification, each connector's last StatusNotification, the
transaction running there, its last certificate (csms/certificates.py) and its last frames.

It is read from the frames, as they cross the wire (``Rpc.frame_listeners``): a CALL of the station's is remembered
by its message id, and applied only when the central system's CALLRESULT goes out, so a frame the central system
refused (a CALLERROR) changes nothing, and a transaction gets the id the answer gave it. The rules are a table by
action (``RULES``), OCPP 1.6's here; a version that names things otherwise adds its own.

Bounded, since ``chargebox csms`` runs for days: the last ``FRAMES_PER_STATION`` frames of at most ``MAX_STATIONS``
stations (the oldest disconnected one is forgotten first).

Each open page is a ``Subscriber``: the book marks what changed (the ids of the stations, the uploads) and wakes
it; the page's stream sends what is marked, so a burst of changes costs one event per station however many frames
caused it, and a page that reads slowly holds one set of ids, not a queue of everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import msgspec

from chargebox.csms.certificates import CertificateSigning
from chargebox.csms.server import CentralSystem, Session
from chargebox.protocol.dialect import OCPP16

FRAMES_PER_STATION: Final = 50
MAX_STATIONS: Final = 1000
FRAME_TEXT_LIMIT: Final = 2000
MAX_PENDING: Final = 8  # CALLs of one station awaiting the answer (T-20: one at a time; a bound all the same)
_DIGITS: Final = re.compile(r"(\d+)")


class Frame(msgspec.Struct, frozen=True):
    """A frame in (from the station) or out (to it), cut at 2,000 characters."""

    time: float
    dir: Literal["in", "out"]
    frame: str


class Transaction(msgspec.Struct, rename="camel"):
    """A transaction running on a connector, as StartTransaction began it and MeterValues moved it."""

    id: int
    id_tag: str
    meter_start: int  # Wh
    meter: int  # Wh, the last Energy.Active.Import.Register reading
    start: str  # the station's timestamp


class Connector(msgspec.Struct, rename="camel"):
    """A connector as its last StatusNotification said (connector 0: the station as a whole)."""

    id: int
    status: str
    error_code: str
    info: str | None = None
    transaction: Transaction | None = None


class Certificate(msgspec.Struct, rename="camel"):
    """The last certificate the central system's CA signed for the station, and its answer to CertificateSigned."""

    serial_number: str
    not_after: str
    status: str


class Station(msgspec.Struct, rename="camel"):
    """A station the central system has served."""

    id: str
    connected: bool
    ocpp: str | None  # the version its last session spoke: "1.6" or "2.0.1"
    boots: int
    security_profile: int | None  # of the connection, while connected
    vendor: str | None
    model: str | None
    last_seen: float | None  # its last frame, seconds since the epoch
    connectors: list[Connector]
    certificate: Certificate | None = None


class StationDetail(Station):
    """A station with its last frames, oldest first."""

    frames: list[Frame] = []


class StationList(msgspec.Struct):
    """The stations, connected first, each group in the order of their ids (``CP-2`` before ``CP-10``)."""

    stations: list[Station]


@dataclass(slots=True)
class _Record:
    id: str
    frames: deque[Frame] = field(default_factory=lambda: deque(maxlen=FRAMES_PER_STATION))
    connected: bool = False
    ocpp: str | None = None
    boots: int = 0
    vendor: str | None = None
    model: str | None = None
    last_seen: float | None = None
    connectors: dict[int, Connector] = field(default_factory=dict)
    pending: OrderedDict[str, tuple[str, dict[str, Any]]] = field(default_factory=OrderedDict)


@dataclass(eq=False, slots=True)
class Subscriber:
    """An open page: what changed since it last sent, and the frames of the one station it shows."""

    station: str | None
    wake: asyncio.Event
    changed: set[str] = field(default_factory=set)
    frames: deque[Frame] = field(default_factory=lambda: deque(maxlen=FRAMES_PER_STATION))
    everything: bool = False  # a station was forgotten: send the whole list again
    uploads: bool = False

    def take(self) -> tuple[set[str], list[Frame], bool, bool]:
        """What to send now, and forget it."""
        taken = (self.changed, list(self.frames), self.everything, self.uploads)
        self.changed, self.everything, self.uploads = set(), False, False
        self.frames.clear()
        return taken


class Stations:
    def __init__(self, system: CentralSystem) -> None:
        self.system = system
        self.records: OrderedDict[str, _Record] = OrderedDict()
        self.subscribers: set[Subscriber] = set()
        self._certificates: CertificateSigning = system.certificates
        system.session_listeners.append(self._opened)
        system.closed_listeners.append(self._closed)
        system.certificates.listeners.append(self._changed)

    def find(self, query: str = "") -> StationList:
        """The stations whose id, vendor or model holds ``query`` (any case)."""
        wanted = query.lower()
        found = [
            self._view(r)
            for r in self.records.values()
            if not wanted or any(wanted in (text or "").lower() for text in (r.id, r.vendor, r.model))
        ]
        found.sort(key=lambda s: (not s.connected, _natural(s.id)))
        return StationList(found)

    def station(self, charge_point_id: str) -> StationDetail | None:
        record = self.records.get(charge_point_id)
        if record is None:
            return None
        view = self._view(record)
        return StationDetail(**{f: getattr(view, f) for f in view.__struct_fields__}, frames=list(record.frames))

    def subscribe(self, station: str | None, wake: asyncio.Event) -> Subscriber:
        subscriber = Subscriber(station, wake)
        self.subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    def uploads_changed(self) -> None:
        for subscriber in self.subscribers:
            subscriber.uploads = True
            subscriber.wake.set()

    # -- what the central system tells --------------------------------------------------------------------

    def _opened(self, session: Session) -> None:
        charge_point_id = session.charge_point_id
        record = self.records.pop(charge_point_id, None) or _Record(charge_point_id)
        self.records[charge_point_id] = record  # the newest session last
        record.connected = True
        record.ocpp = session.dialect.version
        record.pending.clear()
        forgot = False
        while len(self.records) > MAX_STATIONS:
            gone = next((r for r in self.records.values() if not r.connected), next(iter(self.records.values())))
            del self.records[gone.id]
            forgot = True
        session.rpc.frame_listeners.append(lambda direction, text: self._on_frame(record, direction, text))
        if forgot:
            for subscriber in self.subscribers:
                subscriber.everything = True
        self._changed(charge_point_id)

    def _closed(self, session: Session) -> None:
        record = self.records.get(session.charge_point_id)
        if record is not None:
            record.connected = False
            self._changed(record.id)

    def _on_frame(self, record: _Record, direction: str, text: str) -> None:
        now = time.time()
        frame = Frame(now, "in" if direction == "<" else "out", text[:FRAME_TEXT_LIMIT])
        record.frames.append(frame)
        if direction == "<":
            record.last_seen = now
        try:
            message = msgspec.json.decode(text)
        except msgspec.DecodeError:
            message = None
        if isinstance(message, list) and len(message) >= 3 and isinstance(message[1], str):
            self._track(record, direction, message)
        for subscriber in self.subscribers:
            subscriber.changed.add(record.id)
            if subscriber.station == record.id:
                subscriber.frames.append(frame)
            subscriber.wake.set()

    def _track(self, record: _Record, direction: str, message: list[Any]) -> None:
        """A station's CALL waits for the central system's answer; a CALLRESULT to it applies its rule."""
        kind, message_id = message[0], message[1]
        rules = RULES if record.ocpp == OCPP16.version else {}  # 1.6's; a 2.0.1 station is listed with its frames
        if direction == "<" and kind == 2 and len(message) == 4 and message[2] in rules:
            if isinstance(message[3], dict):
                record.pending[message_id] = (message[2], message[3])
                while len(record.pending) > MAX_PENDING:
                    record.pending.popitem(last=False)
        elif direction == ">" and kind in (3, 4) and message_id in record.pending:
            action, request = record.pending.pop(message_id)
            if kind == 3 and isinstance(message[2], dict):
                with contextlib.suppress(KeyError, TypeError, ValueError):  # answered, so valid: belt and braces
                    rules[action](record, request, message[2])

    def _changed(self, charge_point_id: str) -> None:
        for subscriber in self.subscribers:
            subscriber.changed.add(charge_point_id)
            subscriber.wake.set()

    def _view(self, record: _Record) -> Station:
        signed = self._certificates.signed.get(record.id)
        session = self.system.sessions.get(record.id) if record.connected else None
        return Station(
            id=record.id,
            connected=record.connected,
            ocpp=record.ocpp,
            boots=record.boots,
            security_profile=session.security_profile if session is not None else None,
            vendor=record.vendor,
            model=record.model,
            last_seen=record.last_seen,
            connectors=[record.connectors[cid] for cid in sorted(record.connectors)],
            certificate=Certificate(signed.serial_number, signed.not_after, signed.status) if signed else None,
        )


# -- OCPP 1.6: what a station's CALL, once answered, says of it -------------------------------------------------


def _boot(record: _Record, request: dict[str, Any], _answer: dict[str, Any]) -> None:
    record.boots += 1
    record.vendor, record.model = request["chargePointVendor"], request["chargePointModel"]


def _status(record: _Record, request: dict[str, Any], _answer: dict[str, Any]) -> None:
    connector_id = int(request["connectorId"])
    previous = record.connectors.get(connector_id)
    record.connectors[connector_id] = Connector(
        connector_id,
        str(request["status"]),
        str(request["errorCode"]),
        request.get("info"),
        previous.transaction if previous is not None else None,
    )


def _start(record: _Record, request: dict[str, Any], answer: dict[str, Any]) -> None:
    connector_id = int(request["connectorId"])
    connector = record.connectors.get(connector_id) or Connector(connector_id, "Charging", "NoError")
    meter = int(request["meterStart"])
    connector.transaction = Transaction(int(answer["transactionId"]), str(request["idTag"]), meter, meter,
                                        str(request["timestamp"]))  # fmt: skip
    record.connectors[connector_id] = connector


def _meter(record: _Record, request: dict[str, Any], _answer: dict[str, Any]) -> None:
    connector = record.connectors.get(int(request["connectorId"]))
    if connector is None or connector.transaction is None:
        return
    for meter_value in request["meterValue"]:
        for sample in meter_value["sampledValue"]:
            if sample.get("measurand", "Energy.Active.Import.Register") == "Energy.Active.Import.Register":
                scale = 1000 if sample.get("unit") == "kWh" else 1
                connector.transaction.meter = round(float(sample["value"]) * scale)


def _stop(record: _Record, request: dict[str, Any], _answer: dict[str, Any]) -> None:
    for connector in record.connectors.values():
        if connector.transaction is not None and connector.transaction.id == request["transactionId"]:
            connector.transaction = None


RULES: Final[dict[str, Callable[[_Record, dict[str, Any], dict[str, Any]], None]]] = {
    "BootNotification": _boot,
    "StatusNotification": _status,
    "StartTransaction": _start,
    "MeterValues": _meter,
    "StopTransaction": _stop,
}


def _natural(charge_point_id: str) -> list[Any]:
    """``CP-2`` before ``CP-10``."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in _DIGITS.split(charge_point_id)]
