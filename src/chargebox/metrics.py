"""``GET /metrics`` of every control API: the figures in Prometheus' text format, for a scraper to graph.

Each app has a registry of its own, holding one collector that reads the live state when it is scraped (the
stations, their connectors, what the central system is serving), so nothing is counted twice and no station code
knows of Prometheus. What is counted as it happens is the messages: a ``Traffic`` is told each one by ``Rpc``'s
``on_message`` (rpc.py), by type, action and direction, each CALLERROR by its code, and the round trip of each
answer to a CALL of ours, by action; it keeps plain counts and buckets, which the collector turns into metric
families when scraped.

The route is guarded as every route of the API (web.py): a scraper sends no ``Origin`` and only reads, so it
passes the cross-site checks; off loopback it sends the token (Prometheus' ``authorization`` setting), and the
``Host`` it sends must name the server (an IP address does). The answer is ``text/plain`` (Prometheus' text
format, or OpenMetrics when the scraper asks for it), made by ``prometheus_client``'s own aiohttp handler.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Final

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.aiohttp import make_aiohttp_handler
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector, CollectorRegistry

from chargebox.openapi import Media, operation
from chargebox.protocol.codec import MessageType
from chargebox.protocol.errors import CallErrorCode

# Upper bounds of the round-trip buckets, in seconds: from a loopback round trip (well under a millisecond) to
# the default CALL timeout (30 s).
ROUND_TRIP_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
UNKNOWN: Final = "unknown"  # the action of a frame that named none this side knows
OTHER: Final = "other"  # a CALLERROR code that no OCPP version has: the peer's words are not a label
_DIRECTIONS: Final = {"<": "received", ">": "sent"}
_TYPES: Final = {MessageType.CALL: "CALL", MessageType.CALL_RESULT: "CALLRESULT", MessageType.CALL_ERROR: "CALLERROR"}
_CODES: Final = frozenset(CallErrorCode)


class Traffic:
    """The messages one side sent and received (``Rpc.on_message``: ``rpc.on_message = traffic.message``), of one
    station or of every station or session of the process. Every label is bounded: actions are those of the
    versions spoken (``unknown`` for a frame naming none), codes those of OCPP (``other`` for any else)."""

    def __init__(self) -> None:
        self.messages: Counter[tuple[str, str, str]] = Counter()  # (direction, type, action)
        self.call_errors: Counter[tuple[str, str, str]] = Counter()  # (direction, code, action)
        self.rejected = 0  # frames received that could not be used (malformed, or answering no CALL of ours)
        self.round_trips: dict[str, _Buckets] = {}  # by action

    def message(
        self, direction: str, kind: MessageType | None, action: str, code: str | None, seconds: float | None
    ) -> None:
        if kind is None:
            self.rejected += 1
            return
        side, name = _DIRECTIONS[direction], action or UNKNOWN
        self.messages[side, _TYPES[kind], name] += 1
        if code is not None:
            self.call_errors[side, code if code in _CODES else OTHER, name] += 1
        if seconds is not None:
            buckets = self.round_trips.get(name)
            if buckets is None:
                buckets = self.round_trips[name] = _Buckets()
            buckets.observe(seconds)

    def families(self) -> Iterator[Metric]:
        """The counts as metric families: messages, CALLERRORs, rejected frames, round trips."""
        yield _counters(
            "chargebox_messages",
            "OCPP-J messages sent and received, by direction, message type (CALL, CALLRESULT, CALLERROR) and action",
            ("direction", "type", "action"),
            self.messages,
        )
        yield _counters(
            "chargebox_callerrors",
            "CALLERRORs sent and received, by direction, error code and the action of the CALL they answer",
            ("direction", "code", "action"),
            self.call_errors,
        )
        yield CounterMetricFamily(
            "chargebox_frames_rejected",
            "frames received that could not be used: malformed, or answering no CALL of this side",
            value=self.rejected,
        )
        trips = HistogramMetricFamily(
            "chargebox_round_trip_seconds",
            "from a CALL sent to its answer (CALLRESULT or CALLERROR), by the CALL's action",
            labels=("action",),
        )
        for action, buckets in sorted(self.round_trips.items()):
            trips.add_metric((action,), buckets.cumulative(), buckets.total)
        yield trips


def _counters(
    name: str, documentation: str, labels: tuple[str, ...], counts: Mapping[tuple[str, str, str], int]
) -> Metric:
    family = CounterMetricFamily(name, documentation, labels=labels)
    for values, count in sorted(counts.items()):
        family.add_metric(values, count)
    return family


class _Buckets:
    """A histogram with ``ROUND_TRIP_BUCKETS``: a count per bucket (the last one: past every bound) and the sum."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(ROUND_TRIP_BUCKETS) + 1)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(ROUND_TRIP_BUCKETS, seconds)] += 1
        self.total += seconds

    def cumulative(self) -> list[tuple[str, float]]:
        """(upper bound, observations at or under it), ``+Inf`` last, as Prometheus wants them."""
        bounds = [*(repr(bound) for bound in ROUND_TRIP_BUCKETS), "+Inf"]
        running, found = 0, []
        for bound, count in zip(bounds, self.counts, strict=True):
            running += count
            found.append((bound, float(running)))
        return found


