"""Pages of the signing app.

Public (no login): the verification page `/xac-thuc/<code>` (what the QR code on a signed result
opens; throttled per client address like the lookup, dossiers.throttle) with its upload check,
and the citizen's download of the signed result (`/tra-cuu/ket-qua/<link>/`, a link the lookup
gives the holder of code + PIN, valid for SIGNING_RESULT_LINK_SECONDS).

Officers (in scope): the signed file, the draft's preview, the specialist's own PDF as the result,
and the desk's digitisation of the received documents.
"""

import io

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts import roles as permissions
from accounts.models import AuditEntry
from dossiers import attachments, lookup, throttle
from dossiers.models import Dossier, DossierEvent, Stage
from dossiers.views import officer_required, visible_dossier
from procedures.models import Role

from . import documents, pades, services
from .models import Digitisation, ResultDocument

MAX_CODE_LENGTH = 16


def pdf_response(data, filename, *, inline=False):
    response = FileResponse(
        io.BytesIO(data), as_attachment=not inline, filename=filename, content_type="application/pdf"
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def signed_bytes(document):
    try:
        with document.signed_file.open("rb") as handle:
            return handle.read()
    except (FileNotFoundError, ValueError) as exc:
        raise Http404(_("The file is no longer available.")) from exc


def file_name(document):
    return f"ket-qua-{document.dossier.code}.pdf"


# --- Verification (public) ----------------------------------------------------------------------


def check_document(document, data=None):
    """What the verification page says about the stored file, or about `data` (an upload)."""
    stored = signed_bytes(document) if data is None else data
    report = pades.validate(stored)
    same = documents.sha256(stored) == document.sha256
    return {
        "same_file": same,
        "intact": same and report.ok,
        "signature_intact": report.ok,
        "certificate_valid": report.certificate_valid,
        "timestamped": report.timestamped,
        "signing_time": report.signing_time,
    }


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def verify(request, code):
    code = (code or "").strip().upper()[:MAX_CODE_LENGTH]
    attempt = throttle.begin_attempt(request)
    if not attempt.allowed:
        response = render(
            request,
            "signing/verify.html",
            {"throttled_message": lookup.throttled_message(attempt.retry_after)},
            status=429,
        )
        response["Retry-After"] = str(attempt.retry_after)
        return response
    document = (
        ResultDocument.objects.filter(verification_code=code)
        .exclude(sha256="")
        .select_related("dossier", "dossier__procedure", "agency", "replacement")
        .first()
    )
    if document is None:
        return render(request, "signing/verify.html", {"code": code, "not_found": True}, status=404)
    attempt.succeeded()
    replacement = getattr(document, "replacement", None)
    context = {
        "code": code,
        "document": document,
        "dossier": document.dossier,
        "check": check_document(document),
        # A signed correction replaced this document (Art. 23.1): the holder is told where it is.
        "replaced_by": replacement if replacement is not None and replacement.is_signed else None,
    }
    upload_error = None
    if request.method == "POST":
        uploaded = request.FILES.get("file")
        if uploaded is None or not uploaded.size:
            upload_error = _("Choose the PDF file to check.")
        elif uploaded.size > settings.ATTACHMENT_MAX_BYTES:
            upload_error = _("The file is too large to be this result.")
        else:
            context["upload"] = check_document(document, uploaded.read())
    context["upload_error"] = upload_error
    AuditEntry.record(
        AuditEntry.Kind.RESULT_VERIFIED,
        request=request,
        document=document.number,
        verification_code=code,
        intact=context["check"]["intact"],
        upload=None if "upload" not in context else context["upload"]["intact"],
    )
    response = render(request, "signing/verify.html", context, status=400 if upload_error else 200)
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


@never_cache
@require_safe
def download(request, token):
    """The citizen's signed result, from the link the lookup gave them."""
    document = services.document_from_token(token)
    if document is None or not services.citizen_may_download(document.dossier):
        return render(request, "signing/link_expired.html", status=404)
    response = pdf_response(signed_bytes(document), file_name(document))
    response["Referrer-Policy"] = "strict-origin"  # only our origin; see dossiers.lookup
    return response


# --- Officers -----------------------------------------------------------------------------------


@require_safe
@officer_required
def result_pdf(request, code):
    dossier = visible_dossier(request, code)
    document = ResultDocument.objects.current_signed(dossier)
    if document is None:
        raise Http404(_("This dossier has no signed result yet."))
    return pdf_response(signed_bytes(document), file_name(document))


@require_safe
@officer_required
def preview_pdf(request, code):
    """The result as it will be signed (without the signature), for the leader and the specialist."""
    dossier = visible_dossier(request, code)
    document = ResultDocument.objects.current(dossier)
    if document is None:
        raise Http404(_("This dossier has no result document yet."))
    profile, name, title = services.signer_identity(request.user, document.agency)
    data, _page, _box = documents.render_unsigned(document, signer_name=name, signer_title=title, moment=timezone.now())
    return pdf_response(data, f"du-thao-{dossier.code}.pdf", inline=True)


def may_prepare_result(user, dossier):
    return (
        dossier.stage in (Stage.PROCESSING, Stage.APPROVAL)
        and dossier.is_open
        and permissions.has_role(user, Role.SPECIALIST, dossier.competent_agency_id)
    )


@require_POST
@officer_required
def upload_result(request, code):
    """The specialist's own PDF as the result document (before the leader signs it)."""
    dossier = visible_dossier(request, code)
    if not may_prepare_result(request.user, dossier):
        raise PermissionDenied(_("Only the competent agency's specialist prepares the result."))
    uploaded = request.FILES.get("result_file")
    if uploaded is None:
        messages.error(request, _("Choose the PDF file of the result."))
        return redirect(dossier)
    document = documents.ensure_document(dossier)
    if document.is_signed:
        messages.error(request, _("This result is already signed."))
        return redirect(dossier)
    try:
        documents.attach_upload(document, uploaded)
    except attachments.AttachmentRejected as exc:
        messages.error(request, str(exc))
        return redirect(dossier)
    messages.success(request, _("The uploaded PDF is the result document %(number)s.") % {"number": document.number})
    return redirect(dossier)


def may_digitise(user, dossier):
    return permissions.has_role(user, Role.RECEPTION, dossier.receiving_agency_id)


@require_http_methods(["GET", "HEAD", "POST"])
@officer_required
def digitise(request, code):
    """The desk scans each paper document of the checklist and marks the dossier as digitised
    (Circular 01/2023/TT-VPCP). Every scan is an attachment; marking writes a "digitise" event."""
    dossier = visible_dossier(request, code)
    if not may_digitise(request.user, dossier):
        raise PermissionDenied(_("Only the receiving desk digitises the dossier."))
    checklist = [d for d in (dossier.documents or []) if isinstance(d, dict)]
    errors = {}
    if request.method == "POST":
        files = [(index, request.FILES.get(f"scan-{index}")) for index in range(len(checklist))]
        files += [(None, f) for f in request.FILES.getlist("scan-other")]
        files = [(index, f) for index, f in files if f]
        try:
            with transaction.atomic():
                for index, uploaded in files:
                    try:
                        attachments.add_attachment(dossier=dossier, uploaded_file=uploaded, actor=request.user)
                    except attachments.AttachmentRejected as exc:
                        errors[index if index is not None else "other"] = str(exc)
                        raise
                if request.POST.get("complete"):
                    mark_digitised(dossier, request.user, scans=len(files))
        except attachments.AttachmentRejected:
            pass
        else:
            messages.success(request, _("Scans saved for dossier %(code)s.") % {"code": dossier.code})
            return redirect(dossier)
    context = {
        "dossier": dossier,
        "checklist": [{"index": i, "item": item, "error": errors.get(i)} for i, item in enumerate(checklist)],
        "other_error": errors.get("other"),
        "digitisation": Digitisation.objects.filter(dossier=dossier).first(),
        "scans": dossier.attachments.count(),
    }
    return render(request, "signing/digitise.html", context, status=400 if errors else 200)


def mark_digitised(dossier, actor, scans=0, now=None):
    """Mark `dossier` as digitised (once) with a "digitise" event in its history."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Dossier.objects.select_for_update(of=("self",)).get(pk=dossier.pk)
        if Digitisation.objects.filter(dossier=locked).exists():
            return None
        digitisation = Digitisation.objects.create(
            dossier=locked, digitised_by=actor, digitised_at=now, agency_id=locked.receiving_agency_id, scans=scans
        )
        DossierEvent.objects.create(
            dossier=locked,
            actor=actor,
            action="digitise",
            from_status=locked.status,
            to_status=locked.status,
            from_stage=locked.stage,
            to_stage=locked.stage,
            data={"scans": locked.attachments.count()},
            created_at=now,
        )
    return digitisation
