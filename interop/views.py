"""The integration's pages: the officers' queue of sync failures (and retry), the portal's
webhook for new online submissions, and the admin's reconciliation and catalogue review pages
(interop/admin.py wires those into the admin)."""

import json

from django.contrib import messages
from django.db.models import Count, Exists, Max, OuterRef, Q
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from dossiers.models import Dossier
from dossiers.views import officer_required, visible_dossier, workspace_context

from . import fields as F
from . import inbound, sync
from .models import InboundSubmission, SyncItem, SyncState

PAGE_SIZE = 50


@require_safe
@officer_required
def failures(request):
    """Dossiers of the officer's agencies whose national sync failed or keeps being retried."""
    problem = SyncItem.objects.filter(dossier_id=OuterRef("pk")).filter(
        Q(state=SyncState.FAILED) | Q(state=SyncState.PENDING, attempts__gt=0)
    )
    dossiers = list(
        Dossier.objects.visible_to(request.user)
        .filter(Exists(problem))
        .select_related("procedure")
        .order_by("-submitted_at", "-id")[:PAGE_SIZE]
    )
    stats = {
        row["dossier_id"]: row
        for row in SyncItem.objects.filter(dossier_id__in=[d.pk for d in dossiers])
        .exclude(state=SyncState.SENT)
        .values("dossier_id")
        .annotate(
            failed=Count("id", filter=Q(state=SyncState.FAILED)),
            waiting=Count("id", filter=Q(state=SyncState.PENDING)),
            attempts=Max("attempts"),
            next_attempt=Max("next_attempt_at"),
        )
    }
    errors = dict(
        SyncItem.objects.filter(dossier_id__in=[d.pk for d in dossiers])
        .exclude(last_error="")
        .exclude(state=SyncState.SENT)
        .values_list("dossier_id", "last_error")
    )
    rows = [{"dossier": d, **stats.get(d.pk, {}), "error": errors.get(d.pk, "")} for d in dossiers]
    rejected = (
        InboundSubmission.objects.filter(state=InboundSubmission.State.REJECTED).count()
        if request.user.is_superuser
        else 0
    )
    return render(
        request, "interop/failures.html", workspace_context(request, rows=rows, rejected=rejected, page_size=PAGE_SIZE)
    )


@require_POST
@officer_required
def retry(request, code):
    dossier = visible_dossier(request, code)
    count = sync.retry(SyncItem.objects.filter(dossier_id=dossier.pk))
    if count:
        messages.success(request, _("The synchronisation with the national portal will be tried again now."))
    else:
        messages.info(request, _("Nothing is waiting to be sent to the national portal."))
    if request.POST.get("next") == "failures":
        return redirect("interop:failures")
    return redirect(dossier.get_absolute_url())


@csrf_exempt
@require_POST
def webhook(request):
    """The portal pushes new online submissions here, signed with the shared secret
    (X-DVCQG-Signature: sha256=<HMAC-SHA256 of the body>). They are kept, then imported by the
    Celery task, like fetched ones; a repeat is kept once."""
    if not inbound.verify(request.body, request.headers.get("X-DVCQG-Signature")):
        return JsonResponse({F.ERROR_CODE: "401", F.MESSAGE: _("Invalid or missing signature.")}, status=401)
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return JsonResponse({F.ERROR_CODE: "400", F.MESSAGE: _("The body is not JSON.")}, status=400)
    items = body.get(F.DATA) if isinstance(body, dict) and F.DATA in body else body
    items = items if isinstance(items, list) else [items]
    if not all(isinstance(item, dict) and item.get(F.D_CODE) for item in items):
        return JsonResponse(
            {F.ERROR_CODE: "400", F.MESSAGE: _("Every submission needs its %(field)s.") % {"field": F.D_CODE}},
            status=400,
        )
    created = inbound.receive(items, via=InboundSubmission.Via.WEBHOOK)
    return JsonResponse({F.ERROR_CODE: "00", "received": len(items), "new": len(created)}, status=202)
