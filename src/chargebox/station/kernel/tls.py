"""TLS for security profiles 2 and 3 (checklist 1.6, T-40, T-44): the client contexts, and what a
failed handshake means.

A context trusts only the CentralSystemRootCertificate(s) the station holds (installed by the
central system, and ``--ca-file``), never the system's CAs and never nothing: without a root there
is no TLS connection at all, rather than an unverified one. TLS 1.2 is the least it speaks, with
the whitepaper's suites (A00.FR.318, A00.FR.422: ECDHE-ECDSA or RSA key exchange with AES-GCM; TLS 1.3's
suites are all AEAD and stay as OpenSSL has them). Profile 3 adds the ChargePointCertificate and
its key for mutual TLS.
"""

from __future__ import annotations

import contextlib
import functools
import os
import ssl
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import websockets

from chargebox.errors import ConfigError
from chargebox.user_files import MAX_PEM_BYTES, read_text

# A00.FR.318, A00.FR.422: the suites a charge point supports (OpenSSL spelling, TLS 1.2)
CIPHERS: Final = ":".join(
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "AES128-GCM-SHA256",
        "AES256-GCM-SHA384",
    )
)

# The whitepaper's security event types this module's failures are reported as.
FAILED_TO_AUTHENTICATE: Final = "FailedToAuthenticateAtCentralSystem"
INVALID_CENTRAL_SYSTEM_CERTIFICATE: Final = "InvalidCentralSystemCertificate"
INVALID_TLS_VERSION: Final = "InvalidTLSVersion"
INVALID_TLS_CIPHER_SUITE: Final = "InvalidTLSCipherSuite"

_VERSION_REASONS: Final = frozenset(
    {"UNSUPPORTED_PROTOCOL", "TLSV1_ALERT_PROTOCOL_VERSION", "WRONG_VERSION_NUMBER", "NO_PROTOCOLS_AVAILABLE"}
)
_CIPHER_REASONS: Final = frozenset({"NO_SHARED_CIPHER", "NO_CIPHERS_AVAILABLE", "SSLV3_ALERT_HANDSHAKE_FAILURE"})


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """The TLS options a station starts with (``simulate --ca-file --tls-server-name --cert --key
    --security-profile``); ``chargebox run`` maps its configuration file onto the same fields.

    ``ca_file`` is trusted for the central system in addition to the installed
    CentralSystemRootCertificates; ``cert_file``/``key_file`` are the ChargePointCertificate (with
    its chain) and key for profile 3 until the central system signs one (CertificateSigned), which
    then takes their place. ``server_name`` is the name the central system's certificate must
    carry when the URL's host is not it (an IP address). ``security_profile`` None keeps the
    configured SecurityProfile. ``fallback_seconds``: how long a raised SecurityProfile may take to
    connect before the station goes back to the previous one. No field turns verification off.
    """

    ca_file: Path | None = None
    server_name: str | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    security_profile: int | None = None
    fallback_seconds: float = 120.0  # a raised SecurityProfile not connected by then is undone (T-43)


class TlsUnavailable(Exception):
    """The station lacks what TLS needs (no root, no ChargePointCertificate for profile 3)."""


def client_context(
    roots: Sequence[str],
    *,
    ca_file: Path | None = None,
    cert_chain: str | None = None,
    key: str | None = None,
    partial_chain: bool = False,
) -> ssl.SSLContext:
    """A context that verifies the central system against ``roots`` (PEM) and ``ca_file``, and
    presents ``cert_chain`` with ``key`` (PEM) when both are given (profile 3); ``partial_chain``: a root
    that is not self-signed is a trust anchor too.

    Raises:
        TlsUnavailable: no root to verify against, or a certificate or key that does not load.
    """
    if not roots and ca_file is None:
        raise TlsUnavailable("no CentralSystemRootCertificate is installed")
    if cert_chain is None or key is None:
        try:
            stamp = os.stat(ca_file).st_mtime_ns if ca_file is not None else None
        except OSError as exc:
            raise TlsUnavailable(f"a CentralSystemRootCertificate does not load: {exc}") from exc
        return _shared_trust_context(tuple(roots), ca_file, stamp, partial_chain)
    context = _trust_context(roots, ca_file, partial_chain)
    try:
        with _pem_files(cert_chain, key) as (cert_path, key_path):
            context.load_cert_chain(cert_path, key_path)
    except (OSError, ssl.SSLError) as exc:
        raise TlsUnavailable(f"the ChargePointCertificate or its key does not load: {exc}") from exc
    return context


