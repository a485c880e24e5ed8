"""``Log``: what a part of the stack logs to.

A station's services log through its ``LoggerAdapter``, which stamps every record with the charge point id (a
fleet's thousand stations share one logger); a part used outside a station (a driver, a test) takes a plain
``Logger``. Each takes either, so the type is written once.
"""

from __future__ import annotations

import logging
from typing import TypeAlias

Log: TypeAlias = logging.LoggerAdapter[logging.Logger] | logging.Logger
