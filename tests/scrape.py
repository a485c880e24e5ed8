"""Scraping a control API's ``GET /metrics`` as Prometheus does, and reading the samples back with
``prometheus_client``'s own parser."""

from __future__ import annotations

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample


class Scrape:
    """One scrape: its families, and each sample by name and labels."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.families = {family.name: family for family in text_string_to_metric_families(text)}
        self.samples: list[Sample] = [sample for family in self.families.values() for sample in family.samples]

    def value(self, name: str, **labels: str) -> float:
        """The sample ``name`` whose labels include ``labels``, summed over the rest; 0 when there is none (a
        counter not moved yet, a status no connector is in)."""
        return sum(
            sample.value
            for sample in self.samples
            if sample.name == name and all(sample.labels.get(key) == value for key, value in labels.items())
        )

    def messages(self, direction: str, kind: str, action: str | None = None) -> float:
        """``chargebox_messages_total`` of a direction (sent, received), a type (CALL, CALLRESULT, CALLERROR) and an
        action (None: every one)."""
        labels = {"direction": direction, "type": kind} | ({"action": action} if action is not None else {})
        return self.value("chargebox_messages_total", **labels)


async def scrape(http: aiohttp.ClientSession, base: str, *, token: str | None = None) -> Scrape:
    """``GET /metrics`` as a scraper sends it: no Origin, the token (if any) as a Bearer."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with http.get(f"{base}/metrics", headers=headers) as response:
        assert response.status == 200, await response.text()
        assert response.content_type == "text/plain"
        return Scrape(await response.text())
