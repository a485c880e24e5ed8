"""Security profiles against real wss:// central systems on loopback, with private CAs made here.

``pki`` gives a CA (``trustme``), a server certificate for ``csms.test`` and a file for each PEM;
``TlsCsms`` is the interop suite's ``ocpp``-library central system served over TLS, optionally
requiring a client certificate from the CA, and answering SignCertificate. chargebox runs with the
real clock (TLS handshakes are real), so every wait is a poll with a timeout.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme
from ocpp.routing import on
from ocpp.v16 import call_result
from ocpp.v16.enums import Action, GenericStatus

from chargebox.sim.simulator import Simulator
from tests.interop.conftest import CsmsChargePoint, OcppCsms, StationRunner
from tests.wire import Wire

SERVER_NAME = "csms.test"


class SigningChargePoint(CsmsChargePoint):
    """The central system's side, answering SignCertificate Accepted and keeping each CSR."""

    @on(Action.sign_certificate)
    def on_sign_certificate(self, csr: str) -> call_result.SignCertificate:
        self._csms.csrs.append(csr)  # type: ignore[attr-defined]
        return call_result.SignCertificate(status=GenericStatus.accepted)


@dataclass
class Pki:
    """One private CA with its server certificate, and the PEM files a station is started with."""

    ca: trustme.CA
    server: trustme.LeafCert
    ca_file: Path
    directory: Path

    def server_context(
        self, *, client_ca: trustme.CA | None = None, leaf: trustme.LeafCert | None = None
    ) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        (leaf or self.server).configure_cert(context)
        if client_ca is not None:  # profile 3: mutual TLS
            context.verify_mode = ssl.CERT_REQUIRED
            client_ca.configure_trust(context)
        return context

    def client_files(self, leaf: trustme.LeafCert, name: str) -> tuple[Path, Path]:
        cert, key = self.directory / f"{name}.pem", self.directory / f"{name}.key"
        cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
        key.write_bytes(leaf.private_key_pem.bytes())
        return cert, key


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    ca = trustme.CA(organization_name="chargebox test CSMS")
    server = ca.issue_cert(SERVER_NAME, "127.0.0.1")
    ca_file = tmp_path / "csms-root.pem"
    ca_file.write_bytes(ca.cert_pem.bytes())
    return Pki(ca=ca, server=server, ca_file=ca_file, directory=tmp_path)


class TlsCsms(OcppCsms):
    """``OcppCsms`` with the CSRs it was sent."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(charge_point_class=SigningChargePoint, **kwargs)
        self.csrs: list[str] = []


ServeCsms = Callable[..., Awaitable[TlsCsms]]


@pytest.fixture
async def serve_csms() -> AsyncIterator[ServeCsms]:
    """``await serve_csms(ssl=context, passwords={...})``: a started central system, stopped after the test."""
    started: list[OcppCsms] = []

    async def start(**kwargs: Any) -> TlsCsms:
        csms = TlsCsms(**kwargs)
        await csms.start()
        started.append(csms)
        return csms

    yield start
    for csms in started:
        await csms.stop()


@pytest.fixture
async def runner() -> AsyncIterator[StationRunner]:
    """Stations aimed at whatever URL a test gives (``runner(csms_url=...)``)."""
    stations = StationRunner("ws://127.0.0.1:1")
    yield stations
    await stations.close()


@pytest.fixture
def station(wired: Callable[..., Wire]) -> Callable[..., Any]:
    """A station joined to the built-in central system in memory: ``wire, sim = await station(**settings)``."""

    async def build(csms: dict[str, Any] | None = None, **settings: Any) -> tuple[Wire, Simulator]:
        wire = wired(csms, **settings)
        await wire.connect()
        return wire, Simulator(wire.station)

    return build
