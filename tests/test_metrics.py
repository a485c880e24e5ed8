"""metrics.py's ``Traffic``: what ``Rpc.on_message`` tells it, as a scraper reads it (``prometheus_client``'s own
writer and parser); every label bounded, whatever the peer sends."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import CollectorRegistry

from chargebox.metrics import Families, Traffic
from chargebox.protocol.codec import MessageType
from tests.scrape import Scrape


def scraped(traffic: Traffic) -> Scrape:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Families(traffic.families))
    return Scrape(generate_latest(registry).decode())


def test_a_round_trip_lands_in_every_bucket_at_or_above_it_and_in_the_sum() -> None:
    traffic = Traffic()
    traffic.message(">", MessageType.CALL, "Heartbeat", None, None)
    for seconds in (0.0004, 0.003, 0.003, 45.0):
        traffic.message("<", MessageType.CALL_RESULT, "Heartbeat", None, seconds)
    figures = scraped(traffic)
    bucket = "chargebox_round_trip_seconds_bucket"
    assert figures.value(bucket, action="Heartbeat", le="0.001") == 1
    assert figures.value(bucket, action="Heartbeat", le="0.0025") == 1
    assert figures.value(bucket, action="Heartbeat", le="0.005") == 3
    assert figures.value(bucket, action="Heartbeat", le="30.0") == 3
    assert figures.value(bucket, action="Heartbeat", le="+Inf") == 4
    assert figures.value("chargebox_round_trip_seconds_count", action="Heartbeat") == 4
    assert abs(figures.value("chargebox_round_trip_seconds_sum", action="Heartbeat") - 45.0064) < 1e-9
    assert figures.messages("sent", "CALL", "Heartbeat") == 1
    assert figures.messages("received", "CALLRESULT", "Heartbeat") == 4


def test_a_code_no_ocpp_version_has_is_other_and_a_frame_naming_no_action_is_unknown() -> None:
    """A central system's CALLERROR code is its own text: as a label, a peer could make a series per frame."""
    traffic = Traffic()
    for code in ("NoSuchCode-1", "NoSuchCode-2", "FormatViolation"):
        traffic.message("<", MessageType.CALL_ERROR, "Authorize", code, 0.01)
    traffic.message(">", MessageType.CALL_ERROR, "", "NotImplemented", None)
    traffic.message("<", None, "", None, None)
    figures = scraped(traffic)
    assert figures.value("chargebox_callerrors_total", direction="received", code="other", action="Authorize") == 2
    assert figures.value("chargebox_callerrors_total", direction="received", code="FormatViolation") == 1
    assert figures.value("chargebox_callerrors_total", direction="sent", code="NotImplemented", action="unknown") == 1
    assert figures.value("chargebox_frames_rejected_total") == 1
    assert {sample.labels.get("code") for sample in figures.samples if "code" in sample.labels} == {
        "other", "FormatViolation", "NotImplemented"
    }  # fmt: skip


def test_the_documented_prometheus_config_scrapes_the_walkthroughs_control_apis() -> None:
    """docs/howto/prometheus.yml is valid YAML whose targets are the control APIs README's walkthrough starts."""
    root = Path(__file__).resolve().parent.parent
    config = yaml.safe_load((root / "docs/howto/prometheus.yml").read_text())
    targets = {
        target for job in config["scrape_configs"] for group in job["static_configs"] for target in group["targets"]
    }
    walkthrough = (
        (root / "README.md").read_text().split("### Load-test your central system", 1)[1].split("\n### ", 1)[0]
    )
    assert targets == set(re.findall(r"--control (127\.0\.0\.1:\d+)", walkthrough)) and len(targets) == 2
