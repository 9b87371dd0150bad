"""The catalogue: agencies, officers' roles in them, fields, procedures and their workflows,
plus the admin-editable working-calendar overrides used by the deadline engine."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .text import fold, normalise, sort_string


class AgencyQuerySet(models.QuerySet):
    def active(self, on=None):
        on = on or timezone.localdate()
        return self.filter(Q(effective_from__isnull=True) | Q(effective_from__lte=on)).filter(
            Q(effective_to__isnull=True) | Q(effective_to__gte=on)
        )


class Agency(models.Model):
    class Level(models.TextChoices):
        PROVINCE = "province", _("Province")
        DEPARTMENT = "department", _("Department")
        COMMUNE = "commune", _("Commune")
        OTHER = "other", _("Other")

    code = models.CharField(
        _("electronic identifier"),
        max_length=40,
        unique=True,
        help_text=_("The agency's electronic identifier code; it prefixes dossier codes."),
    )
    name = models.CharField(_("name"), max_length=255)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent agency"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    level = models.CharField(_("level"), max_length=20, choices=Level.choices, default=Level.COMMUNE)
    # What the printed forms' heading needs (Decree 30/2020/NĐ-CP, Appendix I): the governing body
    # printed above the agency's name (a ward's centre belongs to the ward's People's Committee,
    # not to the province that is its parent in the tree) and the place name of the date line.
    governing_body = models.CharField(
        _("governing body"),
        max_length=255,
        blank=True,
        help_text=_(
            "Printed above the agency's name in the heading of the forms, e.g. “Ủy ban nhân dân phường "
            "Phan Đình Phùng”. Empty: the parent agency's name."
        ),
    )
    place_name = models.CharField(
        _("place name"),
        max_length=100,
        blank=True,
        help_text=_(
            "Printed before the date on the forms (“Thái Nguyên, ngày … tháng … năm …”): the administrative "
            "unit where the agency has its seat. Empty: the parent agency's place name."
        ),
    )
    address = models.CharField(_("address"), max_length=255, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    effective_from = models.DateField(_("effective from"), null=True, blank=True)
    effective_to = models.DateField(_("effective until"), null=True, blank=True)
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged_agencies",
    )

    objects = AgencyQuerySet.as_manager()

    class Meta:
        verbose_name = _("agency")
        verbose_name_plural = _("agencies")
        ordering = ["code"]

    def __str__(self):
        return self.name

    @property
    def heading_parent(self):
        """The governing body printed above the agency's name: `governing_body`, else the parent's name."""
        if self.governing_body:
            return self.governing_body
        return self.parent.name if self.parent_id else ""

    @property
    def dateline_place(self):
        """The place name of the forms' date line: this agency's, else the nearest ancestor's."""
        node, seen = self, set()
        while node is not None and node.pk not in seen:
            if node.place_name:
                return node.place_name
            seen.add(node.pk)
            node = node.parent
        return ""

    def subtree_ids(self):
        """Ids of this agency and every agency below it (breadth first, one query per level)."""
        ids, frontier = [self.pk], [self.pk]
        while frontier:
            frontier = list(Agency.objects.filter(parent_id__in=frontier).values_list("pk", flat=True))
            ids.extend(frontier)
        return ids


class Role(models.TextChoices):
    RECEPTION = "reception", _("Reception officer")
    SPECIALIST = "specialist", _("Specialist")
    LEADER = "leader", _("Leader")
    SUPERVISOR = "supervisor", _("Supervisor")


