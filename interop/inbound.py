"""Online submissions from the national portal become status-1 dossiers.

They arrive two ways, both only writing an `InboundSubmission` row (unique national reference, so
a submission fetched twice, pushed twice or both is kept once): `fetch` asks the portal for the
submissions it has not handed over yet; the webhook (`views.webhook`) receives one pushed by the
portal, signed. `import_pending` then downloads each one's files (outside any transaction),
creates the dossier and its attachments in one transaction (`dossiers.services.dossier_create`,
channel online, status 1, a provisional reference until the desk accepts it) and tells the portal
our reference. The desk accepts it (status 2: the Art. 28 code and the period start then) or
returns it, within 8 working hours (Art. 17.2).
"""

import hashlib
import hmac
import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from dossiers import attachments
from dossiers.models import Channel
from dossiers.services import ActionInputError, dossier_create
from procedures.models import Agency, Procedure

from . import fields as F
from .client import Portal, PortalError
from .models import InboundSubmission

log = logging.getLogger(__name__)


def signature(body, secret=None):
    """The webhook's signature: `sha256=<hex HMAC-SHA256 of the raw body>`."""
    key = (settings.DVCQG_WEBHOOK_SECRET if secret is None else secret).encode()
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify(body, header):
    if not settings.DVCQG_WEBHOOK_SECRET or not header:
        return False
    return hmac.compare_digest(signature(body), str(header).strip())


def receive(payloads, via=InboundSubmission.Via.FETCH):
    """Keep each payload (a dict with the national code) once. Returns the new rows."""
    created = []
    for payload in payloads:
        code = str((payload or {}).get(F.D_CODE) or "").strip() if isinstance(payload, dict) else ""
        if not code or len(code) > 64:
            log.warning("DVCQG submission without a usable %s: ignored", F.D_CODE)
            continue
        try:
            with transaction.atomic():
                row, new = InboundSubmission.objects.get_or_create(
                    national_code=code, defaults={"payload": payload, "via": via}
                )
        except IntegrityError:  # the same submission received concurrently
            continue
        if new:
            created.append(row)
    return created


def fetch(portal=None):
    """Ask the portal for new online submissions; returns the number of new ones."""
    portal = portal or Portal()
    return len(receive(portal.fetch_submissions()))


def _procedure(code):
    return (
        Procedure.objects.filter(Q(dvcqg_mapping__national_code=code) | Q(code=code), published=True)
        .order_by("pk")
        .first()
    )


class Rejected(Exception):
    """The payload cannot become a dossier (unknown procedure or agency, a refused file)."""


def _files(portal, payload):
    uploads = []
    for item in payload.get(F.D_FILES) or []:
        url, name = str(item.get(F.FILE_URL) or ""), str(item.get(F.FILE_NAME) or "tep-dinh-kem")
        if not url:
            continue
        content, content_type = portal.download(url, max_bytes=attachments.max_bytes())
        uploads.append(SimpleUploadedFile(name[:255], content, content_type=content_type.split(";")[0]))
    return uploads


def _submitted_at(payload, now):
    moment = F.parse_moment(payload.get(F.D_SUBMITTED_AT))
    return moment if moment is not None and moment <= now else now


def _create(row, payload, uploads, now):
    procedure = _procedure(str(payload.get(F.D_PROCEDURE_CODE) or ""))
    if procedure is None:
        raise Rejected(f"unknown procedure {payload.get(F.D_PROCEDURE_CODE)!r}")
    agency_code = str(payload.get(F.D_AGENCY_CODE) or "")
    agency = (
        Agency.objects.filter(code=agency_code).first() if agency_code else procedure.agencies.order_by("pk").first()
    )
    if agency is None:
        raise Rejected(f"unknown receiving agency {agency_code!r}")
    documents = [str(item.get(F.FILE_NAME) or "") for item in payload.get(F.D_FILES) or [] if item.get(F.FILE_NAME)]
    try:
        with transaction.atomic():
            # Under the row's lock: another worker may have imported it since it was read.
            if not InboundSubmission.objects.select_for_update().filter(pk=row.pk, state="pending").exists():
                return None
            dossier, _pin = dossier_create(
                actor=None,
                system=True,
                procedure=procedure,
                applicant_name=str(payload.get(F.D_APPLICANT) or ""),
                applicant_id_number=str(payload.get(F.D_ID_NUMBER) or "")[:20],
                applicant_phone=str(payload.get(F.D_PHONE) or "")[:20],
                applicant_email=str(payload.get(F.D_EMAIL) or "")[:254],
                applicant_address=str(payload.get(F.D_ADDRESS) or "")[:500],
                channel=Channel.ONLINE,
                documents=documents,
                note=str(payload.get(F.D_NOTE) or ""),
                receiving_agency=agency,
                now=_submitted_at(payload, now),
            )
            for upload in uploads:
                attachments.add_attachment(dossier=dossier, uploaded_file=upload, actor=None)
            InboundSubmission.objects.filter(pk=row.pk).update(
                dossier=dossier, state=InboundSubmission.State.IMPORTED, error="", imported_at=now
            )
    except (ActionInputError, attachments.AttachmentRejected, PermissionDenied) as exc:
        raise Rejected(str(exc)) from exc
    return dossier


def import_one(row, portal, now=None):
    """Turn one pending submission into a dossier; returns the dossier, or None (rejected, or the
    portal could not hand over a file: tried again on the next run)."""
    now = now or timezone.now()
    try:
        uploads = _files(portal, row.payload)
        dossier = _create(row, row.payload, uploads, now)
    except PortalError as exc:
        InboundSubmission.objects.filter(pk=row.pk).update(error=str(exc)[:2000])
        return None
    except Rejected as exc:
        InboundSubmission.objects.filter(pk=row.pk).update(
            state=InboundSubmission.State.REJECTED, error=str(exc)[:2000]
        )
        log.warning("DVCQG submission %s rejected: %s", row.national_code, exc)
        return None
    return dossier


def acknowledge(portal):
    """Tell the portal our reference of each imported submission it was not told of yet."""
    done = 0
    pending = InboundSubmission.objects.filter(state=InboundSubmission.State.IMPORTED, acknowledged=False)
    for row in pending.select_related("dossier"):
        try:
            portal.acknowledge_submission(row.national_code, row.dossier.code)
        except PortalError as exc:
            log.warning("DVCQG acknowledgement of %s failed: %s", row.national_code, exc)
            continue
        InboundSubmission.objects.filter(pk=row.pk).update(acknowledged=True)
        done += 1
    return done


def import_pending(portal=None, now=None):
    """Import every pending submission, then acknowledge them. Returns the dossiers created."""
    portal = portal or Portal()
    created = []
    for row in InboundSubmission.objects.filter(state=InboundSubmission.State.PENDING).order_by("id"):
        dossier = import_one(row, portal, now)
        if dossier is not None:
            created.append(dossier)
    acknowledge(portal)
    return created