@functools.lru_cache(maxsize=16)
def _shared_trust_context(
    roots: tuple[str, ...], ca_file: Path | None, _stamp: int | None, partial_chain: bool
) -> ssl.SSLContext:
    """A context that only verifies the central system, shared by every station of the process that trusts the
    same roots (a fleet's thousands: some 18 KiB each otherwise); ``_stamp``, the CA file's mtime, makes a file
    replaced on disk a new context at the next attempt. A context with a client certificate is each station's own."""
    return _trust_context(roots, ca_file, partial_chain)


def _trust_context(roots: Sequence[str], ca_file: Path | None, partial_chain: bool) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # check_hostname and CERT_REQUIRED (T-44)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(CIPHERS)
    if partial_chain:
        context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    try:
        if roots:
            context.load_verify_locations(cadata="\n".join(roots))
        if ca_file is not None:
            context.load_verify_locations(cafile=str(ca_file))
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise TlsUnavailable(f"a CentralSystemRootCertificate does not load: {exc}") from exc
    return context


def read_pem(path: Path, what: str) -> str:
    """A PEM file's text, or TlsUnavailable naming ``what`` and the file."""
    try:
        text = read_text(path, what, MAX_PEM_BYTES, encoding="ascii")
    except ConfigError as exc:
        raise TlsUnavailable(str(exc)) from exc
    if "-----BEGIN " not in text:
        raise TlsUnavailable(f"{what} {path}: not a PEM file")
    return text


def security_event_of(exc: BaseException) -> str | None:
    """The whitepaper's event type for a failed connection attempt, None if it is no security event
    (a refused TCP connection, a timeout, a 404)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return INVALID_CENTRAL_SYSTEM_CERTIFICATE  # T-44, TC_078_CS
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or ""
        if reason in _VERSION_REASONS:
            return INVALID_TLS_VERSION
        if reason in _CIPHER_REASONS:
            return INVALID_TLS_CIPHER_SUITE
        return None
    if isinstance(exc, websockets.InvalidStatus) and exc.response.status_code == 401:
        return FAILED_TO_AUTHENTICATE
    return None


@contextlib.contextmanager
def _pem_files(cert_chain: str, key: str) -> Iterator[tuple[str, str]]:
    """``load_cert_chain`` reads only files: the key goes into anonymous memory (memfd), never onto a
    disk; where there is no memfd, into a private temporary directory removed at once."""
    if hasattr(os, "memfd_create"):
        fds = [os.memfd_create("chargebox-cert"), os.memfd_create("chargebox-key")]
        try:
            for fd, text in zip(fds, (cert_chain, key), strict=True):
                os.write(fd, text.encode("ascii"))
            yield f"/proc/self/fd/{fds[0]}", f"/proc/self/fd/{fds[1]}"
        finally:
            for fd in fds:
                os.close(fd)
        return
    with tempfile.TemporaryDirectory(prefix="chargebox-tls-") as directory:  # mode 0700
        cert_path, key_path = Path(directory, "cert.pem"), Path(directory, "key.pem")
        cert_path.write_text(cert_chain, encoding="ascii")
        key_path.touch(mode=0o600)
        key_path.write_text(key, encoding="ascii")
        yield str(cert_path), str(key_path)
