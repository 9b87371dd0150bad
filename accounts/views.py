"""Two-factor login: the code step after the password, and the enrolment page.

The password step is Django's LoginView (`/dang-nhap/`, throttled by django-axes). When the
user has a confirmed TOTP device, TwoFactorMiddleware sends the fresh session here before any
other page; leaders without a device (REQUIRE_2FA_FOR_LEADERS) are sent to enrolment.
"""

from base64 import b32encode

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import twofactor
from .forms import TokenForm
from .models import AuditEntry

DEVICE_NAME = "authenticator"


def _next_url(request):
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    # Only a path on this site: `redirect()` would take any other word for a URL name (a 500).
    if candidate.startswith("/") and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return settings.LOGIN_REDIRECT_URL


_check_code = twofactor.check_code


def _mark_verified(request, device):
    request.session.cycle_key()  # a new session id for the more privileged session
    otp_login(request, device)


def _throttled_message():
    return _("Too many wrong codes. Wait a little and try again.")


@never_cache
@login_required
def otp_verify(request):
    """Second step of the login: the code from the authenticator app."""
    if request.user.is_verified():
        return redirect(_next_url(request))
    device = twofactor.confirmed_device(request.user)
    if device is None:
        return redirect("accounts:two-factor" if twofactor.required_for(request.user) else _next_url(request))
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        ok, throttled = _check_code(device, form.cleaned_data["token"])
        if ok:
            _mark_verified(request, device)
            AuditEntry.record(AuditEntry.Kind.OTP_VERIFIED, request=request)
            return redirect(_next_url(request))
        AuditEntry.record(AuditEntry.Kind.OTP_FAILED, request=request, throttled=throttled)
        form.add_error("token", _throttled_message() if throttled else _("This code is not right. Try the next one."))
    return render(
        request,
        "accounts/otp_verify.html",
        {"form": form, "next": _next_url(request)},
        status=400 if form.errors else 200,
    )


def _pending_device(user):
    """The user's unconfirmed device: reused so a page reload keeps the QR code already scanned."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def _enabled_page(request, device, required):
    """Two-factor login is on: the status, and (for non-leaders) turning it off with a code."""
    disabling = request.method == "POST" and request.POST.get("action") == "disable" and not required
    form = TokenForm(request.POST if disabling else None)
    if disabling and form.is_valid():
        ok, throttled = _check_code(device, form.cleaned_data["token"])
        if ok:
            TOTPDevice.objects.filter(user=request.user).delete()
            AuditEntry.record(AuditEntry.Kind.OTP_REMOVED, request=request)
            messages.success(request, _("Two-factor login is off."))
            return redirect("accounts:two-factor")
        AuditEntry.record(AuditEntry.Kind.OTP_FAILED, request=request, throttled=throttled)
        form.add_error("token", _throttled_message() if throttled else _("This code is not right."))
    return render(
        request,
        "accounts/two_factor.html",
        {"enabled": True, "required": required, "form": form, "next": _next_url(request)},
        status=400 if form.errors else 200,
    )


@never_cache
@login_required
def two_factor(request):
    """Turn two-factor login on (QR code + a first code), or off (with a current code)."""
    user = request.user
    device = twofactor.confirmed_device(user)
    required = twofactor.required_for(user)
    if device is not None and not user.is_verified():
        # Never let a password-only session add or remove a device.
        return redirect("accounts:otp-verify")
    if device is not None:
        return _enabled_page(request, device, required)

    form = TokenForm(request.POST or None)
    pending = _pending_device(user)
    if request.method == "POST" and form.is_valid():
        ok, throttled = _check_code(pending, form.cleaned_data["token"])
        if ok:
            TOTPDevice.objects.filter(pk=pending.pk).update(confirmed=True)
            pending.confirmed = True
            _mark_verified(request, pending)
            AuditEntry.record(AuditEntry.Kind.OTP_ENROLLED, request=request)
            messages.success(
                request, _("Two-factor login is on. From now on you will enter a code after your password.")
            )
            return redirect(_next_url(request))
        form.add_error("token", _throttled_message() if throttled else _("This code is not right. Try the next one."))
    uri = pending.config_url
    qr = segno.make(uri, error="m")
    secret = b32encode(pending.bin_key).decode()
    return render(
        request,
        "accounts/two_factor.html",
        {
            "enabled": False,
            "required": required,
            "form": form,
            "qr_svg": qr.svg_inline(scale=5, dark="#000", light="#fff"),
            "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            "next": _next_url(request),
        },
        status=400 if form.errors else 200,
    )


def lockout(request, original_response=None, credentials=None):
    """django-axes' answer once a user name + address pair is locked out: 429, a page in plain words."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    if request.path.startswith("/api/"):
        return JsonResponse(
            {
                "detail": ngettext(
                    "Too many failed logins. Try again in %(minutes)d minute.",
                    "Too many failed logins. Try again in %(minutes)d minutes.",
                    minutes,
                )
                % {"minutes": minutes}
            },
            status=429,
        )
    return render(request, "accounts/lockout.html", {"minutes": minutes}, status=429)
