"""Device-model requests: GetVariables, SetVariables, GetBaseReport and GetReport (B05 to B08).

Answers GetVariables and SetVariables entry by entry from the device model (``device_model.py``: B05's and B06's
statuses; what a SetVariables accepted is written in one commit before the answer, and its subscribers hear of it
after, T-23), and a report request with its status at once, then the report as NotifyReport messages: seqNo from
0, ``tbc`` on all but the last (B07.FR.10, B08.FR.14), each within DeviceDataCtrlr.ItemsPerMessage[GetReport]
entries and BytesPerMessage[GetReport] bytes. A request over the ItemsPerMessage or BytesPerMessage the station
announces for it is answered OccurrenceConstraintViolation or FormatViolation (B06.FR.16, B06.FR.17, B08.FR.17,
B08.FR.18; the same for SetVariables, which Part 2 bounds by B05.FR.11 without naming the answer).

Sends: NotifyReport, which the central system asked for, so it goes out while the boot is Pending too
(B02.FR.02).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Final, TypeVar

import msgspec

from chargebox.clock import Clock
from chargebox.errors import RemoteProtocolError
from chargebox.protocol.errors import CallErrorCode
from chargebox.protocol.v201 import datetimes
from chargebox.protocol.v201 import messages as m
from chargebox.rpc import Handler, Reply
from chargebox.station.feature import Feature, Needs
from chargebox.station.kernel.kernel import Kernel
from chargebox.station.kernel.lane import Lane
from chargebox.station.kernel.service import Service
from chargebox.station.v201.boot import BootService
from chargebox.station.v201.device_model import DeviceModel, Slot
from chargebox.station.v201.offer import Block
from chargebox.station.v201.variables import Mutability, declare
from chargebox.tasks import Tasks

Report = m.ReportBaseEnumType
Criterion = m.ComponentCriterionEnumType
DeviceModelStatus = m.GenericDeviceModelStatusEnumType
R = TypeVar("R", m.GetBaseReportResponse, m.GetReportResponse)
_EPOCH: Final = datetime(2000, 1, 1, tzinfo=UTC)  # a NotifyReport's generatedAt is as long as any other

ITEMS_PER_MESSAGE: Final = 100  # entries of one GetVariables, SetVariables or NotifyReport
# The frame limit the connection enforces (codec.MAX_FRAME_SIZE): what the station announces (docs/topics/ocpp201.md).
BYTES_PER_MESSAGE: Final = 65536
# The framing of a CALL around its payload ([2,"<36>","NotifyReport",...]): a NotifyReport's payload stays within
# BytesPerMessage less this.
CALL_OVERHEAD: Final = 64


ITEMS: Final = {name: declare("DeviceDataCtrlr", "ItemsPerMessage", name, default=str(ITEMS_PER_MESSAGE))
                for name in ("GetReport", "GetVariables", "SetVariables")}  # fmt: skip
BYTES: Final = {name: declare("DeviceDataCtrlr", "BytesPerMessage", name, default=str(BYTES_PER_MESSAGE))
                for name in ("GetReport", "GetVariables", "SetVariables")}  # fmt: skip
VALUE_SIZES: Final = (
    declare("DeviceDataCtrlr", "ConfigurationValueSize", default="1000"),  # SetVariableData.attributeValue's size
    declare("DeviceDataCtrlr", "ReportingValueSize", default="2500"),  # VariableAttributeType.value's size
)


class DeviceDataService(Service[m.Action]):
    """GetVariables, SetVariables, GetBaseReport, GetReport; NotifyReport out."""

    def __init__(
        self,
        *,
        model: DeviceModel,
        lane: Lane,
        clock: Clock,
        permit: Callable[[m.Action], None],
        log: logging.LoggerAdapter[logging.Logger] | logging.Logger,
    ) -> None:
        """``permit`` lets a NotifyReport through while the boot is Pending (B02.FR.02)."""
        self._model = model
        self._lane = lane
        self._clock = clock
        self._permit = permit
        self._log = log
        self._tasks = Tasks(log, "report")

    def handlers(self) -> dict[m.Action, Handler]:
        return {
            m.Action.GET_VARIABLES: self.on_get_variables,
            m.Action.SET_VARIABLES: self.on_set_variables,
            m.Action.GET_BASE_REPORT: self.on_get_base_report,
            m.Action.GET_REPORT: self.on_get_report,
        }

    def on_get_variables(self, request: m.GetVariablesRequest) -> m.GetVariablesResponse:
        self._within("GetVariables", request, len(request.get_variable_data))  # B06.FR.16, B06.FR.17
        # B06.FR.01: one result per entry, in order
        return m.GetVariablesResponse(
            get_variable_result=[self._model.read(data) for data in request.get_variable_data]
        )

    def on_set_variables(self, request: m.SetVariablesRequest) -> Reply[m.SetVariablesResponse]:
        self._within("SetVariables", request, len(request.set_variable_data))  # B05.FR.11
        results, changes = [], []
        for data in request.set_variable_data:
            result, change = self._model.change(data)
            results.append(result)
            if change is not None:
                changes.append(change)
                slot, attribute, value = change
                shown = "(value not logged)" if slot.variable.mutability is Mutability.WRITE_ONLY else repr(value)
                self._log.info("= %s %s = %s: %s", slot.name, attribute, shown, result.attribute_status)  # A01.FR.12
        told = self._model.apply(changes)  # one commit, before the answer

        async def take_effect() -> None:  # after the answer (T-23): a new password reconnects (A01)
            for name in told:
                self._model.notify(name)

        return Reply(m.SetVariablesResponse(set_variable_result=results), then=take_effect)  # B05.FR.01

    def on_get_base_report(self, request: m.GetBaseReportRequest) -> Reply[m.GetBaseReportResponse]:
        slots = self.base(request.report_base)
        return self._accept(request.request_id, slots, m.GetBaseReportResponse)  # B07.FR.01, B07.FR.12

    def on_get_report(self, request: m.GetReportRequest) -> m.GetReportResponse | Reply[m.GetReportResponse]:
        wanted = [] if request.component_variable is msgspec.UNSET else request.component_variable
        self._within("GetReport", request, len(wanted))  # B08.FR.17, B08.FR.18
        criteria = [] if request.component_criteria is msgspec.UNSET else request.component_criteria
        slots = [slot for slot in self._model.slots() if self._meets(slot, criteria) and _named(slot, wanted)]
        if not slots:
            return m.GetReportResponse(status=DeviceModelStatus.EMPTY_RESULT_SET)  # B08.FR.15
        return self._accept(request.request_id, slots, m.GetReportResponse)  # B08.FR.01

    def base(self, report: Report) -> list[Slot]:
        """The instances a base report holds: ConfigurationInventory, what the operator can set (B07.FR.07);
        FullInventory, all (B07.FR.08); SummaryInventory, the availability of the station, each EVSE and each
        connector, and every component with a Problem (B07.FR.09)."""
        slots = self._model.slots()
        if report is Report.CONFIGURATION_INVENTORY:
            return [slot for slot in slots if slot.variable.mutability is not Mutability.READ_ONLY]
        if report is Report.SUMMARY_INVENTORY:
            return [
                slot
                for slot in slots
                if slot.ref.name == "AvailabilityState"
                or (slot.ref.name == "Problem" and self._model.value(slot) == "true")
            ]
        return slots

    def reset(self) -> None:
        """A report being sent stops with the station (the next boot reports afresh)."""
        self._tasks.cancel()

    # -- internals ----------------------------------------------------------------------------

    def _accept(self, request_id: int, slots: list[Slot], response: type[R]) -> Reply[R]:
        data = [self._model.report_data(slot) for slot in slots]  # read now: the report is of this moment
        generated_at = datetimes.wire(self._clock.now())

        async def send() -> None:
            await self._report(request_id, generated_at, data)

        return Reply(response(status=DeviceModelStatus.ACCEPTED), then=send)

    async def _report(self, request_id: int, generated_at: datetime, data: list[m.ReportDataType]) -> None:
        """B07.FR.03, B07.FR.04, B07.FR.10: NotifyReport messages with the request's id, seqNo 0, 1, ..."""
        items = self._model.get_int(ITEMS["GetReport"].key, ITEMS_PER_MESSAGE)
        size = self._model.get_int(BYTES["GetReport"].key, BYTES_PER_MESSAGE) - CALL_OVERHEAD
        parts = list(_split(data, items, size))
        for seq_no, part in enumerate(parts):
            self._permit(m.Action.NOTIFY_REPORT)  # B02.FR.02
            request = m.NotifyReportRequest(
                request_id=request_id,
                generated_at=generated_at,
                report_data=part,
                tbc=seq_no < len(parts) - 1,
                seq_no=seq_no,
            )
            result = await self._lane.call(request)
            if not result.ok:
                self._log.warning("! NotifyReport %d of request %d not delivered (%s): the report stops",
                                  seq_no, request_id, result.outcome.value)  # fmt: skip
                return

    def _within(self, name: str, request: msgspec.Struct, items: int) -> None:
        """The request is within what the station announced for it, else the CALLERROR Part 2 names."""
        limit = self._model.get_int(ITEMS[name].key, ITEMS_PER_MESSAGE)
        if items > limit:
            raise RemoteProtocolError(
                CallErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION, f"{items} entries; ItemsPerMessage{name} is {limit}"
            )
        size, limit = len(msgspec.json.encode(request)), self._model.get_int(BYTES[name].key, BYTES_PER_MESSAGE)
        if size > limit:
            raise RemoteProtocolError(CallErrorCode.FORMAT_VIOLATION, f"{size} bytes; BytesPerMessage{name} is {limit}")

    def _meets(self, slot: Slot, criteria: Iterable[Criterion]) -> bool:
        """B08.FR.07 to B08.FR.10, B08.FR.13: the component has one of the criteria's variables true, or (but for
        Problem) does not have it at all."""
        criteria = list(criteria)
        if not criteria:
            return True
        variables = {other.ref.name: self._model.value(other) for other in self._model.slots()
                     if other.ref.component == slot.ref.component and other.ref.instance is None}  # fmt: skip
        for criterion in criteria:
            value = variables.get(criterion.value)
            if value == "true" or (value is None and criterion is not Criterion.PROBLEM):
                return True
        return False


