"""The project's own remote-signing service: a small CSC API server, for `make run` and the tests.

Mounted under /sandbox/csc/ only when SIGNING_CSC_SANDBOX is on (never in production). It speaks
the calls the `csc` back end makes (signing/backends.py), under /sandbox/csc/csc/v1/:
`info`, `credentials/list`, `credentials/info`, `credentials/authorize` (answers "pending": the
holder confirms on the phone), `credentials/authorize/status`, `signatures/signHash`; and an RFC 3161
timestamp authority at /sandbox/csc/tsa. Its certificates come from its own CA in
SIGNING_SANDBOX_DIR (ca.pem, made on first use); one credential per user ID, made on first use.

/sandbox/csc/ is the holder's "phone": it lists the signatures waiting for confirmation with
Confirm and Refuse buttons, and sets a fault to inject: `down` (every call answers 503),
`refuse` (every authorisation is refused), `slow` (confirmations never arrive in time).
SIGNING_SANDBOX_AUTO_CONFIRM_SECONDS confirms by itself after that many seconds (0: never).
"""

import base64
import json
import secrets
from datetime import timedelta
from functools import wraps
from pathlib import Path

from asn1crypto import keys as asn1_keys
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, utils
from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from pyhanko.sign.timestamps import DummyTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

from . import pki
from .models import SandboxAuthorization, SandboxCredential

FAULTS = ("", "down", "refuse", "slow")
FAULT_KEY = "signing-sandbox-fault"


def ca_path():
    return Path(settings.SIGNING_SANDBOX_DIR) / "ca.pem"


def _ca():
    return pki.load_or_make_ca(settings.SIGNING_SANDBOX_DIR)


def fault():
    value = cache.get(FAULT_KEY)
    return settings.SIGNING_SANDBOX_FAULT if value is None else value


def set_fault(value):
    cache.set(FAULT_KEY, value if value in FAULTS else "", None)


def _error(status, error, description):
    return JsonResponse({"error": error, "error_description": description}, status=status)


def api(view):
    """A CSC call: JSON body, the API key, and the injected fault."""

    @csrf_exempt
    @require_POST
    @wraps(view)
    def wrapper(request):
        if not settings.SIGNING_CSC_SANDBOX:
            raise Http404
        if fault() == "down":
            return _error(503, "temporarily_unavailable", "The sandbox is down (fault injection).")
        if request.headers.get("Authorization") != f"Bearer {settings.SIGNING_CSC_API_KEY}":
            return _error(401, "invalid_token", "Wrong API key.")
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return _error(400, "invalid_request", "The body is not JSON.")
        if not isinstance(body, dict):
            return _error(400, "invalid_request", "The body is not a JSON object.")
        return view(request, body)

    return wrapper


def credential_for(user_id):
    """The user's sandbox credential, made (key and certificate from the sandbox CA) on first use."""
    existing = SandboxCredential.objects.filter(user_id=user_id).first()
    if existing is not None:
        return existing
    user = get_user_model().objects.filter(username=user_id).first()
    name = (user.get_full_name() if user else "") or user_id
    leaf = pki.issue(_ca(), name, organisation="Một Cửa CSC sandbox")
    return SandboxCredential.objects.create(
        user_id=user_id,
        credential_id=secrets.token_hex(8),
        cert_pem=leaf.cert_pem.decode(),
        key_pem=leaf.key_pem.decode(),
    )


def _credential(body):
    return SandboxCredential.objects.filter(credential_id=str(body.get("credentialID") or "")).first()


def _b64_der(pem):
    return base64.b64encode(x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)).decode()


@api
def info(request, body):
    return JsonResponse(
        {
            "specs": "1.0.4.0",
            "name": "Một Cửa CSC sandbox",
            "region": "VN",
            "lang": "vi-VN",
            "authType": ["external"],
            "methods": [
                "credentials/list",
                "credentials/info",
                "credentials/authorize",
                "credentials/authorize/status",
                "signatures/signHash",
            ],
        }
    )


@api
def credentials_list(request, body):
    user_id = str(body.get("userID") or "").strip()
    if not user_id:
        return _error(400, "invalid_request", "Missing userID.")
    return JsonResponse({"credentialIDs": [credential_for(user_id).credential_id]})


@api
def credentials_info(request, body):
    credential = _credential(body)
    if credential is None:
        return _error(400, "invalid_request", "Unknown credentialID.")
    cert = x509.load_pem_x509_certificate(credential.cert_pem.encode())
    return JsonResponse(
        {
            "key": {"status": "enabled", "algo": ["1.2.840.113549.1.1.1"], "len": 2048},
            "cert": {
                "status": "valid",
                "certificates": [_b64_der(credential.cert_pem.encode()), _b64_der(ca_path().read_bytes())],
                "subjectDN": cert.subject.rfc4514_string(),
                "validFrom": cert.not_valid_before_utc.strftime("%Y%m%d%H%M%SZ"),
                "validTo": cert.not_valid_after_utc.strftime("%Y%m%d%H%M%SZ"),
            },
            "authMode": "oauth2code",
            "SCAL": "2",
            "multisign": 1,
        }
    )


@api
def authorize(request, body):
    credential = _credential(body)
    hashes_ = body.get("hash")
    if credential is None or not isinstance(hashes_, list) or not hashes_:
        return _error(400, "invalid_request", "Unknown credentialID or missing hash.")
    request_ = SandboxAuthorization.objects.create(
        transaction_id=secrets.token_hex(12),
        credential=credential,
        hashes=[str(h) for h in hashes_],
        description=str(body.get("description") or "")[:255],
    )
    return JsonResponse({"status": "pending", "transactionID": request_.transaction_id, "expiresIn": 300}, status=202)


