"""A dossier's result document: its number in the agency's register, and its PDF before signing.

The document is made when the specialist proposes the result (or uploads their own PDF) and gets
the next number of the competent agency's register of issued documents for that year. A corrected
result (`correct_result`, Art. 23.1) is a new document from the template, with the next number,
that replaces the signed one (`correction_document`). Its PDF is
either the procedure's template (signing.ResultTemplate, edited in the admin) filled from the
dossier — rendered at signing time, so it carries the signer and the date — or the specialist's
uploaded PDF (checked like every attachment: dossiers.attachments.validate_upload).
"""

import hashlib
import uuid

from django.db import transaction
from django.db.models import F
from django.template import Context, Template
from django.template.loader import render_to_string
from django.utils import timezone
from weasyprint import HTML
from weasyprint.urls import URLFetcher

from dossiers import attachments
from dossiers.pdf import fmt_dateline

from . import pades
from .models import IssuedRegister, ResultDocument, ResultTemplate

# WeasyPrint lays out in CSS pixels (96 per inch); PDF boxes are in points (72 per inch).
PX_TO_PT = 0.75
BOX_ANCHOR = "signature-box"


def next_number(agency, year, symbol):
    """'<n>/<symbol>-<agency code>': the next number of the agency's register for `year`. The UPDATE
    locks the register row until the caller's transaction ends: numbers never repeat."""
    with transaction.atomic():
        IssuedRegister.objects.get_or_create(agency=agency, year=year)
        IssuedRegister.objects.filter(agency=agency, year=year).update(last_value=F("last_value") + 1)
        value = IssuedRegister.objects.filter(agency=agency, year=year).values_list("last_value", flat=True).get()
    return f"{value}/{year}/{symbol}-{agency.code}"


def ensure_document(dossier, now=None):
    """The dossier's result document in force, made (with its number) when it has none."""
    existing = ResultDocument.objects.current(dossier)
    if existing is not None:
        return existing
    now = now or timezone.now()
    template = ResultTemplate.for_procedure(dossier.procedure_id)
    with transaction.atomic():
        number = next_number(dossier.competent_agency, timezone.localdate(now).year, template.symbol)
        document, _created = ResultDocument.objects.get_or_create(
            dossier=dossier, replaces=None, defaults={"agency": dossier.competent_agency, "number": number}
        )
    return document


def correction_document(dossier, now=None):
    """The document that will carry the corrected result (Art. 23.1): a new document with the next
    number of the register, replacing the signed one in force. A correction whose signature failed
    is reused (no second number); a dossier without a signed result gets its first document."""
    current = ResultDocument.objects.current(dossier)
    if current is None or not current.is_signed:
        return ensure_document(dossier, now)
    now = now or timezone.now()
    template = ResultTemplate.for_procedure(dossier.procedure_id)
    with transaction.atomic():
        number = next_number(current.agency, timezone.localdate(now).year, template.symbol)
        document, _created = ResultDocument.objects.get_or_create(
            replaces=current, defaults={"dossier": dossier, "agency": current.agency, "number": number}
        )
    return document


def attach_upload(document, uploaded_file):
    """Use the specialist's PDF as the result (checked like any attachment; PDF only)."""
    content_type, ext = attachments.validate_upload(uploaded_file)
    if ext != "pdf":
        raise attachments.AttachmentRejected(_pdf_only())
    old = document.uploaded_file.name
    document.uploaded_file.save("result.pdf", uploaded_file, save=False)
    document.uploaded_name = attachments.sanitize_name(uploaded_file.name)
    document.source = ResultDocument.Source.UPLOAD
    document.save(update_fields=["uploaded_file", "uploaded_name", "source"])
    if old:
        document.uploaded_file.storage.delete(old)
    return document


def _pdf_only():
    from django.utils.translation import gettext as _  # noqa: PLC0415

    return _("The result must be a PDF file.")


def template_context(document, signer_name, signer_title, moment, decision=None):
    dossier = document.dossier
    snapshot = dossier.procedure_snapshot or {}
    return {
        "applicant_name": dossier.applicant_name,
        "applicant_address": dossier.applicant_address,
        "procedure_name": snapshot.get("name") or dossier.procedure.name,
        "procedure_code": snapshot.get("code") or dossier.procedure.code,
        "dossier_code": dossier.code,
        "decision": dossier.result_summary if decision is None else decision,
        "agency_name": document.agency.name,
        "number": document.number,
        "date": fmt_dateline(moment),
        "signer_name": signer_name,
        "signer_title": signer_title,
        "replaces_number": document.replaces.number if document.replaces_id else "",
    }


def render_unsigned(document, *, signer_name, signer_title, moment, decision=None):
    """(pdf bytes, page index, box) of the document before signing: the box is where the visible
    signature goes (the template reserves it; an upload gets the bottom right of its last page)."""
    if document.source == ResultDocument.Source.UPLOAD and document.uploaded_file:
        with document.uploaded_file.open("rb") as handle:
            data = handle.read()
        page, box = pades.upload_box(data)
        return data, page, box
    template = ResultTemplate.for_procedure(document.dossier.procedure_id)
    context = template_context(document, signer_name, signer_title, moment, decision)
    # Plain text here; the page's template escapes it.
    body = Template(template.body).render(Context(context, autoescape=False))
    agency = document.agency
    html = render_to_string(
        "pdf/result.html",
        {
            **context,
            "title": template.title,
            "body": body,
            "agency": agency,
            "parent_name": agency.parent.name if agency.parent_id else "",
            "box_width": pades.BLOCK_WIDTH,
            "box_height": pades.BLOCK_HEIGHT,
        },
    )
    rendered = HTML(string=html, url_fetcher=URLFetcher(allowed_protocols={"data"})).render()
    page_index, box = len(rendered.pages) - 1, None
    for index, page in enumerate(rendered.pages):
        if BOX_ANCHOR in page.anchors:
            x, y = page.anchors[BOX_ANCHOR][:2]
            top = (page.height - y) * PX_TO_PT
            left = x * PX_TO_PT
            page_index = index
            box = (int(left), int(top - pades.BLOCK_HEIGHT), int(left + pades.BLOCK_WIDTH), int(top))
    data = rendered.write_pdf()
    if box is None:  # an edited template lost the box: fall back to the bottom right
        page_index, box = pades.upload_box(data)
    return data, page_index, box


def signed_name():
    return f"results/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.pdf"


def sha256(data):
    return hashlib.sha256(data).hexdigest()
