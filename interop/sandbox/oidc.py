"""The sandbox's OpenID Connect provider (authorisation-code flow), by hand with signed JWTs
(joserfc, Authlib's JOSE library): discovery, authorise (a page to pick a test citizen), token,
user info and the key set. The client it accepts is the one configured in DVCQG_OIDC_CLIENT_ID /
DVCQG_OIDC_CLIENT_SECRET; redirect URIs must point to the host that asked."""

import base64
import hmac
import secrets
import time
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.http import HttpResponseBadRequest, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST
from joserfc import jwt
from joserfc.jwk import RSAKey

from interop import fields as F

from .citizens import CITIZENS, PASSWORD
from .models import SandboxGrant, SandboxKey

CODE_SECONDS = 300
TOKEN_SECONDS = 3600


def issuer(request):
    return request.build_absolute_uri(reverse("sandbox_dvcqg:oidc_root")).rstrip("/")


def signing_key():
    row = SandboxKey.objects.first()
    if row is None:
        kid = secrets.token_hex(8)
        key = RSAKey.generate_key(2048, parameters={"kid": kid})
        row, _ = SandboxKey.objects.get_or_create(kid=kid, defaults={"private_jwk": key.as_dict(private=True)})
    return RSAKey.import_key(row.private_jwk)


def discovery(request):
    base = issuer(request)
    return JsonResponse(
        {
            "issuer": base,
            "authorization_endpoint": request.build_absolute_uri(reverse("sandbox_dvcqg:oidc_authorize")),
            "token_endpoint": request.build_absolute_uri(reverse("sandbox_dvcqg:oidc_token")),
            "userinfo_endpoint": request.build_absolute_uri(reverse("sandbox_dvcqg:oidc_userinfo")),
            "jwks_uri": request.build_absolute_uri(reverse("sandbox_dvcqg:oidc_jwks")),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "claims_supported": ["sub", "name", F.USERINFO_ID_NUMBER],
        }
    )


def jwks(request):
    return JsonResponse({"keys": [signing_key().as_dict(private=False)]})


def _redirect_ok(request, uri):
    parts = urlsplit(uri)
    return parts.scheme in ("http", "https") and parts.netloc == request.get_host()


@never_cache
@require_http_methods(["GET", "POST"])
def authorize(request):
    params = request.POST if request.method == "POST" else request.GET
    client_id = params.get("client_id", "")
    redirect_uri = params.get("redirect_uri", "")
    if not settings.DVCQG_OIDC_CLIENT_ID or client_id != settings.DVCQG_OIDC_CLIENT_ID:
        return HttpResponseBadRequest("unknown client_id")
    if params.get("response_type") != "code" or not _redirect_ok(request, redirect_uri):
        return HttpResponseBadRequest("bad response_type or redirect_uri")
    error = ""
    if request.method == "POST":
        citizen = params.get("citizen", "")
        if citizen in CITIZENS and hmac.compare_digest(params.get("password", ""), PASSWORD):
            grant = SandboxGrant.objects.create(
                code=secrets.token_urlsafe(24),
                citizen=citizen,
                client_id=client_id,
                redirect_uri=redirect_uri,
                nonce=params.get("nonce", ""),
            )
            query = urlencode({"code": grant.code, **({"state": params["state"]} if params.get("state") else {})})
            return HttpResponseRedirect(f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{query}")
        error = "Sai tài khoản hoặc mật khẩu."
    hidden = {
        key: params.get(key, "") for key in ("client_id", "redirect_uri", "response_type", "scope", "state", "nonce")
    }
    return render(
        request,
        "interop/sandbox/authorize.html",
        {"hidden": hidden, "citizens": sorted(CITIZENS.items()), "error": error},
        status=400 if error else 200,
    )


def _client_credentials(request):
    header = request.headers.get("Authorization", "")
    if header.startswith("Basic "):
        try:
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return "", ""
        from urllib.parse import unquote

        return unquote(client_id), unquote(secret)
    return request.POST.get("client_id", ""), request.POST.get("client_secret", "")


def _error(error, status=400):
    return JsonResponse({"error": error}, status=status)


@csrf_exempt
@require_POST
def token(request):
    client_id, secret = _client_credentials(request)
    if client_id != settings.DVCQG_OIDC_CLIENT_ID or not hmac.compare_digest(secret, settings.DVCQG_OIDC_CLIENT_SECRET):
        return _error("invalid_client", 401)
    if request.POST.get("grant_type") != "authorization_code":
        return _error("unsupported_grant_type")
    grant = SandboxGrant.objects.filter(code=request.POST.get("code", ""), used=False).first()
    fresh = grant is not None and grant.created_at > timezone.now() - timedelta(seconds=CODE_SECONDS)
    if not fresh or grant.client_id != client_id or grant.redirect_uri != request.POST.get("redirect_uri", ""):
        return _error("invalid_grant")
    grant.used = True
    grant.access_token = secrets.token_urlsafe(32)
    grant.save(update_fields=["used", "access_token"])
    citizen = CITIZENS[grant.citizen]
    now = int(time.time())
    claims = {
        "iss": issuer(request),
        "sub": grant.citizen,
        "aud": client_id,
        "iat": now,
        "exp": now + TOKEN_SECONDS,
        "name": citizen["name"],
        F.USERINFO_ID_NUMBER: grant.citizen,
        **({"nonce": grant.nonce} if grant.nonce else {}),
    }
    key = signing_key()
    id_token = jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)
    return JsonResponse(
        {"access_token": grant.access_token, "token_type": "Bearer", "expires_in": TOKEN_SECONDS, "id_token": id_token}
    )


def userinfo(request):
    header = request.headers.get("Authorization", "")
    access = header[7:] if header.startswith("Bearer ") else ""
    grant = SandboxGrant.objects.filter(access_token=access).first() if access else None
    if grant is None or grant.created_at < timezone.now() - timedelta(seconds=TOKEN_SECONDS):
        return _error("invalid_token", 401)
    citizen = CITIZENS[grant.citizen]
    return JsonResponse({"sub": grant.citizen, "name": citizen["name"], F.USERINFO_ID_NUMBER: grant.citizen})
