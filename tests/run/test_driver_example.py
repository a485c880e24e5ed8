"""The driver of docs/howto/integrate.md ("Writing your own driver"), run as written: it serves the latest
value at once, never goes back (X-15), and goes stale (HardwareError) when its source stops."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

import chargebox

DOC = Path(__file__).resolve().parents[2] / "docs" / "howto" / "integrate.md"


def file_meter() -> Any:
    [code] = [c for c in re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL) if "class FileMeter" in c]
    namespace: dict[str, Any] = {"__name__": "driver_example"}
    exec(compile(code, str(DOC), "exec"), namespace)
    return namespace["FileMeter"]


async def test_the_documented_driver_polls_serves_and_goes_stale(tmp_path: Path) -> None:
    source = tmp_path / "register"
    source.write_text("1200\n")
    meter = file_meter()(source, poll_interval=0.01, stale_after=0.3)
    with pytest.raises(chargebox.HardwareError):
        meter.energy_wh(1)  # nothing read yet
    task = asyncio.ensure_future(meter.run())
    try:
        for _ in range(200):
            await asyncio.sleep(0.01)
            if meter._wh is not None:
                break
        [reading] = meter.read(1)
        assert reading.value == 1200 and reading.measurand.value == "Energy.Active.Import.Register"
        source.write_text("1100\n")  # a register that went back is not believed
        meter.poll()
        assert meter.energy_wh(1) == 1200
        source.unlink()
        task.cancel()
        await asyncio.sleep(0.4)
        with pytest.raises(chargebox.HardwareError, match="no fresh reading"):
            meter.energy_wh(1)
    finally:
        task.cancel()
