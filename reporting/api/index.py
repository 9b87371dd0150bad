"""GET /api/v1/stats/index/ — the Decision 766 service index (reporting/index.py, docs/statistics.md):
the same filters and scope as the progress table (`reporting.stats.parse_filters`)."""

from django.core.exceptions import PermissionDenied
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework import status as http
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from procedures.api.serializers import DetailMessageSerializer
from reporting import index, stats
from reporting.api.views import PARAMETERS


class ServiceIndexView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="stats_service_index",
        summary="The Decision 766 service index",
        description=(
            "`score` (0–100 over the indicators the portal computes), `points` and `max_points`; "
            "`indicators`: every indicator of the five groups with `status` computed, no_data (nothing to divide "
            "by in the period) or outside (known only to the national systems), its `numerator`, "
            "`denominator`, `rate` (%) and `points`; `agencies` ranked "
            "by score with the points each costs; `trend` per month; `costly_dossiers`: the dossiers that cost "
            "the most points in the period. Formulas and sources: docs/statistics.md."
        ),
        parameters=[p for p in PARAMETERS if p.name != "group"],
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="The index."),
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="Invalid parameter: parameter → [messages]."),
            401: OpenApiResponse(DetailMessageSerializer, description="Not authenticated."),
            403: OpenApiResponse(DetailMessageSerializer, description="Not a supervisor or leader, or out of scope."),
        },
    )
    def get(self, request):
        try:
            filters = stats.parse_filters(request.query_params, request.user)
        except PermissionDenied as exc:
            raise exceptions.PermissionDenied(str(exc)) from exc
        except stats.StatsInputError as exc:
            return Response(exc.errors, status=http.HTTP_400_BAD_REQUEST)
        response = Response(index.service_index(filters))
        response["Cache-Control"] = "private, no-store"
        return response
