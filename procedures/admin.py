"""Django admin for the catalogue: agencies (a tree), officers' roles, fields, procedures with their
documents and workflow, calendar overrides, plus the procedure import page and the roles inline
on the user admin, so an admin manages accounts, memberships and roles in one place."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.sites import NotRegistered
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Count, F
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .forms import ProcedureImportForm
from .importing import import_records
from .models import Agency, CalendarOverride, Field, Membership, Procedure, RequiredDocument, WorkflowStep
from .text import fold

SMALL_TEXTAREA = {models.TextField: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 40})}}


# --- Agencies and officers' roles ----------------------------------------------------------------


class AgencyAdminForm(forms.ModelForm):
    class Meta:
        model = Agency
        fields = [
            "code",
            "name",
            "parent",
            "level",
            "governing_body",
            "place_name",
            "address",
            "phone",
            "email",
            "effective_from",
            "effective_to",
            "merged_into",
        ]

    def clean(self):
        cleaned_data = super().clean()
        node, visited = cleaned_data.get("parent"), set()
        while node is not None and node.pk not in visited:
            if self.instance.pk is not None and node.pk == self.instance.pk:
                self.add_error("parent", _("An agency cannot be placed under itself or one of its sub-agencies."))
                break
            visited.add(node.pk)
            node = node.parent
        merged_into = cleaned_data.get("merged_into")
        if merged_into is not None and self.instance.pk is not None and merged_into.pk == self.instance.pk:
            self.add_error("merged_into", _("An agency cannot be merged into itself."))
        start, end = cleaned_data.get("effective_from"), cleaned_data.get("effective_to")
        if start and end and end < start:
            self.add_error("effective_to", _("The end date is before the start date."))
        return cleaned_data


class ActiveAgencyFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "active"

    def lookups(self, request, model_admin):
        return [("yes", _("Active today")), ("no", _("Not active today"))]

    def queryset(self, request, queryset):
        active = Agency.objects.active().values("pk")
        if self.value() == "yes":
            return queryset.filter(pk__in=active)
        if self.value() == "no":
            return queryset.exclude(pk__in=active)
        return queryset


class AgencyMembershipInline(admin.TabularInline):
    model = Membership
    fields = ["user", "role"]
    autocomplete_fields = ["user"]
    extra = 0
    verbose_name = _("officer")
    verbose_name_plural = _("officers and their roles")


class FoldedSearchMixin:
    """Admin search and autocomplete without diacritics ("thai nguyen" finds "Thái Nguyên") for
    small tables (agencies, fields, officers: a few thousand rows at most): the rows' texts are
    folded (procedures.text.fold) and compared in Python, one query. Big tables use a stored
    folded column instead (procedures, dossiers)."""

    folded_search_fields = ()
    FOLDED_SEARCH_LIMIT = 20000

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        words = fold(search_term).split()
        if words and self.folded_search_fields:
            rows = queryset.order_by().values_list("pk", *self.folded_search_fields)[: self.FOLDED_SEARCH_LIMIT]
            matching = [
                pk for pk, *texts in rows if all(word in fold(" ".join(str(t or "") for t in texts)) for word in words)
            ]
            results = results | queryset.filter(pk__in=matching)
        return results, may_have_duplicates


@admin.register(Agency)
class AgencyAdmin(FoldedSearchMixin, admin.ModelAdmin):
    folded_search_fields = ("code", "name")
    form = AgencyAdminForm
    list_display = ["code", "name", "parent", "level", "sub_agencies", "effective_from", "effective_to", "merged_into"]
    list_display_links = ["code", "name"]
    list_filter = ["level", ActiveAgencyFilter, ("parent", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["parent", "merged_into"]
    search_fields = ["code", "name"]
    autocomplete_fields = ["parent", "merged_into"]
    ordering = ["code"]
    inlines = [AgencyMembershipInline]
    fieldsets = [
        (None, {"fields": ["code", "name", "parent", "level"]}),
        (_("Printed forms"), {"fields": ["governing_body", "place_name"]}),
        (_("Contact"), {"fields": ["address", "phone", "email"]}),
        (_("Validity"), {"fields": ["effective_from", "effective_to", "merged_into"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(sub_agency_count=Count("children", distinct=True))

    @admin.display(description=_("sub-agencies"), ordering="sub_agency_count")
    def sub_agencies(self, agency):
        if not agency.sub_agency_count:
            return 0
        url = reverse("admin:procedures_agency_changelist") + f"?parent__id__exact={agency.pk}"
        return format_html('<a href="{}">{}</a>', url, agency.sub_agency_count)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "agency"]
    list_filter = ["role", ("agency", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["user", "agency"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "agency__code", "agency__name"]
    autocomplete_fields = ["user", "agency"]


class UserMembershipInline(admin.TabularInline):
    model = Membership
    fields = ["agency", "role"]
    autocomplete_fields = ["agency"]
    extra = 0
    verbose_name = _("officer role")
    verbose_name_plural = _("officer roles")


User = get_user_model()
try:
    # Extend whatever admin the user model already has (django.contrib.auth's UserAdmin by default).
    _BaseUserAdmin = type(admin.site.get_model_admin(User))
    admin.site.unregister(User)
except NotRegistered:
    _BaseUserAdmin = auth_admin.UserAdmin


def _without_last_name(fieldsets):
    return [
        (name, {**options, "fields": [f for f in options.get("fields", ()) if f != "last_name"]})
        for name, options in fieldsets
    ]


class UserAdmin(FoldedSearchMixin, _BaseUserAdmin):
    """Officers have one "Họ và tên" field, in Vietnamese order ("Đỗ Thị Thu"), stored in
    `first_name` (procedures/0006 joined the old Họ / Tên pair): `get_full_name()` prints it
    as typed on every screen and form. `last_name` stays empty."""

    inlines = [*_BaseUserAdmin.inlines, UserMembershipInline]
    list_filter = [*_BaseUserAdmin.list_filter, "memberships__role"]
    list_display = ["username", "full_name", "email", "is_staff", "is_active"]
    search_fields = ["username", "first_name", "email"]
    folded_search_fields = ("username", "first_name", "email")
    ordering = ["username"]

    def get_fieldsets(self, request, obj=None):
        fieldsets = _without_last_name(super().get_fieldsets(request, obj))
        if obj is None and not any("first_name" in options.get("fields", ()) for _name, options in fieldsets):
            first, *rest = fieldsets
            fieldsets = [(first[0], {**first[1], "fields": [*first[1]["fields"], "first_name"]}), *rest]
        return fieldsets

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "first_name" and field is not None:
            field.label = _("Full name")
            field.help_text = _("Family, middle and given name in Vietnamese order, e.g. “Đỗ Thị Thu”.")
        return field

    @admin.display(description=_("full name"), ordering="first_name")
    def full_name(self, obj):
        return obj.get_full_name()


admin.site.register(User, UserAdmin)


# --- Fields and procedures ------------------------------------------------------------------------


@admin.register(Field)
class FieldAdmin(FoldedSearchMixin, admin.ModelAdmin):
    folded_search_fields = ("code", "name")
    list_display = ["code", "name", "procedure_count"]
    list_display_links = ["code", "name"]
    search_fields = ["code", "name"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(procedure_total=Count("procedures"))

    @admin.display(description=_("procedures"), ordering="procedure_total")
    def procedure_count(self, field):
        return field.procedure_total


class RequiredDocumentInline(admin.TabularInline):
    model = RequiredDocument
    fields = ["position", "name", "originals", "copies", "required", "note", "template"]
    ordering = ["position", "id"]
    formfield_overrides = SMALL_TEXTAREA
    extra = 0


class WorkflowStepFormSet(forms.BaseInlineFormSet):
    """The shares of a procedure's steps must add up to 100 (the rule the importer applies too)."""

    def clean(self):
        super().clean()
        shares = [
            form.cleaned_data.get("time_share") or 0
            for form in self.forms
            if getattr(form, "cleaned_data", None) and not form.cleaned_data.get("DELETE")
        ]
        if shares and sum(shares) != 100:
            raise ValidationError(
                _("The workflow shares add up to %(total)s, not 100."), code="shares", params={"total": sum(shares)}
            )


