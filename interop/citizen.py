"""Citizen sign-in with the national account (OpenID Connect, authorisation-code flow, Authlib's
Django client) and "my dossiers": the dossiers whose ID number is the signed-in citizen's, without
codes or PINs. The citizen is kept in the session (`SESSION_KEY`), never as a user account: a
citizen is not an officer, and sees only dossiers with their own ID number."""

import logging

from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.django_client import OAuth
from django.conf import settings
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe
from requests import RequestException

from dossiers.lookup import lookup_result
from dossiers.models import Dossier

from . import fields as F

log = logging.getLogger(__name__)

SESSION_KEY = "dvcqg_citizen"
MAX_DOSSIERS = 100


def configured():
    return bool(settings.DVCQG_OIDC_ISSUER and settings.DVCQG_OIDC_CLIENT_ID)


def _client():
    oauth = OAuth()
    return oauth.register(
        "dvcqg",
        client_id=settings.DVCQG_OIDC_CLIENT_ID,
        client_secret=settings.DVCQG_OIDC_CLIENT_SECRET,
        server_metadata_url=f"{settings.DVCQG_OIDC_ISSUER}/.well-known/openid-configuration",
        client_kwargs={"scope": "openid profile", "timeout": settings.DVCQG_TIMEOUT},
    )


def signed_in_citizen(request):
    citizen = request.session.get(SESSION_KEY)
    return citizen if isinstance(citizen, dict) and citizen.get("id_number") else None


def _problem(request, message, status):
    return render(request, "interop/citizen_problem.html", {"message": message}, status=status)


@never_cache
@require_safe
def sign_in(request):
    if not configured():
        raise Http404(_("Signing in with the national account is not available here."))
    try:
        return _client().authorize_redirect(request, request.build_absolute_uri(reverse("interop:citizen_callback")))
    except (OAuthError, RequestException, ValueError) as exc:
        log.warning("DVCQG sign-in unavailable: %s", exc)
        return _problem(request, _("The national account service cannot be reached now. Please try again later."), 502)


@never_cache
@require_safe
def callback(request):
    if not configured():
        raise Http404
    if request.GET.get("error"):
        return _problem(request, _("Signing in was cancelled or refused."), 400)
    try:
        client = _client()
        token = client.authorize_access_token(request)
        info = client.userinfo(token=token)
    except OAuthError as exc:
        log.info("DVCQG sign-in refused: %s", exc)
        return _problem(request, _("Signing in did not succeed. Please start again."), 400)
    except (RequestException, ValueError) as exc:
        log.warning("DVCQG sign-in failed: %s", exc)
        return _problem(request, _("The national account service cannot be reached now. Please try again later."), 502)
    id_number = str(info.get(F.USERINFO_ID_NUMBER) or "").strip()
    if not id_number.isdigit() or len(id_number) < 9:
        return _problem(request, _("Your national account does not give an ID number."), 400)
    request.session.cycle_key()
    request.session[SESSION_KEY] = {
        "id_number": id_number,
        "name": str(info.get(F.USERINFO_NAME) or ""),
        "at": timezone.now().isoformat(),
    }
    return redirect("interop:my_dossiers")


@require_POST
def sign_out(request):
    request.session.pop(SESSION_KEY, None)
    request.session.cycle_key()
    return redirect("dossiers:lookup")


def _citizen_or_redirect(request):
    citizen = signed_in_citizen(request)
    if citizen is None:
        return None, redirect("interop:citizen_sign_in" if configured() else "dossiers:lookup")
    return citizen, None


@never_cache
@require_safe
def my_dossiers(request):
    citizen, response = _citizen_or_redirect(request)
    if response:
        return response
    dossiers = list(
        Dossier.objects.filter(applicant_id_number=citizen["id_number"])
        .select_related("procedure")
        .order_by("-submitted_at", "-id")[:MAX_DOSSIERS]
    )
    return render(request, "interop/my_dossiers.html", {"citizen": citizen, "dossiers": dossiers})


@never_cache
@require_safe
def my_dossier(request, code):
    citizen, response = _citizen_or_redirect(request)
    if response:
        return response
    dossier = (
        Dossier.objects.filter(applicant_id_number=citizen["id_number"])
        .select_related("procedure", "receiving_agency", "returning_agency")
        .with_code(code)
        .first()
    )
    if dossier is None:  # not theirs, or no such code: the same answer
        raise Http404(_("No dossier of yours has this code."))
    return render(request, "interop/my_dossier.html", {"citizen": citizen, "result": lookup_result(dossier)})
