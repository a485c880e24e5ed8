"""The control page's templates (csms/templates.py): one for every central-system action of each version (1.6's
with the security whitepaper's, 2.0.1's), each valid as it is by its message's Struct and by the `ocpp` library's
JSON schemas, so that none can rot, and served by version (``GET /api/templates?ocpp=2.0.1``); a real 2.0.1 station
answers each one sent without a payload. tests/csms/test_control.py sends 1.6's to a real 1.6 station."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest
from ocpp.exceptions import OCPPError
from ocpp.messages import Call, _validate_payload

from chargebox.csms import control as csms_control
from chargebox.csms.server import CentralSystem, CsmsPolicy
from chargebox.csms.templates import PEM_PLACEHOLDER, templates, templates201
from chargebox.errors import RemoteProtocolError
from chargebox.protocol.codec import decode_payload
from chargebox.protocol.dialect import OCPP16, Dialect
from chargebox.protocol.v201.dialect import OCPP201
from chargebox.sim.simulator import Simulator, simulated_station
from chargebox.station.station import StationSettings
from chargebox.transport import ReconnectPolicy
from chargebox.web import serve
from tests.loopback import run_until_stopped, until

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
TEMPLATES = templates201("http://csms.example:9001", files=["fw 2.0.img"], now=NOW, csms_url="ws://csms.example:9000/")
BY_VERSION: dict[str, tuple[dict[str, dict[str, Any]], Dialect[Any]]] = {
    "1.6": (templates("http://csms.example:9001", files=["fw 2.0.img"], now=NOW), OCPP16),
    "2.0.1": (TEMPLATES, OCPP201),
}


@pytest.mark.parametrize("version", BY_VERSION)
def test_every_csms_initiated_action_has_a_template_reset_last(version: str) -> None:
    proposed, dialect = BY_VERSION[version]
    assert set(proposed) == {action.value for action in dialect.csms_initiated}  # a new action fails here
    assert list(proposed)[-1] == "Reset"  # last: the station reboots


@pytest.mark.parametrize("version", BY_VERSION)
def test_every_template_is_valid_by_its_struct_and_the_ocpp_librarys_schemas(version: str) -> None:
    proposed, dialect = BY_VERSION[version]
    refused = {}
    for action, payload in proposed.items():
        try:
            decode_payload(msgspec.Raw(json.dumps(payload).encode()), dialect.requests[dialect.actions_by_name[action]],
                           dialect.errors)  # fmt: skip
            _validate_payload(Call("1", action, payload), version)
        except (RemoteProtocolError, OCPPError) as exc:
            refused[action] = repr(exc)
    assert refused == {}


def test_2_0_1_templates_point_at_this_central_system() -> None:
    assert TEMPLATES["UpdateFirmware"]["firmware"]["location"] == "http://csms.example:9001/files/fw%202.0.img"
    assert TEMPLATES["GetLog"]["log"]["remoteLocation"] == "http://csms.example:9001/uploads/"
    profile = TEMPLATES["SetNetworkProfile"]["connectionData"]
    assert (profile["ocppCsmsUrl"], profile["securityProfile"]) == ("ws://csms.example:9000/", 1)
    assert TEMPLATES["InstallCertificate"]["certificate"] == PEM_PLACEHOLDER  # no CA: a placeholder
    root = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    with_ca = templates201("https://h:1", files=[], now=NOW, csms_url="wss://h:2/", root=root)
    assert with_ca["InstallCertificate"]["certificate"] == root
    assert with_ca["SetNetworkProfile"]["connectionData"]["securityProfile"] == 2  # TLS: at least profile 2


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[str, Simulator]]:
    """The central system's control API and a 2.0.1 station of two EVSEs booted on it."""
    system = CentralSystem(CsmsPolicy(heartbeat_interval=600))
    ws_port = await system.start()
    runner, port = await serve(csms_control.make_app(system, call_timeout=10), "127.0.0.1", 0, "--control")
    settings = StationSettings(
        charge_point_id="CP-201", csms_url=f"ws://127.0.0.1:{ws_port}", ocpp="2.0.1", connectors=2,
        data_dir=tmp_path / "CP-201", reconnect=ReconnectPolicy(initial=0.05, maximum=0.2, jitter=0.1),
    )  # fmt: skip
    sim = Simulator(simulated_station(settings))
    try:
        async with run_until_stopped(sim):
            await until(lambda: sim.station.registration == "Accepted")
            yield f"http://127.0.0.1:{port}", sim
    finally:
        await runner.cleanup()
        await system.stop()


async def test_templates_are_served_by_version_and_a_2_0_1_station_answers_each_it_handles(
    served: tuple[str, Simulator],
) -> None:
    """Each 2.0.1 template, sent by the API without a payload (so the template's), is answered with a CALLRESULT
    by the station where it handles the action (never a FormationViolation), NotSupported where it does not."""
    base, sim = served
    handled = {str(action) for action in sim.station.rpc.handlers}
    answers: dict[str, tuple[int, str]] = {}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/api/templates?ocpp=2.0.1") as response:
            templates = await response.json()
        assert set(templates) == set(TEMPLATES)
        listening = sim.station.settings.csms_url  # ws://127.0.0.1:PORT
        assert templates["SetNetworkProfile"]["connectionData"]["ocppCsmsUrl"] == f"{listening}/"
        ipv6 = {"Host": f"[::1]:{base.rsplit(':', 1)[1]}"}  # the host as the browser reached it, IPv6 bracketed
        async with http.get(f"{base}/api/templates?ocpp=2.0.1", headers=ipv6) as response:
            profile = (await response.json())["SetNetworkProfile"]["connectionData"]
            assert profile["ocppCsmsUrl"] == listening.replace("127.0.0.1", "[::1]") + "/"
        async with http.get(f"{base}/api/templates") as response:
            assert "RemoteStartTransaction" in await response.json()  # 1.6's when absent, as before
        async with http.get(f"{base}/api/templates?ocpp=3.0") as response:
            assert response.status == 400
            assert (await response.json())["error"] == "ocpp must be 1.6 or 2.0.1"
        for action in templates:
            async with http.post(f"{base}/api/stations/CP-201/call", json={"action": action}) as response:
                answer = await response.json()
                answers[action] = (response.status, answer.get("errorCode") or answer["result"])
    expected = {action: (200, "CALLRESULT" if action in handled else "NotSupported") for action in templates}
    assert answers == expected
    assert {"GetVariables", "SetVariables", "RequestStartTransaction", "SetNetworkProfile", "Reset"} <= handled