class WorkflowStepInline(admin.TabularInline):
    model = WorkflowStep
    formset = WorkflowStepFormSet
    fields = ["position", "name", "role", "agency", "time_share"]
    ordering = ["position", "id"]
    autocomplete_fields = ["agency"]
    extra = 0


@admin.register(Procedure)
class ProcedureAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "field",
        "level",
        "service_level",
        "processing_days",
        "published",
        "version",
        "updated_at",
    ]
    list_display_links = ["code", "name"]
    list_filter = [
        "published",
        "level",
        "service_level",
        ("field", admin.RelatedOnlyFieldListFilter),
        ("agencies", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["field"]
    search_fields = ["code", "name"]
    search_help_text = _("Code or name, with or without diacritics.")
    autocomplete_fields = ["field", "agencies"]
    readonly_fields = ["version", "updated_at"]
    formfield_overrides = {models.TextField: {"widget": forms.Textarea(attrs={"rows": 4, "cols": 80})}}
    inlines = [RequiredDocumentInline, WorkflowStepInline]
    actions = ["publish", "unpublish"]
    fieldsets = [
        (None, {"fields": ["code", "name", "field", "agencies", "level", "service_level", "published"]}),
        (_("Processing time"), {"fields": ["processing_days", "processing_time_text", "same_day_cutoff"]}),
        (_("Fee and charge"), {"fields": ["fee_vnd", "fee_text"]}),
        (
            _("Details"),
            {"fields": ["steps", "channels", "conditions", "applicant_types", "result", "legal_basis", "source"]},
        ),
        (_("Validity and version"), {"fields": ["effective_from", "effective_to", "version", "updated_at"]}),
    ]

    def get_search_results(self, request, queryset, search_term):
        # Also match the folded search column, so "dang ky khai sinh" finds "Đăng ký khai sinh".
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        words = fold(search_term).split()
        if words:
            folded = queryset
            for word in words:
                folded = folded.filter(search_folded__contains=word)
            results |= folded
        return results, may_have_duplicates

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # After the inlines are saved, so that a change to documents or workflow alone counts too.
        if change and (form.has_changed() or any(formset.has_changed() for formset in formsets)):
            Procedure.objects.filter(pk=form.instance.pk).update(version=F("version") + 1)
            form.instance.refresh_from_db(fields=["version"])

    # Actions -------------------------------------------------------------------------------

    @admin.action(description=_("Publish the selected procedures"), permissions=["change"])
    def publish(self, request, queryset):
        count = self._set_published(request, queryset, True)
        message = ngettext("%(count)d procedure was published.", "%(count)d procedures were published.", count) % {
            "count": count
        }
        self.message_user(request, message, messages.SUCCESS)

    @admin.action(description=_("Unpublish the selected procedures"), permissions=["change"])
    def unpublish(self, request, queryset):
        count = self._set_published(request, queryset, False)
        message = ngettext("%(count)d procedure was unpublished.", "%(count)d procedures were unpublished.", count) % {
            "count": count
        }
        self.message_user(request, message, messages.SUCCESS)

    def _set_published(self, request, queryset, published):
        """Flip only the procedures that change (the count says what happened); log each one."""
        changing = list(queryset.exclude(published=published))
        Procedure.objects.filter(pk__in=[procedure.pk for procedure in changing]).update(
            published=published, updated_at=timezone.now()
        )
        for procedure in changing:
            self.log_change(request, procedure, [{"changed": {"fields": ["published"]}}])
        return len(changing)

    # Import page ---------------------------------------------------------------------------

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="{}_{}_import".format(*info)),
            *super().get_urls(),
        ]

    def has_import_permission(self, request):
        return request.user.has_perm(f"{self.opts.app_label}.add_{self.opts.model_name}")

    def changelist_view(self, request, extra_context=None):
        extra_context = {"has_import_permission": self.has_import_permission(request), **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    def import_view(self, request):
        if not self.has_import_permission(request):
            raise PermissionDenied
        report = None
        if request.method == "POST":
            form = ProcedureImportForm(request.POST, request.FILES)
            if form.is_valid():
                report = import_records(form.records, dry_run=form.cleaned_data["dry_run"])
        else:
            form = ProcedureImportForm()
        context = {
            **self.admin_site.each_context(request),
            "title": _("Import procedures"),
            "opts": self.opts,
            "form": form,
            "report": report,
            "has_view_permission": self.has_view_permission(request),
        }
        return TemplateResponse(request, "admin/procedures/procedure/import.html", context)


# --- Working calendar ------------------------------------------------------------------------------


@admin.register(CalendarOverride)
class CalendarOverrideAdmin(admin.ModelAdmin):
    list_display = ["date", "kind", "note", "updated_at"]
    list_filter = ["kind"]
    search_fields = ["note"]
    date_hierarchy = "date"
    ordering = ["-date"]
