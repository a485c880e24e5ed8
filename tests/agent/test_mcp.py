"""``chargebox mcp`` driven by the ``mcp`` SDK's own clients (stdio, and streamable HTTP for ``--http``), against
real ``chargebox csms --control`` and ``simulate --control`` processes on loopback: what a tool does is checked
where it shows (the central system lists the transaction a swipe started; a CALL reaches the station)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx2
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from chargebox.agent.tools import TOOLS
from tests.loopback import WAIT, free_port
from tests.test_cli import CliMain, assert_one_line_error, run_cli, spawn_until, stop

TOKEN = "mcp-test-token-0123456789abcdef"
HTTP_TOKEN = "mcp-http-token-0123456789abcdef"
CP = "CP-MCP"


@dataclass
class Csms:
    ws: str  # ws://127.0.0.1:PORT, where stations connect
    control: str  # http://127.0.0.1:PORT, its control API


@contextlib.asynccontextmanager
async def csms_process(*, token: str | None = None) -> AsyncIterator[Csms]:
    env = {"CHARGEBOX_CONTROL_TOKEN": token} if token else {}
    proc, lines, page = await spawn_until(
        r"control page on (http://\S+)/", "csms", "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0", env=env
    )
    [ws] = [line.split("listening on ")[1].split("/<")[0] for line in lines if "listening on ws://" in line]
    try:
        yield Csms(ws, page[1])
    finally:
        await stop(proc)


@contextlib.asynccontextmanager
async def station_process(csms: Csms) -> AsyncIterator[str]:
    """``chargebox simulate --control``, its control API's URL once it listens."""
    port = free_port()
    proc, _lines, _found = await spawn_until(
        r"dashboard on", "simulate", "--csms", csms.ws, "--id", CP, "--control", f"127.0.0.1:{port}"
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await stop(proc)


@contextlib.asynccontextmanager
async def mcp_stdio(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> AsyncIterator[ClientSession]:
    """``python -m chargebox.cli mcp ARGS`` spawned by the SDK's stdio client, its log in ``tmp_path``."""
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "chargebox.cli", "mcp", *args], env=env, cwd=os.getcwd()
    )
    with (tmp_path / "mcp.log").open("a") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            yield session


async def tool(session: ClientSession, name: str, **arguments: Any) -> Any:
    """A tool's answer, which must not be an error: its structured content, or its text."""
    result = await session.call_tool(name, arguments)
    text = result.content[0].text  # type: ignore[union-attr]
    assert not result.is_error, f"{name}: {text}"
    return result.structured_content if result.structured_content is not None else text


async def tool_error(session: ClientSession, name: str, **arguments: Any) -> str:
    result = await session.call_tool(name, arguments)
    assert result.is_error, f"{name} should have failed: {result.content}"
    text: str = result.content[0].text  # type: ignore[union-attr]
    assert "Traceback" not in text
    return text


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    async def poll() -> None:
        while not await check():
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), WAIT)


async def test_every_tool_is_listed_described_with_an_object_schema(tmp_path: Path) -> None:
    async with mcp_stdio(tmp_path, "--station", "http://127.0.0.1:1") as session:
        listed = (await session.list_tools()).tools
    assert [t.name for t in listed] == [t.name for t in TOOLS]
    for listed_tool in listed:
        assert listed_tool.description and len(listed_tool.description) > 40
        assert listed_tool.input_schema["type"] == "object"


async def test_a_swipe_through_mcp_starts_a_transaction_the_central_system_lists(tmp_path: Path) -> None:
    async with csms_process() as csms, station_process(csms) as station, mcp_stdio(
        tmp_path, "--station", station, "--csms", csms.control
    ) as session:  # fmt: skip

        async def booted() -> bool:
            state = await tool(session, "get_station_state")
            return bool(state["connected"] and state["registration"] == "Accepted")

        await eventually(booted)
        plugged = await tool(session, "plug_in", connector=1)
        assert plugged["outcome"]["result"] == "waiting"
        swiped = await tool(session, "swipe_card", idTag="MCP-CARD", connector=1)
        assert swiped["outcome"]["result"] == "started"

        async def listed() -> bool:
            [row] = (await tool(session, "list_csms_stations", q=CP))["stations"]
            transaction = row["connectors"][1]["transaction"] if len(row["connectors"]) > 1 else None
            return bool(transaction and transaction["idTag"] == "MCP-CARD")

        await eventually(listed)
        frames = (await tool(session, "get_csms_station", chargePointId=CP))["frames"]
        assert any('"StartTransaction"' in frame["frame"] for frame in frames)


