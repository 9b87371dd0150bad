"""Filters of `GET /api/v1/dossiers/` (applied after `Dossier.objects.visible_to(user)`)."""

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ..models import SEARCH_MAX_LENGTH, Dossier, Status


class DossierFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(
        choices=Status.choices, help_text=_("Status code (1–10); repeat the parameter for several.")
    )
    procedure = django_filters.CharFilter(field_name="procedure__code", help_text=_("Procedure code."))
    overdue = django_filters.BooleanFilter(
        method="filter_overdue", help_text=_("true: open, not paused and past the due date; false: the others.")
    )
    assignee = django_filters.CharFilter(
        method="filter_assignee", help_text=_("Username or id of the assigned specialist; “me” for the caller.")
    )
    search = django_filters.CharFilter(
        method="filter_search",
        max_length=SEARCH_MAX_LENGTH,
        help_text=_(
            "The applicant's name or part of it (with or without diacritics), phone number, ID or passport "
            "number, or part of the dossier code (at least 3 characters)."
        ),
    )

    class Meta:
        model = Dossier
        fields = ["status", "procedure", "overdue", "assignee", "search"]

    def filter_search(self, queryset, name, value):
        return queryset.search(value) if value.strip() else queryset

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        if value:
            return queryset.overdue()
        return queryset.exclude(pk__in=Dossier.objects.overdue().values("pk"))

    def filter_assignee(self, queryset, name, value):
        value = value.strip()
        if value == "me":
            return queryset.filter(assignee=self.request.user) if self.request else queryset.none()
        lookup = Q(assignee__username=value)
        if value.isdigit():
            lookup |= Q(assignee_id=int(value))
        return queryset.filter(lookup)
