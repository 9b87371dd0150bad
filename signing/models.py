"""Signed electronic results (issue 17) and the digitisation of what the desk received.

* `ResultTemplate` — the result document of a procedure (or the default for all), editable in the
  admin: its title, its symbol in the document number, its text (filled from the dossier), and
  when the citizen may download the signed file.
* `IssuedRegister` — the agency's register of issued documents: the last number of each year.
* `ResultDocument` — a dossier's result document: its number, its source (the template or the
  specialist's PDF), the signed file and its SHA-256 (also in the approval's event, so in the
  dossier's hash chain), the signer, the verification code, how it was handed over. A corrected
  result (Art. 23.1) is a further document of the dossier that `replaces` the signed one.
* `SignerProfile` — a leader's title on the signature block and their account at the remote
  signing service.
* `Digitisation` — the desk marked the dossier's paper documents as scanned (Circular 01/2023).
* `SandboxCredential`, `SandboxAuthorization` — the state of the CSC sandbox (development only).
"""

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dossiers.models import Dossier
from procedures.models import Agency, Procedure

# Crockford's base32 without look-alikes: what a citizen can read out over the phone.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10


def new_verification_code():
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


DEFAULT_BODY = """Căn cứ hồ sơ số {{ dossier_code }} của {{ applicant_name }}\
{% if applicant_address %}, địa chỉ: {{ applicant_address }}{% endif %}, \
đề nghị giải quyết thủ tục “{{ procedure_name }}” (mã {{ procedure_code }}),

{{ agency_name }} quyết định:

{{ decision }}"""