def _named(slot: Slot, wanted: list[m.ComponentVariableType]) -> bool:
    """B08.FR.11, B08.FR.20 to B08.FR.25: the instance is one a componentVariable names; what it leaves out
    (the variable, its instance, the component's instance, evse or connector) it does not narrow by."""
    if not wanted:
        return True
    ref = slot.ref
    for entry in wanted:
        component, variable = entry.component, entry.variable
        if component.name.lower() != ref.component.name.lower():
            continue
        if _given(component.instance) and str(component.instance).lower() != (ref.component.instance or "").lower():
            continue
        if isinstance(component.evse, m.EVSEType):
            if component.evse.id != ref.component.evse:
                continue
            if _given(component.evse.connector_id) and component.evse.connector_id != ref.component.connector:
                continue
        if isinstance(variable, m.VariableType):
            if variable.name.lower() != ref.name.lower():
                continue
            if _given(variable.instance) and str(variable.instance).lower() != (ref.instance or "").lower():
                continue
        return True
    return False


def _split(data: list[m.ReportDataType], items: int, size: int) -> Iterator[list[m.ReportDataType]]:
    """Consecutive parts of at most ``items`` entries whose NotifyReport payload stays within ``size`` bytes."""
    envelope = len(msgspec.json.encode(m.NotifyReportRequest(
        request_id=2**31 - 1, generated_at=_EPOCH, report_data=[], tbc=True, seq_no=2**31 - 1)))  # fmt: skip
    part: list[m.ReportDataType] = []
    used = envelope
    for entry in data:
        length = len(msgspec.json.encode(entry)) + 1  # and its comma
        if part and (len(part) >= items or used + length > size):
            yield part
            part, used = [], envelope
        part.append(entry)
        used += length
    if part or not data:
        yield part


def _given(value: object) -> bool:
    return value is not msgspec.UNSET and value not in (None, "")


def _build(kernel: Kernel[DeviceModel], needs: Needs) -> DeviceDataService:
    return DeviceDataService(model=kernel.config, lane=kernel.lane, clock=kernel.clock,
                             permit=needs(BootService).permit, log=kernel.log)  # fmt: skip


FEATURE: Final = Feature(
    name="device_data",
    profile=Block.PROVISIONING,
    service=DeviceDataService,
    build=_build,
    actions=frozenset({m.Action.GET_VARIABLES, m.Action.SET_VARIABLES, m.Action.GET_BASE_REPORT, m.Action.GET_REPORT}),
    variables=(*ITEMS.values(), *BYTES.values(), *VALUE_SIZES),
    needs=(BootService,),
)
