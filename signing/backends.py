"""The signing back ends, chosen by RESULT_SIGNING_BACKEND; each gives a pyHanko `Signer` for a leader.

* `local`: a PKCS#12 file, the leader's own (`<username>.p12`) or the agency's (`<agency code>.p12`)
  in SIGNING_LOCAL_KEYSTORE_DIR (development, small deployments).
* `csc`: a remote-signing service speaking the Cloud Signature Consortium API (VNPT SmartCA,
  Viettel MySign… and the project's sandbox): credentials/list and credentials/info find the
  leader's certificate; when pyHanko has the hash to sign, credentials/authorize asks the service
  for the leader's confirmation on the phone, the approval waits for it (SIGNING_CONFIRM_TIMEOUT),
  then signatures/signHash signs the hash. docs/signing.md describes the calls.

Every failure raises `SigningError` with a message for the leader; nothing is written by this module.
"""

import base64
import hashlib
import time
from pathlib import Path

import httpx
from asn1crypto import algos
from asn1crypto import x509 as asn1_x509
from django.conf import settings
from django.utils.translation import gettext as _
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

OID_SHA256 = "2.16.840.1.101.3.4.2.1"
OID_RSA = "1.2.840.113549.1.1.1"


class SigningError(Exception):
    """The result could not be signed; `str(exc)` is the message for the leader."""


def get_backend():
    """The configured back end, or None when results are not signed (RESULT_SIGNING_BACKEND empty)."""
    name = settings.RESULT_SIGNING_BACKEND
    if not name:
        return None
    if name == "local":
        return LocalBackend()
    if name == "csc":
        return CSCBackend()
    raise SigningError(_("Unknown signing back end “%(name)s”.") % {"name": name})


class LocalBackend:
    name = "local"

    def signer_for(self, user, agency, profile, description):
        folder = Path(settings.SIGNING_LOCAL_KEYSTORE_DIR)
        for stem in (user.get_username(), agency.code):
            path = folder / f"{stem}.p12"
            if path.is_file():
                break
        else:
            raise SigningError(
                _("No certificate is configured for %(name)s or for %(agency)s: ask the administrator.")
                % {"name": user.get_full_name() or user.get_username(), "agency": agency.name}
            )
        passphrase = settings.SIGNING_LOCAL_PASSPHRASE.encode() or None
        try:
            signer = signers.SimpleSigner.load_pkcs12(str(path), passphrase=passphrase)
        except Exception:  # noqa: BLE001 (pyHanko logs the cause)
            signer = None
        if signer is None:
            raise SigningError(_("The certificate file could not be opened: ask the administrator."))
        return signer


# --- The CSC API ------------------------------------------------------------------------------


