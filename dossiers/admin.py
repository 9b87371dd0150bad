"""Django admin for dossiers: a read-only window on the register and its audit trail.

A dossier's status changes only through the workflow service (`dossiers.services.dossier_act`),
so the admin shows dossiers, their events, pauses and attachments but never edits, adds or
deletes them; events are append-only everywhere. Throttle counters are shown for diagnosis.
Reminders and notifications have their own admin, in the `notifications` app.
"""

from django.contrib import admin
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .models import Attachment, Dossier, DossierEvent, Pause, ThrottleCounter


class ReadOnlyAdminMixin:
    """View permission only: no add, change or delete, whoever the user is."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AgencyScopedAdminMixin:
    """The admin sees what the workspace sees: a non-superuser's list, search, filters, change and
    history views read only the rows of dossiers `Dossier.objects.visible_to(user)` (another
    agency's dossier is "not found", as the workspace's 404). `dossier_path` leads from the model
    to its dossier ("" for the dossier itself)."""

    dossier_path = "dossier"

    def get_queryset(self, request):
        return scope_to_visible_dossiers(super().get_queryset(request), request.user, self.dossier_path)


def scope_to_visible_dossiers(queryset, user, path="dossier", *, or_q=None):
    """`queryset` limited to rows whose dossier (through `path`) is visible to `user`, or that
    match `or_q`. Superusers keep everything."""
    if user.is_superuser:
        return queryset
    visible = Dossier.objects.visible_to(user).values("pk")
    condition = Q(**{f"{path}__in" if path else "pk__in": visible})
    return queryset.filter(condition | or_q if or_q is not None else condition)


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False


class DossierEventInline(ReadOnlyInline):
    model = DossierEvent
    fields = [
        "created_at",
        "action",
        "actor",
        "from_status",
        "to_status",
        "to_stage",
        "comment",
        "step_due_at",
        "step_outcome",
    ]
    readonly_fields = fields
    ordering = ["created_at", "id"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


class PauseInline(ReadOnlyInline):
    model = Pause
    fields = ["kind", "started_at", "ended_at", "working_minutes"]
    readonly_fields = fields


class AttachmentInline(ReadOnlyInline):
    model = Attachment
    fields = ["original_name", "kind", "content_type", "size", "uploaded_by", "uploaded_at", "download"]
    readonly_fields = fields

    @admin.display(description=_("file"))
    def download(self, attachment):
        return format_html('<a href="{}">{}</a>', reverse("dossiers:attachment", args=[attachment.pk]), _("Download"))


class OverdueFilter(admin.SimpleListFilter):
    """ "Overdue" is derived (open, not paused, past the due date), never stored."""

    title = _("overdue")
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", _("Overdue")), ("no", _("Not overdue"))]

    def queryset(self, request, queryset):
        overdue = Dossier.objects.overdue(timezone.now()).values("pk")
        if self.value() == "yes":
            return queryset.filter(pk__in=overdue)
        if self.value() == "no":
            return queryset.exclude(pk__in=overdue)
        return queryset


@admin.register(Dossier)
class DossierAdmin(AgencyScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    dossier_path = ""
    list_display = ["code", "applicant_name", "procedure", "status", "stage", "due_at", "overdue", "agencies"]
    list_select_related = ["procedure", "receiving_agency", "competent_agency", "returning_agency"]
    list_filter = [
        "status",
        "stage",
        "channel",
        OverdueFilter,
        ("receiving_agency", admin.RelatedOnlyFieldListFilter),
        ("competent_agency", admin.RelatedOnlyFieldListFilter),
        ("returning_agency", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["code", "provisional_code", "applicant_name", "applicant_id_number"]
    date_hierarchy = "submitted_at"
    show_full_result_count = False
    inlines = [DossierEventInline, PauseInline, AttachmentInline]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "code",
                    "provisional_code",
                    "procedure",
                    "procedure_version",
                    "status",
                    "stage",
                    "channel",
                    "assignee",
                ]
            },
        ),
        (_("Agencies"), {"fields": ["receiving_agency", "competent_agency", "returning_agency"]}),
        (
            _("Applicant"),
            {
                "fields": [
                    "applicant_name",
                    "applicant_id_number",
                    "applicant_phone",
                    "applicant_email",
                    "applicant_address",
                ]
            },
        ),
        (
            _("Dates"),
            {
                "fields": [
                    "submitted_at",
                    "received_at",
                    "due_at",
                    "original_due_at",
                    "step_due_at",
                    "finished_at",
                    "returned_at",
                    "correction_due_at",
                    "fee_collected_at",
                    "fee_remit_due_at",
                    "fee_remitted_at",
                ]
            },
        ),
        (
            _("Documents and result"),
            {
                "fields": [
                    "documents",
                    "note",
                    "supplement_requests",
                    "result_summary",
                    "original_result",
                    "returned_to",
                    "return_method",
                    "procedure_snapshot",
                ]
            },
        ),
        (_("Record"), {"fields": ["created_by", "created_at", "updated_at"]}),
    ]
    # Every field is read-only (the view-only admin renders them as text); the PIN hash is never shown.
    readonly_fields = [name for _title, options in fieldsets for name in options["fields"]]

    def get_search_results(self, request, queryset, search_term):
        # The officers' search (DossierQuerySet.search): names without diacritics, phone numbers
        # in any spelling, part of the code.
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if search_term.strip():
            results = results | queryset.search(search_term)
        return results, may_have_duplicates

    @admin.display(boolean=True, description=_("overdue"))
    def overdue(self, dossier):
        return dossier.is_overdue()

    @admin.display(description=_("agencies"))
    def agencies(self, dossier):
        """Receiving / competent / returning agency codes, each shown once."""
        agencies = dict.fromkeys([dossier.receiving_agency, dossier.competent_agency, dossier.returning_agency])
        return " / ".join(agency.code for agency in agencies)


@admin.register(DossierEvent)
class DossierEventAdmin(AgencyScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "dossier", "action", "from_status", "to_status", "actor", "step_outcome"]
    list_select_related = ["dossier", "actor"]
    list_filter = ["action", "to_status", "step_outcome"]
    search_fields = ["dossier__code", "actor__username", "comment"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = [
        "dossier",
        "created_at",
        "actor",
        "action",
        "from_status",
        "to_status",
        "from_stage",
        "to_stage",
        "comment",
        "data",
        "step_due_at",
        "step_outcome",
    ]
    readonly_fields = fields


@admin.register(ThrottleCounter)
class ThrottleCounterAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Superusers only: the keys are client addresses and dossier codes of every agency."""

    list_display = ["key", "window_start", "count"]
    search_fields = ["key"]
    date_hierarchy = "window_start"
    fields = ["key", "window_start", "count"]
    readonly_fields = fields

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_module_permission(self, request):
        return request.user.is_superuser