class Membership(models.Model):
    """An officer's role in an agency: the one place every permission check derives from."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="memberships"
    )
    agency = models.ForeignKey(Agency, verbose_name=_("agency"), on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)

    class Meta:
        verbose_name = _("officer role")
        verbose_name_plural = _("officer roles")
        constraints = [models.UniqueConstraint(fields=["user", "agency", "role"], name="unique_membership")]

    def __str__(self):
        return f"{self.user} – {self.get_role_display()} – {self.agency}"


class Field(models.Model):
    code = models.CharField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("field name"), max_length=255)

    class Meta:
        verbose_name = _("field")
        verbose_name_plural = _("fields")
        ordering = ["name"]

    def __str__(self):
        return self.name


# The columns of the catalogue's lists (web page and API): the long texts (steps, legal basis, …)
# stay in the database.
LIST_COLUMNS = (
    "code",
    "name",
    "level",
    "service_level",
    "processing_days",
    "processing_time_text",
    "fee_vnd",
    "fee_text",
    "field__code",
    "field__name",
)


class ProcedureQuerySet(models.QuerySet):
    def for_list(self):
        """What a catalogue list shows of each procedure, its field included (one query)."""
        return self.select_related("field").only(*LIST_COLUMNS)

    def published(self, on=None):
        on = on or timezone.localdate()
        return self.filter(published=True).filter(
            Q(effective_from__isnull=True) | Q(effective_from__lte=on),
            Q(effective_to__isnull=True) | Q(effective_to__gte=on),
        )


class Procedure(models.Model):
    class Level(models.TextChoices):
        CENTRAL = "central", _("Central")
        PROVINCE = "province", _("Province")
        COMMUNE = "commune", _("Commune")

    class ServiceLevel(models.TextChoices):
        FULL = "full", _("Full online service")
        PARTIAL = "partial", _("Partial online service")
        NONE = "none", _("Not available online")

    code = models.CharField(_("procedure code"), max_length=40, unique=True)
    name = models.CharField(_("procedure name"), max_length=500)
    field = models.ForeignKey(Field, verbose_name=_("field"), on_delete=models.PROTECT, related_name="procedures")
    agencies = models.ManyToManyField(
        Agency, verbose_name=_("implementing agencies"), related_name="procedures", blank=True
    )
    level = models.CharField(_("level"), max_length=20, choices=Level.choices, default=Level.COMMUNE)
    service_level = models.CharField(
        _("online service level"), max_length=10, choices=ServiceLevel.choices, default=ServiceLevel.NONE
    )
    processing_days = models.DecimalField(
        _("processing time (working days)"),
        max_digits=5,
        decimal_places=1,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("365"))],
        help_text=_("0 = same day; 0.5 = half a day."),
    )
    processing_time_text = models.CharField(_("processing time (as published)"), max_length=500, blank=True)
    same_day_cutoff = models.TimeField(
        _("same-day cut-off time"),
        null=True,
        blank=True,
        help_text=_(
            "Dossiers received after this time are handled on the next working day (e.g. certification: 15:00)."
        ),
    )
    fee_vnd = models.PositiveBigIntegerField(_("fee and charge (VND)"), null=True, blank=True)
    fee_text = models.TextField(_("fee and charge"), blank=True)
    steps = models.TextField(_("steps"), blank=True)
    channels = models.TextField(_("channels"), blank=True)
    conditions = models.TextField(_("conditions"), blank=True)
    applicant_types = models.TextField(_("applicant types"), blank=True)
    result = models.TextField(_("result"), blank=True)
    legal_basis = models.TextField(_("legal basis"), blank=True)
    source = models.CharField(
        _("announcing decision"), max_length=500, blank=True, help_text=_("The decision that announced this procedure.")
    )
    published = models.BooleanField(_("published"), default=True)
    effective_from = models.DateField(_("effective from"), null=True, blank=True)
    effective_to = models.DateField(_("effective until"), null=True, blank=True)
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    # Search columns, maintained by save(): see procedures/search.py.
    name_normalised = models.CharField(max_length=500, editable=False, default="")
    search_folded = models.TextField(editable=False, default="")
    # The name's place in Vietnamese alphabetical order (procedures.text.sort_string): lists are
    # ordered by it, so "Đăng ký …" comes after "Dân tộc …", not after "Xác nhận …".
    name_sort = models.TextField(editable=False, default="", db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ProcedureQuerySet.as_manager()

    class Meta:
        verbose_name = _("administrative procedure")
        verbose_name_plural = _("administrative procedures")
        ordering = ["name_sort", "code"]

    def __str__(self):
        return f"{self.code} – {self.name}"

    def save(self, *args, **kwargs):
        self.refresh_search_columns()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = set(update_fields) | {"name_normalised", "search_folded", "name_sort"}
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("procedures:detail", args=[self.code])

    def refresh_search_columns(self):
        self.name_normalised = normalise(self.name)
        self.search_folded = fold(f"{self.name} {self.code}")
        self.name_sort = sort_string(self.name)


class RequiredDocument(models.Model):
    procedure = models.ForeignKey(
        Procedure, verbose_name=_("procedure"), on_delete=models.CASCADE, related_name="documents"
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    name = models.TextField(_("document name"))
    originals = models.PositiveSmallIntegerField(_("originals"), default=1)
    copies = models.PositiveSmallIntegerField(_("copies"), default=0)
    # Conditional documents ("Biên bản xác nhận việc trẻ bị bỏ rơi") are needed only in some cases:
    # the desk may accept a dossier without them, and no screen calls them missing.
    required = models.BooleanField(
        _("required in every case"),
        default=True,
        help_text=_("Untick for a document needed only in some cases (say which in the note)."),
    )
    note = models.TextField(_("note"), blank=True)
    template = models.FileField(_("form template"), upload_to="forms/", blank=True)

    class Meta:
        verbose_name = _("required document")
        verbose_name_plural = _("required documents")
        ordering = ["procedure", "position", "id"]

    def __str__(self):
        return self.name


# The workflow of a procedure that has no steps of its own, defined once (the demo catalogue, the
# dossiers' snapshot and the benchmark use it): (step name, role, share of the processing time
# in %); the shares add up to 100.
DEFAULT_WORKFLOW = (
    ("Tiếp nhận hồ sơ", Role.RECEPTION, 10),
    ("Thẩm định, xử lý", Role.SPECIALIST, 60),
    ("Phê duyệt", Role.LEADER, 20),
    ("Trả kết quả", Role.RECEPTION, 10),
)


class WorkflowStep(models.Model):
    """One step of a procedure's internal workflow, with the role that performs it and its
    share of the total processing time (shares of a procedure add up to 100)."""

    procedure = models.ForeignKey(
        Procedure, verbose_name=_("procedure"), on_delete=models.CASCADE, related_name="workflow_steps"
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    name = models.CharField(_("step name"), max_length=255)
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    agency = models.ForeignKey(
        Agency,
        verbose_name=_("agency"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        help_text=_("Empty: the competent agency of the dossier."),
    )
    time_share = models.PositiveSmallIntegerField(
        _("share of processing time (%)"), default=0, validators=[MaxValueValidator(100)]
    )

    class Meta:
        verbose_name = _("workflow step")
        verbose_name_plural = _("workflow steps")
        ordering = ["procedure", "position", "id"]

    def __str__(self):
        return self.name


class CalendarOverride(models.Model):
    """An admin's correction of the public-holiday calendar: an extra day off or an extra
    working day (e.g. a swap announced after the `holidays` package was released)."""

    class Kind(models.TextChoices):
        DAY_OFF = "day_off", _("Extra day off")
        WORKING_DAY = "working_day", _("Extra working day")

    date = models.DateField(_("date"), unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    note = models.CharField(_("note"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("calendar override")
        verbose_name_plural = _("calendar overrides")
        ordering = ["-date"]

    def __str__(self):
        return f"{self.date:%d/%m/%Y} – {self.get_kind_display()}"
