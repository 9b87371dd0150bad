"""API tokens (`POST /api/v1/auth/token/`), django-rest-knox: hashed in the database, expiring
(API_TOKEN_TTL_HOURS), a new key on every request, revoked by `POST /api/v1/auth/logout/`, by any
logout, by a password change and in the admin (Knox › Auth tokens).

A user who has two-factor login on, or must have it (accounts.twofactor.required_for), gets a token
only with the current code of their authenticator app in `otp`: a password alone never reaches what
the web login guards with a second factor. Every token issued or refused is in the audit log.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from knox.models import AuthToken
from knox.views import LogoutView as KnoxLogoutView
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from . import twofactor
from .models import AuditEntry


class TokenRequestSerializer(AuthTokenSerializer):
    otp = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=6,
        write_only=True,
        help_text=gettext_lazy("The 6-digit code of your authenticator app (users with two-factor login)."),
    )


class TokenSerializer(serializers.Serializer):
    """The answer of `POST /api/v1/auth/token/`."""

    token = serializers.CharField(help_text=gettext_lazy("The API token: send it as `Authorization: Token <key>`."))
    expiry = serializers.DateTimeField(help_text=gettext_lazy("When the token stops working."))


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


def second_factor_error(request, user, code):
    """None when `user` may have a token; else (status, body). Checks and audits the code."""
    device = twofactor.confirmed_device(user)
    if device is None:
        if twofactor.required_for(user):
            AuditEntry.record(AuditEntry.Kind.TOKEN_REFUSED, request=request, user=user, reason="no_device")
            return 403, {"detail": _("Turn on two-factor login first (on the website), then ask for a token.")}
        return None
    code = (code or "").replace(" ", "")
    if not (len(code) == 6 and code.isdigit()):
        return 400, {"otp": [_("Enter the 6-digit code of your authenticator app.")]}
    ok, throttled = twofactor.check_code(device, code)
    if ok:
        return None
    AuditEntry.record(AuditEntry.Kind.OTP_FAILED, request=request, user=user, throttled=throttled, api=True)
    message = (
        _("Too many wrong codes. Wait a little and try again.")
        if throttled
        else _("This code is not right. Try the next one.")
    )
    return 400, {"otp": [message]}


class ObtainTokenView(APIView):
    """Wrong credentials count as django-axes failures (its backend authenticates them); a locked-out
    user name or address gets 429 from AxesMiddleware."""

    authentication_classes = []
    permission_classes = [AllowAny]
    serializer_class = TokenRequestSerializer

    @extend_schema(
        summary="Exchange a user name and password (and a two-factor code) for an API token",
        description=(
            "Send the token as `Authorization: Token <key>`. Each request gives a new key, valid until "
            "`expiry`, a logout (`POST /api/v1/auth/logout/`, or the website's) or a password change. "
            "Users with two-factor login also send `otp`, the current code of their app. After too many "
            "failures for one user name, or from one address, every attempt gets 429 until the cool-off ends."
        ),
        request=TokenRequestSerializer,
        responses={
            200: TokenSerializer,
            400: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="Missing or wrong credentials or two-factor code, or an inactive user: field → [messages].",
            ),
            403: OpenApiResponse(DetailSerializer, description="Two-factor login is required but not turned on."),
            429: OpenApiResponse(DetailSerializer, description="Too many failed logins; try again later."),
        },
    )
    def post(self, request, *args, **kwargs):
        serializer = TokenRequestSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        refused = second_factor_error(request, user, serializer.validated_data.get("otp"))
        if refused is not None:
            status, body = refused
            return Response(body, status=status)
        instance, token = AuthToken.objects.create(user)
        expiry = instance.expiry.isoformat() if instance.expiry else None
        AuditEntry.record(AuditEntry.Kind.TOKEN_CREATED, request=request, user=user, expiry=expiry)
        return Response(TokenSerializer({"token": token, "expiry": instance.expiry}).data)


class LogoutTokenView(KnoxLogoutView):
    """Revokes the token sent (and, as every logout does, the user's other tokens)."""

    @extend_schema(
        summary="Revoke the API token sent (log out)",
        request=None,
        responses={
            204: None,
            401: OpenApiResponse(DetailSerializer, description="No token, or an unknown, expired or revoked one."),
            403: OpenApiResponse(DetailSerializer, description="A session whose two-factor login is not finished."),
        },
    )
    def post(self, request, format=None):
        return super().post(request, format=format)


def revoke_all(user, reason, request=None):
    count, _detail = AuthToken.objects.filter(user=user).delete()
    if count:
        AuditEntry.record(AuditEntry.Kind.TOKEN_REVOKED, request=request, user=user, reason=reason, count=count)
    return count


@receiver(user_logged_out, dispatch_uid="accounts.tokens.logout")
def revoke_on_logout(sender, request, user, **kwargs):
    if user is not None and user.pk:
        revoke_all(user, "logout", request=request if hasattr(request, "META") else None)


@receiver(pre_save, sender=get_user_model(), dispatch_uid="accounts.tokens.password_before")
def remember_password(sender, instance, raw=False, update_fields=None, **kwargs):
    if instance.pk and not raw and (update_fields is None or "password" in update_fields):
        instance._motcua_old_password = (
            sender._default_manager.filter(pk=instance.pk).values_list("password", flat=True).first()
        )


@receiver(post_save, sender=get_user_model(), dispatch_uid="accounts.tokens.password_after")
def revoke_on_password_change(sender, instance, created, raw=False, **kwargs):
    old = getattr(instance, "_motcua_old_password", None)
    if not created and not raw and old is not None and old != instance.password:
        revoke_all(instance, "password_change")
    instance._motcua_old_password = instance.password