class CSCClient:
    """The few CSC v1 calls we need, over httpx (JSON POSTs with the province's API key)."""

    def __init__(self, base_url=None, api_key=None, timeout=None):
        self.base_url = (base_url or settings.SIGNING_CSC_URL).rstrip("/")
        self.api_key = api_key if api_key is not None else settings.SIGNING_CSC_API_KEY
        self.timeout = timeout or settings.SIGNING_HTTP_TIMEOUT
        if not self.base_url:
            raise SigningError(_("The remote-signing service is not configured: ask the administrator."))

    def call(self, method, body):
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            response = httpx.post(f"{self.base_url}/{method}", json=body, headers=headers, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise SigningError(
                _("The signing service cannot be reached now. The dossier was not approved; try again later.")
            ) from exc
        if response.status_code >= 500:
            message = _("The signing service is not available now (error %(status)s).") % {
                "status": response.status_code
            }
            raise SigningError(f"{message} {_('The dossier was not approved; try again later.')}")
        try:
            data = response.json()
        except ValueError as exc:
            raise SigningError(_("The signing service gave an answer that cannot be read.")) from exc
        if response.status_code >= 400:
            raise SigningError(
                _("The signing service refused: %(reason)s. The dossier was not approved.")
                % {"reason": data.get("error_description") or data.get("error") or response.status_code}
            )
        return data

    def credentials(self, user_id):
        return self.call("credentials/list", {"userID": user_id}).get("credentialIDs") or []

    def credential_info(self, credential_id):
        return self.call("credentials/info", {"credentialID": credential_id, "certificates": "chain"})

    def authorize(self, credential_id, digests, description):
        """The SAD for signing `digests`, once the holder has confirmed (polls until then)."""
        hashes = [base64.b64encode(d).decode() for d in digests]
        body = {"credentialID": credential_id, "numSignatures": len(hashes), "hash": hashes, "description": description}
        answer = self.call("credentials/authorize", body)
        deadline = time.monotonic() + settings.SIGNING_CONFIRM_TIMEOUT
        while "SAD" not in answer:
            status = answer.get("status")
            if status == "refused":
                raise SigningError(_("The signature was refused on the signing app. The dossier was not approved."))
            if status != "pending" or "transactionID" not in answer:
                raise SigningError(_("The signing service gave an answer that cannot be read."))
            if time.monotonic() >= deadline:
                raise SigningError(
                    _(
                        "No confirmation arrived from the signing app within %(seconds)d seconds. "
                        "The dossier was not approved; tap Approve again and confirm on your phone."
                    )
                    % {"seconds": settings.SIGNING_CONFIRM_TIMEOUT}
                )
            time.sleep(settings.SIGNING_CONFIRM_POLL_SECONDS)
            answer = self.call("credentials/authorize/status", {"transactionID": answer["transactionID"]})
        return answer["SAD"]

    def sign_hash(self, credential_id, sad, digests):
        body = {
            "credentialID": credential_id,
            "SAD": sad,
            "hash": [base64.b64encode(d).decode() for d in digests],
            "hashAlgo": OID_SHA256,
            "signAlgo": OID_RSA,
        }
        signatures = self.call("signatures/signHash", body).get("signatures") or []
        if len(signatures) != len(digests):
            raise SigningError(_("The signing service gave an answer that cannot be read."))
        return [base64.b64decode(s) for s in signatures]


class RemoteSigner(signers.Signer):
    """A pyHanko signer whose private key stays at the CSC service."""

    def __init__(self, client, credential_id, cert, chain, key_bits, description):
        self.client, self.credential_id, self.key_bits, self.description = client, credential_id, key_bits, description
        super().__init__(
            signing_cert=cert,
            cert_registry=SimpleCertificateStore.from_certs(chain),
            signature_mechanism=algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa"}),
        )

    async def async_sign_raw(self, data, digest_algorithm, dry_run=False):
        if dry_run:  # pyHanko measures the space to reserve
            return bytes(self.key_bits // 8)
        if digest_algorithm != "sha256":
            raise SigningError(_("The signing service gave an answer that cannot be read."))
        digest = hashlib.sha256(data).digest()
        sad = self.client.authorize(self.credential_id, [digest], self.description)
        return self.client.sign_hash(self.credential_id, sad, [digest])[0]


class CSCBackend:
    name = "csc"

    def signer_for(self, user, agency, profile, description):
        client = CSCClient()
        user_id = (profile.csc_user_id if profile else "") or user.get_username()
        credential_id = profile.csc_credential_id if profile else ""
        if not credential_id:
            listed = client.credentials(user_id)
            if not listed:
                raise SigningError(
                    _("The signing service has no certificate for the account “%(account)s”: ask the administrator.")
                    % {"account": user_id}
                )
            credential_id = listed[0]
        info = client.credential_info(credential_id)
        try:
            chain = [asn1_x509.Certificate.load(base64.b64decode(c)) for c in info["cert"]["certificates"]]
            key_bits = int(info.get("key", {}).get("len") or 2048)
        except (KeyError, TypeError, ValueError) as exc:
            raise SigningError(_("The signing service gave an answer that cannot be read.")) from exc
        if info.get("key", {}).get("status", "enabled") != "enabled" or info["cert"].get("status", "valid") != "valid":
            raise SigningError(_("The leader's certificate at the signing service is not usable (revoked or expired)."))
        return RemoteSigner(client, credential_id, chain[0], chain, key_bits, description)
