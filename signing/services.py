"""Signing the approved result, handing it over, and what the citizen's lookup offers.

`Sealer` is the signing app's implementation of `dossiers.sealing` (registered in
`SigningConfig.ready`): the approval renders the result document (signing/documents.py), signs it
with the configured back end (signing/backends.py, signing/pades.py) before the approval's
transaction, then stores it inside that transaction; the event of the approval carries the signed
file's SHA-256, so it is in the dossier's hash chain. A failed signature is audited
(`AuditEntry` kind `signing_failed`) and leaves the dossier as it was.

The leader's correction of a wrong result (`correct_result`, Art. 23.1) is signed the same way:
a new document with the next number, "replacing" the signed one, whose verification page then
names its replacement.

`on_dossier_event` (a `dossiers.signals.dossier_transition` receiver) gives a proposed result its
document and number, and records how the result was handed over (on paper, electronically, both).
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core import signing as django_signing
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import AuditEntry
from dossiers import sealing
from dossiers.models import Status
from dossiers.workflow import WorkflowConflict

from . import backends, documents, pades
from .models import ResultDocument, ResultTemplate, SignerProfile

logger = logging.getLogger(__name__)

LINK_SALT = "signing.result-link"
# The leader's correction of a wrong result (Art. 23.1): signed like the approval, as a new document.
CORRECTION = "correct_result"


@dataclass
class Seal:
    document_id: int
    file_name: str
    sha256: str
    size: int
    signer_name: str
    signer_title: str
    signed_at: object
    backend: str
    certificate_subject: str
    timestamped: bool


def signer_identity(user, agency):
    """(signer profile or None, name, title) as printed on the signed result. The document is in the
    site's language (LANGUAGE_CODE, Vietnamese), whatever language the leader's screen uses."""
    profile = SignerProfile.objects.filter(user=user).first()
    name = user.get_full_name() or user.get_username()
    title = profile.title if profile else ""
    if not title:
        with translation.override(settings.LANGUAGE_CODE):
            title = _("Leader of %(agency)s") % {"agency": agency.name}
    return profile, name, title


def verification_url(document):
    return settings.SITE_URL + reverse("signing:verify", args=[document.verification_code])


def _failed(dossier, actor, document, backend_name, message):
    AuditEntry.record(
        AuditEntry.Kind.SIGNING_FAILED,
        user=actor,
        dossier=dossier.code,
        document=document.number if document else "",
        backend=backend_name,
        reason=str(message)[:500],
    )
    raise sealing.SealError(message)


class Sealer:
    def prepare(self, *, dossier, actor, action, now, params):
        backend = backends.get_backend() if settings.RESULT_SIGNING_BACKEND else None
        if backend is None or actor is None:
            return None
        from dossiers.services import available_actions  # noqa: PLC0415 (services imports sealing)

        if action.name not in available_actions(actor, dossier, now):
            return None  # dossier_act refuses it with its usual message
        correction = action.name == CORRECTION
        if correction:  # the corrected result is a new document replacing the signed one
            document = documents.correction_document(dossier, now)
        else:
            document = documents.ensure_document(dossier, now)
            if document.is_signed:
                raise sealing.SealError(_("This result is already signed."))
        agency = document.agency
        profile, name, title = signer_identity(actor, agency)
        decision = str(params.get("result") or dossier.result_summary or "")
        try:
            pdf, page, box = documents.render_unsigned(
                document, signer_name=name, signer_title=title, moment=now, decision=decision
            )
            signer = backend.signer_for(actor, agency, profile, f"{document.number} ({dossier.code})")
            signed = pades.sign_pdf(
                pdf,
                signer,
                page=page,
                box=box,
                url=verification_url(document),
                lines=pades.block_lines(name, title, timezone.now(), document.verification_code),
                signer_name=name,
                reason=f"{'Đính chính' if correction else 'Phê duyệt'} kết quả hồ sơ {dossier.code}",
                location=agency.name,
            )
        except backends.SigningError as exc:
            _failed(dossier, actor, document, backend.name, str(exc))
        except Exception as exc:  # noqa: BLE001 (pyHanko, the TSA…: a clear message, the cause in the log)
            logger.exception("signing %s failed", dossier.code)
            cause = exc.__cause__ if isinstance(exc.__cause__, backends.SigningError) else None
            message = (
                str(cause)
                if cause
                else _("The result could not be signed (%(error)s). The dossier was not approved.")
                % {"error": exc.__class__.__name__}
            )
            _failed(dossier, actor, document, backend.name, message)
        report = pades.validate(signed)
        file_name = default_storage.save(documents.signed_name(), ContentFile(signed))
        return Seal(
            document_id=document.pk,
            file_name=file_name,
            sha256=documents.sha256(signed),
            size=len(signed),
            signer_name=name,
            signer_title=title,
            signed_at=report.signing_time or now,
            backend=backend.name,
            certificate_subject=report.signer,
            timestamped=report.timestamped,
        )

    def commit(self, dossier, actor, now, seal):
        document = ResultDocument.objects.select_for_update().get(pk=seal.document_id, dossier=dossier)
        document.signed_file.name = seal.file_name
        document.sha256 = seal.sha256
        document.size = seal.size
        document.signed_at = seal.signed_at
        document.signer = actor
        document.signer_name = seal.signer_name
        document.signer_title = seal.signer_title
        document.backend = seal.backend
        document.certificate_subject = seal.certificate_subject[:500]
        document.timestamped = seal.timestamped
        document.save()
        AuditEntry.record(
            AuditEntry.Kind.RESULT_SIGNED,
            user=actor,
            dossier=dossier.code,
            document=document.number,
            sha256=seal.sha256,
            backend=seal.backend,
        )
        data = {
            "result_document": document.number,
            "result_sha256": seal.sha256,
            "verification_code": document.verification_code,
            "signed_by": seal.signer_name,
            "signing_backend": seal.backend,
        }
        if document.replaces_id:
            data["replaces_document"] = ResultDocument.objects.values_list("number", flat=True).get(
                pk=document.replaces_id
            )
        return data

    def discard(self, seal):
        default_storage.delete(seal.file_name)

    def public_links(self, dossier):
        links = dict(sealing.NO_LINKS)
        # The lookup is the hottest public request: no query unless a signed result may exist.
        if not settings.RESULT_SIGNING_BACKEND or dossier.status not in (Status.RESULT_READY, Status.RETURNED):
            return links
        document = (
            ResultDocument.objects.of(dossier).exclude(sha256="").only("pk", "verification_code", "dossier_id").first()
        )
        if document is None:
            return links
        links["verification_url"] = verification_url(document)
        if citizen_may_download(dossier):
            links["result_url"] = settings.SITE_URL + reverse("signing:download", args=[result_token(document)])
        return links


def citizen_may_download(dossier):
    """The returned result, or the ready one when the procedure's template says so."""
    if dossier.status == Status.RETURNED:
        return True
    template = ResultTemplate.for_procedure(dossier.procedure_id)
    return dossier.status == Status.RESULT_READY and template.available == ResultTemplate.Availability.READY


def result_token(document):
    return django_signing.TimestampSigner(salt=LINK_SALT).sign(document.verification_code)


def document_from_token(token):
    """The signed result a download link names, or None when the link is wrong or has expired."""
    try:
        code = django_signing.TimestampSigner(salt=LINK_SALT).unsign(
            token, max_age=settings.SIGNING_RESULT_LINK_SECONDS
        )
    except django_signing.BadSignature:
        return None
    return ResultDocument.objects.filter(verification_code=code).exclude(sha256="").select_related("dossier").first()


def on_dossier_event(sender, *, dossier, event, **kwargs):
    """The proposal gets its document (and number); the hand-over records its form."""
    if event.action == "propose_result" and settings.RESULT_SIGNING_BACKEND:
        documents.ensure_document(dossier, event.created_at)
    elif event.action == "return_result":
        form = (event.data or {}).get("result_form") or "paper"
        document = ResultDocument.objects.current(dossier)
        electronic = form in ("electronic", "both")
        if electronic and (document is None or not document.is_signed):
            raise WorkflowConflict(_("This dossier has no signed electronic result: hand the result over on paper."))
        if document is not None:
            document.delivered_form = form
            document.delivered_at = event.created_at
            document.save(update_fields=["delivered_form", "delivered_at"])
