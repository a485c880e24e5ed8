"""``GET /metrics`` of ``simulate --control`` and ``fleet --control``: the stations as they are when scraped, and
the messages they sent and received (metrics.py's ``Traffic``).

Every figure is of the whole process, one station or a fleet's thousands, with no label per station: a scraper
stores one series per label set, and a fleet's ids would make thousands (a station's own state is its
``GET /api/state``). What a scrape reads is the state each station shows its control API (``Station.snapshot``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from chargebox.csms_policy import csms_label
from chargebox.metrics import Families, Traffic
from chargebox.protocol.messages import RegistrationStatus
from chargebox.sim.simulator import Simulator

NOT_BOOTED = "None"  # the registration of a station whose BootNotification was never answered (since its start)


def station_metrics(simulators: Callable[[], Iterable[Simulator]], traffic: Traffic) -> Families:
    """The collector of the stations ``simulators()`` gives when scraped, and of their ``traffic``."""
    return Families(lambda: _families(list(simulators()), traffic))


def _families(simulators: list[Simulator], traffic: Traffic) -> Iterator[Metric]:
    snapshots = [sim.station.snapshot() for sim in simulators]
    yield GaugeMetricFamily("chargebox_stations", "stations run by this process", value=len(snapshots))
    yield GaugeMetricFamily(
        "chargebox_stations_connected",
        "stations whose WebSocket to the central system is open",
        value=sum(1 for snapshot in snapshots if snapshot["connected"]),
    )
    by_csms = GaugeMetricFamily(
        "chargebox_stations_csms",
        "stations by the central system URL they connect to (without its credentials: fleet --csms, several times)",
        labels=("csms",),
    )
    for csms_url, count in sorted(Counter(csms_label(sim.station.settings.csms_url) for sim in simulators).items()):
        by_csms.add_metric((csms_url,), count)
    yield by_csms
    registration = GaugeMetricFamily(
        "chargebox_stations_registration",
        "stations by the status of their last BootNotification's answer (None: not answered yet)",
        labels=("status",),
    )
    registered = Counter(snapshot["registration"] or NOT_BOOTED for snapshot in snapshots)
    for status in (*RegistrationStatus, NOT_BOOTED):  # each, 0 too: a graph shows a line fall to 0, not vanish
        registration.add_metric((status,), registered[status])
    yield registration
    connectors = GaugeMetricFamily(
        "chargebox_connectors",
        "connectors (2.0.1: EVSEs) by their status, as the station last reported it",
        labels=("status",),
    )
    statuses = Counter(connector["status"] for snapshot in snapshots for connector in snapshot["connectors"])
    for status, count in sorted(statuses.items()):
        connectors.add_metric((status,), count)
    yield connectors
    yield CounterMetricFamily(
        "chargebox_reconnects",
        "connection attempts to the central system after each station's first (those that failed too)",
        value=sum(max(sim.station.transport.attempts - 1, 0) for sim in simulators),
    )
    yield GaugeMetricFamily(
        "chargebox_messages_queued",
        "transaction messages journaled and not yet answered by the central system",
        value=sum(snapshot["queued"] for snapshot in snapshots),
    )
    yield GaugeMetricFamily(
        "chargebox_messages_dead_lettered",
        "transaction messages given up on (the dead letters: never sent again, kept for the operator)",
        value=sum(snapshot["deadLetters"] for snapshot in snapshots),
    )
    yield from traffic.families()