async def test_a_call_through_the_csms_reaches_the_station_and_its_answer_comes_back(tmp_path: Path) -> None:
    async with csms_process() as csms, station_process(csms) as station, mcp_stdio(
        tmp_path, "--station", station, "--csms", csms.control
    ) as session:  # fmt: skip

        async def connected() -> bool:
            return bool((await tool(session, "list_csms_stations", q=CP))["stations"])

        await eventually(connected)
        changed = await tool(
            session, "send_csms_call", chargePointId=CP, action="ChangeConfiguration",
            payload={"key": "HeartbeatInterval", "value": "77"},
        )  # fmt: skip
        assert changed == {"result": "CALLRESULT", "payload": {"status": "Accepted"}}
        keys = {"key": ["HeartbeatInterval"]}
        read = await tool(session, "send_csms_call", chargePointId=CP, action="GetConfiguration", payload=keys)
        assert read["payload"]["configurationKey"][0]["value"] == "77"  # the station holds what the CALL set
        refused = await tool_error(session, "send_csms_call", chargePointId=CP, action="Reset", payload={"type": "Hot"})
        assert "400" in refused  # the central system's own check: nothing was sent
        missing = await tool_error(session, "send_csms_call", chargePointId="NOBODY", action="ClearCache")
        assert "404" in missing and "NOBODY" in missing


async def test_faults_and_bad_arguments_answer_as_the_api_does_never_a_traceback(tmp_path: Path) -> None:
    async with csms_process() as csms, station_process(csms) as station, mcp_stdio(
        tmp_path, "--station", station
    ) as session:  # fmt: skip
        faulted = await tool(session, "set_fault", connector=1, errorCode="GroundFailure", info="wet")
        connector = faulted["connectors"][0]
        assert (connector["status"], connector["errorCode"]) == ("Faulted", "GroundFailure")
        cleared = await tool(session, "clear_fault", connector=1)
        assert cleared["connectors"][0]["errorCode"] == "NoError"
        assert (await tool(session, "unplug", connector=1))["connectors"][0]["plugged"] is False
        assert "404 no connector 9" in await tool_error(session, "plug_in", connector=9)
        assert "idTag" in await tool_error(session, "swipe_card", idTag="x" * 21)
        assert "errorCode" in await tool_error(session, "set_fault", connector=1, errorCode="Teleported")
        assert "no csms to drive" in await tool_error(session, "list_csms_stations")
        assert "no fleet to drive" in await tool_error(session, "get_fleet_figures")
        assert "no tool 'fly'" in await tool_error(session, "fly")
        metrics = await tool(session, "read_metrics", of="station")
        assert metrics.startswith("not served") or "# TYPE" in metrics  # GET /metrics, where a build serves one
    dead = f"http://127.0.0.1:{free_port()}"
    async with mcp_stdio(tmp_path, "--station", dead) as session:
        assert "cannot reach the control API" in await tool_error(session, "get_station_state")


async def test_a_wrong_control_token_is_a_tool_error_and_the_right_one_works(tmp_path: Path) -> None:
    async with csms_process(token=TOKEN) as csms:
        env = {"CHARGEBOX_CONTROL_TOKEN": "wrong-" + TOKEN}
        async with mcp_stdio(tmp_path, "--csms", csms.control, env=env) as session:
            assert "401" in await tool_error(session, "list_csms_stations")
        token_file = tmp_path / "token"
        token_file.write_text(TOKEN + "\n")
        token_file.chmod(0o600)
        async with mcp_stdio(tmp_path, "--csms", csms.control, "--control-token-file", str(token_file)) as session:
            assert (await tool(session, "list_csms_stations"))["stations"] == []


async def test_start_fleet_runs_a_fleet_its_tools_drive_and_stops_it_with_the_server(tmp_path: Path) -> None:
    async with csms_process() as csms:
        async with mcp_stdio(tmp_path, "--csms", csms.control) as session:
            started = await tool(session, "start_fleet", csmsUrl=csms.ws, count=2, idPrefix="AG-")
            assert started["stations"] == "AG-1..AG-2"
            assert "already driving" in await tool_error(session, "start_fleet", csmsUrl=csms.ws, count=1)

            async def booted() -> bool:
                return bool((await tool(session, "get_fleet_figures"))["booted"] == 2)

            await eventually(booted)
            assert [s["id"] for s in (await tool(session, "list_fleet_stations", q="AG-"))["stations"]] == [
                "AG-1",
                "AG-2",
            ]
            await tool(session, "plug_in", station="AG-2", connector=1)
            assert (await tool(session, "swipe_card", station="AG-2", idTag="FLEET"))["outcome"]["result"] == "started"

            async def listed() -> bool:
                rows = (await tool(session, "list_csms_stations", q="AG-2"))["stations"]
                return any(c.get("transaction") and c["transaction"]["idTag"] == "FLEET" for c in rows[0]["connectors"])

            await eventually(listed)
            assert (await tool(session, "stop_fleet"))["exitStatus"] == 0
            assert "no fleet to drive" in await tool_error(session, "get_fleet_figures")
            again = await tool(session, "start_fleet", csmsUrl=csms.ws, count=1, idPrefix="AG2-")
        assert not Path(f"/proc/{again['pid']}").exists()  # the server's end stopped the fleet it started


