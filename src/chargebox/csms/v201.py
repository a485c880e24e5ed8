"""The built-in central system's answers to an OCPP 2.0.1 charging station: every message a station sends.

BootNotification as the policy says (status, heartbeat interval), Heartbeat with the time, Authorize and a
TransactionEvent that carries an idToken with the policy's authorization status, DataTransfer Accepted,
SignCertificate Accepted, GetCertificateStatus Accepted; the ISO 15118 messages a station without ISO 15118
would not send are answered as a central system without it would (Get15118EVCertificate Failed, the charging
needs and schedule Rejected); every other station-initiated message has an empty answer (Part 3: all its fields
are optional). A 1.6 session never imports this module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chargebox.clock import Clock
from chargebox.protocol.base import Message
from chargebox.protocol.v201 import datetimes
from chargebox.protocol.v201 import messages as m
from chargebox.rpc import Handler


def answers(policy: Any, clock: Clock, booted: Callable[[], None]) -> dict[m.Action, Handler]:
    """A handler for each station-initiated 2.0.1 action; ``policy`` is the ``CsmsPolicy`` read at each answer
    (its statuses are 1.6's enums, which 2.0.1 spells the same), ``booted`` counts a BootNotification."""

    def boot(_request: m.BootNotificationRequest) -> m.BootNotificationResponse:
        booted()
        return m.BootNotificationResponse(
            current_time=datetimes.wire(clock.now()),
            interval=policy.heartbeat_interval,
            status=m.RegistrationStatusEnumType(policy.registration.value),
        )

    def id_token_info() -> m.IdTokenInfoType:
        return m.IdTokenInfoType(status=m.AuthorizationStatusEnumType(policy.id_tag_status.value))

    def transaction_event(request: m.TransactionEventRequest) -> m.TransactionEventResponse:
        if isinstance(request.id_token, m.IdTokenType):  # E01.FR.12, E03.FR.02: an idToken gets its status
            return m.TransactionEventResponse(id_token_info=id_token_info())
        return m.TransactionEventResponse()

    special: dict[m.Action, Callable[[Any], Message]] = {
        m.Action.BOOT_NOTIFICATION: boot,
        m.Action.HEARTBEAT: lambda _r: m.HeartbeatResponse(current_time=datetimes.wire(clock.now())),
        m.Action.AUTHORIZE: lambda _r: m.AuthorizeResponse(id_token_info=id_token_info()),
        m.Action.TRANSACTION_EVENT: transaction_event,
        m.Action.DATA_TRANSFER: lambda _r: m.DataTransferResponse(status=m.DataTransferStatusEnumType.ACCEPTED),
        m.Action.SIGN_CERTIFICATE: lambda _r: m.SignCertificateResponse(status=m.GenericStatusEnumType.ACCEPTED),
        m.Action.GET_CERTIFICATE_STATUS: lambda _r: m.GetCertificateStatusResponse(
            status=m.GetCertificateStatusEnumType.ACCEPTED
        ),
        m.Action.GET_15118_EV_CERTIFICATE: lambda _r: m.Get15118EVCertificateResponse(
            status=m.Iso15118EVCertificateStatusEnumType.FAILED, exi_response=""
        ),
        m.Action.NOTIFY_EV_CHARGING_NEEDS: lambda _r: m.NotifyEVChargingNeedsResponse(
            status=m.NotifyEVChargingNeedsStatusEnumType.REJECTED
        ),
        m.Action.NOTIFY_EV_CHARGING_SCHEDULE: lambda _r: m.NotifyEVChargingScheduleResponse(
            status=m.GenericStatusEnumType.REJECTED
        ),
    }
    handlers: dict[m.Action, Handler] = {}
    for action in m.CHARGING_STATION_INITIATED:
        handlers[action] = special.get(action) or _empty(m.RESPONSES[action])
    return handlers


def _empty(response: type[Message]) -> Callable[[Any], Message]:
    return lambda _request: response()
