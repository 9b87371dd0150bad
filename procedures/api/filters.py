"""Query-string filters of the procedure list: ?search=&field=&agency=&service_level=."""

import django_filters
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ParseError

from procedures.models import Procedure
from procedures.search import MAX_QUERY_LENGTH, QueryTooLong, search_procedures


class ProcedureFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(
        method="filter_search",
        label=_("Free text: a name or a code, with or without diacritics."),
    )
    field = django_filters.CharFilter(field_name="field__code", label=_("Field code"))
    agency = django_filters.CharFilter(field_name="agencies__code", label=_("Implementing agency code"))
    service_level = django_filters.ChoiceFilter(choices=Procedure.ServiceLevel.choices, label=_("Online service level"))

    class Meta:
        model = Procedure
        fields = ["search", "field", "agency", "service_level"]

    def filter_search(self, queryset, name, value):
        try:
            return search_procedures(queryset, value)
        except QueryTooLong:
            raise ParseError(
                _("The search text is too long: use at most %(limit)d characters.") % {"limit": MAX_QUERY_LENGTH}
            ) from None
