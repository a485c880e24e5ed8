"""What every OCPP message has in common, whatever its version: the base of the generated Structs.

``chargebox.protocol.messages`` (1.6) and ``chargebox.protocol.v201.messages`` both subclass it, so the codec
and ``Connection`` take a payload of either version as one type.
"""

from __future__ import annotations

import msgspec


class Message(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    rename="camel",
    omit_defaults=True,
    forbid_unknown_fields=True,
):
    """Base of every OCPP payload: snake_case in Python, camelCase on the wire, unknown keys rejected."""