class ResultTemplate(models.Model):
    class Availability(models.TextChoices):
        RETURNED = "returned", _("Once the result is handed over")
        READY = "ready", _("As soon as the result is ready")

    procedure = models.OneToOneField(
        Procedure,
        verbose_name=_("procedure"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="result_template",
        help_text=_("Empty: the default template of every procedure without its own."),
    )
    title = models.CharField(
        _("document title"), max_length=255, default="THÔNG BÁO KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH"
    )
    symbol = models.CharField(
        _("document symbol"), max_length=30, default="KQ", help_text=_("Printed in the number: 12/KQ-<agency>.")
    )
    body = models.TextField(
        _("text"),
        default=DEFAULT_BODY,
        help_text=_(
            "Filled from the dossier: {{ applicant_name }}, {{ applicant_address }}, {{ procedure_name }}, "
            "{{ procedure_code }}, {{ dossier_code }}, {{ decision }}, {{ agency_name }}, {{ number }}, {{ date }}, "
            "{{ signer_name }}, {{ signer_title }}."
        ),
    )
    available = models.CharField(
        _("citizen may download the signed result"),
        max_length=10,
        choices=Availability.choices,
        default=Availability.RETURNED,
    )

    class Meta:
        verbose_name = _("result template")
        verbose_name_plural = _("result templates")

    def __str__(self):
        return str(self.procedure) if self.procedure_id else str(_("Default result template"))

    @classmethod
    def for_procedure(cls, procedure_id):
        """The procedure's own template, else the default one (made on first use)."""
        found = {t.procedure_id: t for t in cls.objects.filter(Q(procedure_id=procedure_id) | Q(procedure=None))}
        if procedure_id in found:
            return found[procedure_id]
        if None in found:
            return found[None]
        default, _created = cls.objects.get_or_create(procedure=None)
        return default


class IssuedRegister(models.Model):
    agency = models.ForeignKey(Agency, verbose_name=_("agency"), on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField(_("year"))
    last_value = models.PositiveIntegerField(_("last number"), default=0)

    class Meta:
        verbose_name = _("register of issued documents")
        verbose_name_plural = _("registers of issued documents")
        constraints = [models.UniqueConstraint(fields=["agency", "year"], name="issued_register_agency_year")]

    def __str__(self):
        return f"{self.agency} {self.year}: {self.last_value}"


def signed_path(instance, filename):
    return f"results/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.pdf"


def upload_path(instance, filename):
    return f"results/drafts/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.pdf"


class ResultForm(models.TextChoices):
    PAPER = "paper", _("On paper")
    ELECTRONIC = "electronic", _("Electronically")
    BOTH = "both", _("On paper and electronically")


class ResultDocumentQuerySet(models.QuerySet):
    def of(self, dossier):
        """The dossier's result documents, the current one first: a correction comes after (and
        replaces) the document it corrects, so the newest is the one in force."""
        return self.filter(dossier_id=dossier.pk if hasattr(dossier, "pk") else dossier).order_by("-pk")

    def current(self, dossier):
        """The dossier's result document in force (a correction being prepared included), or None."""
        return self.of(dossier).first()

    def current_signed(self, dossier):
        """The dossier's newest signed result document, or None."""
        return self.of(dossier).exclude(sha256="").first()


class ResultDocument(models.Model):
    class Source(models.TextChoices):
        TEMPLATE = "template", _("Generated from the procedure's template")
        UPLOAD = "upload", _("Uploaded by the specialist")

    dossier = models.ForeignKey(
        Dossier, verbose_name=_("dossier"), on_delete=models.PROTECT, related_name="result_documents"
    )
    agency = models.ForeignKey(Agency, verbose_name=_("issuing agency"), on_delete=models.PROTECT, related_name="+")
    number = models.CharField(_("document number"), max_length=64, unique=True)
    # A corrected result (Art. 23.1, `correct_result`) is a new document with its own number that
    # replaces the signed one; the replaced one stays verifiable and says it was replaced.
    replaces = models.OneToOneField(
        "self",
        verbose_name=_("replaces"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="replacement",
        editable=False,
    )
    source = models.CharField(_("source"), max_length=10, choices=Source.choices, default=Source.TEMPLATE)
    uploaded_file = models.FileField(_("uploaded PDF"), upload_to=upload_path, blank=True)
    uploaded_name = models.CharField(_("uploaded file name"), max_length=255, blank=True)
    verification_code = models.CharField(
        _("verification code"), max_length=16, unique=True, default=new_verification_code, editable=False
    )
    signed_file = models.FileField(_("signed file"), upload_to=signed_path, blank=True, editable=False)
    sha256 = models.CharField(_("SHA-256 of the signed file"), max_length=64, blank=True, editable=False)
    size = models.PositiveIntegerField(_("size"), null=True, blank=True, editable=False)
    signed_at = models.DateTimeField(_("signed at"), null=True, blank=True, editable=False)
    signer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("signer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    signer_name = models.CharField(_("signer's name"), max_length=255, blank=True, editable=False)
    signer_title = models.CharField(_("signer's title"), max_length=255, blank=True, editable=False)
    backend = models.CharField(_("signing back end"), max_length=10, blank=True, editable=False)
    certificate_subject = models.CharField(_("certificate"), max_length=500, blank=True, editable=False)
    timestamped = models.BooleanField(_("trusted timestamp"), default=False, editable=False)
    delivered_form = models.CharField(
        _("handed over"), max_length=10, choices=ResultForm.choices, blank=True, editable=False
    )
    delivered_at = models.DateTimeField(_("handed over at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = ResultDocumentQuerySet.as_manager()

    class Meta:
        verbose_name = _("result document")
        verbose_name_plural = _("result documents")
        indexes = [models.Index(fields=["agency", "delivered_at"], name="result_delivered_idx")]
        constraints = [
            # One first document per dossier; each correction replaces exactly one: a chain.
            models.UniqueConstraint(
                fields=["dossier"], condition=Q(replaces__isnull=True), name="result_document_first_per_dossier"
            )
        ]

    def __str__(self):
        return self.number

    @property
    def is_signed(self):
        return bool(self.sha256)


class SignerProfile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="signer_profile"
    )
    title = models.CharField(
        _("title"), max_length=255, blank=True, help_text=_("Printed under the name, e.g. “Chủ tịch UBND xã”.")
    )
    csc_user_id = models.CharField(
        _("account at the signing service"),
        max_length=255,
        blank=True,
        help_text=_("The leader's user ID at the remote-signing service; empty: the user name."),
    )
    csc_credential_id = models.CharField(
        _("credential ID"),
        max_length=255,
        blank=True,
        help_text=_("The certificate to sign with; empty: the first one the service lists."),
    )

    class Meta:
        verbose_name = _("signer profile")
        verbose_name_plural = _("signer profiles")

    def __str__(self):
        return str(self.user)


class Digitisation(models.Model):
    dossier = models.OneToOneField(
        Dossier, verbose_name=_("dossier"), on_delete=models.PROTECT, related_name="digitisation"
    )
    digitised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("digitised by"), null=True, on_delete=models.PROTECT, related_name="+"
    )
    digitised_at = models.DateTimeField(_("digitised at"))
    agency = models.ForeignKey(Agency, verbose_name=_("receiving agency"), on_delete=models.PROTECT, related_name="+")
    scans = models.PositiveSmallIntegerField(_("scanned files"), default=0)

    class Meta:
        verbose_name = _("digitisation")
        verbose_name_plural = _("digitisations")

    def __str__(self):
        return str(self.dossier)


class SandboxCredential(models.Model):
    """A test certificate of the CSC sandbox (made on first use for a user ID)."""

    user_id = models.CharField(max_length=255, db_index=True)
    credential_id = models.CharField(max_length=64, unique=True)
    cert_pem = models.TextField()
    key_pem = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("sandbox credential")
        verbose_name_plural = _("sandbox credentials")

    def __str__(self):
        return f"{self.user_id} {self.credential_id}"


class SandboxAuthorization(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("Waiting for confirmation")
        CONFIRMED = "confirmed", _("Confirmed")
        REFUSED = "refused", _("Refused")

    transaction_id = models.CharField(max_length=64, unique=True)
    credential = models.ForeignKey(SandboxCredential, on_delete=models.CASCADE, related_name="authorizations")
    hashes = models.JSONField(default=list)
    description = models.CharField(max_length=255, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    sad = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    used = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("sandbox authorisation")
        verbose_name_plural = _("sandbox authorisations")
        ordering = ["-created_at"]

    def __str__(self):
        return self.transaction_id