async def test_start_fleet_that_cannot_start_says_why(tmp_path: Path) -> None:
    async with mcp_stdio(tmp_path, "--csms", "http://127.0.0.1:1") as session:
        said = await tool_error(session, "start_fleet", csmsUrl="ws://127.0.0.1:1/a?b", count=1)
    assert "chargebox fleet ended with status 2" in said and "must not have a query" in said


def initialize_request(client: str) -> dict[str, Any]:
    """An MCP client's first request, as a raw JSON-RPC body."""
    info = {"name": client, "version": "0"}
    params = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": info}
    return {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}


@contextlib.asynccontextmanager
async def mcp_http(*args: str, env: dict[str, str]) -> AsyncIterator[str]:
    proc, _lines, found = await spawn_until(r"MCP server on (http://\S+)", "mcp", *args, env=env)
    try:
        yield found[1]
    finally:
        await stop(proc)


async def test_http_serves_the_tools_with_its_token_and_refuses_a_stranger(tmp_path: Path) -> None:
    async with csms_process() as csms, station_process(csms) as station, mcp_http(
        "--station", station, "--http", "127.0.0.1:0", env={"CHARGEBOX_MCP_TOKEN": HTTP_TOKEN}
    ) as url:  # fmt: skip
        headers = {"Authorization": f"Bearer {HTTP_TOKEN}"}
        async with httpx2.AsyncClient(headers=headers) as http, streamable_http_client(url, http_client=http) as (
            read,
            write,
        ), ClientSession(read, write) as session:  # fmt: skip
            await session.initialize()
            assert len((await session.list_tools()).tools) == len(TOOLS)

            async def connected() -> bool:
                return bool((await tool(session, "get_station_state"))["connected"])

            await eventually(connected)
        initialize = initialize_request("stranger")
        async with aiohttp.ClientSession() as http:
            accept = {"Accept": "application/json, text/event-stream"}
            async with http.post(url, json=initialize, headers=accept) as response:
                assert response.status == 401 and "token" in (await response.json())["error"]
            wrong = {**accept, "Authorization": "Bearer " + HTTP_TOKEN[::-1]}
            async with http.post(url, json=initialize, headers=wrong) as response:
                assert response.status == 401


async def test_http_on_loopback_refuses_a_foreign_host(tmp_path: Path) -> None:
    """DNS rebinding: a page of evil.example resolved to 127.0.0.1 reaches the port with its own Host."""
    async with mcp_http("--station", "http://127.0.0.1:1", "--http", "127.0.0.1:0", env={}) as url:
        initialize = initialize_request("page")
        async with aiohttp.ClientSession() as http:
            headers = {"Accept": "application/json, text/event-stream", "Host": "evil.example"}
            async with http.post(url, json=initialize, headers=headers) as response:
                assert response.status in (403, 421)
            async with http.post(url, json=initialize, headers={**headers, "Host": "127.0.0.1"}) as response:
                assert response.status == 200


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ([], "needs --station, --fleet or --csms URL"),
        (["--station", "ws://127.0.0.1:9000"], "expected an http:// URL"),
        (["--csms", "http://user:pw@127.0.0.1:9001"], "without credentials"),
        (["--fleet", "http://127.0.0.1:99999"], "expected an http:// URL"),
        (["--station", "http://127.0.0.1:1", "--http", "0.0.0.0:0"], "not a loopback address, so the MCP server"),
        (["--station", "http://127.0.0.1:1", "--http-token-file", "/nonexistent"], "--http-token-file needs --http"),
        (["--station", "http://127.0.0.1:1", "--http", "nowhere"], "expected HOST:PORT"),
        (["--station", "http://127.0.0.1:1", "--control-token", "short"], "must be 16 to 128 characters"),
    ],
)
def test_bad_flags_print_one_line_and_exit_2(cli_main: CliMain, args: list[str], fragment: str) -> None:
    code, _out, err = cli_main("mcp", *args)
    assert_one_line_error(code, err, fragment)


async def test_http_port_in_use_is_one_line(tmp_path: Path) -> None:
    async with mcp_http("--station", "http://127.0.0.1:1", "--http", "127.0.0.1:0", env={}) as url:
        port = url.rsplit(":", 1)[1].split("/")[0]
        code, _out, err = await run_cli("mcp", "--station", "http://127.0.0.1:1", "--http", f"127.0.0.1:{port}")
    assert_one_line_error(code, err, "cannot listen")
