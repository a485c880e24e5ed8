"""The Dockerfile and compose.yaml (docs/howto/docker.md).

No Docker engine runs here or in CI, so the image itself is built and run only where ``docker info`` answers
(skipped with that reason elsewhere). What does not need an engine is checked everywhere: the compose file's two
services run as written (their commands, their ports and their shared token) as plain processes on this machine,
with the central system's host name and the published ports mapped to loopback and free ports, and the fleet's
stations boot at the central system; the image's last stage is non-root with ``chargebox`` as its entrypoint.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import subprocess
from asyncio.subprocess import DEVNULL, PIPE
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from tests.loopback import CLI, WAIT, free_port

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
SECRET_IN_CONTAINER = "/run/secrets/control_token"


def service_command(name: str, ports: dict[str, int], secret: Path) -> list[str]:
    """A service's command as this machine runs it: ``csms:9000`` is 127.0.0.1, each port a free one."""
    command = []
    for arg in COMPOSE["services"][name]["command"]:
        arg = str(arg).replace("ws://csms:", "ws://127.0.0.1:").replace(SECRET_IN_CONTAINER, str(secret))
        command.append(re.sub(r":(\d+)$", lambda match: f":{ports[match.group(1)]}", arg))
    return command


def test_the_image_is_slim_and_non_root_with_chargebox_as_its_entrypoint() -> None:
    last_stage = (ROOT / "Dockerfile").read_text(encoding="utf-8").split("\nFROM ")[-1]
    assert last_stage.startswith("python:3.11-slim")
    user = re.search(r"^USER (\S+)$", last_stage, re.MULTILINE)
    assert user is not None and user.group(1) not in ("root", "0")
    assert re.search(r'^ENTRYPOINT \["chargebox"\]$', last_stage, re.MULTILINE)


def test_the_compose_file_publishes_the_control_ports_on_loopback_only() -> None:
    """The control APIs drive stations: published beyond the host only on purpose (they need the token anyway)."""
    for name, service in COMPOSE["services"].items():
        command = [str(arg) for arg in service["command"]]
        control = command[command.index("--control") + 1]
        published = [str(p) for p in service.get("ports", []) if str(p).endswith(":" + control.rsplit(":", 1)[1])]
        assert published and all(p.startswith("127.0.0.1:") for p in published), name
        assert "--control-token-file" in command, name


async def test_the_compose_services_run_as_written_and_the_fleet_boots_at_the_central_system(tmp_path: Path) -> None:
    secret = tmp_path / "control-token.txt"
    token = "compose-test-token"
    secret.write_text(token + "\n", encoding="utf-8")
    ports = {port: free_port() for port in ("9000", "9001", "9002")}
    count = int(COMPOSE["services"]["fleet"]["command"][COMPOSE["services"]["fleet"]["command"].index("--count") + 1])
    processes = [
        await asyncio.create_subprocess_exec(
            *CLI, *service_command(name, ports, secret), cwd=tmp_path, stdout=DEVNULL, stderr=PIPE
        )
        for name in ("csms", "fleet")
    ]
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with aiohttp.ClientSession(headers=headers) as http:

            async def get(port: str, path: str) -> Any:
                try:
                    async with http.get(f"http://127.0.0.1:{ports[port]}{path}") as response:
                        return await response.json() if response.status == 200 else None
                except aiohttp.ClientConnectionError:
                    return None

            async def all_booted() -> bool:
                listed = await get("9001", "/api/stations")
                return (
                    listed is not None and sum(s["connected"] and s["boots"] > 0 for s in listed["stations"]) == count
                )

            await until_async(all_booted)
            figures = await get("9002", "/api/fleet")
            assert figures is not None
            stranger = aiohttp.ClientSession()  # off loopback (0.0.0.0), the token is required
            async with stranger, stranger.get(f"http://127.0.0.1:{ports['9001']}/api/stations") as response:
                assert response.status == 401
    finally:
        for process in processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        codes = [await asyncio.wait_for(process.wait(), WAIT) for process in processes]
    errors = [(await p.stderr.read()).decode() if p.stderr else "" for p in processes]
    assert codes == [0, 0], errors


async def until_async(condition: Any, timeout: float = 30.0) -> None:
    """``until`` for a condition that must await (an HTTP round trip)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "not within the time"
        await asyncio.sleep(0.1)


def docker_engine() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


@pytest.mark.skipif(not docker_engine(), reason="no Docker engine here (the docker client alone cannot build)")
def test_the_image_builds_runs_as_a_user_and_prints_the_commands() -> None:
    subprocess.run(["docker", "build", "-t", "chargebox-test", str(ROOT)], check=True, timeout=900)
    shown = subprocess.run(["docker", "run", "--rm", "chargebox-test"], capture_output=True, text=True, timeout=120)
    assert "csms" in shown.stdout and "fleet" in shown.stdout
    uid = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "id", "chargebox-test", "-u"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert uid.stdout.strip() not in ("", "0")
    subprocess.run(["docker", "rmi", "chargebox-test"], capture_output=True, timeout=120, check=True)
