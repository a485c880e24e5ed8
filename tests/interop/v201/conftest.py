"""The interop harness for OCPP 2.0.1: a central system built on the independent ``ocpp`` library's v201 module.

``csms`` is the 1.6 suite's ``OcppCsms`` (tests/interop/conftest.py: frames recorded with their arrival time,
configurable boot answers, Basic credentials, raw frames) serving ``ocpp.v201.ChargePoint`` with the
``ocpp2.0.1`` subprotocol; ``station_factory`` starts chargebox 2.0.1 stations against it, on loopback, with
the real clock. ``ocpp`` validates every frame both ways against the 2.0.1 schemas.

Stations start as a test lab configures its own (Part 6's "Configuration State"): RetryBackOffWaitMinimum,
RandomRange and RepeatTimes at 0, so a reconnect in a test is immediate, seeded through ``--ocpp-config``'s
vocabulary (``entry``); a test adds its own entries with ``station_factory(ocpp_config=[...])``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v201 import ChargePoint, call_result
from ocpp.v201.enums import Action, RegistrationStatusEnumType

from chargebox.station.station import Station
from chargebox.station.v201.boot import BootService
from tests.interop.conftest import WAIT, OcppCsms, StationRunner, Tap

SUBPROTOCOL = "ocpp2.0.1"


class CsmsChargePoint201(ChargePoint):
    """The ``ocpp`` library's 2.0.1 central-system side of one charging station."""

    sign_status = "Accepted"  # how SignCertificate is answered (TC_A_15_CS: Rejected)

    def __init__(self, id: str, connection: Tap, csms: OcppCsms) -> None:
        super().__init__(id, connection, response_timeout=WAIT)
        self._csms = csms

    @on(Action.boot_notification)
    def on_boot_notification(self, **_payload: Any) -> call_result.BootNotification:
        status, interval = self._csms.next_boot_answer()
        self._csms.boot_answered_at.append(asyncio.get_running_loop().time())
        return call_result.BootNotification(current_time=_now(), interval=interval, status=status)

    @on(Action.heartbeat)
    def on_heartbeat(self) -> call_result.Heartbeat:
        return call_result.Heartbeat(current_time=_now())

    @on(Action.status_notification)
    def on_status_notification(self, **_payload: Any) -> call_result.StatusNotification:
        return call_result.StatusNotification()

    @on(Action.notify_report)
    def on_notify_report(self, **_payload: Any) -> call_result.NotifyReport:
        return call_result.NotifyReport()

    @on(Action.notify_event)
    def on_notify_event(self, **_payload: Any) -> call_result.NotifyEvent:
        return call_result.NotifyEvent()

    @on(Action.authorize)
    def on_authorize(self, **_payload: Any) -> call_result.Authorize:
        return call_result.Authorize(id_token_info={"status": "Accepted"})

    @on(Action.transaction_event)
    def on_transaction_event(self, **payload: Any) -> call_result.TransactionEvent:
        if "id_token" in payload:  # E01.FR.12: an idToken gets its status
            return call_result.TransactionEvent(id_token_info={"status": "Accepted"})
        return call_result.TransactionEvent()

    @on(Action.meter_values)
    def on_meter_values(self, **_payload: Any) -> call_result.MeterValues:
        return call_result.MeterValues()

    @on(Action.sign_certificate)
    def on_sign_certificate(self, **_payload: Any) -> call_result.SignCertificate:
        return call_result.SignCertificate(status=self.sign_status)

    @on(Action.notify_customer_information)
    def on_notify_customer_information(self, **_payload: Any) -> call_result.NotifyCustomerInformation:
        return call_result.NotifyCustomerInformation()

    @on(Action.security_event_notification)
    def on_security_event_notification(self, **_payload: Any) -> call_result.SecurityEventNotification:
        return call_result.SecurityEventNotification()


def csms201(**kwargs: Any) -> OcppCsms:
    """A 2.0.1 central system (not started)."""
    kwargs.setdefault("boot_answers", [(RegistrationStatusEnumType.accepted, 300)])
    return OcppCsms(subprotocol=SUBPROTOCOL, charge_point_class=CsmsChargePoint201, **kwargs)


@pytest.fixture
async def csms(request: pytest.FixtureRequest) -> AsyncIterator[OcppCsms]:
    """The central system of a test: ``csms201()``, or what the factory its module names as ``CSMS`` makes."""
    server = getattr(request.module, "CSMS", csms201)()
    await server.start()
    yield server
    await server.stop()


def entry(component: str, variable: str, value: str, **more: Any) -> dict[str, Any]:
    """A device-model entry as ``--ocpp-config`` takes it; ``instance``/``evse`` go to the component,
    ``variable_instance`` to the variable."""
    named: dict[str, Any] = {"name": component}
    if "instance" in more:
        named["instance"] = more.pop("instance")
    if "evse" in more:
        named["evse"] = more.pop("evse")
    variable_named: dict[str, Any] = {"name": variable}
    if "variable_instance" in more:
        variable_named["instance"] = more.pop("variable_instance")
    return {"component": named, "variable": variable_named, "value": value, **more}


QUICK_RECONNECT = [
    entry("OCPPCommCtrlr", "RetryBackOffWaitMinimum", "0"),
    entry("OCPPCommCtrlr", "RetryBackOffRandomRange", "0"),
    entry("OCPPCommCtrlr", "RetryBackOffRepeatTimes", "0"),
]


class StationRunner201(StationRunner):
    """``StationRunner`` for 2.0.1 stations: ``ocpp="2.0.1"``, two EVSEs, the lab's quick reconnect."""

    def __call__(self, **settings: Any) -> Station:
        settings.setdefault("ocpp", "2.0.1")
        seeds = list(settings.pop("ocpp_config", []))
        named = {_key(seed) for seed in seeds}
        settings["ocpp_config"] = [*seeds, *(seed for seed in QUICK_RECONNECT if _key(seed) not in named)]
        return super().__call__(**settings)


@pytest.fixture
async def station_factory(csms: OcppCsms) -> AsyncIterator[StationRunner201]:
    runner = StationRunner201(csms.url)
    yield runner
    await runner.close()


async def wait_booted(csms: OcppCsms, evses: int, *, start: int = 0) -> int:
    """Wait for a boot and the StatusNotification of each EVSE's connector (B01.FR.05); the last one's index."""
    index, _ = await csms.wait_call("BootNotification", start=start)
    for evse in range(1, evses + 1):
        index, _ = await csms.frames.wait_for(
            lambda f, e=evse: f.action == "StatusNotification" and f.payload["evseId"] == e, start=index
        )
    return index


def boot(station: Station) -> BootService:
    return station.features.need(BootService)


def _key(seed: Mapping[str, Any]) -> tuple[str, str]:
    return seed["component"]["name"], seed["variable"]["name"]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
