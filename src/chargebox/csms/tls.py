"""TLS for the built-in central system: ``wss://`` for security profiles 2 and 3 (``csms --cert --key``), and
the client certificates of profile 3 checked against a CA (``--ca-cert``).

With a CA, a client certificate is asked for but not required: one central system serves stations on profile 2
(Basic auth over TLS, no certificate) and on profile 3 side by side, as a station raising its profile from 2 to 3
needs. A certificate that is presented must verify against the CA, or the handshake fails; its CN must then be the
charge point id of the URL (TC_087_CS), which ``CentralSystem`` checks before the upgrade.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from chargebox.errors import UserError


def server_context(cert_file: Path, key_file: Path, *, client_ca: Path | None = None) -> ssl.SSLContext:
    """TLS 1.2 at least (T-44: a station refuses older), the central system's certificate and key, and the CA
    client certificates must chain to. UserError naming the option of a file that does not load."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(str(cert_file), str(key_file))
    except (OSError, ssl.SSLError) as exc:
        raise UserError(f"--cert {cert_file} --key {key_file}: not a certificate and its key ({exc})") from exc
    if client_ca is not None:
        try:
            context.load_verify_locations(cafile=str(client_ca))
        except (OSError, ssl.SSLError) as exc:
            raise UserError(f"--ca-cert {client_ca}: does not load as a CA certificate ({exc})") from exc
        context.verify_mode = ssl.CERT_OPTIONAL  # profile 2 and 3 on one port
    return context


def client_common_name(peer_certificate: Any) -> str | None:
    """The CN of a verified client certificate (``SSLObject.getpeercert()``: empty or None without one)."""
    if not peer_certificate:
        return None
    for attribute in peer_certificate.get("subject", ()):
        for key, value in attribute:
            if key == "commonName":
                return str(value)
    return ""
