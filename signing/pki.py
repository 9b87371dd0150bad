"""A small certificate authority for development, the CSC sandbox and the tests.

Never for production: a province signs with the certificates its licensed provider issued
(docs/signing.md). Here a root CA, leaf certificates for signers (key usage: non-repudiation, as
a document-signing certificate has) and a time-stamping certificate are made with `cryptography`,
and a signer's key and chain are written as a PKCS#12 file for the `local` back end.
"""

import datetime
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _name(common_name, organisation="Một Cửa (development)"):
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Issued:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    @property
    def cert_pem(self):
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self):
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


def make_ca(common_name="Một Cửa Development Root CA", *, days=3650, now=None):
    now = now or datetime.datetime.now(datetime.UTC)
    key = new_key()
    name = _name(common_name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(key, cert)


def issue(
    ca,
    common_name,
    *,
    organisation="Một Cửa (development)",
    days=730,
    timestamping=False,
    now=None,
    not_before=None,
    not_after=None,
):
    """A leaf certificate signed by `ca`: a document signer's, or a time-stamping authority's."""
    now = now or datetime.datetime.now(datetime.UTC)
    key = new_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, organisation))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - datetime.timedelta(days=1))
        .not_valid_after(not_after or now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=not timestamping,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
    )
    if timestamping:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
    return Issued(key, builder.sign(ca.key, hashes.SHA256()))


def pkcs12_bytes(leaf, ca, passphrase, name="signer"):
    """The signer's key, certificate and the CA certificate as a PKCS#12 file."""
    encryption = (
        serialization.BestAvailableEncryption(passphrase.encode()) if passphrase else serialization.NoEncryption()
    )
    return pkcs12.serialize_key_and_certificates(name.encode(), leaf.key, leaf.cert, [ca.cert], encryption)


def load_or_make_ca(directory):
    """The CA kept in `directory` (ca.pem, ca.key), made on first use."""
    directory = Path(directory)
    cert_path, key_path = directory / "ca.pem", directory / "ca.key"
    if cert_path.exists() and key_path.exists():
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        return Issued(key, cert)
    directory.mkdir(parents=True, exist_ok=True)
    ca = make_ca()
    key_path.write_bytes(ca.key_pem)
    key_path.chmod(0o600)
    cert_path.write_bytes(ca.cert_pem)
    return ca


def load_issued(cert_pem, key_pem):
    return Issued(serialization.load_pem_private_key(key_pem, password=None), x509.load_pem_x509_certificate(cert_pem))
