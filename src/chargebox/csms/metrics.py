"""``GET /metrics`` of ``csms --control``: the stations connected when scraped, and the messages of every session
(metrics.py's ``Traffic``: by direction, type and action, CALLERRORs by code, the round trips of the central
system's own CALLs). No label per station, as the simulator's (sim/metrics.py): ``GET /api/stations`` has them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from chargebox.csms.server import CentralSystem, Session
from chargebox.metrics import Families, Traffic
from chargebox.protocol.dialect import SUBPROTOCOLS


def csms_metrics(system: CentralSystem) -> Families:
    """The collector of ``system``: every session it serves, from now on (and those open now), is counted."""
    traffic = Traffic()

    def watch(session: Session) -> None:
        session.rpc.on_message = traffic.message

    for session in system.sessions.values():
        watch(session)
    system.session_listeners.append(watch)
    return Families(lambda: _families(system, traffic))


def _families(system: CentralSystem, traffic: Traffic) -> Iterator[Metric]:
    connected = GaugeMetricFamily(
        "chargebox_csms_stations_connected",
        "charge points with an open WebSocket to this central system, by the OCPP version they speak",
        labels=("ocpp",),
    )
    versions = Counter(session.dialect.version for session in system.sessions.values())
    for subprotocol in SUBPROTOCOLS:  # each version, 0 too: a graph shows a line fall to 0, not vanish
        version = subprotocol.removeprefix("ocpp")
        connected.add_metric((version,), versions[version])
    yield connected
    yield from traffic.families()
