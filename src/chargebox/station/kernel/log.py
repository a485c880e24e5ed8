"""The station's logger: every record carries the charge point id (``cp``), and repeated warnings are limited.

A central system can make a station warn in a loop (a CALL of an unknown action is one warning each), and a station
can fail in a loop (a handler that raises on every CALL): unlimited, a loop of unknown actions wrote 158 MiB of log
in 22 s. So a warning or an error of one kind (its level and message template, before the arguments are put in) is
logged at most ``BURST`` times per ``WINDOW`` seconds of the station's monotonic clock. The last one logged says
that more are being counted; the first one of the kind after the window says how many were left out. INFO and
DEBUG (the frames of ``-v``) are never limited: they are what the operator asked for, and no peer can make a
station log them in a loop faster than its own traffic.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Final, TypeAlias

from chargebox.clock import Clock

BURST: Final = 10  # records of one kind per window
WINDOW: Final = 60.0  # seconds
MAX_KINDS: Final = 256  # kinds followed at once; past it the one seen longest ago is forgotten

_SysExcInfo: TypeAlias = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]
_ExcInfo: TypeAlias = bool | _SysExcInfo | BaseException | None


@dataclass(slots=True)
class _Kind:
    """One kind of record in its current window."""

    start: float
    logged: int = 0
    left_out: int = 0


class StationLog(logging.LoggerAdapter[logging.Logger]):
    """``logging.LoggerAdapter`` with the station's id, limiting repeated warnings and errors (module docstring)."""

    def __init__(self, logger: logging.Logger, charge_point_id: str, clock: Clock) -> None:
        super().__init__(logger, {"cp": charge_point_id})
        self._clock = clock
        self._kinds: OrderedDict[tuple[int, str], _Kind] = OrderedDict()

    def log(
        self,
        level: int,
        msg: object,
        *args: object,
        exc_info: _ExcInfo = None,
        stack_info: bool = False,
        stacklevel: int = 1,
        extra: Mapping[str, object] | None = None,
        **kwargs: object,
    ) -> None:
        note = ""
        if level >= logging.WARNING and self.isEnabledFor(level):
            admitted, note = self._admit(level, str(msg))
            if not admitted:
                return
        super().log(
            level,
            f"{msg}{note}" if note else msg,
            *args,
            exc_info=exc_info,
            stack_info=stack_info,
            stacklevel=stacklevel + 1,  # the caller, not this method, is where the record comes from
            extra=extra,
            **kwargs,
        )

    def _admit(self, level: int, template: str) -> tuple[bool, str]:
        """Whether a record of this kind is logged now, and what it says about its kind's repeats."""
        now = self._now()
        key = (level, template)
        kind = self._kinds.get(key)
        note = ""
        if kind is None or now - kind.start >= WINDOW:
            if kind is not None and kind.left_out:
                note = f" (and {kind.left_out} more like it in the {WINDOW:g} s before, not logged)"
            kind = self._kinds[key] = _Kind(now)
            self._kinds.move_to_end(key)
            if len(self._kinds) > MAX_KINDS:
                self._kinds.popitem(last=False)
        kind.logged += 1
        if kind.logged < BURST:
            return True, note
        if kind.logged == BURST:
            return True, f"{note} (repeated: more like it in the next {WINDOW:g} s are counted, not logged)"
        kind.left_out += 1
        return False, ""

    def _now(self) -> float:
        try:
            return self._clock.monotonic()
        except RuntimeError:  # no event loop (a record logged while the station is built or torn down)
            return time.monotonic()
