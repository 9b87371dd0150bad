"""Read-only admin pages for the audit log and for Django's own admin change log."""

from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from procedures.models import Membership

from .models import AuditEntry
from .roles import visible_agency_ids
from .third_party import permission_label


def scope_to_colleagues(queryset, user, user_field):
    """Audit rows a non-superuser may read: their own, and those of users holding a role in an
    agency they see (accounts.roles.visible_agency_ids). Rows of nobody (anonymous) and of other
    agencies' staff: superusers only."""
    if user.is_superuser:
        return queryset
    agencies = visible_agency_ids(user) or set()
    colleagues = Membership.objects.filter(agency_id__in=agencies).values("user_id")
    return queryset.filter(Q(**{user_field: user.pk}) | Q(**{f"{user_field}__in": colleagues}))


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        return {}


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "username", "ip_address", "method", "path", "status_code"]
    list_filter = ["kind"]
    search_fields = ["username", "path"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in AuditEntry._meta.fields]

    def get_queryset(self, request):
        return scope_to_colleagues(super().get_queryset(request), request.user, "user_id")


@admin.register(LogEntry)
class LogEntryAdmin(ReadOnlyAdmin):
    list_display = ["action_time", "user", "content_type", "object_repr", "action_flag", "change"]
    list_filter = ["action_flag", "content_type"]
    search_fields = ["object_repr", "user__username"]
    date_hierarchy = "action_time"
    readonly_fields = [f.name for f in LogEntry._meta.fields]

    def get_queryset(self, request):
        return scope_to_colleagues(super().get_queryset(request), request.user, "user_id")

    @admin.display(description=_("change"))
    def change(self, obj):
        return obj.get_change_message()


# --- Permissions in Vietnamese (accounts/third_party.py) --------------------------------------


class PermissionLabelsMixin:
    """The permission pickers of users and groups name each permission in the admin's language
    ("Có thể thêm hồ sơ"), not as the English row written at migrate time ("Can add dossier")."""

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if field is not None and db_field.related_model is Permission:
            field.queryset = field.queryset.select_related("content_type")
            field.label_from_instance = permission_label
        return field


def _with_permission_labels(model):
    current = type(admin.site.get_model_admin(model))
    admin.site.unregister(model)
    admin.site.register(model, type(current.__name__, (PermissionLabelsMixin, current), {}))


_with_permission_labels(Group)
_with_permission_labels(get_user_model())
