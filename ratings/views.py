"""The citizen's rating pages and the leaders' list of low ratings and comments.

* `POST /danh-gia/` — from the lookup page (code + PIN in hidden fields, the level of the tapped
  button): throttled like the lookup (`dossiers.throttle`), a wrong PIN answers as an unknown code.
* `GET|POST /danh-gia/<token>/` — the link of the final SMS or e-mail (`ratings.links`).
  Both answer with the same page: the rating taken, and the optional criteria and comment.
* `POST /cong-dan/ho-so/<code>/danh-gia/` — the citizen signed in with the national account rates
  one of their own dossiers (its ID number is theirs) from "my dossiers", without code or PIN; the
  session is the credential, so Django's CSRF check applies.
* `GET /can-bo/danh-gia/` — leaders and supervisors: the ratings "not satisfied" or with a comment of
  the dossiers they may see, newest first, each linked to the dossier in the workspace.
"""

from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from dossiers import citizens, lookup, throttle
from dossiers.models import Dossier
from dossiers.views import officer_required, workspace_context

from . import links, services
from .models import CRITERIA, Channel, Level, Rating

ATTENTION_PAGE_SIZE = 50

# The two rating forms are exempt from Django's CSRF check, on purpose (they were written when the
# pages that hold them sent `Referrer-Policy: no-referrer`, so browsers posted them with
# `Origin: null`, which the check refuses; the pages now send "strict-origin"). The check guards
# actions taken with the ambient session cookie; these carry their own credential in the request
# (the code and PIN, or the signed token of the link) and use no session, so a forged cross-site
# post could only do what its sender could do directly.


def _private(response):
    response["Referrer-Policy"] = "strict-origin"  # only our origin; see dossiers.lookup
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Cache-Control"] = "no-store"
    return response


def _criteria_from(post):
    return {key: post.get(f"criterion_{key}", "") for key, _label in CRITERIA}


def _page(request, context, status=200):
    rating = context.get("rating")
    current = rating.criteria if rating is not None else {}
    context.setdefault("levels", Level.choices)
    context["criteria"] = [{"key": key, "label": label, "value": current.get(key, "")} for key, label in CRITERIA]
    if rating is not None:
        context["changeable_until"] = services.changeable_until(rating)
    return _private(render(request, "ratings/rate.html", context, status=status))


def _submit(request, dossier, channel, context):
    """Rate `dossier` from the POST and render the answer."""
    post = request.POST
    level = post.get("level", "")
    details = post.get("details") == "1"
    criteria = _criteria_from(post) if details else None
    comment = post.get("comment", "") if details else ""
    if not details:
        # The one-tap rating keeps what was given before (criteria, comment) and changes the level.
        previous = Rating.objects.filter(pk=dossier.pk).first()
        if previous is not None:
            criteria, comment = previous.criteria, previous.comment
    context["dossier"] = dossier
    try:
        rating, created = services.rate(
            dossier=dossier, level=level, criteria=criteria, comment=comment, channel=channel, request=request
        )
    except services.RatingInputError as exc:
        context["errors"] = [str(m) for messages in exc.errors.values() for m in messages]
        context["rating"] = Rating.objects.filter(pk=dossier.pk).first()
        return _page(request, context, status=400)
    except services.RatingError as exc:
        context["refused"] = str(exc.message)
        context["rating"] = Rating.objects.filter(pk=dossier.pk).first()
        return _page(request, context, status=409)
    context["rating"] = rating
    if details:
        context["message"] = _("Thank you: your answers to the criteria and your comment have been recorded.")
    elif created:
        context["message"] = _("Thank you for rating the handling of your dossier.")
    else:
        context["message"] = _("Your rating has been changed.")
    return _page(request, context)


@csrf_exempt
@never_cache
@require_POST
def rate_from_lookup(request):
    code = request.POST.get("ma", "").strip()[: lookup.MAX_CODE_LENGTH]
    pin = request.POST.get("pin", "").strip()[: lookup.MAX_PIN_LENGTH]
    context = {"code": code, "pin": pin, "action": request.path}
    if not code or not pin:
        context["not_found"] = _("Enter both the dossier code and the PIN printed on your receipt.")
        return _page(request, context, status=400)
    attempt = throttle.begin_attempt(request, code=code)
    if not attempt.allowed:
        if attempt.lock_started:
            lookup.code_locked(request, code)
        context["not_found"] = lookup.throttled_message(attempt.retry_after, attempt.code_locked)
        response = _page(request, context, status=429)
        response["Retry-After"] = str(attempt.retry_after)
        return response
    dossier = lookup.find_dossier(code, pin)
    if dossier is None:
        context["not_found"] = str(lookup.NOT_FOUND_MESSAGE)
        return _page(request, context, status=404)
    attempt.succeeded()
    return _submit(request, dossier, Channel.LOOKUP, context)


@csrf_exempt
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def rate_from_link(request, token):
    dossier_id = links.dossier_id_of(token)
    dossier = (
        Dossier.objects.select_related("procedure").filter(pk=dossier_id).first() if dossier_id is not None else None
    )
    if dossier is None:
        return _page(
            request,
            {"not_found": _("This rating link is not valid or has expired. Rate from the lookup page instead.")},
            status=404,
        )
    context = {"action": request.path, "dossier": dossier}
    if request.method == "POST":
        return _submit(request, dossier, Channel.LINK, context)
    context["rating"] = Rating.objects.filter(pk=dossier.pk).first()
    if dossier.status not in services.RATEABLE_STATUSES:
        context["refused"] = str(services.NOT_ENDED_MESSAGE)
    return _page(request, context)


@never_cache
@require_POST
def rate_as_citizen(request, code):
    id_number = citizens.id_number(request)
    if id_number is None:
        context = {"not_found": _("Sign in with your national account again to rate your dossier.")}
        return _page(request, context, status=403)
    dossier = Dossier.objects.filter(applicant_id_number=id_number).select_related("procedure").with_code(code).first()
    if dossier is None:  # not theirs, or no such code: the same answer
        return _page(request, {"not_found": _("No dossier of yours has this code.")}, status=404)
    return _submit(request, dossier, Channel.CITIZEN, {"action": request.path})


@require_safe
@officer_required
def attention(request):
    context = workspace_context(request, view_name="ratings:attention")
    if not context["may_see_stats"]:
        raise PermissionDenied(_("The citizens' ratings are for leaders and supervisors."))
    visible = Dossier.objects.visible_to(request.user)
    ratings = list(
        Rating.objects.filter(needs_attention=True, dossier__in=visible.values("pk"))
        .select_related("dossier__procedure", "dossier__competent_agency")
        .order_by("-updated_at", "-pk")[:ATTENTION_PAGE_SIZE]
    )
    context.update(ratings=ratings, page_size=ATTENTION_PAGE_SIZE, levels=dict(Level.choices))
    return render(request, "ratings/attention.html", context)