@api
def authorize_status(request, body):
    request_ = SandboxAuthorization.objects.filter(transaction_id=str(body.get("transactionID") or "")).first()
    if request_ is None:
        return _error(400, "invalid_request", "Unknown transactionID.")
    current = fault()
    if request_.state == SandboxAuthorization.State.PENDING:
        age = timezone.now() - request_.created_at
        auto = settings.SIGNING_SANDBOX_AUTO_CONFIRM_SECONDS
        if current == "refuse":
            _decide(request_, confirm=False)
        elif current != "slow" and auto and age >= timedelta(seconds=auto):
            _decide(request_, confirm=True)
    if request_.state == SandboxAuthorization.State.CONFIRMED and current != "slow":
        return JsonResponse({"status": "confirmed", "SAD": request_.sad})
    if request_.state == SandboxAuthorization.State.REFUSED:
        return JsonResponse({"status": "refused"})
    return JsonResponse({"status": "pending", "transactionID": request_.transaction_id})


def _decide(request_, *, confirm):
    request_.state = SandboxAuthorization.State.CONFIRMED if confirm else SandboxAuthorization.State.REFUSED
    request_.sad = secrets.token_hex(16) if confirm else ""
    request_.save(update_fields=["state", "sad"])


@api
def sign_hash(request, body):
    credential = _credential(body)
    sad = str(body.get("SAD") or "")
    hashes_ = body.get("hash")
    if credential is None or not sad or not isinstance(hashes_, list):
        return _error(400, "invalid_request", "Unknown credentialID, missing SAD or hash.")
    if body.get("hashAlgo") != "2.16.840.1.101.3.4.2.1":
        return _error(400, "invalid_request", "Only SHA-256 is supported.")
    granted = SandboxAuthorization.objects.filter(
        credential=credential, sad=sad, state=SandboxAuthorization.State.CONFIRMED, used=False
    ).first()
    if granted is None or any(str(h) not in granted.hashes for h in hashes_):
        return _error(400, "invalid_request", "The SAD does not authorise these hashes.")
    SandboxAuthorization.objects.filter(pk=granted.pk).update(used=True)
    key = load_pem_private_key(credential.key_pem.encode(), password=None)
    signatures = [
        base64.b64encode(key.sign(base64.b64decode(h), padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))).decode()
        for h in hashes_
    ]
    return JsonResponse({"signatures": signatures})


# --- The timestamp authority (RFC 3161) ----------------------------------------------------------


def _tsa():
    folder = Path(settings.SIGNING_SANDBOX_DIR)
    cert_path, key_path = folder / "tsa.pem", folder / "tsa.key"
    ca = _ca()
    if not (cert_path.exists() and key_path.exists()):
        issued = pki.issue(ca, "Một Cửa sandbox TSA", timestamping=True, days=3650)
        key_path.write_bytes(issued.key_pem)
        key_path.chmod(0o600)
        cert_path.write_bytes(issued.cert_pem)
    cert = asn1_x509.Certificate.load(x509.load_pem_x509_certificate(cert_path.read_bytes()).public_bytes(Encoding.DER))
    key = asn1_keys.PrivateKeyInfo.load(
        load_pem_private_key(key_path.read_bytes(), password=None).private_bytes(
            Encoding.DER, pki.serialization.PrivateFormat.PKCS8, pki.serialization.NoEncryption()
        )
    )
    ca_cert = asn1_x509.Certificate.load(ca.cert.public_bytes(Encoding.DER))
    return DummyTimeStamper(tsa_cert=cert, tsa_key=key, certs_to_embed=SimpleCertificateStore.from_certs([ca_cert]))


@csrf_exempt
@require_POST
def tsa(request):
    if not settings.SIGNING_CSC_SANDBOX:
        raise Http404
    if fault() == "down":
        return HttpResponse(status=503)
    try:
        req = tsp.TimeStampReq.load(request.body)
        req.native  # noqa: B018 (parse it all now)
    except Exception:  # noqa: BLE001
        return HttpResponse(status=400)
    response = _tsa().request_tsa_response(req)
    return HttpResponse(response.dump(), content_type="application/timestamp-reply")


# --- The holder's "phone" ----------------------------------------------------------------------


def phone(request):
    """Pending signatures with Confirm / Refuse, and the fault switch."""
    if not settings.SIGNING_CSC_SANDBOX:
        raise Http404
    if request.method == "POST":
        if "fault" in request.POST:
            set_fault(request.POST["fault"])
        else:
            pending = SandboxAuthorization.objects.filter(
                transaction_id=request.POST.get("transaction", ""), state=SandboxAuthorization.State.PENDING
            ).first()
            if pending is not None:
                _decide(pending, confirm=request.POST.get("decision") == "confirm")
        return redirect("signing-sandbox:phone")
    pending = SandboxAuthorization.objects.filter(state=SandboxAuthorization.State.PENDING).select_related(
        "credential"
    )[:20]
    return render(request, "signing/sandbox_phone.html", {"pending": pending, "fault": fault(), "faults": FAULTS})


app_name = "signing-sandbox"
urlpatterns = [
    path("", phone, name="phone"),
    path("csc/v1/info", info),
    path("csc/v1/credentials/list", credentials_list),
    path("csc/v1/credentials/info", credentials_info),
    path("csc/v1/credentials/authorize", authorize),
    path("csc/v1/credentials/authorize/status", authorize_status),
    path("csc/v1/signatures/signHash", sign_hash),
    path("tsa", tsa, name="tsa"),
]
