"""GET /api/v1/stats/ — the Decision 766 progress table (DESIGN.md §5, docs/statistics.md).

The same `dossiers.stats` filters and computation as the page and the exports, so the three always
give the same numbers. Supervisors see their agencies and every agency below them, leaders their own
agencies; other officers get 403, anonymous callers 401, bad parameters 400 with readable messages.
"""

from django.core.exceptions import PermissionDenied
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import exceptions, serializers
from rest_framework import status as http
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from procedures.api.serializers import DetailMessageSerializer
from reporting import stats


def _count_fields():
    fields = {metric.key: serializers.IntegerField(help_text=metric.help, min_value=0) for metric in stats.METRICS}
    fields["on_time_rate"] = serializers.FloatField(
        allow_null=True,
        help_text=(
            "Decision 766: (finished early or on time + refused, withdrawn or stopped on time + in progress"
            " or paused within time) / received × 100, one decimal; null when nothing was received."
        ),
    )
    fields["ratings"] = serializers.IntegerField(
        min_value=0, help_text="Citizens' ratings of the dossiers that ended in the period."
    )
    fields["satisfaction_rate"] = serializers.FloatField(
        allow_null=True, help_text="Ratings very satisfied or satisfied / ratings × 100, one decimal; null without."
    )
    return fields


# The metric fields come from `dossiers.stats.METRICS`, so the schema cannot drift from the numbers.
StatsCountsSerializer = type(
    "StatsCountsSerializer",
    (serializers.Serializer,),
    {"__module__": __name__, "__doc__": "The numbers of the total.", **_count_fields()},
)
StatsRowSerializer = type(
    "StatsRowSerializer",
    (serializers.Serializer,),
    {
        "__module__": __name__,
        "__doc__": "The numbers of one competent agency and field (of one agency with group=agency).",
        "agency": serializers.CharField(help_text="Competent agency code."),
        "agency_name": serializers.CharField(),
        "field": serializers.CharField(help_text="Field code; null with group=agency.", allow_null=True),
        "field_name": serializers.CharField(allow_null=True),
        **_count_fields(),
    },
)


# "from" is a Python keyword: the body's serializer is declared with type().
StatsResponseSerializer = type(
    "StatsResponseSerializer",
    (serializers.Serializer,),
    {
        "__module__": __name__,
        "__doc__": "The progress table for a period.",
        "from": serializers.DateField(help_text="First day of the period."),
        "to": serializers.DateField(help_text="Last day of the period (capped at today)."),
        "rows": StatsRowSerializer(
            many=True,
            help_text="One row per competent agency and field with any number (per agency with group=agency).",
        ),
        "total": StatsCountsSerializer(),
    },
)

PARAMETERS = [
    OpenApiParameter("from", OpenApiTypes.DATE, description="First day (YYYY-MM-DD). Default: 1st of the month."),
    OpenApiParameter("to", OpenApiTypes.DATE, description="Last day (YYYY-MM-DD), capped at today. Default: today."),
    OpenApiParameter("agency", str, description="Agency code: that agency and every agency below it."),
    OpenApiParameter("field", str, description="Field code."),
    OpenApiParameter(
        "group",
        str,
        enum=list(stats.GROUPS),
        description=(
            "Rows per competent agency and field (`agency_field`, the default) or per agency (`agency`: "
            "`field` and `field_name` null; the statistics page's default for several agencies). "
            "The total is the same."
        ),
    ),
    OpenApiParameter(
        "period",
        str,
        enum=[code for code, _label in stats.PERIODS],
        description="Instead of from/to: a preset period of `year` (month, quarter, first 6 or 9 months, year).",
    ),
    OpenApiParameter("year", int, description="Year of a preset period (default: this year)."),
    OpenApiParameter("month", int, description="Month (1–12) of period=month."),
    OpenApiParameter("quarter", int, description="Quarter (1–4) of period=quarter."),
]


# The error answers of every statistics endpoint (the progress table, per handling agency, digital).
ERRORS = {
    400: OpenApiResponse(OpenApiTypes.OBJECT, description="Invalid parameter: parameter → [messages]."),
    401: OpenApiResponse(DetailMessageSerializer, description="Not authenticated, or an unknown or inactive token."),
    403: OpenApiResponse(
        DetailMessageSerializer,
        description=(
            "Not a supervisor or leader, or an agency outside the caller's scope; or a session cookie "
            "whose two-factor login is not finished."
        ),
    ),
}


class StatsAPIView(APIView):
    """What every statistics endpoint shares: an authenticated caller, the period and agency
    filters of `stats.parse_filters` (403 for an agency outside the caller's scope, 400 with the
    messages per parameter), and an answer no cache keeps. A subclass says what to answer
    (`answer`) and describes it with `extend_schema_view(get=…)`."""

    permission_classes = [IsAuthenticated]

    def get(self, request):
        try:
            filters = stats.parse_filters(request.query_params, request.user)
            body = self.answer(request, filters)
        except PermissionDenied as exc:
            raise exceptions.PermissionDenied(str(exc)) from exc
        except stats.StatsInputError as exc:
            return Response(exc.errors, status=http.HTTP_400_BAD_REQUEST)
        response = Response(body)
        response["Cache-Control"] = "private, no-store"
        return response

    def answer(self, request, filters):
        raise NotImplementedError


def agency_table_schema(name, row_name, total_name, fields):
    """The body of a per-agency statistics endpoint: the period, one row per agency, the total."""
    return inline_serializer(
        name,
        {
            "from": serializers.DateField(),
            "to": serializers.DateField(),
            "rows": inline_serializer(
                row_name,
                {"agency": serializers.CharField(), "agency_name": serializers.CharField(), **fields},
                many=True,
            ),
            "total": inline_serializer(total_name, fields),
        },
    )


# from, to and agency: the filters of the per-agency endpoints.
AGENCY_PARAMETERS = PARAMETERS[:3]


@extend_schema_view(
    get=extend_schema(
        operation_id="stats_progress_table",
        summary="The Decision 766 progress table",
        description=(
            "Received (carried over, new by channel), finished (early, on time, late; refused, withdrawn, "
            "stopped), in progress and paused at the end of the period (on time, overdue), and the on-time rate, "
            "per competent agency and field (or per agency with group=agency), for the caller's agencies. "
            "Definitions: docs/statistics.md."
        ),
        parameters=PARAMETERS,
        responses={200: StatsResponseSerializer, **ERRORS},
    )
)
class StatsView(StatsAPIView):
    def answer(self, request, filters):
        group = stats.parse_group(request.query_params, stats.AGENCY_FIELD)
        return stats.progress_table(filters, group=group).as_api()
