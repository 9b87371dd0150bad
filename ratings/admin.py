"""Ratings in the admin: read-only for everyone (a rating is the citizen's; officers never edit it),
scoped like the dossiers for non-superusers."""

from django.contrib import admin

from dossiers.models import Dossier

from .models import Rating, RatingRevision


class ReadOnlyScoped(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(dossier__in=Dossier.objects.visible_to(request.user).values("pk"))


@admin.register(Rating)
class RatingAdmin(ReadOnlyScoped):
    list_display = ("dossier", "level", "needs_attention", "created_at", "updated_at", "changes")
    list_filter = ("level", "needs_attention")
    search_fields = ("dossier__code",)
    raw_id_fields = ("dossier",)


@admin.register(RatingRevision)
class RatingRevisionAdmin(ReadOnlyScoped):
    list_display = ("dossier", "at", "level", "channel")
    list_filter = ("level", "channel")
    search_fields = ("dossier__code",)
    raw_id_fields = ("dossier",)
