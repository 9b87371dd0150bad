"""Filling the sandbox: online submissions made by test citizens, and a national catalogue made
from ours with a few deliberate differences (so the catalogue review has something to show)."""

import secrets

from django.db import transaction
from django.utils import timezone

from interop import fields as F
from procedures.models import Procedure

from .citizens import CITIZENS
from .models import SandboxCatalogueEntry, SandboxFile, SandboxSubmission

# A minimal valid PDF: the application form the citizen attached.
FORM_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
    b"xref\n0 4\n0000000000 65535 f \n0000000009 00000 n \n0000000052 00000 n \n0000000101 00000 n \n"
    b"trailer<</Size 4/Root 1 0 R>>\nstartxref\n164\n%%EOF\n"
)


def online_procedures():
    """(code, name) of the published procedures a citizen can submit online."""
    return list(
        Procedure.objects.filter(published=True)
        .exclude(service_level=Procedure.ServiceLevel.NONE)
        .order_by("code")
        .values_list("code", "name")[:50]
    )


def make_submission(citizen_id, procedure_code, *, agency_code="", now=None):
    """A new online submission on the sandbox portal, with one attached PDF."""
    citizen = CITIZENS[citizen_id]
    now = now or timezone.now()
    procedure = Procedure.objects.filter(code=procedure_code).first()
    with transaction.atomic():
        attached = SandboxFile.objects.create(name="to-khai.pdf", content_type="application/pdf", content=FORM_PDF)
        code = f"G22.99-{now:%y%m%d}-{secrets.randbelow(10**6):06d}"
        data = {
            F.D_CODE: code,
            F.D_PROCEDURE_CODE: procedure_code,
            F.D_PROCEDURE_NAME: procedure.name if procedure else "",
            F.D_APPLICANT: citizen["name"],
            F.D_ID_NUMBER: citizen_id,
            F.D_PHONE: citizen["phone"],
            F.D_EMAIL: citizen["email"],
            F.D_ADDRESS: "Thôn 1",
            F.D_SUBMITTED_AT: F.moment(now),
            F.D_CHANNEL: F.CHANNEL_CODES["online"],
            F.D_NOTE: "Nộp trực tuyến trên Cổng Dịch vụ công quốc gia (sandbox)",
            F.D_FILES: [{F.FILE_NAME: "Tờ khai.pdf", "file_id": attached.pk}],
        }
        if agency_code:
            data[F.D_AGENCY_CODE] = agency_code
        return SandboxSubmission.objects.create(national_code=code, data=data)


def catalogue_entry(procedure):
    return {
        F.C_CODE: procedure.code,
        F.C_NAME: procedure.name,
        F.C_LEVEL: procedure.level,
        F.C_PROCESSING_DAYS: str(procedure.processing_days),
        F.C_FEE_VND: procedure.fee_vnd,
        F.C_FEE_TEXT: procedure.fee_text,
        F.C_LEGAL_BASIS: procedure.legal_basis,
        F.C_RESULT: procedure.result,
        F.C_FIELDS: [{F.C_FIELD_CODE: procedure.field.code, F.C_FIELD_NAME: procedure.field.name}],
    }


def load_catalogue():
    """The national catalogue := ours, the first procedure renamed, the second one day faster, and
    one procedure we do not have. Returns the number of entries."""
    with transaction.atomic():
        SandboxCatalogueEntry.objects.all().delete()
        entries = [catalogue_entry(p) for p in Procedure.objects.select_related("field").order_by("code")]
        if entries:
            entries[0][F.C_NAME] = entries[0][F.C_NAME] + " (sửa đổi theo Quyết định mới)"
        if len(entries) > 1:
            days = float(entries[1][F.C_PROCESSING_DAYS])
            entries[1][F.C_PROCESSING_DAYS] = str(max(days - 1, 0))
        if entries:
            new = dict(entries[0])
            new.update({F.C_CODE: "9.999999", F.C_NAME: "Thủ tục mới công bố trên Cổng Dịch vụ công quốc gia"})
            entries.append(new)
        SandboxCatalogueEntry.objects.bulk_create(SandboxCatalogueEntry(code=e[F.C_CODE], data=e) for e in entries)
    return len(entries)
