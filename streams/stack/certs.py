"""A certificate authority and a server certificate made on the spot for the secure local stack.

EC P-256 keys, PEM files: Kafka reads them as PEM keystores (no keytool, no JKS), Redis and
Python's ssl module read them as they are. The server certificate names 127.0.0.1 and
localhost and may serve as a client certificate too (the broker presents it to its own
controller listener, which requires one).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_DAYS = 825
SERVER_NAMES = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class CertificateFiles:
    """Where the PEM files of one CA and its server certificate are."""

    ca: Path  # the CA certificate: what clients trust
    ca_key: Path
    server: Path  # the server certificate followed by the CA's (the chain a server presents)
    server_key: Path  # PKCS#8, unencrypted, mode 0600

    @classmethod
    def under(cls, folder: Path) -> CertificateFiles:
        return cls(folder / "ca.pem", folder / "ca.key", folder / "server.pem", folder / "server.key")

    def exist(self) -> bool:
        return all(p.is_file() for p in (self.ca, self.ca_key, self.server, self.server_key))


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    # Kafka's PEM keystore wants PKCS#8 ("BEGIN PRIVATE KEY")
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, key_cert_sign=cert_sign, crl_sign=cert_sign,
                         key_agreement=not cert_sign, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, encipher_only=False, decipher_only=False)


def _subject_names(names: tuple[str, ...]) -> list[x509.GeneralName]:
    found: list[x509.GeneralName] = []
    for name in names:
        try:
            found.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            found.append(x509.DNSName(name))
    return found


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(path, 0o600)


def make_certificates(folder: Path, names: tuple[str, ...] = SERVER_NAMES, days: int = VALID_DAYS,
                      ca_name: str = "vigil local CA") -> CertificateFiles:
    """Write a new CA and a server certificate for `names` (IP addresses or DNS names) signed by
    it into `folder`; private keys get mode 0600."""
    folder.mkdir(parents=True, exist_ok=True)
    files = CertificateFiles.under(folder)
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    end = start + dt.timedelta(days=days)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name)])
    ca_cert = (
        x509.CertificateBuilder().subject_name(issuer).issuer_name(issuer)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(issuer).public_key(server_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                       critical=False)
        .add_extension(x509.SubjectAlternativeName(_subject_names(names)), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    _write_private(files.ca_key, _key_pem(ca_key))
    _write_private(files.server_key, _key_pem(server_key))
    files.server.write_bytes(server_cert.public_bytes(pem) + ca_cert.public_bytes(pem))
    files.ca.write_bytes(ca_cert.public_bytes(pem))
    return files


def days_left(certificate: Path) -> float:
    """Days until the (first) certificate in a PEM file expires."""
    cert = x509.load_pem_x509_certificate(certificate.read_bytes())
    return (cert.not_valid_after_utc - dt.datetime.now(dt.UTC)).total_seconds() / 86400
