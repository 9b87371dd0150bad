"""The integration in the admin: sync rows (retry), online submissions, procedure code mappings,
catalogue reviews (approve: the importer applies them), and the reconciliation page."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import catalogue, sync
from .client import PortalError
from .models import CatalogueReview, InboundSubmission, ProcedureMapping, SyncItem
from .reconcile import reconcile


@admin.register(SyncItem)
class SyncItemAdmin(admin.ModelAdmin):
    list_display = ("dossier", "key", "state", "attempts", "next_attempt_at", "sent_at", "short_error")
    list_filter = ("state",)
    search_fields = ("key", "national_code", "dossier__code")
    raw_id_fields = ("dossier", "event")
    readonly_fields = [f.name for f in SyncItem._meta.fields]
    actions = ["retry_now"]

    @admin.display(description=gettext_lazy("last error"))
    def short_error(self, obj):
        return obj.last_error[:120]

    @admin.action(description=gettext_lazy("Send again now"))
    def retry_now(self, request, queryset):
        count = sync.retry(queryset)
        self.message_user(request, _("%(count)d rows will be sent again.") % {"count": count})

    def has_add_permission(self, request):
        return False

    def get_urls(self):
        return [
            path("doi-soat/", self.admin_site.admin_view(self.reconcile_view), name="interop_reconcile"),
            *super().get_urls(),
        ]

    def reconcile_view(self, request):
        if not request.user.is_superuser:
            raise PermissionDenied
        report = error = None
        if request.method == "POST":
            try:
                report = reconcile().as_dict()
            except PortalError as exc:
                error = str(exc)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Reconciliation with the national portal"),
            "report": report,
            "error": error,
        }
        return TemplateResponse(request, "admin/interop/reconcile.html", context)


@admin.register(InboundSubmission)
class InboundSubmissionAdmin(admin.ModelAdmin):
    list_display = ("national_code", "state", "via", "dossier", "acknowledged", "created_at", "imported_at")
    list_filter = ("state", "via", "acknowledged")
    search_fields = ("national_code", "dossier__code")
    readonly_fields = [f.name for f in InboundSubmission._meta.fields]
    actions = ["import_again"]

    @admin.action(description=gettext_lazy("Import again"))
    def import_again(self, request, queryset):
        count = queryset.filter(state=InboundSubmission.State.REJECTED).update(state=InboundSubmission.State.PENDING)
        self.message_user(request, _("%(count)d submissions will be imported again.") % {"count": count})

    def has_add_permission(self, request):
        return False


@admin.register(ProcedureMapping)
class ProcedureMappingAdmin(admin.ModelAdmin):
    list_display = ("procedure", "national_code")
    search_fields = ("procedure__code", "procedure__name", "national_code")
    autocomplete_fields = ("procedure",)


@admin.register(CatalogueReview)
class CatalogueReviewAdmin(admin.ModelAdmin):
    list_display = ("fetched_at", "state", "count", "decided_by", "decided_at")
    list_filter = ("state",)
    readonly_fields = ("fetched_at", "state", "decided_by", "decided_at", "report")
    exclude = ("changes",)
    change_form_template = "admin/interop/catalogue_review.html"

    @admin.display(description=gettext_lazy("differences"))
    def count(self, obj):
        return len(obj.changes)

    def has_add_permission(self, request):
        return False

    def get_urls(self):
        return [
            path("lay-danh-muc/", self.admin_site.admin_view(self.fetch_view), name="interop_catalogue_fetch"),
            path("<int:pk>/ap-dung/", self.admin_site.admin_view(self.apply_view), name="interop_catalogue_apply"),
            *super().get_urls(),
        ]

    def fetch_view(self, request):
        if request.method != "POST" or not self.has_change_permission(request):
            raise PermissionDenied
        try:
            review = catalogue.review()
        except PortalError as exc:
            messages.error(request, _("The national catalogue could not be fetched: %(error)s") % {"error": exc})
            return redirect("admin:interop_cataloguereview_changelist")
        if review is None:
            messages.success(request, _("The national catalogue and ours are the same."))
            return redirect("admin:interop_cataloguereview_changelist")
        return redirect("admin:interop_cataloguereview_change", review.pk)

    def apply_view(self, request, pk):
        review = get_object_or_404(CatalogueReview, pk=pk)
        if request.method != "POST" or not self.has_change_permission(request, review):
            raise PermissionDenied
        if request.POST.get("decision") == "dismiss":
            catalogue.dismiss(review, request.user)
            messages.info(request, _("The differences were dismissed."))
        else:
            codes = request.POST.getlist("code")
            if not codes:
                messages.error(request, _("Choose the differences to apply."))
                return redirect("admin:interop_cataloguereview_change", review.pk)
            report = catalogue.apply(review, codes, request.user)
            messages.success(
                request,
                _("Applied: %(created)d new, %(updated)d updated procedures (%(errors)d errors).")
                % {
                    "created": report.get("created", 0),
                    "updated": report.get("updated", 0),
                    "errors": len(report.get("errors", [])),
                },
            )
        return redirect(reverse("admin:interop_cataloguereview_change", args=[review.pk]))
