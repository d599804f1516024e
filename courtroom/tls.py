"""HTTPS for the pod: the certificate and key `courtroom serve` is given, checked before it
serves, and a self-signed pair for `make run` on a machine others reach over the network.

Browsers give camera and microphone access only to a secure origin (HTTPS, or localhost).
The `cryptography` package (already here for aiortc's DTLS) reads and makes certificates,
so no openssl command line is needed.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SELF_SIGNED_DAYS = 365
RENEW_BEFORE = dt.timedelta(days=7)


class TlsError(Exception):
    """A certificate or key the server cannot use; the message names the file."""


@dataclass(frozen=True)
class CertificateInfo:
    subject: str
    not_before: dt.datetime
    not_after: dt.datetime
    names: tuple[str, ...]


def read_certificate(path: Path) -> CertificateInfo:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TlsError(f"TLS certificate {path}: cannot read it ({exc.strerror})") from None
    try:
        cert = x509.load_pem_x509_certificate(data)
    except ValueError:
        raise TlsError(f"TLS certificate {path}: not a PEM certificate") from None
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = tuple(str(n.value) for n in san)
    except x509.ExtensionNotFound:
        names = ()
    return CertificateInfo(cert.subject.rfc4514_string(), cert.not_valid_before_utc, cert.not_valid_after_utc, names)


def server_context(cert: Path, key: Path, now: dt.datetime | None = None) -> ssl.SSLContext:
    """An SSL context for the server, or TlsError naming the file that is missing, stale or
    does not fit: refusing to start beats serving a certificate every browser rejects."""
    now = now or dt.datetime.now(dt.UTC)
    info = read_certificate(cert)
    if info.not_after <= now:
        raise TlsError(f"TLS certificate {cert}: expired on {info.not_after:%Y-%m-%d %H:%M} UTC; renew it")
    if info.not_before > now:
        raise TlsError(f"TLS certificate {cert}: not valid before {info.not_before:%Y-%m-%d %H:%M} UTC")
    if not key.is_file():
        raise TlsError(f"TLS key {key}: no such file")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(str(cert), str(key))
    except ssl.SSLError as exc:
        raise TlsError(f"TLS key {key}: does not fit certificate {cert} or is not a PEM key ({exc.reason})") from None
    except OSError as exc:
        raise TlsError(f"TLS key {key}: cannot read it ({exc.strerror})") from None
    return context


def _san(hosts: list[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def self_signed(folder: Path, hosts: list[str], days: int = SELF_SIGNED_DAYS) -> tuple[Path, Path, bool]:
    """`folder/cert.pem` and `folder/key.pem` for these host names and addresses, made once
    and kept while they are valid for a week more and name every host. Returns the paths and
    whether a new pair was made."""
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    if cert_path.is_file() and key_path.is_file():
        try:
            info = read_certificate(cert_path)
            fresh = info.not_after - RENEW_BEFORE > dt.datetime.now(dt.UTC)
            if fresh and set(hosts) <= set(info.names):
                return cert_path, key_path, False
        except TlsError:
            pass  # unreadable: make a new one
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0]),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "courtroom pod (self-signed)")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(_san(hosts), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path, True


def trust_hint(cert: Path) -> str:
    return (
        f"a self-signed certificate: {cert}\n"
        "  Browsers warn about it once. To trust it, import that file as an authority on each machine\n"
        "  (Chromium/Chrome: Settings > Privacy and security > Security > Manage certificates >\n"
        "  Authorities > Import; Firefox: Settings > Certificates > View Certificates > Authorities;\n"
        f"  Debian: cp {cert} /usr/local/share/ca-certificates/courtroom.crt && update-ca-certificates).\n"
        "  For a real deployment use a certificate from your court's CA or Let's Encrypt:\n"
        "  courtroom serve --tls-cert fullchain.pem --tls-key privkey.pem, or terminate TLS in nginx\n"
        "  (deploy/nginx/pod-tls.conf)."
    )
