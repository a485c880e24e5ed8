"""Station files for the tests of ``chargebox run``: the Modbus drivers against a ``ModbusRig``."""

from __future__ import annotations

from pathlib import Path

OCPP = """
[ocpp]
MeterValueSampleInterval = 1
MeterValuesSampledData = "Energy.Active.Import.Register,Power.Active.Import"
StopTxnSampledData = "Energy.Active.Import.Register"
"""


def modbus_station(
    csms_url: str,
    data_dir: Path,
    port: int,
    io_port: int,
    *,
    meter_map: str = "sdm630",
    fifo: Path | None = None,
    slots: Path | None = None,
    station_id: str = "RUN-1",
) -> str:
    """A one-connector station: meter unit 1, IO module unit 2 (coils 0 contactor, 1 lock; inputs 0, 1 their
    feedback, 2 the EV detect), optionally a FIFO card reader and A/B firmware slots."""
    link = f'host = "127.0.0.1"\nport = {port}\ntimeout = 0.3\n'
    io = f'host = "127.0.0.1"\nport = {io_port}\ntimeout = 0.3\n'
    reader = f'\n[hardware.card_reader]\ndriver = "fifo"\npath = "{fifo}"\nconnector = 1\n' if fifo else ""
    installer = f'driver = "slots"\nslots_dir = "{slots}"\n' if slots else 'driver = "simulated"\ninstall_seconds = 0\n'
    return f"""
[station]
id = "{station_id}"
csms = "{csms_url}"
data_dir = "{data_dir}"
vendor = "Acme"
model = "Wallbox 22"
serial = "W22-0001"
firmware_version = "1.0.0"
connectors = 1
{OCPP}
[hardware.meter]
driver = "modbus"
{link}unit_id = 1
map = "{meter_map}"
poll_interval = 0.1
stale_after = 0.8

[hardware.contactor]
driver = "modbus"
{io}unit_id = 2
coils = [0]
feedback = [0]
settle = 0.1

[hardware.lock]
driver = "modbus"
{io}unit_id = 2
coils = [1]
feedback = [1]
settle = 0.1

[hardware.ev]
driver = "modbus"
{io}unit_id = 2
inputs = [2]
poll_interval = 0.05
{reader}
[hardware.installer]
{installer}"""


def bench_station(
    csms_url: str, data_dir: Path, *, station_id: str = "BENCH-1", station: str = "", extra: str = ""
) -> str:
    """A station file on simulated parts (a bench): ``station`` adds ``[station]`` keys, ``extra`` tables."""
    parts = "".join(f'[hardware.{port}]\ndriver = "simulated"\n' for port in ("meter", "contactor", "lock", "ev",
                                                                               "installer"))  # fmt: skip
    return (
        f'[station]\nid = "{station_id}"\ncsms = "{csms_url}"\ndata_dir = "{data_dir}"\nvendor = "Acme"\n'
        f'model = "Wallbox 22"\n{station}\n{parts}\n{extra}'
    )
