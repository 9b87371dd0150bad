"""Two Decision 766 indicators of the digital one-stop desk, per agency (docs/statistics.md):

* **digitisation rate** = dossiers accepted in the period whose paper documents the desk marked as
  digitised (Circular 01/2023/TT-VPCP; `signing.Digitisation`) / dossiers accepted in the period,
  per receiving agency;
* **electronic-result rate** = results handed over in the period electronically (the signed file,
  alone or with the paper: `signing.ResultDocument.delivered_form`) / results handed over in the
  period, per competent agency.

A small reader beside the progress table (reporting/stats.py): the same filters and scope
(`stats.parse_filters`), two grouped counts per indicator over indexed columns, no counters to keep.
`GET /api/v1/stats/digital/` serves it.
"""

from django.db.models import Count, Exists, OuterRef, Q
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers

from dossiers.models import Dossier
from procedures.models import Agency
from signing.models import Digitisation, ResultDocument, ResultForm

from .api.views import AGENCY_PARAMETERS, ERRORS, StatsAPIView, agency_table_schema

ELECTRONIC = (ResultForm.ELECTRONIC, ResultForm.BOTH)


def rate(part, whole):
    return round(100 * part / whole, 1) if whole else None


def _in_scope(queryset, field, filters):
    if filters.agency_ids is not None:
        queryset = queryset.filter(**{f"{field}__in": sorted(filters.agency_ids)})
    return queryset


def digital_indicators(filters):
    """{"rows": [{agency, agency_name, received, digitised, digitisation_rate, returned,
    electronic_results, electronic_result_rate}], "total": {...}} for the period of `filters`."""
    start, end = filters.period_start, filters.period_end
    accepted = _in_scope(
        Dossier.objects.filter(received_at__gte=start, received_at__lt=end), "receiving_agency_id", filters
    )
    digitised = Digitisation.objects.filter(dossier=OuterRef("pk"))
    intake = (
        accepted.order_by()
        .values("receiving_agency_id")
        .annotate(received=Count("pk"), digitised=Count("pk", filter=Q(Exists(digitised))))
    )
    returned = (
        _in_scope(Dossier.objects.filter(returned_at__gte=start, returned_at__lt=end), "competent_agency_id", filters)
        .order_by()
        .values("competent_agency_id")
        .annotate(n=Count("pk"))
    )
    electronic = (
        _in_scope(
            ResultDocument.objects.filter(delivered_at__gte=start, delivered_at__lt=end, delivered_form__in=ELECTRONIC),
            "agency_id",
            filters,
        )
        .order_by()
        .values("agency_id")
        .annotate(n=Count("pk"))
    )
    rows = {}

    def row(agency_id):
        return rows.setdefault(agency_id, {"received": 0, "digitised": 0, "returned": 0, "electronic_results": 0})

    for item in intake:
        row(item["receiving_agency_id"]).update(received=item["received"], digitised=item["digitised"])
    for item in returned:
        row(item["competent_agency_id"])["returned"] = item["n"]
    for item in electronic:
        row(item["agency_id"])["electronic_results"] = item["n"]
    names = dict(Agency.objects.filter(pk__in=rows).values_list("pk", "name"))
    codes = dict(Agency.objects.filter(pk__in=rows).values_list("pk", "code"))
    total = {"received": 0, "digitised": 0, "returned": 0, "electronic_results": 0}
    out = []
    for agency_id, counts in sorted(rows.items(), key=lambda item: names.get(item[0], "")):
        for key in total:
            total[key] += counts[key]
        out.append({"agency": codes.get(agency_id), "agency_name": names.get(agency_id), **_rates(counts)})
    return {"rows": out, "total": _rates(total)}


def _rates(counts):
    return {
        **counts,
        "digitisation_rate": rate(counts["digitised"], counts["received"]),
        "electronic_result_rate": rate(counts["electronic_results"], counts["returned"]),
    }


_COUNTS = {
    "received": serializers.IntegerField(help_text="Dossiers accepted in the period (receiving agency)."),
    "digitised": serializers.IntegerField(help_text="Of those, marked as digitised by the desk."),
    "digitisation_rate": serializers.FloatField(allow_null=True, help_text="digitised / received × 100."),
    "returned": serializers.IntegerField(help_text="Results handed over in the period (competent agency)."),
    "electronic_results": serializers.IntegerField(help_text="Of those, given electronically (or both)."),
    "electronic_result_rate": serializers.FloatField(allow_null=True, help_text="electronic / returned × 100."),
}


@extend_schema_view(
    get=extend_schema(
        operation_id="stats_digital",
        summary="Digitisation and electronic-result rates (Decision 766)",
        parameters=AGENCY_PARAMETERS,
        responses={
            200: agency_table_schema("DigitalIndicators", "DigitalIndicatorRow", "DigitalIndicatorTotal", _COUNTS),
            **ERRORS,
        },
    )
)
class DigitalIndicatorsView(StatsAPIView):
    """The digitisation rate and the electronic-result rate per agency (supervisors and leaders)."""

    def answer(self, request, filters):
        return {"from": filters.start, "to": filters.end, **digital_indicators(filters)}
