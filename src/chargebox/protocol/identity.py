"""The charge point identity: what an id may hold, wherever one enters (``simulate --id``, a fleet's ids, the path
a station connects to the built-in central system with).

T-2 percent-encodes the id into the URL path, T-6 makes it the Basic-auth user name (which cannot hold a colon) and
G-1 keeps every OCPP string printable ASCII: so an id forges no log line and no other path. OCPP 1.6 sets no
length; 48 is as long as OCPP 2.0.1 allows a station identity.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import unquote

MAX_ID_LENGTH: Final = 48


def identity_problem(charge_point_id: str) -> str | None:
    """Why ``charge_point_id`` cannot be a charge point's id, or None when it can."""
    if not 1 <= len(charge_point_id) <= MAX_ID_LENGTH:
        return f"must be 1 to {MAX_ID_LENGTH} characters"
    if not (charge_point_id.isascii() and charge_point_id.isprintable()):  # G-1
        return "must be printable ASCII (no control characters)"
    if ":" in charge_point_id:
        return "must not contain ':' (it is the Basic-auth user name, T-6)"
    return None


def identity_from_path(path: str) -> tuple[str, str | None]:
    """The id a station names in the path it connects to, and why it cannot be one, or None. T-2: the path is
    the endpoint's own (``/ocpp``, or none) + ``/`` + the id percent-encoded, so the id is its last segment
    (``/ocpp/RDAM%20123`` is ``RDAM 123``: a station encodes its ``/``); nothing else is appended, so a query
    or a fragment is refused."""
    if not path.startswith("/") or "?" in path or "#" in path:
        return path, "must be the last segment of the path, with no query (T-2)"
    charge_point_id = unquote(path.rpartition("/")[2])  # an escape that is not UTF-8 becomes U+FFFD: not ASCII
    return charge_point_id, identity_problem(charge_point_id)
