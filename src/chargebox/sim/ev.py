"""EV models: battery size, state of charge and a charging curve, so a session looks real.

A battery takes its full current up to ``taper_soc``, then less and less towards full (constant
voltage phase of a lithium-ion charge): the current falls linearly to ``min_ratio`` of the maximum
at 100 %. The simulated hardware draws ``min(offered, curve)``, so the station's offered current
(a charging profile, the connector's rating) still governs, and the EV never takes more than its
curve allows at its state of charge.

``fleet --auto`` draws each arriving EV's model by ``weight``, its arrival SoC from ``soc_min`` to ``soc_max``, and
lets it leave once its battery is at ``target_soc`` or its drawn session length is over, whichever comes first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from chargebox.sim.hardware import SimulatedEv


@dataclass(frozen=True, slots=True)
class EvModel:
    """One kind of car: its battery and how it charges (AC: amps per phase on ``phases``)."""

    name: str
    capacity_wh: float
    max_current: float
    phases: int
    taper_soc: float = 80.0
    min_ratio: float = 0.1
    soc_min: float = 10.0  # it arrives with soc_min to soc_max percent (uniform)
    soc_max: float = 70.0
    target_soc: float = 100.0  # it leaves once charged to here, if its session has not ended before
    weight: float = 1.0  # how often it comes, relative to the other models of the mix

    def ev(self, soc: float) -> SimulatedEv:
        """A car of this model arriving with ``soc`` percent in its battery."""
        return SimulatedEv(
            max_current=self.max_current,
            phases=self.phases,
            capacity_wh=self.capacity_wh,
            soc=soc,
            taper_soc=self.taper_soc,
            min_ratio=self.min_ratio,
        )


# A few common shapes of AC charging; templates may define their own.
EV_MODELS: Final[Mapping[str, EvModel]] = {
    model.name: model
    for model in (
        EvModel("compact", capacity_wh=40_000, max_current=16, phases=1, taper_soc=85),
        EvModel("family", capacity_wh=60_000, max_current=16, phases=3, taper_soc=80),
        EvModel("premium", capacity_wh=90_000, max_current=32, phases=3, taper_soc=75),
    )
}
