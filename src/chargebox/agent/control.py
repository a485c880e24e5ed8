"""The HTTP client of the control APIs (``simulate``, ``fleet``, ``csms`` ``--control``), as a tool needs it.

Every request carries ``Authorization: Bearer TOKEN`` when a token is given (web.py: required off loopback), and
every POST ``Content-Type: application/json``, even without a body (415 else). An answer other than 2xx is the
API's ``{"error": ...}`` and becomes a ``ToolFailure`` with that text, and so does a server that cannot be
reached: an agent reads what went wrong, never a traceback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

import aiohttp

TIMEOUT: Final = 40.0  # seconds: a CALL through the central system may take its 30 s


class ToolFailure(Exception):
    """A tool did not do what it was asked: the text says why, to the agent (a tool's result, never raised out of
    the server, so not in the tree of chargebox/errors.py)."""


@dataclass(frozen=True, slots=True)
class Answer:
    """A control API's answer: its status and body (JSON, or text for ``/metrics``)."""

    status: int
    body: Any


class ControlClient:
    """One HTTP session to the control APIs, with the token of ``--control-token-file``."""

    def __init__(self, token: str | None) -> None:
        self._headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def get(self, url: str, *, query: dict[str, str] | None = None, ok: tuple[int, ...] = ()) -> Answer:
        return await self._request("GET", url, query=query, ok=ok)

    async def post(self, url: str, body: dict[str, Any] | None = None) -> Answer:
        return await self._request("POST", url, body=body or {})

    async def _request(
        self,
        method: str,
        url: str,
        *,
        query: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        ok: tuple[int, ...] = (),
    ) -> Answer:
        """``ok``: statuses besides 2xx that are answers, not failures (``/metrics``: 404 means not served)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT))
        try:
            async with self._session.request(method, url, params=query, json=body, headers=self._headers) as response:
                text = await response.text()
                kind = response.content_type
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise ToolFailure(f"{method} {url}: cannot reach the control API ({_reason(exc)})") from exc
        parsed = _parsed(text) if kind == "application/json" else text
        if 200 <= status < 300 or status in ok:
            return Answer(status, parsed)
        error = parsed.get("error") if isinstance(parsed, dict) else None
        raise ToolFailure(f"{method} {url}: {status} {error if isinstance(error, str) else text[:200]}")


def _parsed(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
