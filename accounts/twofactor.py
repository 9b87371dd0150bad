"""Who needs a second factor, and which step a session still has to pass."""

from django.conf import settings
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.roles import agencies_with_role
from procedures.models import Role

VERIFY = "verify"
ENROL = "enrol"


def confirmed_device(user):
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).order_by("id").first()


def check_code(device, token):
    """Verify `token` under a row lock: a code is accepted once, and the device's failure throttle
    (exponential back-off, django-otp) counts every wrong code. Returns (ok, throttled)."""
    with transaction.atomic():
        locked = TOTPDevice.objects.select_for_update().get(pk=device.pk)
        allowed, _info = locked.verify_is_allowed()
        if not allowed:
            return False, True
        return locked.verify_token(token), False


def is_leader(user):
    return bool(agencies_with_role(user, Role.LEADER))


def required_for(user):
    """True when this user may not work without a second factor: leaders (REQUIRE_2FA_FOR_LEADERS),
    staff and superusers, who reach the admin (REQUIRE_2FA_FOR_STAFF). Both on in production."""
    if settings.REQUIRE_2FA_FOR_STAFF and (user.is_staff or user.is_superuser):
        return True
    return settings.REQUIRE_2FA_FOR_LEADERS and is_leader(user)


def pending_step(user):
    """None when the session may proceed; VERIFY when a code must be entered; ENROL when the
    user must first turn two-factor login on."""
    if not user.is_authenticated:
        return None
    is_verified = getattr(user, "is_verified", None)
    if is_verified is not None and is_verified():
        return None
    if TOTPDevice.objects.devices_for_user(user, confirmed=True).exists():
        return VERIFY
    if required_for(user):
        return ENROL
    return None