class Families(Collector):
    """A collector made of a function that yields the families when scraped (the app's live state)."""

    def __init__(self, read: Callable[[], Iterable[Metric]]) -> None:
        self._read = read

    def collect(self) -> Iterable[Metric]:
        return list(self._read())


def add_metrics(app: web.Application, collector: Collector) -> None:
    """Serve ``collector``'s families at ``GET /metrics``, in a registry of the app's own."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    _serve(app, make_aiohttp_handler(registry), "OpenMetrics when the Accept header asks for it; `name[]=METRIC` "
           "(repeated) answers only those.")  # fmt: skip


def add_fetched_metrics(app: web.Application, make: Callable[[web.Request], Awaitable[Collector]]) -> None:
    """Serve at ``GET /metrics`` the families of the collector ``make`` builds per scrape, where the figures must
    be fetched first (``fleet --processes`` asks its processes)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        body = exposition(await make(request))
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    _serve(app, handler, "Every process's figures, added up sample by sample.")


def _serve(app: web.Application, handler: Callable[[web.Request], Awaitable[web.StreamResponse]], more: str) -> None:
    @operation(
        "the figures, in Prometheus' text format",
        description=f"What docs/reference/metrics.md lists. {more}",
        answers={200: Media("text/plain", "Prometheus' text exposition format")},
        tag="meta",
    )
    async def metrics(request: web.Request) -> web.StreamResponse:
        return await handler(request)

    app.router.add_get("/metrics", metrics)


class Summed(Collector):
    """The families of several processes' scrapes (Prometheus' text format), added up sample by sample: each
    process counts its own stations and messages, so a sum is the whole fleet's (histogram buckets, counts and
    sums included; the figures are all counts, never ratios)."""

    def __init__(self, texts: Iterable[str]) -> None:
        self._families: dict[str, Metric] = {}
        values: dict[tuple[str, str, tuple[tuple[str, str], ...]], float] = {}
        for text in texts:
            for family in text_string_to_metric_families(text):
                self._families.setdefault(family.name, Metric(family.name, family.documentation, family.type))
                for sample in family.samples:
                    key = (family.name, sample.name, tuple(sorted(sample.labels.items())))
                    values[key] = values.get(key, 0.0) + sample.value
        for (family_name, name, labels), value in values.items():
            self._families[family_name].add_sample(name, dict(labels), value)

    def collect(self) -> Iterator[Metric]:
        return iter(self._families.values())


def exposition(collector: Collector) -> bytes:
    """``collector``'s families as ``GET /metrics`` answers them (the text format)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry)
